import ArgumentParser
import Foundation
import TokenReelPipeline

/// `tokenreel merge OUT_DIR...`: join the manifests and summaries of shards.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join shard manifests and summaries into manifest.jsonl and summary.json.",
        discussion: """
        Reads manifest.shard-I-of-N.jsonl and summary.shard-I-of-N.json from each directory (or \
        its manifest.jsonl and summary.json when it has no shard files) and writes manifest.jsonl \
        and summary.json into --output (default: the first directory). Fails when an input appears \
        twice with different results or the shards used different models or pipelines.
        """
    )

    @Argument(help: "Output directories of the shards (one shared directory, or one per shard).")
    var directories: [String]

    @Option(name: [.short, .customLong("output")], help: "Where to write the merged files (default: the first directory).")
    var output: String?

    func run() throws {
        guard let first = directories.first else { throw ValidationError("give at least one directory") }
        do {
            let merged = try ShardMerge.merge(directories: directories, into: output ?? first)
            let s = merged.summary
            FileHandle.standardError.write(Data("merged \(s.shards.count) shard(s): \(merged.manifest.count) inputs, \(s.counts.ok) ok, \(s.counts.error) error\n".utf8))
        } catch {
            throw UsageFailure("\(error)")
        }
    }
}
