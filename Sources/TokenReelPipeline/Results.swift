import Foundation

/// The version of the result, manifest and summary format (docs/result-schema.json).
/// Bump on any change a reader would notice.
public let resultSchemaVersion = 1

/// One entry of a `top_k` list.
public struct TopKEntry: Codable, Sendable, Equatable {
    public var label: String
    public var index: Int
    public var score: Double
}

/// The labels of one clip.
public struct ClipResult: Codable, Sendable, Equatable {
    public var index: Int
    public var start: Double
    public var end: Double
    /// Target presentation times of the plan (s).
    public var timestamps: [Double]
    /// Presentation times of the frames actually used (s).
    public var frameTimestamps: [Double]
    public var crop: String
    public var repeatedFrames: Bool
    public var label: String
    public var score: Double
    public var topK: [TopKEntry]
    /// Full softmax vector (C), when `output.probabilities` is on.
    public var probabilities: [Double]?
    /// Raw logits (C), when `output.logits` is on.
    public var logits: [Double]?
    /// A cascade: the stage the clip exited at (0-based); nil (absent) for a plain pipeline.
    public var exitStage: Int?
    /// Matrix-product FLOPs spent on the clip: its model's per-clip count, or for a cascade the
    /// sum over the stages it ran. Absent only in results written before it was recorded.
    public var flops: Int?
    /// A cascade with `output.probabilities` on: the softmax (C) of every stage the clip ran, in
    /// stage order (the last is `probabilities`).
    public var stageProbabilities: [[Double]]?

    enum CodingKeys: String, CodingKey {
        case index, start, end, timestamps, crop, label, score, probabilities, logits, flops
        case frameTimestamps = "frame_timestamps", repeatedFrames = "repeated_frames", topK = "top_k"
        case exitStage = "exit_stage", stageProbabilities = "stage_probabilities"
    }
}

/// One input's result file, `OUT_DIR/<relative path>.json`.
public struct VideoResult: Codable, Sendable, Equatable {
    public struct Input: Codable, Sendable, Equatable {
        /// Path relative to the input root, `/`-separated.
        public var path: String
        public var size: Int64
        /// Modification time, ISO 8601 UTC with fractional seconds.
        public var modified: String
        public init(path: String, size: Int64, modified: String) { self.path = path; self.size = size; self.modified = modified }
    }
    public struct ModelRef: Codable, Sendable, Equatable {
        public var name: String; public var sha256: String
        public init(name: String, sha256: String) { self.name = name; self.sha256 = sha256 }
    }
    public struct PipelineRef: Codable, Sendable, Equatable {
        public var name: String; public var hash: String
        public init(name: String, hash: String) { self.name = name; self.hash = hash }
    }
    public struct ErrorInfo: Codable, Sendable, Equatable {
        public var kind: String; public var message: String
        public init(kind: String, message: String) { self.kind = kind; self.message = message }
    }
    /// Busy seconds spent on this video per stage (infer: its share of each batch).
    public struct Timing: Codable, Sendable, Equatable {
        public var decode: Double; public var tokenize: Double; public var infer: Double
        public init(decode: Double, tokenize: Double, infer: Double) { self.decode = decode; self.tokenize = tokenize; self.infer = infer }
    }

    public var schemaVersion: Int = resultSchemaVersion
    public var input: Input
    public var status: Status
    public var error: ErrorInfo?
    public var probe: JSONValue?
    public var model: ModelRef
    public var pipeline: PipelineRef
    public var label: String?
    public var score: Double?
    public var topK: [TopKEntry]?
    public var clips: [ClipResult]
    public var timing: Timing

    public enum Status: String, Codable, Sendable { case ok, error }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", topK = "top_k"
        case input, status, error, probe, model, pipeline, label, score, clips, timing
    }

    /// Encodes every key, with `null` for absent optionals, so readers see one shape.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(input, forKey: .input)
        try c.encode(status, forKey: .status)
        try c.encode(error, forKey: .error)
        try c.encode(probe ?? .null, forKey: .probe)
        try c.encode(model, forKey: .model)
        try c.encode(pipeline, forKey: .pipeline)
        try c.encode(label, forKey: .label)
        try c.encode(score, forKey: .score)
        try c.encode(topK, forKey: .topK)
        try c.encode(clips, forKey: .clips)
        try c.encode(timing, forKey: .timing)
    }

    public init(input: Input, status: Status, error: ErrorInfo?, probe: JSONValue?, model: ModelRef,
                pipeline: PipelineRef, label: String?, score: Double?, topK: [TopKEntry]?, clips: [ClipResult],
                timing: Timing) {
        self.input = input; self.status = status; self.error = error; self.probe = probe; self.model = model
        self.pipeline = pipeline; self.label = label; self.score = score; self.topK = topK; self.clips = clips
        self.timing = timing
    }
}

/// One line of `manifest.jsonl`.
public struct ManifestEntry: Codable, Sendable, Equatable {
    public var path: String
    public var status: VideoResult.Status
    public var label: String?
    public var score: Double?
    /// The result file, relative to the output directory.
    public var result: String
    public var errorKind: String?

    enum CodingKeys: String, CodingKey { case path, status, label, score, result, errorKind = "error_kind" }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path); try c.encode(status, forKey: .status)
        try c.encode(label, forKey: .label); try c.encode(score, forKey: .score)
        try c.encode(result, forKey: .result); try c.encode(errorKind, forKey: .errorKind)
    }

    public init(path: String, status: VideoResult.Status, label: String?, score: Double?, result: String, errorKind: String?) {
        self.path = path; self.status = status; self.label = label; self.score = score; self.result = result; self.errorKind = errorKind
    }

    public init(_ r: VideoResult) {
        self.init(path: r.input.path, status: r.status, label: r.label, score: r.score,
                  result: OutputLayout.resultRelativePath(for: r.input.path), errorKind: r.error?.kind)
    }
}

// MARK: - Scores

/// Softmax, top-k and the video-level mean of clip probabilities.
public enum Scoring {
    /// Numerically stable softmax in Double.
    public static func softmax(_ logits: [Float]) -> [Double] {
        guard let m = logits.max() else { return [] }
        let e = logits.map { Foundation.exp(Double($0) - Double(m)) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// The `k` highest entries, highest first; ties go to the lower index (deterministic).
    public static func topK(_ probabilities: [Double], labels: [String], k: Int) -> [TopKEntry] {
        probabilities.indices
            .sorted { probabilities[$0] != probabilities[$1] ? probabilities[$0] > probabilities[$1] : $0 < $1 }
            .prefix(k)
            .map { TopKEntry(label: $0 < labels.count ? labels[$0] : "class_\($0)", index: $0, score: probabilities[$0]) }
    }

    /// Element-wise mean of equally long vectors.
    public static func mean(_ vectors: [[Double]]) -> [Double] {
        guard let first = vectors.first else { return [] }
        var sum = [Double](repeating: 0, count: first.count)
        for v in vectors { for i in sum.indices { sum[i] += v[i] } }
        return sum.map { $0 / Double(vectors.count) }
    }
}
