import Foundation

/// Hyper-parameters of a ViViT + TokenLearner classifier, decoded from the JSON string
/// `__metadata__["config"]` of a weights file (schema: docs/model-format.md). Key names are
/// those of the Flax reference, `training/tokenreel_ref/config.py`.
public struct ModelConfig: Codable, Sendable, Equatable {
    /// TokenLearner settings; absent for a plain ViViT.
    public struct TokenLearner: Codable, Sendable, Equatable {
        /// "1.1" (LayerNorm, MLP D->bottleneck->S, softmax over positions) or "1.0" (four 3x3
        /// convolutions, sigmoid, sum pooling).
        public var version: String
        /// S, learned tokens per temporal slice.
        public var numTokens: Int
        /// Inserted before `encoderblock_{loc}`.
        public var loc: Int
        /// With TokenFuser: a TokenLearner and a TokenFuser around every block from `loc` on.
        public var useTokenfuse: Bool
        /// Hidden width of the `token_masking` MLPs (Scenic default 64).
        public var bottleneckDim: Int

        public init(version: String = "1.1", numTokens: Int = 8, loc: Int, useTokenfuse: Bool = false, bottleneckDim: Int = 64) {
            self.version = version; self.numTokens = numTokens; self.loc = loc
            self.useTokenfuse = useTokenfuse; self.bottleneckDim = bottleneckDim
        }

        enum CodingKeys: String, CodingKey {
            case version, loc
            case numTokens = "num_tokens", useTokenfuse = "use_tokenfuse", bottleneckDim = "bottleneck_dim"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            version = try c.decodeIfPresent(String.self, forKey: .version) ?? "1.1"
            numTokens = try c.decode(Int.self, forKey: .numTokens)
            loc = try c.decode(Int.self, forKey: .loc)
            useTokenfuse = try c.decodeIfPresent(Bool.self, forKey: .useTokenfuse) ?? false
            bottleneckDim = try c.decodeIfPresent(Int.self, forKey: .bottleneckDim) ?? 64
        }
    }

    /// How token sets become one vector per clip.
    public enum Classifier: String, Codable, Sendable {
        case gap, gmp, gsp, token
    }

    public var numFrames: Int
    public var height: Int
    public var width: Int
    /// (t, h, w) of the tubelet convolution. Scenic's `patches.size` is (h, w, t).
    public var tubelet: [Int]
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var mlpDim: Int
    public var numClasses: Int
    public var classifier: Classifier
    /// When set, `pre_logits` Dense(R) + tanh before the head.
    public var representationSize: Int?
    public var tokenlearner: TokenLearner?
    public var layerNormEpsilon: Float

    public init(numFrames: Int, height: Int, width: Int, tubelet: [Int], hiddenSize: Int, numLayers: Int,
                numHeads: Int, mlpDim: Int, numClasses: Int, classifier: Classifier = .gap,
                representationSize: Int? = nil, tokenlearner: TokenLearner? = nil, layerNormEpsilon: Float = 1e-6) {
        self.numFrames = numFrames; self.height = height; self.width = width; self.tubelet = tubelet
        self.hiddenSize = hiddenSize; self.numLayers = numLayers; self.numHeads = numHeads; self.mlpDim = mlpDim
        self.numClasses = numClasses; self.classifier = classifier; self.representationSize = representationSize
        self.tokenlearner = tokenlearner; self.layerNormEpsilon = layerNormEpsilon
    }

    enum CodingKeys: String, CodingKey {
        case height, width, tubelet, classifier, tokenlearner
        case numFrames = "num_frames", hiddenSize = "hidden_size", numLayers = "num_layers"
        case numHeads = "num_heads", mlpDim = "mlp_dim", numClasses = "num_classes"
        case representationSize = "representation_size", layerNormEpsilon = "layer_norm_epsilon"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numFrames = try c.decode(Int.self, forKey: .numFrames)
        height = try c.decode(Int.self, forKey: .height)
        width = try c.decode(Int.self, forKey: .width)
        tubelet = try c.decode([Int].self, forKey: .tubelet)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        mlpDim = try c.decode(Int.self, forKey: .mlpDim)
        numClasses = try c.decode(Int.self, forKey: .numClasses)
        classifier = try c.decodeIfPresent(Classifier.self, forKey: .classifier) ?? .gap
        representationSize = try c.decodeIfPresent(Int.self, forKey: .representationSize)
        tokenlearner = try c.decodeIfPresent(TokenLearner.self, forKey: .tokenlearner)
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-6
    }

    // MARK: derived sizes

    /// (T', H', W'): tubelets along time, height and width (VALID convolution: floor).
    public var grid: (t: Int, h: Int, w: Int) {
        (numFrames / tubelet[0], height / tubelet[1], width / tubelet[2])
    }
    /// P = H'W', token positions per temporal slice.
    public var positionsPerSlice: Int { grid.h * grid.w }
    /// T'H'W' patch tokens of one clip.
    public var numPatches: Int { grid.t * positionsPerSlice }
    /// Tokens entering the encoder (patch tokens, +1 for the `token` classifier's `cls`).
    public var inputTokens: Int { numPatches + (classifier == .token ? 1 : 0) }
    /// t*h*w*3, the length of one flattened tubelet.
    public var patchSize: Int { tubelet[0] * tubelet[1] * tubelet[2] * 3 }
    public var headDim: Int { hiddenSize / numHeads }

    /// Every inconsistency, one line each (empty when valid).
    public func problems() -> [String] {
        var p = [String]()
        if tubelet.count != 3 || tubelet.contains(where: { $0 < 1 }) { p.append("tubelet must be three positive sizes (t, h, w), got \(tubelet)"); return p }
        if numFrames < tubelet[0] || height < tubelet[1] || width < tubelet[2] {
            p.append("tubelet \(tubelet) does not fit the input \(numFrames)x\(height)x\(width)")
        }
        for (name, v) in [("hidden_size", hiddenSize), ("num_layers", numLayers), ("num_heads", numHeads), ("mlp_dim", mlpDim), ("num_classes", numClasses)] where v < 1 {
            p.append("\(name) must be positive, got \(v)")
        }
        if numHeads > 0, hiddenSize % numHeads != 0 { p.append("hidden_size \(hiddenSize) is not a multiple of num_heads \(numHeads)") }
        if let r = representationSize, r < 1 { p.append("representation_size must be positive, got \(r)") }
        if !(layerNormEpsilon > 0) { p.append("layer_norm_epsilon must be positive") }
        if let tl = tokenlearner {
            if classifier == .token { p.append("classifier 'token' is not supported with TokenLearner (as in Scenic)") }
            if tl.version != "1.0" && tl.version != "1.1" { p.append("tokenlearner.version must be \"1.0\" or \"1.1\", got \"\(tl.version)\"") }
            if tl.loc < 0 || tl.loc >= numLayers { p.append("tokenlearner.loc \(tl.loc) is not a layer index (0..<\(numLayers))") }
            if tl.numTokens < 1 || tl.bottleneckDim < 1 { p.append("tokenlearner.num_tokens and bottleneck_dim must be positive") }
            if tl.version == "1.0", grid.h != grid.w { p.append("TokenLearner v1.0 needs a square token grid, got \(grid.h)x\(grid.w)") }
            if tl.version == "1.0", tl.useTokenfuse { p.append("TokenFuser is supported with TokenLearner v1.1 only") }
        }
        return p
    }

    // MARK: parameter schema

    /// Every parameter the weights file must hold, with its shape: Scenic's flattened tree.
    public var expectedParameters: [(name: String, shape: [Int])] {
        let d = hiddenSize, hd = numHeads, dh = headDim
        var p: [(String, [Int])] = [
            ("embedding/kernel", tubelet + [3, d]), ("embedding/bias", [d]),
            ("Transformer/posembed_input/pos_embedding", [1, inputTokens, d]),
        ]
        if classifier == .token { p.append(("cls", [1, 1, d])) }
        func ln(_ prefix: String) { p.append((prefix + "/scale", [d])); p.append((prefix + "/bias", [d])) }
        func mlp(_ prefix: String, _ i: Int, _ m: Int, _ o: Int) {
            p += [(prefix + "/Dense_0/kernel", [i, m]), (prefix + "/Dense_0/bias", [m]),
                  (prefix + "/Dense_1/kernel", [m, o]), (prefix + "/Dense_1/bias", [o])]
        }
        for l in 0 ..< numLayers {
            let b = "Transformer/encoderblock_\(l)"
            ln(b + "/LayerNorm_0")
            for n in ["query", "key", "value"] {
                p += [("\(b)/MultiHeadDotProductAttention_0/\(n)/kernel", [d, hd, dh]), ("\(b)/MultiHeadDotProductAttention_0/\(n)/bias", [hd, dh])]
            }
            p += [("\(b)/MultiHeadDotProductAttention_0/out/kernel", [hd, dh, d]), ("\(b)/MultiHeadDotProductAttention_0/out/bias", [d])]
            ln(b + "/LayerNorm_1")
            mlp(b + "/MlpBlock_0", d, mlpDim, d)
        }
        if let tl = tokenlearner {
            let s = tl.numTokens
            let count = tl.useTokenfuse ? numLayers - tl.loc : 1
            for k in 0 ..< count {
                if tl.version == "1.0" {
                    let t = "Transformer/TokenLearnerModule_\(k)"
                    ln(t + "/LayerNorm_0")
                    p.append((t + "/Conv_0/kernel", [3, 3, d, s]))
                    for i in 1 ... 3 { p.append((t + "/Conv_\(i)/kernel", [3, 3, s, s])) }
                } else {
                    let t = "Transformer/TokenLearnerModuleV11_\(k)"
                    ln(t + "/LayerNorm_0")
                    mlp(t + "/token_masking", d, tl.bottleneckDim, s)
                }
                if tl.useTokenfuse {
                    let f = "Transformer/TokenFuser_\(k)"
                    ln(f + "/fuser_mix_norm1")
                    p += [(f + "/Dense_0/kernel", [s, s]), (f + "/Dense_0/bias", [s])]
                    ln(f + "/fuser_mix_norm2")
                    ln(f + "/LayerNorm_0")
                    mlp(f + "/token_masking", d, tl.bottleneckDim, s)
                }
            }
        }
        ln("Transformer/encoder_norm")
        var last = d
        if let r = representationSize { p += [("pre_logits/kernel", [d, r]), ("pre_logits/bias", [r])]; last = r }
        p += [("output_projection/kernel", [last, numClasses]), ("output_projection/bias", [numClasses])]
        return p
    }

    /// Number of parameters (sum over `expectedParameters`).
    public var parameterCount: Int { expectedParameters.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    // MARK: cost

    /// Floating-point operations (2 per multiply-add) of the matrix products of one clip:
    /// embedding, attention (projections and both attention products), MLPs, TokenLearner,
    /// TokenFuser and head. Element-wise work (LayerNorm, softmax, GELU) is not counted.
    public var flopsPerClip: Int { flopsPerClip(keeping: nil) }

    /// `flopsPerClip` with token keeping: a keep layer runs attention on the tokens entering it
    /// and its MLP (and every later layer) on the kept ones; after per-slice keeping (layers
    /// before a TokenLearner) the TokenLearner and TokenFuser run on the positions kept per
    /// slice. Ranking is not counted.
    public func flopsPerClip(keeping: TokenKeeping?) -> Int {
        let d = hiddenSize, g = grid.t
        /// A block with n tokens through attention and `kept` through the MLP.
        func block(_ n: Int, kept: Int) -> Int { 2 * n * d * 4 * d + 4 * n * n * d + 2 * kept * d * 2 * mlpDim }
        func kept(_ n: Int, at l: Int) -> Int {
            guard let keeping, keeping.layers.contains(l) else { return n }
            return keeping.cut(layer: l, tokens: n, config: self).kept
        }
        var f = 2 * numPatches * patchSize * d
        var n = inputTokens
        for l in 0 ..< numLayers {
            if let tl = tokenlearner, l >= tl.loc, l == tl.loc || tl.useTokenfuse {
                let s = tl.numTokens, pp = n / g   // positions per slice entering the TokenLearner
                let masks = tl.version == "1.0" ? 2 * g * pp * 9 * (d * s + 3 * s * s)
                                                : 2 * g * pp * (d * tl.bottleneckDim + tl.bottleneckDim * s)
                f += masks + 2 * g * s * pp * d
                let k = kept(g * s, at: l)
                f += block(g * s, kept: k)
                if tl.useTokenfuse {
                    f += 2 * g * d * s * s + 2 * g * pp * (d * tl.bottleneckDim + tl.bottleneckDim * s) + 2 * g * pp * s * d
                } else {
                    n = k
                }
            } else {
                let k = kept(n, at: l)
                f += block(n, kept: k)
                n = k
            }
        }
        let r = representationSize ?? d
        if representationSize != nil { f += 2 * d * r }
        return f + 2 * r * numClasses
    }
}
