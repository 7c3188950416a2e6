import Foundation
import Logging

// `tokenreel sweep`: one model's operating points (other input sizes, token keeping rates, cascade
// thresholds) each run through the whole pipeline over a labelled set, so their accuracy can be
// drawn against their cost as the SuperViT and DVT papers do. This file makes the points from the
// command line's request and runs them; SweepReport.swift measures, tabulates and draws them.

/// Something `tokenreel sweep` was asked that it cannot do: names the option, the value and what
/// is allowed (a usage error, exit code 2).
public struct SweepError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The command-line option at fault, e.g. `--keep-layers`.
    public var option: String
    public var message: String

    public init(option: String, message: String) { self.option = option; self.message = message }

    public var description: String { "\(option): \(message)" }
}

/// What the command line asks to sweep, parsed and checked on its own (the model is not known
/// yet: ``Sweep/plan(pipelinePath:request:)`` checks the points against it).
public struct SweepRequest: Sendable, Equatable {
    /// `--reference NAME=FILE`: an extra labelled pipeline run as it is.
    public struct Reference: Sendable, Equatable {
        public var name: String
        public var path: String
        public init(name: String, path: String) { self.name = name; self.path = path }
    }

    /// `--sizes`: T x H x W geometries, every size given.
    public var sizes: [StageGeometry] = []
    /// `--keep-rates`: 0 < rate <= 1 each.
    public var keepRates: [Double] = []
    /// `--keep-layers`: encoder layers (0-based) where the keep rates apply.
    public var keepLayers: [Int] = []
    /// `--cascade`: the cascade pipeline whose thresholds are swept.
    public var cascadePath: String?
    /// `--thresholds`: each applied to every stage of the cascade but the last (0...1). Empty with
    /// a cascade: one point at the file's own thresholds.
    public var thresholds: [Double] = []
    public var references: [Reference] = []

    public init() {}

    /// Parses the options as the command line gives them (comma-separated lists).
    ///
    /// - Throws: ``SweepError`` naming the option: a value that does not parse or is out of
    ///   range, a value given twice, keep rates without keep layers (or the reverse),
    ///   a reference that is not `NAME=FILE`.
    public init(sizes: String?, keepRates: String?, keepLayers: String?, cascade: String?, thresholds: String?,
                references: [String]) throws {
        self.sizes = try Self.items(sizes, "--sizes").map { text in
            let parts = text.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard parts.count == 3, let t = parts[0], let h = parts[1], let w = parts[2],
                  (1...1024).contains(t), (8...8192).contains(h), (8...8192).contains(w) else {
                throw SweepError(option: "--sizes", message: "'\(text)' is not FRAMESxHEIGHTxWIDTH with frames in 1...1024 and height, width in 8...8192 (e.g. 8x64x64)")
            }
            return StageGeometry(frames: t, height: h, width: w)
        }
        self.keepRates = try Self.items(keepRates, "--keep-rates").map { text in
            guard let r = Double(text), r > 0, r <= 1 else {
                throw SweepError(option: "--keep-rates", message: "'\(text)' is not a rate in 0 < rate <= 1 (the fraction of tokens kept, e.g. 0.7,0.5)")
            }
            return r
        }
        self.keepLayers = try Self.items(keepLayers, "--keep-layers").map { text in
            guard let l = Int(text), (0...1023).contains(l) else {
                throw SweepError(option: "--keep-layers", message: "'\(text)' is not an encoder layer index (0-based, e.g. 1 or 3,6,9)")
            }
            return l
        }
        self.thresholds = try Self.items(thresholds, "--thresholds").map { text in
            guard let t = Double(text), (0...1).contains(t) else {
                throw SweepError(option: "--thresholds", message: "'\(text)' is not a threshold in 0...1 (a top softmax probability, e.g. 0.5,0.9)")
            }
            return t
        }
        cascadePath = cascade
        self.references = try references.map { text in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, Self.isPointName(parts[0]) else {
                throw SweepError(option: "--reference", message: "'\(text)' is not NAME=PIPELINE.yaml with NAME of letters, digits, '.', '_', '-' (not starting with '.')")
            }
            return Reference(name: parts[0], path: parts[1])
        }
        if let name = Self.firstRepeat(self.references.map(\.name)) {
            throw SweepError(option: "--reference", message: "the name '\(name)' is given twice")
        }
        switch (self.keepRates.isEmpty, self.keepLayers.isEmpty) {
        case (false, true): throw SweepError(option: "--keep-rates", message: "needs --keep-layers (the encoder layers where tokens are dropped, e.g. 1 or 3,6,9)")
        case (true, false): throw SweepError(option: "--keep-layers", message: "needs --keep-rates (the fractions of tokens kept, e.g. 0.7,0.5)")
        default: break
        }
    }

    /// A comma-separated option's items; an empty item or one given twice is an error.
    private static func items(_ text: String?, _ option: String) throws -> [String] {
        guard let text else { return [] }
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if items.contains("") { throw SweepError(option: option, message: "'\(text)' has an empty item (a comma-separated list, e.g. a,b)") }
        if let item = firstRepeat(items) { throw SweepError(option: option, message: "'\(item)' is given twice") }
        return items
    }

    private static func firstRepeat(_ items: [String]) -> String? {
        var seen = Set<String>()
        return items.first { !seen.insert($0).inserted }
    }

    /// A point name is a directory name under OUTDIR/points: no path separators, not hidden.
    static func isPointName(_ s: String) -> Bool {
        !s.isEmpty && !s.hasPrefix(".") && s.unicodeScalars.allSatisfy { ($0.isASCII && CharacterSet.alphanumerics.contains($0)) || "._-".unicodeScalars.contains($0) }
    }
}

/// One operating point: a pipeline configuration and what made it.
public struct SweepPoint: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The swept pipeline as it is: the reference every other point is compared with.
        case full
        /// The pipeline at another input size (position embedding interpolated).
        case size
        /// The pipeline with SuperViT token keeping.
        case keepRate = "keep_rate"
        /// The `--cascade` pipeline with one threshold on every stage but the last.
        case cascade
        /// A `--reference` pipeline, as it is.
        case reference
    }

    /// What distinguishes the point (only the keys of its kind are set).
    public struct Parameters: Codable, Sendable, Equatable {
        /// full, size: the clip geometry T x H x W the model runs at.
        public var frames: Int?, height: Int?, width: Int?
        /// keep_rate: the rate and the layers it applies at.
        public var keepRate: Double?
        public var keepLayers: [Int]?
        /// cascade: the threshold of each stage but the last.
        public var thresholds: [Double]?
        /// cascade, reference: the pipeline file.
        public var pipeline: String?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case frames, height, width, thresholds, pipeline
            case keepRate = "keep_rate", keepLayers = "keep_layers"
        }
    }

    /// Unique; the directory OUTDIR/points/<name>.
    public var name: String
    public var kind: Kind
    public var parameters: Parameters
    /// The point's text in the charts, e.g. `8x64x64`, `r=0.5`, `t=0.9`.
    public var label: String
    public var config: PipelineConfig
}

/// A point with its model loaded and its geometry resolved: ready to run.
public struct PreparedPoint: Sendable {
    public var point: SweepPoint
    public var model: CascadeModel<VideoModelAdapter>
    public var geometry: ResolvedGeometry
    public var decoder: MediaDecoder { MediaDecoder(config: point.config, geometry: geometry) }
}

public enum Sweep {
    /// The operating points of `request` around the pipeline `base`, in run order: the full
    /// model first, then the sizes, keep rates and cascade thresholds as given, then the
    /// references. A size equal to the full model's, or keep rate 1 when the full model keeps
    /// every token, is the full model itself and makes no point of its own.
    ///
    /// When `base` is a cascade, the full model is its last stage alone
    /// (``PipelineConfig/lastStageAlone``), and `base` is the cascade whose thresholds are
    /// swept unless `--cascade` names another.
    ///
    /// - Parameters:
    ///   - fullSize: the clip geometry the full model runs at (its resolved frames and crop).
    ///   - load: reads the `--cascade` and `--reference` pipeline files.
    /// - Throws: ``SweepError``: thresholds without a cascade, the `--cascade` file is not a
    ///   cascade, a reference's name is taken by another point, or a pipeline file cannot be read.
    public static func points(base given: PipelineConfig, fullSize: StageGeometry, request: SweepRequest,
                              load: (String) throws -> PipelineConfig = PipelineConfig.load(path:)) throws -> [SweepPoint] {
        let base = given.lastStageAlone
        var full = SweepPoint.Parameters()
        (full.frames, full.height, full.width) = (fullSize.frames, fullSize.height, fullSize.width)
        var points = [SweepPoint(name: "full", kind: .full, parameters: full, label: "full", config: base)]

        for size in request.sizes where size != fullSize {
            var p = SweepPoint.Parameters()
            (p.frames, p.height, p.width) = (size.frames, size.height, size.width)
            let text = "\(size.frames!)x\(size.height!)x\(size.width!)"
            points.append(SweepPoint(name: "size-\(text)", kind: .size, parameters: p, label: text,
                                     config: resized(base, from: fullSize, to: size)))
        }

        for rate in request.keepRates where !(rate == 1 && base.modelOptions.tokenKeeping == nil) {
            var c = base
            c.modelOptions.tokenKeeping = .init(rate: rate, layers: request.keepLayers)
            var p = SweepPoint.Parameters()
            (p.keepRate, p.keepLayers) = (rate, request.keepLayers)
            points.append(SweepPoint(name: "keep-\(rate)", kind: .keepRate, parameters: p, label: "r=\(rate)", config: c))
        }

        let swept: (config: PipelineConfig, path: String)? = try request.cascadePath.map { path in
            (try read(path, "--cascade", load), path)
        } ?? (given.cascade == nil ? nil : (given, given.sourcePath ?? given.name))
        if swept == nil, !request.thresholds.isEmpty {
            throw SweepError(option: "--thresholds", message: "needs a cascade: a cascade --pipeline or --cascade FILE (the cascade whose thresholds are swept)")
        }
        if let (cascade, path) = swept {
            guard let stages = cascade.cascade else {
                throw SweepError(option: "--cascade", message: "\(path) has no 'cascade' list (docs/pipelines.md, \"Cascades\")")
            }
            let own = stages.compactMap(\.threshold)
            for t in request.thresholds.isEmpty ? [nil] : request.thresholds.map(Optional.some) {
                var c = cascade
                if let t { c.cascade = stages.map { s in var s = s; if s.threshold != nil { s.threshold = t }; return s } }
                var p = SweepPoint.Parameters()
                (p.thresholds, p.pipeline) = (t.map { Array(repeating: $0, count: own.count) } ?? own, path)
                points.append(SweepPoint(name: t.map { "cascade-\($0)" } ?? "cascade", kind: .cascade, parameters: p,
                                         label: t.map { "t=\($0)" } ?? "t=\(own.map { "\($0)" }.joined(separator: "/"))", config: c))
            }
        }

        for r in request.references {
            guard !points.contains(where: { $0.name == r.name }) else {
                throw SweepError(option: "--reference", message: "the name '\(r.name)' is taken by another point (\(points.map(\.name).joined(separator: ", ")))")
            }
            var p = SweepPoint.Parameters()
            p.pipeline = r.path
            points.append(SweepPoint(name: r.name, kind: .reference, parameters: p, label: r.name,
                                     config: try read(r.path, "--reference", load)))
        }
        return points
    }

    /// `base` at another clip geometry: frames and crop set, the position embedding interpolated.
    /// A `preprocess.short_side` is scaled with the crop's larger side, so the crop keeps the
    /// same share of the frame.
    static func resized(_ base: PipelineConfig, from full: StageGeometry, to size: StageGeometry) -> PipelineConfig {
        var c = base
        c.sampling.frames = size.frames
        c.preprocess.crop = [size.width!, size.height!]
        c.preprocess.interpolatePositionEmbeddings = true
        if let short = base.preprocess.shortSide {
            let scaled = Int((Double(short) * Double(max(size.width!, size.height!)) / Double(max(full.width!, full.height!))).rounded())
            c.preprocess.shortSide = max(scaled, min(size.width!, size.height!))
        }
        return c
    }

    private static func read(_ path: String, _ option: String, _ load: (String) throws -> PipelineConfig) throws -> PipelineConfig {
        do { return try load(path) } catch { throw SweepError(option: option, message: "\(error)") }
    }

    /// Loads a point's model(s) and resolves its geometry: the check that the model can run it.
    ///
    /// - Throws: ``SweepError`` naming the option that made the point and what the model
    ///   refused (a size its tubelets do not fit, a keep layer it does not have...).
    public static func prepare(_ point: SweepPoint) throws -> PreparedPoint {
        do {
            let model = try CascadeModel.load(config: point.config)
            let geometry = try point.config.resolveGeometry(modelFrames: model.inputFrames, modelHeight: model.inputHeight,
                                                            modelWidth: model.inputWidth)
            return PreparedPoint(point: point, model: model, geometry: geometry)
        } catch {
            let message = (error as? PipelineConfigError)?.message ?? "\(error)"
            let p = point.parameters
            switch point.kind {
            case .full: throw SweepError(option: "--pipeline", message: "\(error)")
            case .size: throw SweepError(option: "--sizes", message: "\(point.label): \(message)")
            case .keepRate:
                let layers = (error as? PipelineConfigError)?.key.hasSuffix(".layers") == true
                throw SweepError(option: layers ? "--keep-layers" : "--keep-rates",
                                 message: "rate \(p.keepRate!) at layers \(p.keepLayers!): \(message)")
            case .cascade: throw SweepError(option: "--cascade", message: "\(point.name): \(error)")
            case .reference: throw SweepError(option: "--reference", message: "\(point.name): \(error)")
            }
        }
    }

    /// Every point of `request` around the pipeline file `pipelinePath`, loaded and checked
    /// against its model before anything runs, in run order (``points(base:fullSize:request:load:)``).
    ///
    /// - Throws: ``SweepError`` for the first point that cannot run.
    public static func plan(pipelinePath: String, request: SweepRequest) throws -> [PreparedPoint] {
        let base: PipelineConfig
        do { base = try PipelineConfig.load(path: pipelinePath) } catch { throw SweepError(option: "--pipeline", message: "\(error)") }
        // The full model's own problems first, blamed on --pipeline.
        let full = try prepare(SweepPoint(name: "full", kind: .full, parameters: .init(), label: "full", config: base.lastStageAlone))
        let size = StageGeometry(frames: full.geometry.frames, height: full.geometry.cropHeight, width: full.geometry.cropWidth)
        let points = try Self.points(base: base, fullSize: size, request: request)
        return try points.map { p in
            guard p.kind == .full else { return try prepare(p) }
            var prepared = full
            prepared.point = p
            return prepared
        }
    }
}

/// Runs prepared points one after another over a labelled set, each a `tokenreel run` into
/// OUTDIR/points/<name>/ (every result redone: a reused result would have no time) followed by
/// `tokenreel eval`'s report (eval.json, confusion.png) beside it.
///
/// Timing: a point's clips/s is its clips over its run's wall time (``RunSummary/wallSeconds``,
/// measured around the engine run, models already loaded). With `warmUp`, the full model first
/// runs once over the whole set untimed, so the first timed point does not pay for a cold file
/// cache, first-touch allocations and FFmpeg's and OpenBLAS's set-up while later points do not.
public final class SweepRunner: @unchecked Sendable {
    public let inputRoot: String
    public let outputRoot: URL
    public let points: [PreparedPoint]
    public let warmUp: Bool
    /// Timed runs of every point (`--repeat`): rounds over all the points, so a point's runs
    /// are spread over the sweep's time and the machine's slow spells hit every point alike.
    public let repeats: Int
    private let logger: Logger
    private let state = Locked((stopped: false, session: nil as RunSession<MediaDecoder, CascadeModel<VideoModelAdapter>>?))

    public init(inputRoot: String, outputRoot: String, points: [PreparedPoint], warmUp: Bool = true, repeats: Int = 1,
                logger: Logger = Logger(label: "tokenreel.sweep")) {
        precondition(repeats >= 1, "at least one run per point")
        self.inputRoot = inputRoot; self.outputRoot = URL(fileURLWithPath: outputRoot)
        self.points = points; self.warmUp = warmUp; self.repeats = repeats; self.logger = logger
    }

    /// The directory of a point's results.
    public func directory(of point: SweepPoint) -> URL {
        outputRoot.appendingPathComponent("points").appendingPathComponent(point.name)
    }

    /// Stop: the run in flight takes no new videos and ``run(progress:)`` returns nil after it.
    public func stop() {
        state.withLock { s in s.stopped = true; s.session?.stop() }
    }

    /// Runs every point (after the warm-up) and measures it.
    ///
    /// - Parameter progress: called before each run with the point's name (`warm-up` for the
    ///   warm-up); returns what receives that run's progress and what to call when it ends.
    /// - Returns: the report, or nil when stopped.
    /// - Throws: only for problems with the directories themselves (as `tokenreel run`).
    public func run(progress: (String) -> (update: (ProgressSnapshot) -> Void, finish: () -> Void)) throws -> SweepReport? {
        if warmUp, let first = points.first {
            logger.info("warm-up: the full model once over the set, untimed", metadata: ["point": "\(first.point.name)"])
            guard try runOnce(first, display: progress("warm-up")) != nil else { return nil }
        }
        var outcomes = [[RunOutcome]](repeating: [], count: points.count)
        for round in 1...repeats {
            for (i, p) in points.enumerated() {
                var metadata: Logger.Metadata = ["name": "\(p.point.name)", "kind": "\(p.point.kind.rawValue)",
                                                 "model_gflops_per_clip": "\(Double(p.model.fullFlopsPerClip) / 1e9)"]
                if repeats > 1 { metadata["run"] = "\(round)/\(repeats)" }
                logger.info("point \(i + 1)/\(points.count)", metadata: metadata)
                guard let outcome = try runOnce(p, display: progress(repeats > 1 ? "\(p.point.name) \(round)/\(repeats)" : p.point.name))
                else { return nil }
                if let first = outcomes[i].first, first.summary.counts.ok != outcome.summary.counts.ok || first.summary.clips != outcome.summary.clips {
                    logger.warning("a repeated run labelled other videos or clips", metadata: ["name": "\(p.point.name)", "run": "\(round)"])
                }
                outcomes[i].append(outcome)
            }
        }
        var measured: [SweepReport.Point] = []
        for (i, p) in points.enumerated() {
            // The files in the point's directory are the last run's.
            let outcome = outcomes[i].last!
            let evaluation = EvaluationReport(labels: p.model.labels, outcome: outcome)
            let title = "\(p.point.name) (\(p.model.name)): " + String(format: "%.1f%% of %d videos", 100 * evaluation.accuracy, evaluation.total)
            try evaluation.write(to: directory(of: p.point), title: title)
            for path in evaluation.failed { logger.error("failed: \(path)", metadata: ["point": "\(p.point.name)"]) }
            measured.append(Sweep.measure(p.point, evaluation: evaluation, summaries: outcomes[i].map(\.summary)))
        }
        let pipeline = points.first.map { $0.point.config.sourcePath ?? $0.point.config.name } ?? ""
        return SweepReport(input: inputRoot, pipeline: pipeline, warmUp: warmUp, points: measured)
    }

    /// One run of `p` over the set, every result redone; nil when stopped.
    private func runOnce(_ p: PreparedPoint, display: (update: (ProgressSnapshot) -> Void, finish: () -> Void)) throws -> RunOutcome? {
        VideoModelAdapter.setBLASThreads(p.point.config.workers.blasThreads)
        let session = RunSession(inputRoot: inputRoot, outputRoot: directory(of: p.point).path, config: p.point.config,
                                 decoder: p.decoder, model: p.model, force: true, logger: logger)
        guard state.withLock({ s -> Bool in s.session = s.stopped ? nil : session; return !s.stopped }) else { return nil }
        defer { state.withLock { $0.session = nil } }
        let outcome: RunOutcome
        do { outcome = try session.run(progress: display.update) } catch { display.finish(); throw error }
        display.finish()
        return outcome.summary.interrupted ? nil : outcome
    }
}
