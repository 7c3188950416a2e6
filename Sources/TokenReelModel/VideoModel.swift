import Foundation

/// A ViViT + TokenLearner classifier loaded from a `.safetensors` file (docs/model-format.md).
///
/// Immutable after loading (apart from the cached digest, behind a lock) and shared by all workers; each worker runs it with its own
/// `ModelWorkspace`. F32 weights are read in place from the memory-mapped file; F16/BF16 weights
/// and derived ones (packed q|k|v, position + bias) live in buffers the model owns.
public final class VideoModel: @unchecked Sendable {
    /// The `__metadata__["format"]` value this version reads.
    public static let format = "tokenreel.vivit.v1"

    /// The geometry this instance runs at: the file's, or the one given to `resized`.
    public let config: ModelConfig
    /// The config stored in the file (the grid the position embedding was learned for).
    public let trainedConfig: ModelConfig
    /// Class names, index = logit position.
    public let labels: [String]
    /// SHA-256 of the weights file (also for a `resized` instance), lowercase hex; computed on first use (about 0.2 s per 40 MB),
    /// then cached.
    public var sha256: String {
        digestLock.lock()
        defer { digestLock.unlock() }
        if let d = digest { return d }
        let d = SHA256.hex(UnsafeRawBufferPointer(start: file.file.base, count: file.file.size))
        digest = d
        return d
    }
    private let digestLock = NSLock()
    nonisolated(unsafe) private var digest: String?
    /// The normalisation the model was trained with (`__metadata__["normalization"]`).
    public let defaultNormalization: PixelNormalization
    /// The file the model came from.
    public let url: URL

    let params: ModelParams
    private let file: SafeTensorsFile
    private let owned: [FloatBuffer]

    public var inputFrames: Int { config.numFrames }
    public var inputHeight: Int { config.height }
    public var inputWidth: Int { config.width }
    /// Token keeping this instance runs with (`withTokenKeeping`); nil: every token is kept.
    public let tokenKeeping: TokenKeeping?
    /// Matrix-product FLOPs of one clip (see `ModelConfig.flopsPerClip`), with token keeping
    /// when it is on.
    public var flopsPerClip: Int { config.flopsPerClip(keeping: tokenKeeping) }

    /// Loads and checks a weights file.
    ///
    /// - Throws: `ModelError` naming the file and every problem found: header framing, metadata,
    ///   config, missing / unexpected / mis-shaped tensors (got versus expected).
    public static func load(contentsOf url: URL) throws -> VideoModel {
        try VideoModel(url: url)
    }

    private init(url: URL) throws {
        let path = url.path
        let file = try SafeTensorsFile(path: path)
        let meta = file.metadata
        func json<T: Decodable>(_ key: String, _ type: T.Type) throws -> T {
            guard let text = meta[key] else { throw ModelError(.metadata, path: path, "__metadata__ has no \"\(key)\"") }
            do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
                throw ModelError(.metadata, path: path, "__metadata__.\(key) is not valid: \(Self.describe(error))")
            }
        }
        guard meta["format"] == Self.format else {
            throw ModelError(.metadata, path: path, "__metadata__.format is \(meta["format"].map { "\"\($0)\"" } ?? "missing"), expected \"\(Self.format)\"")
        }
        let config = try json("config", ModelConfig.self)
        let configProblems = config.problems()
        guard configProblems.isEmpty else { throw ModelError(.config, path: path, configProblems) }
        let labels = try json("labels", [String].self)
        guard labels.count == config.numClasses else {
            throw ModelError(.metadata, path: path, "__metadata__.labels has \(labels.count) names for num_classes \(config.numClasses)")
        }
        let normalization = meta["normalization"] == nil ? PixelNormalization.zeroCentered : try json("normalization", PixelNormalization.self)

        // Every tensor: present, expected, right shape.
        var problems = [String]()
        let expected = config.expectedParameters
        let expectedNames = Set(expected.map(\.name))
        for (name, shape) in expected {
            guard let e = file.entries[name] else { problems.append("missing tensor \(name) \(shape)"); continue }
            if e.shape != shape { problems.append("\(name): shape \(e.shape), expected \(shape)") }
        }
        for name in file.entries.keys.sorted() where !expectedNames.contains(name) {
            problems.append("unexpected tensor \(name) \(file.entries[name]!.shape)")
        }
        guard problems.isEmpty else { throw ModelError(.tensors, path: path, problems) }

        var owned = [FloatBuffer]()
        var pointers = [String: UnsafePointer<Float>]()
        for (name, _) in expected { pointers[name] = file.floats(file.entries[name]!, storage: &owned) }
        self.params = ModelParams(config: config, tensor: { pointers[$0]! }, alloc: { n in
            let b = FloatBuffer(count: n)
            owned.append(b)
            return b.pointer
        })
        self.owned = owned
        self.file = file
        self.config = config
        self.trainedConfig = config
        self.tokenKeeping = nil
        self.labels = labels
        self.defaultNormalization = normalization
        self.url = url
    }

    /// A resized or token-keeping instance: everything shared with `base` but the token offsets.
    private init(base: VideoModel, config: ModelConfig, params: ModelParams, owned: [FloatBuffer], tokenKeeping: TokenKeeping?) {
        self.config = config
        self.tokenKeeping = tokenKeeping
        self.trainedConfig = base.trainedConfig
        self.labels = base.labels
        self.defaultNormalization = base.defaultNormalization
        self.url = base.url
        self.params = params
        self.file = base.file
        self.owned = base.owned + owned
    }

    // MARK: other geometries

    /// The same weights taking clips of `frames` x `height` x `width` (each floored to a multiple
    /// of the tubelet, as the VALID convolution does). Only the position embedding is recomputed:
    /// its trained grid (T', H', W') is resampled to (frames/t, height/h, width/w) by linear
    /// interpolation with half-pixel centres on each axis, `jax.image.resize(method="linear",
    /// antialias=False)` (docs/model-format.md, "Other clip geometries"); the `cls` row is kept.
    /// All other weights are shared with this instance, which stays valid and unchanged. Always
    /// resamples from the file's embedding, so resizing a resized model equals resizing the
    /// original. The trained geometry returns an instance equal to this one.
    ///
    /// - Throws: `ModelError(.config)` when the tubelet does not fit the geometry or TokenLearner
    ///   v1.0 would get a non-square H' x W' grid.
    public func resized(frames: Int, height: Int, width: Int) throws -> VideoModel {
        var c = trainedConfig
        c.numFrames = frames; c.height = height; c.width = width
        var problems = [String]()
        if frames < 1 || height < 1 || width < 1 { problems.append("clip geometry \(frames)x\(height)x\(width) must be positive") }
        problems += c.problems()
        guard problems.isEmpty else {
            throw ModelError(.config, path: url.path, problems.map { "cannot run at \(frames)x\(height)x\(width): \($0)" })
        }
        let d = c.hiddenSize, off = c.classifier == .token ? 1 : 0
        let old = trainedConfig.grid, new = c.grid
        let positions = FloatBuffer(count: c.inputTokens * d)
        if off == 1 { positions.pointer.update(from: params.posEmbedding, count: d) }
        Self.resampleGrid(params.posEmbedding + off * d, from: [old.t, old.h, old.w], to: [new.t, new.h, new.w],
                          width: d, into: positions.pointer + off * d)
        var owned = [positions]
        var p = params
        p.tokenOffset = ModelParams.tokenOffset(positions: positions.pointer, tokens: c.inputTokens, width: d,
                                                bias: params.embedBias, cls: params.cls, alloc: { n in
            let b = FloatBuffer(count: n)
            owned.append(b)
            return b.pointer
        })
        return VideoModel(base: self, config: c, params: p, owned: owned, tokenKeeping: tokenKeeping)
    }

    // MARK: token keeping

    /// The same model (same weights, same geometry) with SuperViT's token keeping at inference:
    /// at each of `layers`, after the attention residual and before the MLP, only the
    /// ceil(rate x N) most attended tokens go on (`TokenKeeping`; docs/model-format.md, "Token
    /// keeping"). With a TokenLearner, layers before `tokenlearner.loc` keep ceil(rate x P) of
    /// the P positions of every temporal slice, later layers rank across all learned tokens.
    /// `rate` 1 returns an instance without keeping (identical to this one's forward pass
    /// without keeping). Replaces any keeping of this instance; `resized` keeps it.
    ///
    /// - Throws: `ModelError(.config)` unless 0 < rate <= 1 and the layers are distinct, non-empty
    ///   encoder layer indices where this model can keep: not at or after `tokenlearner.loc` with
    ///   TokenFuser, not before it with TokenLearner v1.0 (`TokenKeeping.problems`).
    public func withTokenKeeping(rate: Double, layers: [Int]) throws -> VideoModel {
        let problems = TokenKeeping.problems(rate: rate, layers: layers, config: config)
        guard problems.isEmpty else { throw ModelError(.config, path: url.path, problems) }
        let keeping = rate == 1 ? nil : TokenKeeping(rate: rate, layers: layers)
        return VideoModel(base: self, config: config, params: params, owned: [], tokenKeeping: keeping)
    }

    /// Sample positions of one axis: old size `n` to new size `m`, half-pixel centres,
    /// x = (i + 0.5) n / m - 0.5 clamped to [0, n-1] -> (lower index, upper index, upper weight).
    static func linearTaps(from n: Int, to m: Int) -> [(Int, Int, Float)] {
        (0 ..< m).map { i in
            let x = min(max((Double(i) + 0.5) * Double(n) / Double(m) - 0.5, 0), Double(n - 1))
            let i0 = Int(x.rounded(.down))
            return (i0, min(i0 + 1, n - 1), Float(x - Double(i0)))
        }
    }

    /// Separable linear resampling of a grid [a0, a1, a2, D] (row-major) to [b0, b1, b2, D],
    /// one axis at a time (time, then height, then width), with `linearTaps` on each.
    static func resampleGrid(_ src: UnsafePointer<Float>, from a: [Int], to b: [Int], width d: Int, into dst: UnsafeMutablePointer<Float>) {
        var cur = Array(UnsafeBufferPointer(start: src, count: a.reduce(d, *)))
        var shape = a
        for axis in 0 ..< 3 where shape[axis] != b[axis] {
            let taps = linearTaps(from: shape[axis], to: b[axis])
            let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(d, *)
            var next = [Float](repeating: 0, count: outer * b[axis] * inner)
            for o in 0 ..< outer {
                for (i, (i0, i1, f)) in taps.enumerated() {
                    let r0 = (o * shape[axis] + i0) * inner, r1 = (o * shape[axis] + i1) * inner, w = (o * b[axis] + i) * inner
                    for k in 0 ..< inner { next[w + k] = cur[r0 + k] * (1 - f) + cur[r1 + k] * f }
                }
            }
            cur = next
            shape[axis] = b[axis]
        }
        cur.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: $0.count) }
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, ctx): return "missing key \"\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))\""
        case let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx):
            return "wrong type at \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\""
        case let DecodingError.dataCorrupted(ctx): return ctx.debugDescription
        default: return "\(error)"
        }
    }

    /// Fresh scratch memory for one worker.
    public func makeWorkspace() -> ModelWorkspace { ModelWorkspace() }

    // MARK: running

    /// Tokenize stage: RGB24 pixels [T, H, W, 3] -> normalised -> tubelet embedding (+ `cls`)
    /// + position embedding -> tokens [N, D] (N = `config.inputTokens`).
    ///
    /// - Precondition: `pixels.count == T*H*W*3` of the config.
    public func embed(pixels: [UInt8], normalization: PixelNormalization, workspace: ModelWorkspace) -> Tensor {
        let c = config, count = c.numFrames * c.height * c.width * 3
        precondition(pixels.count == count, "embed: \(pixels.count) pixel values, the model takes \(c.numFrames)x\(c.height)x\(c.width)x3")
        let input = workspace.buffer(.input, count)
        pixels.withUnsafeBufferPointer { normalization.apply($0.baseAddress!, count: count, into: input) }
        let s = scratch(batch: 1, workspace)
        embed(clips: input, batch: 1, s, workspace)
        return Tensor(shape: [c.inputTokens, c.hiddenSize], data: Array(UnsafeBufferPointer(start: s.x, count: c.inputTokens * c.hiddenSize)))
    }

    /// Infer stage: B token sets (each [N, D] from `embed`) -> logits [B, K].
    public func classify(_ tokens: [Tensor], workspace: ModelWorkspace) -> Tensor {
        let c = config, n = c.inputTokens, d = c.hiddenSize, b = tokens.count
        guard b > 0 else { return Tensor(shape: [0, c.numClasses], data: []) }
        let s = scratch(batch: b, workspace)
        for (i, t) in tokens.enumerated() {
            precondition(t.shape == [n, d], "classify: token set \(i) has shape \(t.shape), expected [\(n), \(d)]")
            t.data.withUnsafeBufferPointer { s.x.advanced(by: i * n * d).update(from: $0.baseAddress!, count: n * d) }
        }
        var out = [Float](repeating: 0, count: b * c.numClasses)
        out.withUnsafeMutableBufferPointer { encode(batch: b, s, into: $0.baseAddress!) }
        return Tensor(shape: [b, c.numClasses], data: out)
    }

    /// Preprocessed clips [B, T, H, W, 3] (or one clip [T, H, W, 3]) -> logits [B, K].
    ///
    /// - Precondition: the clip shape is the config's (`checkInput` gives a throwing check).
    public func logits(_ clips: Tensor, workspace: ModelWorkspace) -> Tensor {
        let c = config
        let clip = [c.numFrames, c.height, c.width, 3]
        precondition(clips.shape == clip || Array(clips.shape.dropFirst()) == clip, "logits: input shape \(clips.shape), the model takes [B, \(clip.map(String.init).joined(separator: ", "))]")
        let b = clips.shape.count == 4 ? 1 : clips.shape[0]
        guard b > 0 else { return Tensor(shape: [0, c.numClasses], data: []) }
        let s = scratch(batch: b, workspace)
        clips.data.withUnsafeBufferPointer { embed(clips: $0.baseAddress!, batch: b, s, workspace) }
        var out = [Float](repeating: 0, count: b * c.numClasses)
        out.withUnsafeMutableBufferPointer { encode(batch: b, s, into: $0.baseAddress!) }
        return Tensor(shape: [b, c.numClasses], data: out)
    }

    /// Throws `ModelError(.input)` naming `source` unless `shape` is [T, H, W, 3] or [B, T, H, W, 3]
    /// of this model.
    public func checkInput(shape: [Int], source: String) throws {
        let clip = [config.numFrames, config.height, config.width, 3]
        guard shape == clip || (shape.count == 5 && Array(shape.dropFirst()) == clip) else {
            throw ModelError(.input, path: source, "input shape \(shape), the model takes [T, H, W, 3] or [B, T, H, W, 3] with T, H, W = \(clip[0]), \(clip[1]), \(clip[2])")
        }
    }
}
