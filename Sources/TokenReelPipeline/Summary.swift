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

    enum CodingKeys: String, CodingKey {
        case model, pipeline, shards, counts, clips, stages, overlap, interrupted
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
