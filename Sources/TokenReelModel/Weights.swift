// The parameters of a loaded model, as raw pointers into the memory-mapped file (or into
// owned buffers for converted and packed weights). Checkpoint key beside every field.
// Shapes use the legend of Tensor.swift.

/// x @ kernel + bias. kernel [in, out] row-major, bias [out]; `packed`: the kernel packed for
/// `Kernels.gemmPacked` (see `Kernels.pack`), or nil when the model was loaded without.
struct Dense {
    let kernel: UnsafePointer<Float>
    let packed: UnsafePointer<Float>?
    let bias: UnsafePointer<Float>
    let inDim: Int, outDim: Int

    /// Packs `kernel` into a buffer from `alloc` when `pack` is true.
    init(kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>, inDim: Int, outDim: Int, pack: Bool, alloc: (Int) -> UnsafeMutablePointer<Float>) {
        self.kernel = kernel
        self.packed = pack ? Kernels.pack(kernel, rows: inDim, cols: outDim, alloc: alloc) : nil
        self.bias = bias
        self.inDim = inDim
        self.outDim = outDim
    }
}

/// LayerNorm over D: `.../scale` [D], `.../bias` [D].
struct LayerNormParams {
    let scale: UnsafePointer<Float>
    let bias: UnsafePointer<Float>
}

/// `Transformer/encoderblock_{i}`.
struct BlockParams {
    let ln0: LayerNormParams          // LayerNorm_0
    /// query|key|value kernels [D, Hd, dh] packed side by side into [D, 3D] (biases [3D]),
    /// with the query's 1/sqrt(dh) folded into its kernel and bias.
    let qkv: Dense
    let out: Dense                    // MultiHeadDotProductAttention_0/out: [Hd, dh, D] = [D, D]
    let ln1: LayerNormParams          // LayerNorm_1
    let fc1: Dense                    // MlpBlock_0/Dense_0 [D, M]
    let fc2: Dense                    // MlpBlock_0/Dense_1 [M, D]
}

/// `Transformer/TokenLearnerModuleV11_k` or `Transformer/TokenLearnerModule_k`.
enum TokenLearnerParams {
    /// LayerNorm_0, token_masking/Dense_0 [D, bottleneck], token_masking/Dense_1 [bottleneck, S].
    case v11(ln: LayerNormParams, fc1: Dense, fc2: Dense)
    /// LayerNorm_0, Conv_0 [3, 3, D, S] and Conv_1..3 [3, 3, S, S] (no biases), each read as
    /// an im2col matrix [9 * C_in, S].
    case v10(ln: LayerNormParams, convs: [UnsafePointer<Float>])
}

/// `Transformer/TokenFuser_k`.
struct FuserParams {
    let norm1: LayerNormParams        // fuser_mix_norm1
    let mix: Dense                    // Dense_0 [S, S] over the token axis
    let norm2: LayerNormParams        // fuser_mix_norm2
    let ln0: LayerNormParams          // LayerNorm_0 (of the original tokens)
    let fc1: Dense                    // token_masking/Dense_0 [D, bottleneck]
    let fc2: Dense                    // token_masking/Dense_1 [bottleneck, S]
}

struct ModelParams {
    /// embedding/kernel [t, h, w, 3, D] read as [t*h*w*3, D].
    let embedKernel: UnsafePointer<Float>
    /// embedKernel packed for `Kernels.gemmPacked` (nil: loaded without packed weights).
    let embedPacked: UnsafePointer<Float>?
    /// Added to every embedded token [N, D]: pos_embedding + embedding/bias (row 0 with the
    /// `token` classifier: pos_embedding[0] + cls, no bias). For a model resized to another
    /// geometry (`VideoModel.resized`), built from the resampled position embedding.
    var tokenOffset: UnsafePointer<Float>
    /// Transformer/posembed_input/pos_embedding [1, N, D] as stored (the trained grid).
    let posEmbedding: UnsafePointer<Float>
    /// embedding/bias [D].
    let embedBias: UnsafePointer<Float>
    /// cls [1, 1, D] (classifier `token` only).
    let cls: UnsafePointer<Float>?
    let blocks: [BlockParams]
    /// One (no fuser) or one per layer from `loc` on (fuser).
    let tokenLearners: [TokenLearnerParams]
    let fusers: [FuserParams]
    let encoderNorm: LayerNormParams  // Transformer/encoder_norm
    let preLogits: Dense?             // pre_logits [D, R]
    let head: Dense                   // output_projection [D or R, K]
}

extension ModelParams {
    /// Builds the parameters from checked tensors. `tensor(name)` returns a float32 pointer;
    /// `alloc(count)` returns owned scratch kept alive by the model. The weight matrices are also
    /// packed for `Kernels.gemmPacked` when the packed products are in use now
    /// (`VideoModel.usesPackedProducts`), so a machine that runs them on OpenBLAS holds no copy.
    init(config c: ModelConfig, tensor: (String) -> UnsafePointer<Float>, alloc: (Int) -> UnsafeMutablePointer<Float>) {
        let d = c.hiddenSize, pack = VideoModel.usesPackedProducts
        func ln(_ p: String) -> LayerNormParams { LayerNormParams(scale: tensor(p + "/scale"), bias: tensor(p + "/bias")) }
        func dense(_ p: String, _ i: Int, _ o: Int) -> Dense { Dense(kernel: tensor(p + "/kernel"), bias: tensor(p + "/bias"), inDim: i, outDim: o, pack: pack, alloc: alloc) }

        embedKernel = tensor("embedding/kernel")
        embedPacked = pack ? Kernels.pack(embedKernel, rows: c.patchSize, cols: d, alloc: alloc) : nil
        let n = c.inputTokens, off = c.classifier == .token ? 1 : 0
        let pos = tensor("Transformer/posembed_input/pos_embedding"), bias = tensor("embedding/bias")
        let cls = off == 1 ? tensor("cls") : nil
        posEmbedding = pos
        embedBias = bias
        self.cls = cls
        tokenOffset = Self.tokenOffset(positions: pos, tokens: n, width: d, bias: bias, cls: cls, alloc: alloc)

        let scale = 1 / Float(c.headDim).squareRoot()
        blocks = (0 ..< c.numLayers).map { l in
            let b = "Transformer/encoderblock_\(l)", a = b + "/MultiHeadDotProductAttention_0"
            let w = alloc(d * 3 * d), bb = alloc(3 * d)
            for (k, name) in ["query", "key", "value"].enumerated() {
                let s: Float = k == 0 ? scale : 1
                let src = tensor("\(a)/\(name)/kernel"), sb = tensor("\(a)/\(name)/bias")
                for i in 0 ..< d {
                    for j in 0 ..< d { w[i * 3 * d + k * d + j] = src[i * d + j] * s }
                }
                for j in 0 ..< d { bb[k * d + j] = sb[j] * s }
            }
            return BlockParams(
                ln0: ln(b + "/LayerNorm_0"),
                qkv: Dense(kernel: w, bias: bb, inDim: d, outDim: 3 * d, pack: pack, alloc: alloc),
                out: dense(a + "/out", d, d),
                ln1: ln(b + "/LayerNorm_1"),
                fc1: dense(b + "/MlpBlock_0/Dense_0", d, c.mlpDim),
                fc2: dense(b + "/MlpBlock_0/Dense_1", c.mlpDim, d))
        }

        var tls = [TokenLearnerParams](), fus = [FuserParams]()
        if let tl = c.tokenlearner {
            let s = tl.numTokens, bn = tl.bottleneckDim
            for k in 0 ..< (tl.useTokenfuse ? c.numLayers - tl.loc : 1) {
                if tl.version == "1.0" {
                    let t = "Transformer/TokenLearnerModule_\(k)"
                    tls.append(.v10(ln: ln(t + "/LayerNorm_0"), convs: (0 ..< 4).map { tensor("\(t)/Conv_\($0)/kernel") }))
                } else {
                    let t = "Transformer/TokenLearnerModuleV11_\(k)"
                    tls.append(.v11(ln: ln(t + "/LayerNorm_0"), fc1: dense(t + "/token_masking/Dense_0", d, bn),
                                    fc2: dense(t + "/token_masking/Dense_1", bn, s)))
                }
                if tl.useTokenfuse {
                    let f = "Transformer/TokenFuser_\(k)"
                    fus.append(FuserParams(
                        norm1: ln(f + "/fuser_mix_norm1"), mix: dense(f + "/Dense_0", s, s), norm2: ln(f + "/fuser_mix_norm2"),
                        ln0: ln(f + "/LayerNorm_0"), fc1: dense(f + "/token_masking/Dense_0", d, bn),
                        fc2: dense(f + "/token_masking/Dense_1", bn, s)))
                }
            }
        }
        tokenLearners = tls
        fusers = fus
        encoderNorm = ln("Transformer/encoder_norm")
        preLogits = c.representationSize.map { dense("pre_logits", d, $0) }
        head = dense("output_projection", c.representationSize ?? d, c.numClasses)
    }

    /// positions [n, D] + bias on every row (row 0 + cls instead when `cls` is given).
    static func tokenOffset(positions pos: UnsafePointer<Float>, tokens n: Int, width d: Int, bias: UnsafePointer<Float>,
                            cls: UnsafePointer<Float>?, alloc: (Int) -> UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let offset = alloc(n * d), off = cls == nil ? 0 : 1
        for i in 0 ..< n {
            for j in 0 ..< d { offset[i * d + j] = pos[i * d + j] + (i < off ? cls![j] : bias[j]) }
        }
        return UnsafePointer(offset)
    }
}
