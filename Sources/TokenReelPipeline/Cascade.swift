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

        public init(model: Stage, frames: Int, height: Int, width: Int, threshold: Double?) {
            self.model = model; self.frames = frames; self.height = height; self.width = width; self.threshold = threshold
        }
    }

    /// What travels from tokenize to infer: the first stage's tokens and, when there are later
    /// stages, the decoded clip they derive their inputs from.
    public struct Tokens: Sendable {
        public var first: Stage.Tokens
        public var clip: ClipFrames?
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

    /// - Precondition: at least one stage; every stage but the last has a threshold; all stages
    ///   have the same labels (``load(config:)`` checks these and names the files).
    public init(stages: [Level], exitsEarly: Bool = true) {
        precondition(!stages.isEmpty, "a cascade has at least one stage")
        precondition(stages.dropLast().allSatisfy { $0.threshold != nil } && stages.last!.threshold == nil,
                     "every stage but the last has a threshold")
        precondition(stages.allSatisfy { $0.model.labels == stages[0].model.labels }, "the stages' labels differ")
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

    /// The input of stage `k`, derived from the decoded clip.
    private func input(_ k: Int, _ clip: ClipFrames) -> ClipFrames {
        ClipResampler.derive(clip, frames: stages[k].frames, height: stages[k].height, width: stages[k].width)
    }

    public func embed(_ clip: ClipFrames, workspace: Workspace) throws -> Tokens {
        guard clip.frames == inputFrames, clip.height == inputHeight, clip.width == inputWidth,
              clip.pixels.count == clip.frames * clip.height * clip.width * 3 else {
            throw StageFailure(kind: "internal", message: "clip \(clip.index) is \(clip.frames)x\(clip.height)x\(clip.width), the pipeline decodes \(inputFrames)x\(inputHeight)x\(inputWidth)")
        }
        return Tokens(first: try stages[0].model.embed(input(0, clip), workspace: self.workspace(0, workspace)),
                      clip: stages.count > 1 ? clip : nil)
    }

    public func classify(_ batch: [Tokens], workspace: Workspace) -> [Result<ClipOutput, StageFailure>] {
        var results = [Result<ClipOutput, StageFailure>?](repeating: nil, count: batch.count)
        var flops = [Int](repeating: 0, count: batch.count)
        var stageLogits = [[[Float]]](repeating: [], count: batch.count)
        var pending = Array(batch.indices)     // clips still running, batch positions
        for (k, stage) in stages.enumerated() where !pending.isEmpty {
            let ws = self.workspace(k, workspace)
            var tokens: [Stage.Tokens] = [], running: [Int] = []
            for i in pending {
                if k == 0 { tokens.append(batch[i].first); running.append(i); continue }
                do {
                    tokens.append(try stage.model.embed(input(k, batch[i].clip!), workspace: ws))
                    running.append(i)
                } catch {
                    results[i] = .failure((error as? StageFailure) ?? StageFailure(kind: "internal", message: "\(error)"))
                }
            }
            let outputs = stage.model.classify(tokens, workspace: ws)
            pending = []
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
            levels.append(Level(model: model, frames: model.inputFrames, height: model.inputHeight, width: model.inputWidth,
                                threshold: stage.threshold))
        }
        return CascadeModel(stages: levels)
    }
}
