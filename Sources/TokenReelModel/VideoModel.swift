import Foundation

/// A ViViT + TokenLearner classifier loaded from a `.safetensors` file (docs/model-format.md).
///
/// Immutable after loading (apart from the cached digest, behind a lock) and shared by all workers; each worker runs it with its own
/// `ModelWorkspace`. F32 weights are read in place from the memory-mapped file; F16/BF16 weights
/// and derived ones (packed q|k|v, position + bias) live in buffers the model owns.
public final class VideoModel: @unchecked Sendable {
    /// The `__metadata__["format"]` value this version reads.
    public static let format = "tokenreel.vivit.v1"

    public let config: ModelConfig
    /// Class names, index = logit position.
    public let labels: [String]
    /// SHA-256 of the weights file, lowercase hex; computed on first use (about 0.2 s per 40 MB),
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
    /// Matrix-product FLOPs of one clip (see `ModelConfig.flopsPerClip`).
    public var flopsPerClip: Int { config.flopsPerClip }

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
        self.labels = labels
        self.defaultNormalization = normalization
        self.url = url
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
