import Foundation
import Yams

/// `tokenreel calibrate`: fits a cascade's exit thresholds on a labelled set.
///
/// Every stage runs on every clip of a directory-per-class set (the layout `tokenreel eval`
/// reads), once, through the pipeline's own decode stage and the cascade's derived clips; each
/// stage's probabilities are kept (a ``CalibrationTable``). The search then replays the cascade
/// on that table for each combination of candidate thresholds, which costs no model time:
///
/// - **Candidates** for stage k (every stage but the last): 0 (every clip that reaches the stage
///   exits), 1 (none does, unless certain), and one value between each pair of neighbouring
///   distinct top probabilities seen at that stage, as short a decimal as stays strictly between
///   them, so a threshold never sits on a clip's own confidence (logits can differ in their last
///   bits from batch to batch). When the combinations would exceed ``maxCombinations``, each
///   stage keeps evenly spaced ranks of its values (always with 0 and 1).
/// - **Replay**: a clip exits at the first stage whose top probability is >= its threshold (the
///   last stage otherwise) and costs the FLOPs of every stage up to there; a video's label is
///   the argmax of the mean of its clips' probabilities at their exit stages, as in a run, and
///   accuracy is over videos, as `tokenreel eval` counts it.
/// - **Choice**: with a budget (mean FLOPs per clip as a fraction of the last stage alone), the
///   most accurate combination within it (ties: the cheapest). With a maximum accuracy drop (in
///   points), the cheapest combination whose drop below the last stage alone stays within that
///   many points (ties: the most accurate), where the drop is an upper confidence bound: the
///   mean of the paired per-video differences (last stage right and cascade wrong = 1, the
///   reverse = -1) plus z standard errors, z the normal quantile of the confidence (0.95 unless
///   told; 0 takes the plain difference). A threshold that merely breaks even on a few hundred
///   clips would otherwise pass and then lose points on the next set. The search is exhaustive
///   over the grid, so a larger budget never gives a less accurate choice, and a larger allowed
///   drop never a dearer one.
public enum Calibration {
    /// Most threshold combinations replayed (the grid per stage is thinned to stay below it).
    public static let maxCombinations = 4096

    /// What the thresholds are fitted for.
    public enum Target: Sendable, Equatable, CustomStringConvertible {
        /// Mean FLOPs per clip at most this fraction of the last stage's alone (> 0).
        case budget(Double)
        /// Accuracy at most this many percentage points below the last stage's alone (>= 0), at
        /// this one-sided confidence (in [0.5, 1); 0: the plain difference on this set).
        case maxAccuracyDrop(Double, confidence: Double = 0.95)

        public var description: String {
            switch self {
            case let .budget(b): return "budget \(String(format: "%.1f", 100 * b))% of the last stage's FLOPs"
            case let .maxAccuracyDrop(d, confidence):
                return "at most \(d) points of accuracy below the last stage alone"
                    + (confidence > 0 ? String(format: " (upper %.0f%% confidence bound)", 100 * confidence) : "")
            }
        }
    }

    /// A target no combination reaches.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The replay of one set of thresholds over a table.
    public struct Evaluation: Sendable, Equatable {
        /// Thresholds of every stage but the last.
        public var thresholds: [Double]
        /// Clips that exited at each stage.
        public var exits: [Int]
        /// Of those, clips whose own top label is their class (clip-level accuracy per stage).
        public var exitCorrect: [Int]
        /// Videos labelled right, and their number (video-level, as `tokenreel eval`).
        public var correct: Int
        public var videos: Int
        public var accuracy: Double { videos > 0 ? Double(correct) / Double(videos) : 0 }
        /// Mean FLOPs per clip.
        public var meanFlops: Double
        /// [videos] whether each video is labelled right (false for videos without clips).
        public var videoCorrect: [Bool]
    }

    /// The thresholds chosen, with what they do and what the last stage alone does.
    public struct Fit: Sendable {
        public var target: Target
        public var chosen: Evaluation
        /// The last stage alone: every clip labelled by it, at its own FLOPs.
        public var lastStageAccuracy: Double
        public var lastStageFlops: Int
        /// Threshold combinations replayed.
        public var combinations: Int
        /// For an accuracy-drop target: the chosen thresholds' drop below the last stage alone,
        /// in points, as the bound the target was checked against.
        public var dropBound: Double?
    }

    // MARK: Search

    /// Replays the cascade with `thresholds` (one per stage but the last) over `table`.
    public static func evaluate(_ table: CalibrationTable, thresholds: [Double]) -> Evaluation {
        let k = table.stageFlops.count
        precondition(thresholds.count == k - 1, "\(k) stages need \(k - 1) thresholds")
        let cumulative = table.stageFlops.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) }
        var exits = [Int](repeating: 0, count: k), exitCorrect = exits
        let c = table.labels.count
        var sums = [Double](repeating: 0, count: table.videos.count * c)     // [videos, C]
        var flops = 0
        for clip in table.clips {
            let e = (0 ..< k - 1).first { clip.confidence[$0] >= thresholds[$0] } ?? k - 1
            exits[e] += 1
            if clip.top[e] == clip.truth { exitCorrect[e] += 1 }
            flops += cumulative[e]
            for (j, p) in clip.probabilities[e].enumerated() { sums[clip.video * c + j] += p }
        }
        let videoCorrect = table.videos.indices.map { v in
            table.clipsPerVideo[v] > 0 && argmax(Array(sums[v * c ..< (v + 1) * c])) == table.videoTruth[v]
        }
        return Evaluation(thresholds: thresholds, exits: exits, exitCorrect: exitCorrect, correct: videoCorrect.filter { $0 }.count,
                          videos: table.clipsPerVideo.filter { $0 > 0 }.count,
                          meanFlops: table.clips.isEmpty ? 0 : Double(flops) / Double(table.clips.count),
                          videoCorrect: videoCorrect)
    }

    /// Fits the thresholds of `table`'s cascade for `target` (see the type's documentation).
    /// - Throws: ``Failure`` when the table is empty or no combination fits the budget.
    public static func fit(_ table: CalibrationTable, target: Target) throws -> Fit {
        guard !table.clips.isEmpty else { throw Failure(description: "no labelled clips to calibrate on") }
        let k = table.stageFlops.count
        let last = table.stageFlops[k - 1]
        let lastAlone = lastStageAlone(table)
        let reference = lastAlone.accuracy
        let grids = candidateGrids(table)
        var best: Evaluation?
        var combinations = 0
        func better(_ e: Evaluation, than b: Evaluation) -> Bool {
            switch target {
            case .budget: return e.correct != b.correct ? e.correct > b.correct : e.meanFlops < b.meanFlops
            case .maxAccuracyDrop: return e.meanFlops != b.meanFlops ? e.meanFlops < b.meanFlops : e.correct > b.correct
            }
        }
        func feasible(_ e: Evaluation) -> Bool {
            switch target {
            case let .budget(b): return e.meanFlops <= b * Double(last) * (1 + 1e-12)
            case let .maxAccuracyDrop(d, confidence):
                return 100 * dropBound(e, below: lastAlone, confidence: confidence) <= d + 1e-9
            }
        }
        var index = [Int](repeating: 0, count: k - 1)
        while true {
            let e = evaluate(table, thresholds: index.enumerated().map { grids[$0][$1] })
            combinations += 1
            if feasible(e), best.map({ better(e, than: $0) }) ?? true { best = e }
            // Next combination, odometer order (the last stage's threshold varies fastest).
            var s = k - 2
            while s >= 0 && index[s] == grids[s].count - 1 { index[s] = 0; s -= 1 }
            if s < 0 { break }
            index[s] += 1
        }
        guard let best else {
            let cheapest = evaluate(table, thresholds: [Double](repeating: 0, count: k - 1))
            throw Failure(description: "no thresholds fit \(target): the cheapest cascade (every clip exits at stage 0) costs \(String(format: "%.1f", 100 * cheapest.meanFlops / Double(last)))%")
        }
        var fit = Fit(target: target, chosen: best, lastStageAccuracy: reference, lastStageFlops: last, combinations: combinations)
        if case let .maxAccuracyDrop(_, confidence) = target { fit.dropBound = 100 * dropBound(best, below: lastAlone, confidence: confidence) }
        return fit
    }

    /// The accuracy drop of `e` below `reference` (same table) as a fraction: the mean of the
    /// paired per-video differences plus z(confidence) standard errors of that mean (normal
    /// approximation; confidence 0 or 0.5: the plain difference).
    static func dropBound(_ e: Evaluation, below reference: Evaluation, confidence: Double) -> Double {
        let n = e.videos
        guard n > 0 else { return 0 }
        var sum = 0.0, squares = 0.0
        for (a, b) in zip(reference.videoCorrect, e.videoCorrect) where a != b {
            let d: Double = a ? 1 : -1
            sum += d; squares += d * d
        }
        let mean = sum / Double(n)
        guard confidence > 0.5, n > 1 else { return mean }
        let variance = max(0, (squares / Double(n) - mean * mean) * Double(n) / Double(n - 1))
        return mean + normalQuantile(confidence) * (variance / Double(n)).squareRoot()
    }

    /// z with P(Z <= z) = p for a standard normal Z (bisection on erf; p in (0, 1)).
    static func normalQuantile(_ p: Double) -> Double {
        var lo = -40.0, hi = 40.0
        for _ in 0 ..< 200 {
            let mid = (lo + hi) / 2
            if 0.5 * (1 + erf(mid / 2.squareRoot())) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// Video-level accuracy of the last stage alone.
    static func lastStageAccuracy(_ table: CalibrationTable) -> Double { lastStageAlone(table).accuracy }

    /// The replay with every clip going on to the last stage.
    static func lastStageAlone(_ table: CalibrationTable) -> Evaluation {
        evaluate(table, thresholds: [Double](repeating: .infinity, count: table.stageFlops.count - 1))
    }

    /// The candidate thresholds of every stage but the last, ascending (see the type's documentation).
    static func candidateGrids(_ table: CalibrationTable) -> [[Double]] {
        let k = table.stageFlops.count
        guard k > 1 else { return [] }
        let perStage = max(2, Int(pow(Double(maxCombinations), 1 / Double(k - 1)).rounded(.down)))
        return (0 ..< k - 1).map { s in
            let values = Array(Set(table.clips.map { $0.confidence[s] })).sorted()
            var between = zip(values, values.dropFirst()).map { separator($0, $1) }
            if between.count > perStage - 2 {
                let keep = perStage - 2
                between = keep <= 0 ? [] : (0 ..< keep).map { between[$0 * (between.count - 1) / max(keep - 1, 1)] }
            }
            return Array(Set([0] + between + [1])).sorted()
        }
    }

    /// A short decimal strictly between `lo` and `hi` (`lo < hi`), or `hi` when none is.
    static func separator(_ lo: Double, _ hi: Double) -> Double {
        let mid = (lo + hi) / 2
        for digits in 1 ... 17 {
            let scale = pow(10, Double(digits))
            let r = (mid * scale).rounded() / scale
            if lo < r && r < hi { return r }
        }
        return hi
    }

    static func argmax(_ v: [Double]) -> Int {
        v.indices.reduce(0) { v[$1] > v[$0] ? $1 : $0 }      // ties: the lower index, as Scoring.topK
    }
}

/// Every stage's probabilities on every clip of a labelled set: what ``Calibration`` replays.
///
/// Dimension legend: K stages, C classes.
public struct CalibrationTable: Sendable {
    public struct Clip: Sendable {
        /// Index into `videos`.
        public var video: Int
        /// The clip's class (index into `labels`): its video's class directory.
        public var truth: Int
        /// [K][C] each stage's softmax.
        public var probabilities: [[Double]]
        /// [K] each stage's top probability and top class.
        public let confidence: [Double]
        public let top: [Int]

        public init(video: Int, truth: Int, probabilities: [[Double]]) {
            self.video = video; self.truth = truth; self.probabilities = probabilities
            // As `CascadeModel.confidence`: non-finite values never exit early.
            confidence = probabilities.map { p in p.allSatisfy(\.isFinite) ? p.max() ?? -.infinity : -.infinity }
            top = probabilities.map(Calibration.argmax)
        }
    }

    public var labels: [String]
    /// [K] FLOPs per clip of each stage's model alone.
    public var stageFlops: [Int]
    /// [K] each stage's clip geometry, `TxHxW`, for the table.
    public var stageGeometry: [String]
    /// Relative paths of the videos labelled, and each one's class.
    public let videos: [String]
    public let videoTruth: [Int]
    public let clips: [Clip]
    /// Clips of each video.
    public let clipsPerVideo: [Int]
    /// Inputs that failed (left out), and inputs outside the class directories.
    public var failed: [String] = []
    public var unlabelled: [String] = []

    public init(labels: [String], stageFlops: [Int], stageGeometry: [String], videos: [(path: String, truth: Int)], clips: [Clip]) {
        self.labels = labels; self.stageFlops = stageFlops; self.stageGeometry = stageGeometry
        self.videos = videos.map(\.path); self.videoTruth = videos.map(\.truth); self.clips = clips
        clipsPerVideo = clips.reduce(into: [Int](repeating: 0, count: videos.count)) { $0[$1.video] += 1 }
    }

    /// Runs every stage of `model` on every clip of the directory-per-class set under `root`
    /// (`ROOT/<class>/<file>`, as `tokenreel eval` reads it) with the pipeline's decode stage
    /// and workers. Inputs that fail are listed in `failed` and left out; inputs outside the
    /// class directories are listed in `unlabelled`. `progress` gets (videos done, total).
    /// - Throws: ``Calibration/Failure`` for a model of one stage; the input walk's errors.
    public static func collect<D: VideoDecoding, S: ClipModel>(root: String, config: PipelineConfig, decoder: D, model: CascadeModel<S>,
                                                              progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> CalibrationTable {
        guard model.stageCount > 1 else {
            throw Calibration.Failure(description: "\(config.sourcePath ?? config.name): not a cascade (calibrate fits the thresholds of a 'cascade' pipeline, see docs/pipelines.md)")
        }
        let classIndex = Dictionary(uniqueKeysWithValues: model.labels.enumerated().map { ($1, $0) })
        var inputs: [InputFile] = [], unlabelled: [String] = []
        for input in try Discovery.walk(root: root, extensions: config.inputs.extensions) {
            if Evaluation.trueLabel(of: input.relativePath).flatMap({ classIndex[$0] }) != nil { inputs.append(input) }
            else { unlabelled.append(input.relativePath) }
        }
        var everyStage = config
        everyStage.output.probabilities = true    // the clips' stage_probabilities
        let engine = LabelingEngine(decoder: decoder, model: model.runningEveryStage(), config: everyStage)
        let results = Locked([VideoResult]())
        _ = engine.run(inputs) { result in
            let done = results.withLock { $0.append(result); return $0.count }
            progress(done, inputs.count)
        }
        var videos: [(path: String, truth: Int)] = [], clips: [Clip] = [], failed: [String] = []
        for result in results.withLock({ $0 }).sorted(by: { $0.input.path < $1.input.path }) {
            guard result.status == .ok else { failed.append(result.input.path); continue }
            let truth = classIndex[Evaluation.trueLabel(of: result.input.path)!]!
            for clip in result.clips {
                clips.append(Clip(video: videos.count, truth: truth, probabilities: clip.stageProbabilities ?? []))
            }
            videos.append((result.input.path, truth))
        }
        var table = CalibrationTable(labels: model.labels, stageFlops: model.stages.map(\.model.fullFlopsPerClip),
                                     stageGeometry: model.stages.map { "\($0.frames)x\($0.height)x\($0.width)" },
                                     videos: videos, clips: clips)
        table.failed = failed
        table.unlabelled = unlabelled
        return table
    }
}

extension Calibration.Fit {
    /// The plain-text report: one row per stage (threshold, share of clips exiting there, their
    /// accuracy, GFLOPs a clip exiting there costs), then the cascade against the last stage alone.
    public func table(_ t: CalibrationTable) -> String {
        func pct(_ n: Int, _ d: Int) -> String { d > 0 ? String(format: "%.1f%%", 100 * Double(n) / Double(d)) : "-" }
        func cell(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        let clips = chosen.exits.reduce(0, +)
        var out = cell("stage", 7) + cell("input", 12) + cell("threshold", 11) + cell("exits", 9) + cell("accuracy", 10) + "GFLOPs/clip\n"
        var cumulative = 0
        for k in t.stageFlops.indices {
            cumulative += t.stageFlops[k]
            let threshold = k < chosen.thresholds.count ? "\(chosen.thresholds[k])" : "-"
            out += cell("\(k)", 7) + cell(t.stageGeometry[k], 12) + cell(threshold, 11) + cell(pct(chosen.exits[k], clips), 9)
                + cell(pct(chosen.exitCorrect[k], chosen.exits[k]), 10) + String(format: "%.4f", Double(cumulative) / 1e9) + "\n"
        }
        out += "\n" + String(format: "cascade: accuracy %.1f%% (%d/%d videos), %.4f GFLOPs per clip = %.1f%% of the last stage alone\n",
                             100 * chosen.accuracy, chosen.correct, chosen.videos, chosen.meanFlops / 1e9,
                             100 * chosen.meanFlops / Double(lastStageFlops))
        out += String(format: "last stage alone: accuracy %.1f%%, %.4f GFLOPs per clip\n", 100 * lastStageAccuracy, Double(lastStageFlops) / 1e9)
        if let bound = dropBound {
            out += String(format: "accuracy drop: %.1f points on this set, at most %.1f at the target's confidence\n",
                          100 * (lastStageAccuracy - chosen.accuracy), bound)
        }
        out += "\(target); \(combinations) threshold combinations tried on \(clips) clips\n"
        return out
    }
}

extension Calibration {
    /// The pipeline file at `source` with its cascade's thresholds set to `thresholds` (one per
    /// stage but the last), as YAML text for `destination`, with `header` as a comment at the
    /// top. The file's other keys and values are kept; its comments are not (the YAML is written
    /// afresh). Relative model paths are made absolute when `destination` is in another directory.
    /// The text is checked by parsing it back as a pipeline.
    public static func pipelineYAML(source: String, thresholds: [Double], destination: String, header: String) throws -> String {
        let config = try PipelineConfig.load(path: source)
        guard let cascade = config.cascade, cascade.count == thresholds.count + 1 else {
            throw Failure(description: "\(source): not a cascade of \(thresholds.count + 1) stages")
        }
        guard case var .mapping(root)? = try Yams.compose(yaml: String(contentsOfFile: source, encoding: .utf8)),
              let at = root.firstIndex(where: { $0.key.scalar?.string == "cascade" }),
              case var .sequence(stages) = root[at].value else {
            throw Failure(description: "\(source): cannot find its 'cascade' list")
        }
        let moved = URL(fileURLWithPath: source).deletingLastPathComponent().standardizedFileURL
            != URL(fileURLWithPath: destination).deletingLastPathComponent().standardizedFileURL
        for i in stages.indices {
            guard case var .mapping(stage) = stages[i] else { continue }
            for j in stage.indices {
                switch stage[j].key.scalar?.string {
                case "threshold": stage[j] = (stage[j].key, Node("\(thresholds[i])"))
                case "model" where moved: stage[j] = (stage[j].key, Node(config.url(ofModel: cascade[i].modelPath).path))
                default: break
                }
            }
            stages[i] = .mapping(stage)
        }
        root[at] = (root[at].key, .sequence(stages))
        let comment = header.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)" }.joined(separator: "\n")
        let text = comment + "\n" + (try Yams.serialize(node: .mapping(root)))
        let check = try PipelineConfig.parse(yaml: text, file: destination,
                                             defaultName: URL(fileURLWithPath: destination).deletingPathExtension().lastPathComponent)
        guard check.cascade?.compactMap(\.threshold) == thresholds else {
            throw Failure(description: "internal: the written thresholds read back as \(check.cascade?.compactMap(\.threshold) ?? [])")
        }
        return text
    }
}
