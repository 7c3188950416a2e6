import ArgumentParser
import Foundation
import Logging
import TokenReelPipeline

/// `tokenreel eval DIR -o OUT`: accuracy of a pipeline on a labelled set, through the whole pipeline.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Label a directory-per-class set with a pipeline and report accuracy, per-class accuracy and the confusion matrix.",
        discussion: """
        Runs exactly what `tokenreel run` runs (files in, one JSON per video out, resumable), then \
        compares each video's label with its class directory (DIR/<class>/<video>). Prints the \
        table on stdout and writes OUT/eval.json and OUT/confusion.png. Videos that fail are \
        listed and left out of the accuracy; the exit code is then 1.
        """
    )

    @Argument(help: "Labelled directory: DIR/<class>/<video>.")
    var inputDir: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Directory for results, eval.json and confusion.png.", valueName: "out-dir"))
    var outputDir: String

    @Option(name: .long, help: ArgumentHelp("Pipeline file (default: pipelines/default.yaml).", valueName: "file"))
    var pipeline: String?

    @Flag(name: .long, help: "Shuffle the frames of every clip: the temporal control (a model that reads time should drop to chance within each direction pair).")
    var shuffleFrames = false

    @Flag(name: .long, help: "Redo videos that already have a result.")
    var force = false

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        let logger = LogSetup.bootstrap(console.logLevel.level)
        let setup = try PipelineSetup(pipeline: pipeline, logger: logger, shuffleFrames: shuffleFrames)
        try requireDirectory(inputDir)

        let session = RunSession(inputRoot: inputDir, outputRoot: outputDir, config: setup.config,
                                 decoder: setup.decoder, model: setup.model, force: force, logger: logger)
        let interrupts = InterruptHandler { _ in session.stop() }
        let display = ProgressDisplay(mode: console.progress)
        let outcome: RunOutcome
        do { outcome = try session.run(progress: display.update) } catch { display.finish(); throw UsageFailure("\(error)") }
        display.finish()
        withExtendedLifetime(interrupts) {}
        if outcome.summary.interrupted { throw ExitCode(130) }

        let report = EvaluationReport(labels: setup.model.labels, outcome: outcome)
        let title = "\(setup.model.name), \(setup.config.name)\(shuffleFrames ? ", frames shuffled" : ""): "
            + String(format: "%.1f%% of %d videos", 100 * report.accuracy, report.total)
        try report.write(to: URL(fileURLWithPath: outputDir), title: title)
        print(report.table(), terminator: "")
        for path in report.failed { logger.error("failed: \(path) (see its result file)") }
        throw ExitCode(report.failed.isEmpty ? 0 : 1)
    }
}
