import ArgumentParser
import Foundation
import Logging
import TokenReelPipeline

/// `tokenreel run INPUT_DIR -o OUT_DIR`: label every video under INPUT_DIR.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Label every video under a directory; write one JSON per video, manifest.jsonl and summary.json.",
        discussion: """
        Results go to OUT_DIR/<path relative to INPUT_DIR>.json, written atomically. A re-run skips \
        inputs whose result was made by the same model and pipeline from the same file (--force \
        redoes them). Logs and progress go to stderr; nothing is written to stdout.

        Sharding: --shard I/N takes a stable, path-hashed share of the inputs. Without it the \
        shard comes from JOB_COMPLETION_INDEX with TOKENREEL_SHARD_COUNT (Kubernetes Indexed Jobs) \
        or SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT (Slurm arrays). A sharded run writes \
        manifest.shard-I-of-N.jsonl and summary.shard-I-of-N.json; join them with 'tokenreel merge'.

        Ctrl-C (or SIGTERM) once: finish the videos in flight, write manifest and summary, exit 130. \
        Twice: exit at once. Neither leaves a partial JSON file.

        Exit codes: 0 every input labelled; 1 some inputs failed (all others written); \
        2 usage or configuration error; 130 interrupted.
        """
    )

    @Argument(help: "Directory to label, searched recursively (symlinks followed).")
    var inputDir: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Directory for results, manifest and summary.", valueName: "out-dir"))
    var outputDir: String

    @Option(name: .long, help: ArgumentHelp("Pipeline file (default: pipelines/default.yaml, see docs/pipelines.md).", valueName: "file"))
    var pipeline: String?

    @Option(name: .long, help: ArgumentHelp("Take shard I of N (0 <= I < N), e.g. 0/4.", valueName: "i/n"))
    var shard: String?

    @Flag(name: .long, help: "Redo inputs that already have a result from the same model and pipeline.")
    var force = false

    @OptionGroup var console: ConsoleOptions

    func validate() throws {
        if let shard { _ = try parseShard(shard) }
    }

    private func parseShard(_ text: String) throws -> Shard {
        do { return try Shard(parsing: text) } catch { throw ValidationError("--shard: \((error as? StageFailure)?.message ?? "\(error)")") }
    }

    func run() throws {
        let logger = LogSetup.bootstrap(console.logLevel.level)

        let setup = try PipelineSetup(pipeline: pipeline, logger: logger)

        let chosenShard: Shard
        if let shard { chosenShard = try parseShard(shard) } else {
            do { chosenShard = try Shard.fromEnvironment(ProcessInfo.processInfo.environment) ?? .all }
            catch { throw UsageFailure("\(error)") }
        }
        try requireDirectory(inputDir)

        let session = RunSession(inputRoot: inputDir, outputRoot: outputDir, config: setup.config,
                                 decoder: setup.decoder, model: setup.model,
                                 shard: chosenShard, force: force, logger: logger)
        let interrupts = InterruptHandler { sig in
            logger.warning("interrupted: finishing the videos in flight, then writing manifest and summary (again to exit at once)",
                           metadata: ["signal": "\(sig == SIGINT ? "SIGINT" : "SIGTERM")"])
            session.stop()
        }
        let display = ProgressDisplay(mode: console.progress)
        let outcome: RunOutcome
        do {
            outcome = try session.run(progress: display.update)
        } catch { display.finish(); throw UsageFailure("\(error)") }
        display.finish()
        withExtendedLifetime(interrupts) {}

        let s = outcome.summary
        var metadata: Logger.Metadata = [
            "ok": "\(s.counts.ok)", "error": "\(s.counts.error)", "skipped": "\(s.counts.skipped)",
            "processed": "\(s.counts.processed)", "not_started": "\(s.counts.notStarted)",
            "videos_per_s": "\(String(format: "%.2f", s.videosPerSecond))", "clips_per_s": "\(String(format: "%.2f", s.clipsPerSecond))",
            "wall_s": "\(String(format: "%.2f", s.wallSeconds))", "out": "\(outputDir)",
        ]
        if let f = s.flops, f.clips > 0 {
            metadata["gflops_per_clip"] = "\(String(format: "%.4f", f.meanPerClip / 1e9))"
            if let exits = f.exits {
                metadata["exits"] = "\(exits)"
                metadata["flops_saved"] = "\(String(format: "%.1f%%", 100 * f.savedFraction))"
            }
        }
        logger.info("done", metadata: metadata)
        throw ExitCode(outcome.exitCode)
    }
}

/// Where the bundled pipelines are when `--pipeline` is left out.
enum BundledPipelines {
    /// The first `pipelines/default.yaml` found in: `$TOKENREEL_PIPELINES_DIR`, the current
    /// directory, then the executable's directory and its parents (so `.build/release/tokenreel`
    /// finds the repository's `pipelines/`).
    static func defaultPath() throws -> String {
        try path(named: "default.yaml")
    }

    static func searchDirectories() -> [URL] {
        var dirs: [URL] = []
        if let env = ProcessInfo.processInfo.environment["TOKENREEL_PIPELINES_DIR"] { dirs.append(URL(fileURLWithPath: env)) }
        dirs.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("pipelines"))
        var exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let real = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            exe = URL(fileURLWithPath: real).deletingLastPathComponent()
        }
        for _ in 0 ..< 5 {
            dirs.append(exe.appendingPathComponent("pipelines"))
            exe = exe.deletingLastPathComponent()
        }
        return dirs
    }

    static func path(named name: String) throws -> String {
        let dirs = searchDirectories()
        for dir in dirs where FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) {
            return dir.appendingPathComponent(name).path
        }
        throw UsageFailure("no bundled pipelines/\(name) found (looked in \(dirs.map(\.path).joined(separator: ", "))); pass --pipeline FILE or set TOKENREEL_PIPELINES_DIR")
    }
}
