import Foundation
import TokenReelMedia
import TokenReelModel

// The real stage implementations over TokenReelMedia (decode) and TokenReelModel (tokenize,
// infer). Everything else in the pipeline only knows the protocols of Stages.swift.

/// The decode stage over TokenReelMedia: probe, sampling plan, plan-driven decode.
public struct MediaDecoder: VideoDecoding {
    public var mode: TokenReelMedia.SamplingMode
    public var geometry: FrameGeometry
    public var options: DecodeOptions
    /// `preprocess.shuffle_frames`: the temporal control (see ``ClipFrames/shuffled()``).
    public var shuffleFrames: Bool

    public init(config: PipelineConfig, geometry g: ResolvedGeometry) {
        let s = config.sampling
        switch s.mode {
        case .uniform:
            mode = .uniform(frames: g.frames)
        case .sliding:
            let clip = s.clipSeconds ?? 2
            mode = .sliding(frames: g.frames, clipSeconds: clip, strideSeconds: s.strideSeconds ?? clip,
                            tail: SlidingTail(rawValue: s.tail.rawValue)!)
        case .multiview:
            mode = .multiview(frames: g.frames, clips: s.clips, clipSeconds: s.clipSeconds, spatialCrops: s.spatialCrops)
        }
        geometry = FrameGeometry(shortSide: g.shortSide, cropWidth: g.cropWidth, cropHeight: g.cropHeight,
                                 scaling: ScalingAlgorithm(rawValue: config.preprocess.scaling.rawValue)!,
                                 resize: ResizeMode(rawValue: config.preprocess.resize.rawValue)!)
        shuffleFrames = config.preprocess.shuffleFrames
        options = DecodeOptions(timeoutSeconds: config.decode.timeoutSeconds, threads: config.decode.threads)
    }

    public func decode(path: String, opened: (ProbeReport) throws -> Void, clip: (ClipFrames) throws -> Void) throws {
        try Self.stageErrors(path) {
            let (reader, plan) = try open(path, opened)
            try reader.decode(plan, geometry: geometry) { d in
                let frames = Self.frames(d)
                try clip(shuffleFrames ? frames.shuffled(seed: Shard.fnv1a(URL(fileURLWithPath: path).lastPathComponent)) : frames)
            }
        }
    }

    /// Decodes the first `firstFrames` frames and stops; the returned ``ClipRest`` keeps the file
    /// open and the decoder where it stopped, so the rest costs only what the prefix did not
    /// decode (`VideoReader.decodePrefix`). `shuffle_frames` does not apply: with it the engine
    /// decodes whole clips (the first frames of a shuffled clip are not its start).
    public func decode(path: String, firstFrames: Int, opened: (ProbeReport) throws -> Void,
                       prefix: (ClipFrames, ClipRest) throws -> Void) throws {
        try Self.stageErrors(path) {
            let (reader, plan) = try open(path, opened)
            guard plan.clips.count == 1 else { throw StageFailure.notOneClip(path: path, clips: plan.clips.count) }
            let head = try reader.decodePrefix(plan, frames: min(firstFrames, plan.clips[0].timestamps.count), geometry: geometry)
            var frames = Self.frames(head)
            frames.isPrefix = true
            try prefix(frames, Rest(reader: reader, path: path))
        }
    }

    /// The rest of a clip: the open reader, decoded on demand.
    final class Rest: ClipRest, @unchecked Sendable {
        private var reader: VideoReader?
        let path: String
        init(reader: VideoReader, path: String) { self.reader = reader; self.path = path }
        func decode() throws -> ClipFrames {
            guard let reader else { throw StageFailure(kind: "internal", message: "\(path): the rest of the clip was already decoded") }
            self.reader = nil   // the file closes when this returns
            return try MediaDecoder.stageErrors(path) { MediaDecoder.frames(try reader.decodeRest()) }
        }
    }

    /// Opens and probes `path`, plans its clips and reports them to `opened`.
    private func open(_ path: String, _ opened: (ProbeReport) throws -> Void) throws -> (VideoReader, SamplingPlan) {
        let reader = try VideoReader(path: path, options: options)
        let plan = try SamplingPlan.make(for: reader.info, mode: mode)
        // The probe without the absolute path: results say the relative path, and stay
        // the same whichever machine or mount point made them.
        var probe = try JSONValue(encoding: reader.info)
        if case var .object(o) = probe { o["path"] = nil; probe = .object(o) }
        try opened(ProbeReport(probe: probe, clipCount: plan.clips.count))
        return (reader, plan)
    }

    private static func frames(_ d: DecodedClip) -> ClipFrames {
        ClipFrames(index: d.plan.index, start: d.plan.start, end: d.plan.end, timestamps: Array(d.plan.timestamps.prefix(d.frames)),
                   frameTimestamps: d.frameTimestamps, crop: d.plan.crop.rawValue,
                   repeatedFrames: d.plan.repeatedFrames, pixels: d.pixels,
                   frames: d.frames, height: d.height, width: d.width)
    }

    /// Media and sampling errors as the ``StageFailure`` of the file.
    private static func stageErrors<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as MediaError {
            throw StageFailure(kind: e.kind.rawValue, message: e.description)
        } catch let e as SamplingError {
            throw StageFailure(kind: "sampling", message: "\(path): \(e.description)")
        }
    }
}

/// The tokenize and infer stages over TokenReelModel: one immutable `VideoModel` shared by
/// every worker, one `ModelWorkspace` per worker.
public final class VideoModelAdapter: ClipModel, @unchecked Sendable {
    public typealias Tokens = Tensor
    public typealias Workspace = ModelWorkspace

    public let model: VideoModel
    public let normalization: PixelNormalization
    /// The weights file's base name.
    public let name: String
    public var sha256: String { model.sha256 }
    public var labels: [String] { model.labels }
    public var inputFrames: Int { model.inputFrames }
    public var inputHeight: Int { model.inputHeight }
    public var inputWidth: Int { model.inputWidth }
    public var stageCount: Int { 1 }
    /// `VideoModel.flopsPerClip` at the geometry and token keeping this adapter runs with.
    public var fullFlopsPerClip: Int { model.flopsPerClip }

    public init(model: VideoModel, normalization: PixelNormalization, name: String) {
        self.model = model; self.normalization = normalization; self.name = name
    }

    /// Loads the model of a plain pipeline (top-level `model`), with the pipeline's
    /// normalisation (`preprocess.normalization: model` takes the model's own). With
    /// `preprocess.interpolate_position_embeddings: true` and `sampling.frames` or
    /// `preprocess.crop` other than the model's input, the model is resized to them
    /// (`VideoModel.resized`: same weights, position embedding resampled). With
    /// `model_options.token_keeping` the model keeps tokens (`VideoModel.withTokenKeeping`).
    public static func load(config: PipelineConfig) throws -> VideoModelAdapter {
        let p = config.preprocess
        let geometry = p.interpolatePositionEmbeddings
            ? StageGeometry(frames: config.sampling.frames, height: p.crop?[1], width: p.crop?[0]) : StageGeometry()
        return try load(url: config.modelURL, geometry: geometry, tokenKeeping: config.modelOptions.tokenKeeping,
                        preprocess: p, file: config.sourcePath ?? config.name,
                        keys: .init(model: "model", geometry: "preprocess.interpolate_position_embeddings",
                                    geometryHint: "sampling.frames, preprocess.crop [width, height]",
                                    tokenKeeping: "model_options.token_keeping"))
    }

    /// The pipeline keys a model's settings came from, for error messages.
    public struct SourceKeys: Sendable {
        public var model: String
        /// The key blamed when the model cannot run at the geometry, and the keys that set it.
        public var geometry: String
        public var geometryHint: String
        public var tokenKeeping: String
    }

    /// Loads `url` and runs it at `geometry` (absent sizes: the model's trained ones; other sizes
    /// resize it with `VideoModel.resized`) with `tokenKeeping` (`VideoModel.withTokenKeeping`).
    /// Errors are ``PipelineConfigError``s naming `file` and the key in `keys` that caused them.
    public static func load(url: URL, geometry: StageGeometry, tokenKeeping: PipelineConfig.TokenKeepingOption?,
                            preprocess p: PipelineConfig.Preprocess, file: String, keys: SourceKeys) throws -> VideoModelAdapter {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PipelineConfigError(file: file, key: keys.model, line: nil,
                                      message: "\(url.path): no such file (relative paths are taken from the pipeline file's directory)")
        }
        var model = try VideoModel.load(contentsOf: url)
        let frames = geometry.frames ?? model.inputFrames
        let height = geometry.height ?? model.inputHeight, width = geometry.width ?? model.inputWidth
        if [frames, height, width] != [model.inputFrames, model.inputHeight, model.inputWidth] {
            do {
                model = try model.resized(frames: frames, height: height, width: width)
            } catch let e as ModelError {
                throw PipelineConfigError(file: file, key: keys.geometry, line: nil,
                                          message: e.problems.joined(separator: "; ") + " (\(keys.geometryHint))")
            }
        }
        if let keep = tokenKeeping {
            do {
                model = try model.withTokenKeeping(rate: keep.rate, layers: keep.layers)
            } catch let e as ModelError {
                let key = e.problems.allSatisfy({ $0.contains("layers") }) ? "\(keys.tokenKeeping).layers" : keys.tokenKeeping
                throw PipelineConfigError(file: file, key: key, line: nil,
                                          message: e.problems.joined(separator: "; ") + " (model \(url.lastPathComponent))")
            }
        }
        let normalization: PixelNormalization
        switch p.normalization {
        case .model: normalization = model.defaultNormalization
        case .zeroCentered: normalization = .zeroCentered
        case .unit: normalization = .unit
        case .meanStd: normalization = .meanStd(mean: (p.mean ?? []).map(Float.init), std: (p.std ?? []).map(Float.init))
        }
        return VideoModelAdapter(model: model, normalization: normalization, name: url.deletingPathExtension().lastPathComponent)
    }

    /// Sets OpenBLAS threads per call (process-wide).
    public static func setBLASThreads(_ n: Int) { BLAS.setThreads(n) }

    public func makeWorkspace() -> ModelWorkspace { model.makeWorkspace() }

    public func embed(_ clip: ClipFrames, workspace: ModelWorkspace) throws -> Tensor {
        guard clip.frames == inputFrames, clip.height == inputHeight, clip.width == inputWidth,
              clip.pixels.count == clip.frames * clip.height * clip.width * 3 else {
            throw StageFailure(kind: "internal", message: "clip \(clip.index) is \(clip.frames)x\(clip.height)x\(clip.width), the model takes \(inputFrames)x\(inputHeight)x\(inputWidth)")
        }
        return model.embed(pixels: clip.pixels, normalization: normalization, workspace: workspace)
    }

    public func classify(_ batch: [Tensor], workspace: ModelWorkspace) -> [Result<ClipOutput, StageFailure>] {
        let logits = model.classify(batch, workspace: workspace)   // [B, C]
        let c = logits.shape.count == 2 ? logits.shape[1] : 0
        let flops = model.flopsPerClip
        return (0 ..< batch.count).map { b in .success(ClipOutput(logits: c == 0 ? [] : Array(logits.data[b * c ..< (b + 1) * c]), flops: flops)) }
    }
}
