import Foundation
import TokenReelModel   // SHA256

/// An early-exit cascade (DVT, Wang et al., NeurIPS 2021) as one ``ClipModel``: stages from
/// cheapest to dearest, each a model at its own clip geometry; a clip stops at the first stage
/// whose top softmax probability reaches that stage's threshold, and the later stages never run
/// for it. DVT's public code runs every exit and only simulates stopping; here a skipped stage
/// costs nothing: in each inference batch, stage k+1 embeds and classifies only the clips stage
/// k left unsure, so the engine's queues, batching and resume are those of a single model.
///
/// The video is decoded once, at the largest size any stage takes (per axis: the most frames,
/// the tallest, the widest); each stage gets that clip through ``ClipResampler`` (evenly spaced
/// frames, box-filtered pixels), so a stage model should be trained on clips derived the same way.
/// The first stage's tokens are made in the tokenize stage; later stages embed in the infer
/// stage, from the decoded pixels the tokens carry, only for the clips that reach them.
///
/// Leading stages may see only the start of the clip (`first_frames`, ``Level/firstFrames``):
/// the engine then decodes each video's clip in two parts (``ClipModel/prefixFrames``), and a
/// clip those stages are sure of is never decoded further, so early exit saves decoding as
/// well as inference. A clip they are unsure of comes back whole (``ClipFrames/earlier``) and
/// goes on at the first stage that sees the whole clip. (FrameExit, Ghodrati et al., CVPR 2021,
/// stops reading frames the same way.)
///
/// A plain pipeline is a cascade of one stage: it runs exactly as its model and records no exit
/// stage, so the command line has one model type whatever the pipeline.
///
/// Dimension legend: B clips per batch, C classes, T x H x W the decoded clip.
public final class CascadeModel<Stage: ClipModel>: ClipModel, Sendable {
    /// One stage: its model, the clip geometry it takes, and its exit threshold.
    public struct Level: Sendable {
        public var model: Stage
        /// T' x H' x W' the stage's model takes (at most the decoded clip's).
        public var frames: Int, height: Int, width: Int
        /// A clip exits here when its top probability is >= this; nil on the last stage.
        public var threshold: Double?
        /// The stage sees only the decoded clip's first `firstFrames` frames (its `frames` are
        /// taken from them); nil: the whole clip.
        public var firstFrames: Int?

        public init(model: Stage, frames: Int, height: Int, width: Int, threshold: Double?, firstFrames: Int? = nil) {
            self.model = model; self.frames = frames; self.height = height; self.width = width; self.threshold = threshold
            self.firstFrames = firstFrames
        }
    }

    /// What travels from tokenize to infer: the tokens of the stage the clip starts at (the first,
    /// or the first that sees the whole clip when a prefix left the earlier ones unsure) and,
    /// when there are later stages, the decoded clip they derive their inputs from.
    public struct Tokens: Sendable {
        public var first: Stage.Tokens
        public var clip: ClipFrames?
        /// The stage `first` belongs to.
        public var start = 0
        /// Only the start of the clip was decoded (``ClipFrames/isPrefix``).
        public var isPrefix = false
        /// What the stages run on the clip's prefix concluded.
        public var earlier: ClipOutput?
    }

    /// Per-worker scratch: one workspace per stage, made the first time the worker runs it.
    public final class Workspace {
        var stages: [Stage.Workspace?]
        init(count: Int) { stages = Array(repeating: nil, count: count) }
    }

    public let stages: [Level]
    /// False: every clip runs every stage (for `tokenreel calibrate`, which needs every stage's
    /// probabilities); a clip's output is then the last stage's.
    public let exitsEarly: Bool
    /// T x H x W of the decoded clip: the largest of the stages' sizes on each axis.
    public let inputFrames: Int, inputHeight: Int, inputWidth: Int
    public let name: String
    public let sha256: String
    public var labels: [String] { stages[0].model.labels }
    public var stageCount: Int { stages.count }
    public var fullFlopsPerClip: Int { stages[stages.count - 1].model.fullFlopsPerClip }
    /// The leading stages' `firstFrames` when the clip is decoded in two parts; nil when every
    /// stage sees the whole clip, or when every clip runs every stage (``exitsEarly`` false).
    public var prefixFrames: Int? { exitsEarly ? stages[0].firstFrames : nil }

    /// - Precondition: at least one stage; every stage but the last has a threshold; all stages
    ///   have the same labels (``load(config:)`` checks these and names the files).
    public init(stages: [Level], exitsEarly: Bool = true) {
        precondition(!stages.isEmpty, "a cascade has at least one stage")
        precondition(stages.dropLast().allSatisfy { $0.threshold != nil } && stages.last!.threshold == nil,
                     "every stage but the last has a threshold")
        precondition(stages.allSatisfy { $0.model.labels == stages[0].model.labels }, "the stages' labels differ")
        let leading = stages.prefix { $0.firstFrames != nil }
        precondition(stages.dropFirst(leading.count).allSatisfy { $0.firstFrames == nil }
                     && leading.allSatisfy { $0.firstFrames == leading.first!.firstFrames && $0.frames <= $0.firstFrames! }
                     && leading.count < stages.count,
                     "first_frames: leading stages only, all the same, at least each one's frames, not the last stage")
        self.stages = stages
        self.exitsEarly = exitsEarly
        inputFrames = stages.map(\.frames).max()!
        inputHeight = stages.map(\.height).max()!
        inputWidth = stages.map(\.width).max()!
        if stages.count == 1 {
            name = stages[0].model.name
            sha256 = stages[0].model.sha256
        } else {
            name = stages.map(\.model.name).joined(separator: "+")
            sha256 = SHA256.hex(Data(stages.map(\.model.sha256).joined(separator: "\n").utf8))
        }
    }

    /// The same stages running every clip through every stage (see ``exitsEarly``).
    public func runningEveryStage() -> CascadeModel {
        CascadeModel(stages: stages, exitsEarly: false)
    }

    public func makeWorkspace() -> Workspace { Workspace(count: stages.count) }

    private func workspace(_ k: Int, _ ws: Workspace) -> Stage.Workspace {
        if let w = ws.stages[k] { return w }
        let w = stages[k].model.makeWorkspace()
        ws.stages[k] = w
        return w
    }

    /// The input of stage `k`, derived from the decoded clip (for a stage with `firstFrames`,
    /// from its first frames: the whole clip's, or a prefix's, which are the same frames).
    private func input(_ k: Int, _ clip: ClipFrames) -> ClipFrames {
        var source = clip
        if let n = stages[k].firstFrames, !clip.isPrefix { source = clip.prefix(n) }
        return ClipResampler.derive(source, frames: stages[k].frames, height: stages[k].height, width: stages[k].width)
    }

    public func embed(_ clip: ClipFrames, workspace: Workspace) throws -> Tokens {
        let frames = clip.isPrefix ? stages[0].firstFrames : inputFrames
        guard let frames, clip.frames == frames, clip.height == inputHeight, clip.width == inputWidth,
              clip.pixels.count == clip.frames * clip.height * clip.width * 3 else {
            throw StageFailure(kind: "internal", message: "clip \(clip.index) is \(clip.frames)x\(clip.height)x\(clip.width)\(clip.isPrefix ? " (a prefix)" : ""), the pipeline decodes \(inputFrames)x\(inputHeight)x\(inputWidth)\(stages[0].firstFrames.map { ", its first \($0) frames first" } ?? "")")
        }
        // A whole clip after its prefix: on from the first stage that sees the whole clip.
        let start = clip.earlier.map { _ in stages.firstIndex { $0.firstFrames == nil }! } ?? 0
        return Tokens(first: try stages[start].model.embed(input(start, clip), workspace: self.workspace(start, workspace)),
                      clip: start < stages.count - 1 || clip.isPrefix ? clip : nil,
                      start: start, isPrefix: clip.isPrefix, earlier: clip.earlier)
    }

    public func classify(_ batch: [Tokens], workspace: Workspace) -> [Result<ClipOutput, StageFailure>] {
        var results = [Result<ClipOutput, StageFailure>?](repeating: nil, count: batch.count)
        var flops = batch.map { $0.earlier?.flops ?? 0 }
        var stageLogits = batch.map { $0.earlier?.stageLogits ?? [] }
        var pending: [Int] = []     // clips going on from an earlier stage of this call, batch positions
        for (k, stage) in stages.enumerated() {
            var tokens: [Stage.Tokens] = [], running: [Int] = []
            for i in pending {
                if batch[i].isPrefix && stage.firstFrames == nil {
                    // The stages that see the start were unsure: the engine decodes the rest.
                    results[i] = .success(ClipOutput(logits: stageLogits[i].last ?? [], flops: flops[i],
                                                     stageLogits: stageLogits[i], needsWholeClip: true))
                    continue
                }
                do {
                    tokens.append(try stage.model.embed(input(k, batch[i].clip!), workspace: self.workspace(k, workspace)))
                    running.append(i)
                } catch {
                    results[i] = .failure((error as? StageFailure) ?? StageFailure(kind: "internal", message: "\(error)"))
                }
            }
            for i in batch.indices where batch[i].start == k {
                tokens.append(batch[i].first)
                running.append(i)
            }
            pending = []
            if running.isEmpty { continue }
            let ws = self.workspace(k, workspace)
            let outputs = stage.model.classify(tokens, workspace: ws)
            for (j, i) in running.enumerated() {
                guard j < outputs.count else {
                    results[i] = .failure(StageFailure(kind: "model_output", message: "stage \(k) returned \(outputs.count) outputs for a batch of \(running.count)"))
                    continue
                }
                switch outputs[j] {
                case let .failure(failure):
                    results[i] = .failure(failure)
                case let .success(out):
                    flops[i] += out.flops
                    stageLogits[i].append(out.logits)
                    if k == stages.count - 1 || (exitsEarly && Self.confidence(out.logits) >= stage.threshold!) {
                        results[i] = .success(ClipOutput(logits: out.logits, exitStage: stages.count > 1 ? k : nil,
                                                         flops: flops[i], stageLogits: stages.count > 1 ? stageLogits[i] : []))
                    } else {
                        pending.append(i)
                    }
                }
            }
        }
        return results.map { $0! }
    }

    /// A clip's confidence: its top softmax probability; minus infinity for non-finite logits,
    /// which never exit early, whatever the threshold (a later stage may still label the clip).
    public static func confidence(_ logits: [Float]) -> Double {
        guard !logits.isEmpty, logits.allSatisfy(\.isFinite) else { return -.infinity }
        return Scoring.softmax(logits).max()!
    }
}

extension CascadeModel where Stage == VideoModelAdapter {
    /// The pixel normalisation of the last (full) stage: what `tokenreel export` records.
    public var normalization: PixelNormalization { stages[stages.count - 1].model.normalization }

    /// Loads the models a pipeline names: its `cascade` stages (each resized to its geometry,
    /// with its token keeping), or, for a plain pipeline, its one model as a single stage.
    /// Errors name the pipeline file and the key: a missing model, a geometry the model cannot
    /// run at, token keeping it cannot do, or stages whose labels differ (naming both files).
    public static func load(config: PipelineConfig) throws -> CascadeModel<VideoModelAdapter> {
        guard let cascade = config.cascade else {
            let model = try VideoModelAdapter.load(config: config)
            return CascadeModel(stages: [Level(model: model, frames: model.inputFrames, height: model.inputHeight,
                                               width: model.inputWidth, threshold: nil)])
        }
        let file = config.sourcePath ?? config.name
        var levels: [Level] = []
        for (i, stage) in cascade.enumerated() {
            let k = "cascade[\(i)]"
            let url = config.url(ofModel: stage.modelPath)
            let model = try VideoModelAdapter.load(
                url: url, geometry: stage.geometry, tokenKeeping: stage.tokenKeeping, preprocess: config.preprocess, file: file,
                keys: .init(model: "\(k).model", geometry: k, geometryHint: "\(k).frames, .height, .width", tokenKeeping: "\(k).token_keeping"))
            if let first = levels.first, first.model.labels != model.labels {
                throw PipelineConfigError(file: file, key: "\(k).model", line: nil,
                                          message: "\(url.path) has labels \(model.labels), but \(config.url(ofModel: cascade[0].modelPath).path) (cascade[0]) has \(first.model.labels): every stage must label the same classes in the same order")
            }
            if let n = stage.firstFrames, model.inputFrames > n {
                throw PipelineConfigError(file: file, key: "\(k).first_frames", line: nil,
                                          message: "\(n) frames, but the stage takes \(model.inputFrames) (\(k).frames, or its model's own): it needs at least as many")
            }
            levels.append(Level(model: model, frames: model.inputFrames, height: model.inputHeight, width: model.inputWidth,
                                threshold: stage.threshold, firstFrames: stage.firstFrames))
        }
        let decoded = levels.map(\.frames).max()!
        if let i = cascade.firstIndex(where: { $0.firstFrames != nil }), let n = cascade[i].firstFrames, n >= decoded {
            throw PipelineConfigError(file: file, key: "cascade[\(i)].first_frames", line: nil,
                                      message: "\(n) frames, but the pipeline decodes \(decoded) per clip (the most any stage takes): the start must be fewer")
        }
        return CascadeModel(stages: levels)
    }
}
