import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `OUT_DIR/summary.json` (or `summary.shard-I-of-N.json`): what a run did and how fast.
public struct RunSummary: Codable, Sendable, Equatable {
    public struct Counts: Codable, Sendable, Equatable {
        /// Inputs found under the input root.
        public var discovered: Int
        /// Of those, inputs in this run's shard(s).
        public var inShard: Int
        /// Results reused from an earlier run (same model, pipeline and input).
        public var skipped: Int
        /// Results written by this run.
        public var processed: Int
        /// Inputs left untouched because the run was interrupted.
        public var notStarted: Int
        /// Results with status ok / error among all results of the shard (reused and new).
        public var ok: Int
        public var error: Int

        enum CodingKeys: String, CodingKey {
            case discovered, skipped, processed, ok, error
            case inShard = "in_shard", notStarted = "not_started"
        }
    }

    public var schemaVersion: Int = resultSchemaVersion
    public var model: VideoResult.ModelRef
    public var pipeline: VideoResult.PipelineRef
    /// Shards covered, as `I/N` strings (several after `tokenreel merge`).
    public var shards: [String]
    public var counts: Counts
    /// Clips labelled by this run.
    public var clips: Int
    public var wallSeconds: Double
    public var videosPerSecond: Double
    public var clipsPerSecond: Double
    /// Per stage: workers and busy seconds summed over workers.
    public var stages: [String: StageStats]
    /// Wall time over the busiest stage's busy time per worker: 1.0 means the stages ran
    /// fully side by side behind the slowest one; larger means they waited for each other.
    public var overlap: Double?
    /// Peak resident memory of the process, bytes (several after merge: the largest).
    public var peakRSSBytes: Int64
    public var interrupted: Bool
    /// The compute the clips of this run cost, and a cascade's exits (absent in summaries
    /// written before it was recorded).
    public var flops: FlopSummary? = nil

    enum CodingKeys: String, CodingKey {
        case model, pipeline, shards, counts, clips, stages, overlap, interrupted, flops
        case schemaVersion = "schema_version", wallSeconds = "wall_seconds", videosPerSecond = "videos_per_second"
        case clipsPerSecond = "clips_per_second", peakRSSBytes = "peak_rss_bytes"
    }

    /// Wall time over the busiest stage's per-worker busy time (nil when nothing ran).
    public static func overlap(wall: Double, stages: [String: StageStats]) -> Double? {
        let busiest = stages.values.map { $0.busySeconds / Double(max($0.workers, 1)) }.max() ?? 0
        return busiest > 0 ? wall / busiest : nil
    }
}

/// Peak resident set size of this process, in bytes (`getrusage`; Linux reports KiB).
public func peakResidentBytes() -> Int64 {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int64(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int64(usage.ru_maxrss)
    #endif
}

/// `flops` of summary.json: what the clips labelled by a run cost, against the full model.
/// FLOPs are the models' matrix-product counts (`VideoModel.flopsPerClip`, with token keeping).
public struct FlopSummary: Codable, Sendable, Equatable {
    /// Clips counted (labelled by this run).
    public var clips: Int
    /// FLOPs spent on them: the sum of their `flops`.
    public var total: Int
    /// `total / clips` (0 when no clip ran).
    public var meanPerClip: Double
    /// FLOPs per clip of the full model: a plain pipeline's model, a cascade's last stage alone.
    public var fullModelPerClip: Int
    /// `clips x full_model_per_clip - total`: what early exits saved; negative when a cascade's
    /// cheaper stages cost more than they saved (a plain pipeline: 0).
    public var savedTotal: Int
    /// `saved_total / (clips x full_model_per_clip)` (0 when no clip ran).
    public var savedFraction: Double
    /// A cascade: clips that exited at each stage (index = stage, summing to `clips`); nil
    /// (null) for a plain pipeline.
    public var exits: [Int]?

    enum CodingKeys: String, CodingKey {
        case clips, total, exits
        case meanPerClip = "mean_per_clip", fullModelPerClip = "full_model_per_clip"
        case savedTotal = "saved_total", savedFraction = "saved_fraction"
    }

    public init(clips: Int, total: Int, fullModelPerClip: Int, exits: [Int]?) {
        self.clips = clips; self.total = total; self.fullModelPerClip = fullModelPerClip; self.exits = exits
        meanPerClip = clips > 0 ? Double(total) / Double(clips) : 0
        let full = clips * fullModelPerClip
        savedTotal = full - total
        savedFraction = full > 0 ? Double(savedTotal) / Double(full) : 0
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clips, forKey: .clips); try c.encode(total, forKey: .total)
        try c.encode(meanPerClip, forKey: .meanPerClip); try c.encode(fullModelPerClip, forKey: .fullModelPerClip)
        try c.encode(savedTotal, forKey: .savedTotal); try c.encode(savedFraction, forKey: .savedFraction)
        try c.encode(exits, forKey: .exits)    // null for a plain pipeline: every key always present
    }

    /// The shards' summaries as one (`tokenreel merge`): counts summed; nil when a shard has
    /// none or the shards disagree about the model's cost or stages.
    public static func merged(_ parts: [FlopSummary?]) -> FlopSummary? {
        let all = parts.compactMap { $0 }
        guard let first = all.first, all.count == parts.count,
              all.allSatisfy({ $0.fullModelPerClip == first.fullModelPerClip && $0.exits?.count == first.exits?.count }) else { return nil }
        let exits = first.exits.map { e in all.reduce(into: [Int](repeating: 0, count: e.count)) { sum, p in
            for (i, n) in p.exits!.enumerated() { sum[i] += n } } }
        return FlopSummary(clips: all.map(\.clips).reduce(0, +), total: all.map(\.total).reduce(0, +),
                           fullModelPerClip: first.fullModelPerClip, exits: exits)
    }
}
