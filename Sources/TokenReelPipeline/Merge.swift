import Foundation

/// `tokenreel merge`: joins the manifests and summaries of shards into one.
///
/// From each directory it reads the shard files (`manifest.shard-I-of-N.jsonl`,
/// `summary.shard-I-of-N.json`), or, when a directory has none, its plain `manifest.jsonl` and
/// `summary.json` (a run made in its own directory). It writes `manifest.jsonl` and
/// `summary.json` into `output`. Result paths in the merged manifest are relative to `output`
/// when the result lies under it, absolute otherwise.
public enum ShardMerge {
    public struct Merged: Sendable {
        public var manifest: [ManifestEntry]
        public var summary: RunSummary
    }

    public static func merge(directories: [String], into output: String) throws -> Merged {
        let out = URL(fileURLWithPath: output).standardizedFileURL
        var entries: [String: ManifestEntry] = [:]
        var summaries: [RunSummary] = []
        for dir in directories {
            let url = URL(fileURLWithPath: dir).standardizedFileURL
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else {
                throw StageFailure(kind: "not_found", message: "\(dir): no such directory")
            }
            var manifests = names.filter { $0.hasPrefix("manifest.shard-") && $0.hasSuffix(".jsonl") }.sorted()
            var summaryNames = names.filter { $0.hasPrefix("summary.shard-") && $0.hasSuffix(".json") }.sorted()
            if manifests.isEmpty { manifests = names.contains("manifest.jsonl") ? ["manifest.jsonl"] : [] }
            if summaryNames.isEmpty { summaryNames = names.contains("summary.json") ? ["summary.json"] : [] }
            guard !manifests.isEmpty else { throw StageFailure(kind: "not_found", message: "\(dir): no manifest to merge") }
            for name in manifests {
                for var e in try ManifestIO.read(url.appendingPathComponent(name)) {
                    let resultPath = url.appendingPathComponent(e.result).standardizedFileURL.path
                    e.result = resultPath.hasPrefix(out.path + "/") ? String(resultPath.dropFirst(out.path.count + 1)) : resultPath
                    if let previous = entries[e.path], previous != e {
                        throw StageFailure(kind: "conflict", message: "\(e.path) appears in two shards with different results (\(previous.result), \(e.result))")
                    }
                    entries[e.path] = e
                }
            }
            for name in summaryNames {
                let file = url.appendingPathComponent(name)
                do { summaries.append(try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: file))) }
                catch { throw StageFailure(kind: "corrupt", message: "\(file.path): not a summary (\(error))") }
            }
        }
        guard let first = summaries.first else { throw StageFailure(kind: "not_found", message: "no summary to merge") }
        for s in summaries where s.model != first.model || s.pipeline != first.pipeline {
            throw StageFailure(kind: "conflict", message: "shards were made with different models or pipelines (\(first.model.sha256.prefix(12))/\(first.pipeline.hash) vs \(s.model.sha256.prefix(12))/\(s.pipeline.hash))")
        }
        let manifest = entries.values.sorted { $0.path < $1.path }
        var stages: [String: StageStats] = [:]
        for s in summaries {
            for (name, st) in s.stages {
                stages[name, default: .init(workers: 0, busySeconds: 0)].workers += st.workers
                stages[name, default: .init(workers: 0, busySeconds: 0)].busySeconds += st.busySeconds
            }
        }
        let wall = summaries.map(\.wallSeconds).max() ?? 0
        let processed = summaries.map(\.counts.processed).reduce(0, +)
        let clips = summaries.map(\.clips).reduce(0, +)
        let summary = RunSummary(
            model: first.model, pipeline: first.pipeline,
            shards: summaries.flatMap(\.shards).sorted(),
            counts: .init(discovered: summaries.map(\.counts.discovered).max() ?? 0,
                          inShard: summaries.map(\.counts.inShard).reduce(0, +),
                          skipped: summaries.map(\.counts.skipped).reduce(0, +),
                          processed: processed,
                          notStarted: summaries.map(\.counts.notStarted).reduce(0, +),
                          ok: manifest.filter { $0.status == .ok }.count,
                          error: manifest.filter { $0.status == .error }.count),
            clips: clips, wallSeconds: wall,
            videosPerSecond: wall > 0 ? Double(processed) / wall : 0,
            clipsPerSecond: wall > 0 ? Double(clips) / wall : 0,
            stages: stages, overlap: nil,
            peakRSSBytes: summaries.map(\.peakRSSBytes).max() ?? 0,
            interrupted: summaries.contains(where: \.interrupted), flops: FlopSummary.merged(summaries.map(\.flops)))
        try OutputLayout.createDirectories(out)
        try ManifestIO.write(manifest, to: out.appendingPathComponent("manifest.jsonl"))
        try OutputLayout.writeAtomically(try OutputLayout.encoder(pretty: true).encode(summary),
                                         to: out.appendingPathComponent("summary.json"))
        return Merged(manifest: manifest, summary: summary)
    }
}
