import ArgumentParser
import Foundation
import Logging
import TokenReelPipeline

/// `tokenreel export DIR --out data.npz`: the exact clips the pipeline feeds the model, for training.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the clips a pipeline would feed its model, with their labels, as .npz for the trainer.",
        discussion: """
        DIR is a labelled set in the directory-per-class layout (DIR/<class>/<name>.<ext>, class \
        names as in the model's labels). Each video is decoded by the pipeline's own decode stage \
        (sampling plan, resize, crop, rotation); the npz holds `pixels` (uint8 [N,T,H,W,3], before \
        normalisation), `labels` (int32 [N]), `label_names`, `normalization` (JSON, applied by the \
        trainer as the tokenize stage applies it), `videos`, `clip_index`, `pipeline_hash`, \
        `model_sha256`. Files that fail are reported on stderr and left out (exit code 1).
        """
    )

    @Argument(help: "Labelled directory: DIR/<class>/<video>.")
    var inputDir: String

    @Option(name: .long, help: ArgumentHelp("Pipeline file (default: pipelines/default.yaml).", valueName: "file"))
    var pipeline: String?

    @Option(name: .long, help: ArgumentHelp("The .npz to write (atomically).", valueName: "file"))
    var out: String

    @Flag(name: .long, help: "Shuffle the frames of every clip (the temporal control; see preprocess.shuffle_frames).")
    var shuffleFrames = false

    @Option(name: .long, help: "Log level on stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelOption = .info

    func run() throws {
        let logger = LogSetup.bootstrap(logLevel.level)
        let setup = try PipelineSetup(pipeline: pipeline, logger: logger, shuffleFrames: shuffleFrames)
        try requireDirectory(inputDir)

        let start = Date()
        let result: ClipExport.Result
        do {
            result = try ClipExport.run(root: inputDir, extensions: setup.config.inputs.extensions, labels: setup.model.labels,
                                        decoder: setup.decoder, workers: setup.config.workers.decode) { done, total in
                if done % 100 == 0 || done == total { logger.info("export", metadata: ["done": "\(done)", "total": "\(total)"]) }
            }
        } catch { throw UsageFailure("\(error)") }
        for f in result.failures { logger.error("\(f.path): \(f.message)") }

        let normalization = String(decoding: try JSONEncoder().encode(setup.model.normalization), as: UTF8.self)
        try result.npz(labelNames: setup.model.labels, normalizationJSON: normalization,
                       pipelineHash: setup.config.hash, modelSHA256: setup.model.sha256)
            .write(to: URL(fileURLWithPath: out))
        logger.info("exported", metadata: [
            "clips": "\(result.clipCount)", "shape": "\(result.frames)x\(result.height)x\(result.width)x3",
            "failed": "\(result.failures.count)", "seconds": "\(String(format: "%.1f", Date().timeIntervalSince(start)))", "out": "\(out)",
        ])
        throw ExitCode(result.failures.isEmpty ? 0 : 1)
    }
}
