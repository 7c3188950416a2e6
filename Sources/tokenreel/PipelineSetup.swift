import Foundation
import Logging
import TokenReelModel
import TokenReelPipeline

/// What `run`, `eval`, `export` and `calibrate` all do first: read the pipeline file, load the
/// model it names (a plain pipeline's one model, or a cascade's stages), and resolve the decode
/// geometry against it. Every failure here is a usage or configuration error (exit 2) naming
/// the file.
struct PipelineSetup {
    var path: String
    var config: PipelineConfig
    var model: CascadeModel<VideoModelAdapter>
    var geometry: ResolvedGeometry

    /// - Parameter shuffleFrames: `--shuffle-frames` sets `preprocess.shuffle_frames`, which is
    ///   part of the pipeline's hash like any key in the file.
    init(pipeline: String?, logger: Logger, shuffleFrames: Bool = false) throws {
        path = try pipeline ?? BundledPipelines.defaultPath()
        do { config = try PipelineConfig.load(path: path) } catch { throw UsageFailure("\(error)") }
        if shuffleFrames { config.preprocess.shuffleFrames = true }
        if let problem = config.blasOversubscription(cores: ProcessInfo.processInfo.activeProcessorCount) {
            logger.warning("\(problem)")   // slower, not wrong: run anyway
        }
        do {
            model = try CascadeModel.load(config: config)
            geometry = try config.resolveGeometry(modelFrames: model.inputFrames, modelHeight: model.inputHeight, modelWidth: model.inputWidth)
        } catch { throw UsageFailure("\(error)") }
        VideoModelAdapter.setBLASThreads(config.workers.blasThreads)
        logger.info("pipeline", metadata: ["file": "\(path)", "name": "\(config.name)", "hash": "\(config.hash)",
                                           "model": "\(config.modelURLs.map(\.path).joined(separator: ", "))", "model_sha256": "\(model.sha256)",
                                           "frames": "\(geometry.frames)", "crop": "\(geometry.cropWidth)x\(geometry.cropHeight)"])
        logger.info("compute", metadata: ["kernels": "\(PackedGEMM.isa)", "weight_products": "\(PackedGEMM.path)",
                                          "threads_per_forward_pass": "\(config.workers.blasThreads)"])
        if model.stageCount > 1 {
            logger.info("cascade", metadata: ["stages": "\(model.stages.map { "\($0.frames)x\($0.height)x\($0.width)" }.joined(separator: " -> "))",
                                              "thresholds": "\(model.stages.compactMap(\.threshold))",
                                              "gflops_per_clip": "\(model.stages.map { String(format: "%.3f", Double($0.model.fullFlopsPerClip) / 1e9) })"])
        }
    }

    var decoder: MediaDecoder { MediaDecoder(config: config, geometry: geometry) }
}

/// An input directory that must exist.
func requireDirectory(_ path: String) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
        throw UsageFailure("\(path): no such directory")
    }
}
