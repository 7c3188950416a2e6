import Foundation
import Logging

/// Progress of a run, reported after every finished video (on the writer thread).
public struct ProgressSnapshot: Sendable, Equatable {
    /// Videos finished by this run, and to do in this run (after shard and resume).
    public var done: Int
    public var total: Int
    public var failures: Int
    public var clips: Int
    public var elapsedSeconds: Double

    public init(done: Int, total: Int, failures: Int, clips: Int, elapsedSeconds: Double) {
        self.done = done; self.total = total; self.failures = failures; self.clips = clips; self.elapsedSeconds = elapsedSeconds
    }
}

/// What `tokenreel run` did: the summary written, and the exit status it implies.
public struct RunOutcome: Sendable {
    public var summary: RunSummary
    public var manifest: [ManifestEntry]

    /// 0 every input labelled, 1 some inputs failed, 130 interrupted.
    public var exitCode: Int32 {
        if summary.interrupted { return 130 }
        return summary.counts.error > 0 ? 1 : 0
    }
}

/// One run over an input directory: discover, shard, resume, the staged engine, then the
/// manifest and summary. The CLI builds one of these; tests drive it with doubles.
public final class RunSession<Decoder: VideoDecoding, Model: ClipModel>: @unchecked Sendable {
    public let inputRoot: String
    public let layout: OutputLayout
    public let shard: Shard
    public let force: Bool
    public let engine: LabelingEngine<Decoder, Model>
    private let logger: Logger

    public init(inputRoot: String, outputRoot: String, config: PipelineConfig, decoder: Decoder, model: Model,
                shard: Shard = .all, force: Bool = false, logger: Logger = Logger(label: "tokenreel.pipeline")) {
        self.inputRoot = inputRoot
        self.layout = OutputLayout(root: URL(fileURLWithPath: outputRoot))
        self.shard = shard
        self.force = force
        self.engine = LabelingEngine(decoder: decoder, model: model, config: config, logger: logger)
        self.logger = logger
    }

    /// Stop taking new videos (first Ctrl-C); in-flight videos finish and are written.
    public func stop() { engine.stop() }

    /// Runs to the end (or to a stop) and writes manifest and summary. Throws only for problems
    /// with the directories themselves (input missing, output not writable).
    public func run(progress: @escaping (ProgressSnapshot) -> Void = { _ in }) throws -> RunOutcome {
        let config = engine.config
        let all = try Discovery.walk(root: inputRoot, extensions: config.inputs.extensions, exclude: layout.root.path)
        let mine = all.filter { shard.contains($0.relativePath) }
        var reused: [VideoResult] = []
        var todo: [InputFile] = []
        for input in mine {
            if !force, let r = layout.reusableResult(for: input, modelSHA256: engine.model.sha256, pipelineHash: engine.pipelineRef.hash) {
                reused.append(r)
            } else {
                todo.append(input)
            }
        }
        logger.info("inputs", metadata: ["discovered": "\(all.count)", "shard": "\(shard)", "in_shard": "\(mine.count)",
                                         "reused": "\(reused.count)", "to_do": "\(todo.count)"])
        try OutputLayout.createDirectories(layout.root)
        let stale = layout.removeStaleTemporaries()
        if !stale.isEmpty {
            logger.notice("removed temporary files of an interrupted run", metadata: ["count": "\(stale.count)", "first": "\(stale[0])"])
        }

        let encoder = OutputLayout.encoder(pretty: true)
        let state = Locked((entries: reused.map(ManifestEntry.init), done: 0, failures: 0, clips: 0, writeErrors: 0))
        let start = monotonicSeconds()
        let report = engine.run(todo) { result in
            var entry = ManifestEntry(result)
            do {
                try OutputLayout.writeAtomically(try encoder.encode(result), to: self.layout.resultURL(for: result.input.path))
            } catch {
                self.logger.error("cannot write result", metadata: ["path": "\(result.input.path)", "error": "\(error)"])
                entry.status = .error
                entry.errorKind = "io"
                entry.label = nil
                entry.score = nil
            }
            let snapshot: ProgressSnapshot = state.withLock { s in
                s.entries.append(entry)
                s.done += 1
                if entry.status == .error { s.failures += 1 }
                s.clips += result.clips.count
                return ProgressSnapshot(done: s.done, total: todo.count, failures: s.failures, clips: s.clips,
                                        elapsedSeconds: monotonicSeconds() - start)
            }
            progress(snapshot)
        }

        let entries = state.withLock { $0.entries }.sorted { $0.path < $1.path }
        let wall = monotonicSeconds() - start
        let summary = RunSummary(
            model: .init(name: engine.model.name, sha256: engine.model.sha256), pipeline: engine.pipelineRef,
            shards: [shard.description],
            counts: .init(discovered: all.count, inShard: mine.count, skipped: reused.count,
                          processed: report.videosFinished, notStarted: report.notStarted,
                          ok: entries.filter { $0.status == .ok }.count, error: entries.filter { $0.status == .error }.count),
            clips: report.clips, wallSeconds: wall,
            videosPerSecond: wall > 0 ? Double(report.videosFinished) / wall : 0,
            clipsPerSecond: wall > 0 ? Double(report.clips) / wall : 0,
            stages: report.stages, overlap: RunSummary.overlap(wall: wall, stages: report.stages),
            peakRSSBytes: peakResidentBytes(), interrupted: engine.isStopping, flops: report.flops)
        try ManifestIO.write(entries, to: layout.manifestURL(shard))
        try OutputLayout.writeAtomically(try encoder.encode(summary), to: layout.summaryURL(shard))
        return RunOutcome(summary: summary, manifest: entries)
    }
}

/// Reading and writing `manifest.jsonl`.
public enum ManifestIO {
    public static func write(_ entries: [ManifestEntry], to url: URL) throws {
        let encoder = OutputLayout.encoder(pretty: false)
        var data = Data()
        for e in entries { data.append(try encoder.encode(e)); data.append(0x0A) }
        try OutputLayout.writeAtomically(data, to: url)
    }

    public static func read(_ url: URL) throws -> [ManifestEntry] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").enumerated().map { (n, line) in
            do { return try JSONDecoder().decode(ManifestEntry.self, from: Data(line.utf8)) }
            catch { throw StageFailure(kind: "corrupt", message: "\(url.path):\(n + 1): not a manifest line (\(error))") }
        }
    }
}
