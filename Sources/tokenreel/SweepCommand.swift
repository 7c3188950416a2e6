import ArgumentParser
import Foundation
import Logging
import TokenReelPipeline

/// `tokenreel sweep DIR --pipeline P -o OUT ...`: accuracy against cost for a model's operating points.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a model's operating points (sizes, token keeping rates, cascade thresholds) over a labelled set; table and charts of accuracy against GFLOPs per clip and clips/s.",
        discussion: """
        Every point is a variant of the pipeline (the pipeline itself is the 'full' point) run \
        through the whole pipeline over DIR/<class>/<video>, as 'tokenreel eval' runs it, into \
        OUT/points/<name>/ (every result redone). Prints a table on stdout and writes \
        OUT/sweep.json, OUT/accuracy-vs-gflops.png and OUT/accuracy-vs-clips-per-second.png. \
        Every point is checked against its model before anything runs. Unless --no-warm-up, the \
        full model first runs once untimed so the first timed point starts as warm as the others \
        (docs/pipelines.md, "Sweeping operating points"). Exit code 1 when some videos failed.
        """
    )

    @Argument(help: "Labelled directory: DIR/<class>/<video>.")
    var inputDir: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Directory for the points' results, sweep.json and the charts.", valueName: "out-dir"))
    var outputDir: String

    @Option(name: .long, help: ArgumentHelp("Pipeline whose model is swept (the full model): a plain pipeline's, or a cascade's last stage, whose thresholds are then swept too (default: pipelines/default.yaml).", valueName: "file"))
    var pipeline: String?

    @Option(name: .long, help: ArgumentHelp("Clip sizes to run the model at, position embedding interpolated (e.g. 8x64x64,16x48x48).", valueName: "TxHxW,..."))
    var sizes: String?

    @Option(name: .long, help: ArgumentHelp("Token keeping rates, each a point at the model's size (e.g. 0.7,0.5).", valueName: "rates"))
    var keepRates: String?

    @Option(name: .long, help: ArgumentHelp("Encoder layers (0-based) where --keep-rates drop tokens (e.g. 1 or 3,6,9).", valueName: "layers"))
    var keepLayers: String?

    @Option(name: .long, help: ArgumentHelp("Cascade pipeline whose thresholds are swept (default: the --pipeline when it is a cascade).", valueName: "file"))
    var cascade: String?

    @Option(name: .long, help: ArgumentHelp("Thresholds for every cascade stage but the last, one point each (e.g. 0.5,0.9,0.99; default: the file's own).", valueName: "values"))
    var thresholds: String?

    @Option(name: .long, help: ArgumentHelp("An extra reference point: a pipeline run as it is, drawn with its own marker (repeatable).", valueName: "name=file"))
    var reference: [String] = []

    @Option(name: .long, help: ArgumentHelp("Timed runs of every point, in rounds over all the points; clips/s and model s are the medians.", valueName: "n"))
    var `repeat`: Int = 1

    @Flag(name: .long, help: "Time the first point without running the full model once untimed before it.")
    var noWarmUp = false

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        let logger = LogSetup.bootstrap(console.logLevel.level)
        guard `repeat` >= 1 else { throw UsageFailure("--repeat: \(`repeat`) is not a number of runs (1 or more)") }
        try requireDirectory(inputDir)
        let pipelinePath = try pipeline ?? BundledPipelines.defaultPath()
        let points: [PreparedPoint]
        do {
            let request = try SweepRequest(sizes: sizes, keepRates: keepRates, keepLayers: keepLayers, cascade: cascade,
                                           thresholds: thresholds, references: reference)
            points = try Sweep.plan(pipelinePath: pipelinePath, request: request)
        } catch { throw UsageFailure("\(error)") }
        logger.info("sweep", metadata: ["pipeline": "\(pipelinePath)", "points": "\(points.map(\.point.name).joined(separator: ", "))"])

        let runner = SweepRunner(inputRoot: inputDir, outputRoot: outputDir, points: points, warmUp: !noWarmUp,
                                 repeats: `repeat`, logger: logger)
        let interrupts = InterruptHandler { _ in
            logger.warning("interrupted: finishing the videos in flight of this point; no sweep.json (again to exit at once)")
            runner.stop()
        }
        let report: SweepReport?
        do {
            report = try runner.run { _ in
                let display = ProgressDisplay(mode: console.progress)
                return (display.update, display.finish)
            }
        } catch { throw UsageFailure("\(error)") }
        withExtendedLifetime(interrupts) {}
        guard let report else { throw ExitCode(ExitStatus.interrupted) }

        let title = "\(points[0].model.name) on \(URL(fileURLWithPath: inputDir).lastPathComponent) (\(report.points[0].videos) videos)"
        try report.write(to: URL(fileURLWithPath: outputDir), title: title)
        print(report.table(), terminator: "")
        throw ExitCode(report.points.contains { $0.failed > 0 } ? ExitStatus.someFailed : ExitStatus.ok)
    }
}
