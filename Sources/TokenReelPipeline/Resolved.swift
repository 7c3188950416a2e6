import Foundation

/// The sizes a pipeline runs with once the model is known: the pipeline may leave frames and
/// crop to the model, and when it names them they must match what the model takes, unless
/// `preprocess.interpolate_position_embeddings` is true (the model is then resized to them).
public struct ResolvedGeometry: Sendable, Equatable {
    /// T frames per clip.
    public var frames: Int
    public var cropWidth: Int
    public var cropHeight: Int
    /// Short side after resizing, before cropping.
    public var shortSide: Int
}

extension PipelineConfig {
    /// Fills in frames and crop from the model's input shape (T x H x W) and checks what the
    /// pipeline names against it (with `preprocess.interpolate_position_embeddings` the sizes may
    /// differ: the model's tubelet fit is checked by `VideoModel.resized`). Errors name the
    /// pipeline file and the key.
    public func resolveGeometry(modelFrames: Int, modelHeight: Int, modelWidth: Int) throws -> ResolvedGeometry {
        let file = sourcePath ?? name
        let free = preprocess.interpolatePositionEmbeddings
        let hint = "leave the key out to use the model's, or set preprocess.interpolate_position_embeddings: true to resize the model's position embedding"
        let frames = sampling.frames ?? modelFrames
        guard free || frames == modelFrames else {
            throw PipelineConfigError(file: file, key: "sampling.frames", line: nil,
                                      message: "\(frames) frames, but the model takes \(modelFrames) (\(hint))")
        }
        let crop = preprocess.crop ?? [modelWidth, modelHeight]
        guard free || crop == [modelWidth, modelHeight] else {
            throw PipelineConfigError(file: file, key: "preprocess.crop", line: nil,
                                      message: "[\(crop[0]), \(crop[1])], but the model takes [\(modelWidth), \(modelHeight)] (width, height; \(hint))")
        }
        let shortSide = preprocess.shortSide ?? max(crop[0], crop[1])
        guard shortSide >= min(crop[0], crop[1]) else {
            throw PipelineConfigError(file: file, key: "preprocess.short_side", line: nil,
                                      message: "\(shortSide) is below the crop's shorter side \(min(crop[0], crop[1]))")
        }
        return ResolvedGeometry(frames: frames, cropWidth: crop[0], cropHeight: crop[1], shortSide: shortSide)
    }

    /// Checks the machine can run the workers without oversubscribing its cores with BLAS
    /// threads: `blas_threads x (tokenize + infer) <= cores`. Returns the problem, or nil.
    public func blasOversubscription(cores: Int) -> String? {
        let used = workers.blasThreads * (workers.tokenize + workers.infer)
        guard used > cores else { return nil }
        return "\(sourcePath ?? name): workers.blas_threads (\(workers.blasThreads)) x (workers.tokenize + workers.infer = \(workers.tokenize + workers.infer)) = \(used) BLAS threads on \(cores) cores; lower them"
    }
}
