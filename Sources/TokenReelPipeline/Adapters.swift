import Foundation
import TokenReelMedia

// The real stage implementations over TokenReelMedia (decode) and TokenReelModel (tokenize,
// infer). Everything else in the pipeline only knows the protocols of Stages.swift.

/// The decode stage over TokenReelMedia: probe, sampling plan, plan-driven decode.
public struct MediaDecoder: VideoDecoding {
    public var mode: TokenReelMedia.SamplingMode
    public var geometry: FrameGeometry
    public var options: DecodeOptions

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
                                 scaling: ScalingAlgorithm(rawValue: config.preprocess.scaling.rawValue)!)
        options = DecodeOptions(timeoutSeconds: config.decode.timeoutSeconds, threads: config.decode.threads)
    }

    public func decode(path: String, opened: (ProbeReport) throws -> Void, clip: (ClipFrames) throws -> Void) throws {
        do {
            let reader = try VideoReader(path: path, options: options)
            let plan = try SamplingPlan.make(for: reader.info, mode: mode)
            // The probe without the absolute path: results say the relative path, and stay
            // the same whichever machine or mount point made them.
            var probe = try JSONValue(encoding: reader.info)
            if case var .object(o) = probe { o["path"] = nil; probe = .object(o) }
            try opened(ProbeReport(probe: probe, clipCount: plan.clips.count))
            try reader.decode(plan, geometry: geometry) { d in
                try clip(ClipFrames(index: d.plan.index, start: d.plan.start, end: d.plan.end, timestamps: d.plan.timestamps,
                                    frameTimestamps: d.frameTimestamps, crop: d.plan.crop.rawValue,
                                    repeatedFrames: d.plan.repeatedFrames, pixels: d.pixels,
                                    frames: d.frames, height: d.height, width: d.width))
            }
        } catch let e as MediaError {
            throw StageFailure(kind: e.kind.rawValue, message: e.description)
        } catch let e as SamplingError {
            throw StageFailure(kind: "sampling", message: "\(path): \(e.description)")
        }
    }
}

/// The tokenize and infer stages over TokenReelModel.
///
/// - note: Stub until the model module's `VideoModel` lands on this branch: loading reports that
///   the model module is not integrated. Replaced by the real adapter at the merge.
public final class VideoModelAdapter: ClipModel, @unchecked Sendable {
    public typealias Tokens = [Float]
    public final class Workspace {}
    public let name: String
    public let sha256: String
    public let labels: [String]
    public let inputFrames = 0, inputHeight = 0, inputWidth = 0

    private init(name: String) { self.name = name; sha256 = ""; labels = [] }

    /// False while this is the stub: the end-to-end tests skip until the real adapter is in.
    public static let isIntegrated = false

    /// Loads the model a pipeline names, with the pipeline's normalisation.
    public static func load(config: PipelineConfig) throws -> VideoModelAdapter {
        throw StageFailure(kind: "model", message: "\(config.modelURL.path): the model module is not integrated into this build yet")
    }

    /// Sets OpenBLAS threads per call (process-wide).
    public static func setBLASThreads(_ n: Int) {}

    public func makeWorkspace() -> Workspace { Workspace() }
    public func embed(_ clip: ClipFrames, workspace: Workspace) -> [Float] { [] }
    public func classify(_ batch: [[Float]], workspace: Workspace) -> [[Float]] { [] }
}
