import Foundation
import TokenReelPlot

/// `OUTDIR/sweep.json` of `tokenreel sweep`: every operating point's accuracy and cost, each
/// measured by a real run of the whole pipeline over the labelled set (docs/pipelines.md,
/// "Sweeping operating points").
public struct SweepReport: Codable, Sendable, Equatable {
    /// One point, measured.
    public struct Point: Codable, Sendable, Equatable {
        public var name: String
        public var kind: SweepPoint.Kind
        public var parameters: SweepPoint.Parameters
        /// The point's text in the charts.
        public var label: String
        /// Videos counted (labelled, inside the class directories), those labelled right, and
        /// `correct / videos`, as `tokenreel eval` counts them.
        public var videos: Int
        public var correct: Int
        public var accuracy: Double
        /// Accuracy per class with videos in the set (class name -> fraction).
        public var perClass: [String: Double]
        /// Videos that failed (left out of the accuracy; listed in the point's eval.json).
        public var failed: Int
        /// Clips labelled by the point's run, and their mean FLOPs (their recorded `flops`) / 1e9.
        public var clips: Int
        public var gflopsPerClip: Double
        /// `clips / wall_seconds`.
        public var clipsPerSecond: Double
        /// The median of `wall_seconds_runs`: each run's wall time (`--repeat`, one by default).
        public var wallSeconds: Double
        public var wallSecondsRuns: [Double]
        /// `clips_per_second` over the full model's (nil: the full model labelled no clip).
        public var speedup: Double?
        /// Time spent in the model: the busy seconds of the tokenize and infer stages, where a
        /// cascade's stages run (the rest of the wall time is decoding and writing); the median
        /// over the runs.
        public var modelSeconds: Double?
        /// The full model's `model_seconds` over this point's: what the point saves in the model,
        /// whatever bounds the wall time.
        public var modelSpeedup: Double?
        /// `gflops_per_clip` over the full model's (nil: the full model labelled no clip).
        public var flopRatio: Double?
        /// A cascade: clips that stopped at each stage, and as fractions of `clips`; nil otherwise.
        public var exits: [Int]?
        public var exitFractions: [Double]?

        enum CodingKeys: String, CodingKey {
            case name, kind, parameters, label, videos, correct, accuracy, failed, clips, speedup, exits
            case perClass = "per_class", gflopsPerClip = "gflops_per_clip", clipsPerSecond = "clips_per_second"
            case wallSeconds = "wall_seconds", wallSecondsRuns = "wall_seconds_runs", flopRatio = "flop_ratio", exitFractions = "exit_fractions"
            case modelSeconds = "model_seconds", modelSpeedup = "model_speedup"
        }

        /// Every key always present (`null` when it does not apply), as in result files.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name); try c.encode(kind, forKey: .kind)
            try c.encode(parameters, forKey: .parameters); try c.encode(label, forKey: .label)
            try c.encode(videos, forKey: .videos); try c.encode(correct, forKey: .correct)
            try c.encode(accuracy, forKey: .accuracy); try c.encode(perClass, forKey: .perClass)
            try c.encode(failed, forKey: .failed); try c.encode(clips, forKey: .clips)
            try c.encode(gflopsPerClip, forKey: .gflopsPerClip); try c.encode(clipsPerSecond, forKey: .clipsPerSecond)
            try c.encode(wallSeconds, forKey: .wallSeconds); try c.encode(wallSecondsRuns, forKey: .wallSecondsRuns)
            try c.encode(speedup, forKey: .speedup)
            try c.encode(modelSeconds, forKey: .modelSeconds); try c.encode(modelSpeedup, forKey: .modelSpeedup)
            try c.encode(flopRatio, forKey: .flopRatio); try c.encode(exits, forKey: .exits)
            try c.encode(exitFractions, forKey: .exitFractions)
        }
    }

    /// 2: `wall_seconds_runs` (session 11's `--repeat`).
    public var schemaVersion = 2
    /// The labelled directory, as given.
    public var input: String
    /// The swept pipeline file.
    public var pipeline: String
    /// Whether an untimed warm-up run preceded the timed points (``SweepRunner``).
    public var warmUp: Bool
    /// In run order; the `full` point first.
    public var points: [Point]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", input, pipeline, warmUp = "warm_up", points
    }

    /// A report of measured points; each point's `speedup` and `flop_ratio` are set against the
    /// `full` point.
    public init(input: String, pipeline: String, warmUp: Bool, points: [Point]) {
        self.input = input; self.pipeline = pipeline; self.warmUp = warmUp
        let full = points.first { $0.kind == .full }
        self.points = points.map { p in
            var p = p
            p.speedup = full.flatMap { $0.clips > 0 && $0.clipsPerSecond > 0 ? p.clipsPerSecond / $0.clipsPerSecond : nil }
            p.flopRatio = full.flatMap { $0.clips > 0 && $0.gflopsPerClip > 0 ? p.gflopsPerClip / $0.gflopsPerClip : nil }
            p.modelSpeedup = nil
            if let base = full?.modelSeconds, let own = p.modelSeconds, base > 0, own > 0 { p.modelSpeedup = base / own }
            return p
        }
    }
}

extension Sweep {
    /// A point's measurements from its runs' summaries and its evaluation: counts and FLOPs from
    /// the first run (every run labels the same clips), wall time and model time the medians
    /// over the runs (`speedup` and `flop_ratio` are left to
    /// ``SweepReport/init(input:pipeline:warmUp:points:)``).
    public static func measure(_ point: SweepPoint, evaluation e: EvaluationReport, summaries: [RunSummary]) -> SweepReport.Point {
        precondition(!summaries.isEmpty, "a point is measured from at least one run")
        let s = summaries[0]
        let flops = s.flops
        let exits = flops?.exits
        let walls = summaries.map(\.wallSeconds)
        let wall = median(walls)
        let modelTimes = summaries.compactMap { r in r.stages["infer"].map { $0.busySeconds + (r.stages["tokenize"]?.busySeconds ?? 0) } }
        return SweepReport.Point(
            name: point.name, kind: point.kind, parameters: point.parameters, label: point.label,
            videos: e.total, correct: e.correct, accuracy: e.accuracy,
            perClass: Dictionary(uniqueKeysWithValues: e.perClass.filter { $0.total > 0 }.map { ($0.label, $0.accuracy) }), failed: e.failed.count,
            clips: s.clips, gflopsPerClip: (flops?.meanPerClip ?? 0) / 1e9,
            clipsPerSecond: wall > 0 ? Double(s.clips) / wall : 0, wallSeconds: wall, wallSecondsRuns: walls,
            speedup: nil,
            modelSeconds: modelTimes.isEmpty ? nil : median(modelTimes),
            modelSpeedup: nil, flopRatio: nil, exits: exits,
            exitFractions: exits.map { e in e.map { s.clips > 0 ? Double($0) / Double(s.clips) : 0 } })
    }

    /// The middle value (the mean of the two middle ones for an even count).
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

// MARK: - Table

extension SweepReport {
    /// The plain-text table `tokenreel sweep` prints: per point its accuracy, GFLOPs per clip,
    /// clips/s, speed-up and FLOPs against the full model, and a cascade's exit shares per stage.
    public func table() -> String {
        func cell(_ s: String, _ n: Int, left: Bool = false) -> String {
            let pad = String(repeating: " ", count: max(0, n - s.count))
            return left ? s + pad : pad + s
        }
        func ratio(_ r: Double?) -> String { r.map { String(format: "%.2fx", $0) } ?? "-" }
        let w = max(12, (points.map(\.name.count).max() ?? 0) + 2)
        var out = cell("point", w, left: true) + cell("kind", 10, left: true) + cell("accuracy", 9) + cell("GFLOPs/clip", 13)
            + cell("clips/s", 9) + cell("speed-up", 10) + cell("model s", 9) + cell("model speed-up", 16) + cell("FLOPs", 8) + "  exits\n"
        for p in points {
            out += cell(p.name, w, left: true) + cell(p.kind.rawValue, 10, left: true)
                + cell(String(format: "%.1f%%", 100 * p.accuracy), 9) + cell(String(format: "%.4g", p.gflopsPerClip), 13)
                + cell(String(format: "%.1f", p.clipsPerSecond), 9) + cell(ratio(p.speedup), 10)
                + cell(p.modelSeconds.map { String(format: "%.2f", $0) } ?? "-", 9) + cell(ratio(p.modelSpeedup), 16)
                + cell(ratio(p.flopRatio), 8)
            if let f = p.exitFractions { out += "  " + f.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " / ") }
            out += "\n"
        }
        let videos = points.first?.videos ?? 0
        let runs = points.first?.wallSecondsRuns.count ?? 1
        out += "\n\(videos) videos; " + (runs > 1 ? "clips/s and model s: medians of \(runs) runs; " : "")
            + "speed-up (wall clock), model speed-up and FLOPs against the full model; "
            + "model s: busy seconds of the tokenize and infer stages, where the model runs; "
            + "exits: share of clips stopping at each cascade stage\n"
        return out
    }
}

// MARK: - Charts

extension SweepReport {
    /// What a chart's x axis shows.
    public enum ChartAxis: Sendable, CaseIterable {
        case gflopsPerClip, clipsPerSecond

        public var title: String { self == .gflopsPerClip ? "GFLOPs per clip" : "clips per second" }
        /// The PNG `tokenreel sweep` writes for it.
        public var fileName: String { self == .gflopsPerClip ? "accuracy-vs-gflops.png" : "accuracy-vs-clips-per-second.png" }
        func value(_ p: Point) -> Double { self == .gflopsPerClip ? p.gflopsPerClip : p.clipsPerSecond }
    }

    /// Accuracy (%) against `axis`, as the SuperViT and DVT papers draw it: one joined series per
    /// family of points (sizes by cost, keep rates by rate, cascade thresholds by threshold, the
    /// first two ending at the full model, which is their size and rate 1), the full model as a
    /// black diamond and each reference as a cross of its own. Points that labelled no clip are
    /// left out. GFLOPs go on a logarithmic axis when they span 10x or more.
    public func chart(_ axis: ChartAxis, title: String) -> ScatterChart {
        let drawn = points.filter { $0.clips > 0 }
        let full = drawn.first { $0.kind == .full }
        func point(_ p: Point, labelled: Bool = true) -> ScatterChart.Point {
            .init(x: axis.value(p), y: 100 * p.accuracy, label: labelled ? p.label : nil)
        }
        func family(_ kind: SweepPoint.Kind, _ name: String, _ marker: ScatterChart.Marker, withFull: Bool,
                    by order: (Point, Point) -> Bool) -> ScatterChart.Series? {
            var members = drawn.filter { $0.kind == kind }
            guard !members.isEmpty else { return nil }
            if withFull, let full { members.append(full) }
            return .init(name: name, points: members.sorted(by: order).map { point($0, labelled: $0.kind == kind) },
                         joined: true, marker: marker)
        }
        let rate = { (p: Point) in p.parameters.keepRate ?? 1 }
        let threshold = { (p: Point) in p.parameters.thresholds?.first ?? 1 }
        var series = [
            family(.size, "sizes", .circle, withFull: true) { $0.gflopsPerClip < $1.gflopsPerClip },
            family(.keepRate, "keep rates", .square, withFull: true) { rate($0) < rate($1) },
            family(.cascade, "cascade thresholds", .triangle, withFull: false) { threshold($0) < threshold($1) },
        ].compactMap { $0 }
        if let full { series.append(.init(name: "full model", points: [point(full)], marker: .diamond, colour: .black, markerRadius: 7)) }
        series += drawn.filter { $0.kind == .reference }.map { .init(name: $0.name, points: [point($0)], marker: .cross, markerRadius: 7) }

        let xs = drawn.map(axis.value)
        let logarithmic = axis == .gflopsPerClip && (xs.min() ?? 0) > 0 && xs.max()! / xs.min()! >= 10
        return ScatterChart(title: title, x: .init(title: axis.title, logarithmic: logarithmic), y: .init(title: "accuracy (%)"),
                            series: series)
    }

    /// Writes sweep.json and the two charts (``ChartAxis/fileName``) into `directory`, atomically.
    public func write(to directory: URL, title: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try OutputLayout.writeAtomically(try encoder.encode(self), to: directory.appendingPathComponent("sweep.json"))
        for axis in ChartAxis.allCases {
            try OutputLayout.writeAtomically(Data(try chart(axis, title: title).render().png()),
                                             to: directory.appendingPathComponent(axis.fileName))
        }
    }
}
