import ArgumentParser
import Foundation
import Logging
import TokenReelPipeline

/// `tokenreel calibrate DIR --pipeline P --budget F --out P2.yaml`: fit a cascade's thresholds.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Fit a cascade pipeline's exit thresholds on a labelled set, for a FLOPs budget or an accuracy drop.",
        discussion: """
        Runs every stage of the pipeline's cascade on every clip of a directory-per-class set \
        (DIR/<class>/<video>, as 'tokenreel eval' reads it), then replays the cascade for a grid \
        of thresholds per stage and keeps the best (docs/pipelines.md, "Calibrating a cascade"). \
        With --budget, the most accurate thresholds whose mean FLOPs per clip stay within that \
        fraction of the last stage alone; with --max-accuracy-drop, the cheapest thresholds whose \
        accuracy is at most that many points below the last stage alone. Prints a table on stdout \
        and writes the pipeline with the chosen thresholds to --out (atomically). Videos that fail \
        are left out and listed; the exit code is then 1.
        """
    )

    @Argument(help: "Labelled directory: DIR/<class>/<video>.")
    var inputDir: String

    @Option(name: .long, help: ArgumentHelp("Cascade pipeline file whose thresholds are fitted.", valueName: "file"))
    var pipeline: String

    @Option(name: .long, help: ArgumentHelp("Mean FLOPs per clip allowed, as a fraction of the last stage alone (e.g. 0.5).", valueName: "fraction"))
    var budget: Double?

    @Option(name: .long, help: ArgumentHelp("Accuracy allowed below the last stage alone, in percentage points (e.g. 1).", valueName: "points"))
    var maxAccuracyDrop: Double?

    @Option(name: .long, help: ArgumentHelp("With --max-accuracy-drop: one-sided confidence that the drop stays within it (0.5-0.999; 0 = the plain difference on this set).", valueName: "p"))
    var confidence: Double = 0.95

    @Option(name: .long, help: ArgumentHelp("The pipeline file to write, with the fitted thresholds.", valueName: "file"))
    var out: String

    @Option(name: .long, help: "Log level on stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelOption = .info

    func validate() throws {
        switch (budget, maxAccuracyDrop) {
        case (nil, nil), (_?, _?): throw ValidationError("give exactly one of --budget and --max-accuracy-drop")
        case let (b?, nil) where !(b > 0 && b.isFinite): throw ValidationError("--budget: \(b) is not a fraction > 0")
        case let (nil, d?) where !(d >= 0 && d.isFinite): throw ValidationError("--max-accuracy-drop: \(d) is not a number of points >= 0")
        default: break
        }
        guard confidence == 0 || (confidence >= 0.5 && confidence < 1) else {
            throw ValidationError("--confidence: \(confidence) is not 0 or in [0.5, 1)")
        }
    }

    func run() throws {
        let logger = LogSetup.bootstrap(logLevel.level)
        let setup = try PipelineSetup(pipeline: pipeline, logger: logger)
        try requireDirectory(inputDir)
        let target: Calibration.Target = budget.map { .budget($0) } ?? .maxAccuracyDrop(maxAccuracyDrop!, confidence: confidence)

        let fit: Calibration.Fit, table: CalibrationTable
        do {
            table = try CalibrationTable.collect(root: inputDir, config: setup.config, decoder: setup.decoder, model: setup.model) { done, total in
                if done % 50 == 0 || done == total { logger.info("calibrate", metadata: ["videos": "\(done)/\(total)"]) }
            }
            for path in table.unlabelled { logger.warning("outside the class directories, left out: \(path)") }
            fit = try Calibration.fit(table, target: target)
        } catch { throw UsageFailure("\(error)") }

        let header = """
        Thresholds fitted by `tokenreel calibrate` on \(inputDir) (\(table.clips.count) clips, \(table.videos.count) videos):
        \(target). From \(setup.path); its comments are not kept. Keys: docs/pipelines.md.
        """
        do {
            let text = try Calibration.pipelineYAML(source: setup.path, thresholds: fit.chosen.thresholds, destination: out, header: header)
            try OutputLayout.writeAtomically(Data(text.utf8), to: URL(fileURLWithPath: out))
        } catch { throw UsageFailure("\(out): \(error)") }
        print(fit.table(table), terminator: "")
        logger.info("written", metadata: ["out": "\(out)", "thresholds": "\(fit.chosen.thresholds)"])
        for path in table.failed { logger.error("failed, left out: \(path)") }
        throw ExitCode(table.failed.isEmpty ? 0 : 1)
    }
}
