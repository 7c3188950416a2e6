import CZlib
import XCTest
@testable import TokenReelPipeline
import TokenReelPlot

/// `tokenreel sweep`'s library side: the request, the points made from it and checked against
/// the model, the measurements, the table and the charts (the run itself: SweepCLITests).
final class SweepTests: XCTestCase {
    static let lowresPipeline = TestPaths.repositoryRoot.appendingPathComponent("pipelines/lowres.yaml").path
    static let cascadePipeline = TestPaths.repositoryRoot.appendingPathComponent("pipelines/cascade.yaml").path

    func request(sizes: String? = nil, keepRates: String? = nil, keepLayers: String? = nil, cascade: String? = nil,
                 thresholds: String? = nil, references: [String] = []) throws -> SweepRequest {
        try SweepRequest(sizes: sizes, keepRates: keepRates, keepLayers: keepLayers, cascade: cascade,
                         thresholds: thresholds, references: references)
    }

    /// The request's error for these options: its option and the start of its message.
    func refusal(_ make: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> SweepError? {
        do { _ = try make(); XCTFail("accepted", file: file, line: line); return nil } catch let e as SweepError { return e } catch {
            XCTFail("not a SweepError: \(error)", file: file, line: line); return nil
        }
    }

    // MARK: request

    func testRequestParsesTheListsOfTheCommandLine() throws {
        let r = try request(sizes: "16x64x64, 8x32x32", keepRates: "0.7,0.5,1", keepLayers: "1,3", cascade: "c.yaml",
                            thresholds: "0,0.9,1", references: ["vivit=plain.yaml", "tl.v2=a=b.yaml"])
        XCTAssertEqual(r.sizes, [StageGeometry(frames: 16, height: 64, width: 64), StageGeometry(frames: 8, height: 32, width: 32)])
        XCTAssertEqual(r.keepRates, [0.7, 0.5, 1])
        XCTAssertEqual(r.keepLayers, [1, 3])
        XCTAssertEqual(r.cascadePath, "c.yaml")
        XCTAssertEqual(r.thresholds, [0, 0.9, 1])
        XCTAssertEqual(r.references, [.init(name: "vivit", path: "plain.yaml"), .init(name: "tl.v2", path: "a=b.yaml")])
        XCTAssertEqual(try request(), SweepRequest())
    }

    func testRequestErrorsNameTheOptionAndWhatIsAllowed() {
        let cases: [(SweepError?, String, String)] = [
            (refusal { try self.request(sizes: "16x64") }, "--sizes", "'16x64' is not FRAMESxHEIGHTxWIDTH"),
            (refusal { try self.request(sizes: "16x64xa") }, "--sizes", "'16x64xa' is not"),
            (refusal { try self.request(sizes: "0x64x64") }, "--sizes", "'0x64x64' is not"),
            (refusal { try self.request(sizes: "8x4x64") }, "--sizes", "'8x4x64' is not"),
            (refusal { try self.request(sizes: "8x64x64,,16x64x64") }, "--sizes", "'8x64x64,,16x64x64' has an empty item"),
            (refusal { try self.request(sizes: "8x64x64,8x64x64") }, "--sizes", "'8x64x64' is given twice"),
            (refusal { try self.request(keepRates: "1.5", keepLayers: "1") }, "--keep-rates", "'1.5' is not a rate in 0 < rate <= 1"),
            (refusal { try self.request(keepRates: "0", keepLayers: "1") }, "--keep-rates", "'0' is not a rate"),
            (refusal { try self.request(keepRates: "half", keepLayers: "1") }, "--keep-rates", "'half' is not a rate"),
            (refusal { try self.request(keepRates: "0.5") }, "--keep-rates", "needs --keep-layers"),
            (refusal { try self.request(keepLayers: "1") }, "--keep-layers", "needs --keep-rates"),
            (refusal { try self.request(keepRates: "0.5", keepLayers: "-1") }, "--keep-layers", "'-1' is not an encoder layer index"),
            (refusal { try self.request(cascade: "c.yaml", thresholds: "1.1") }, "--thresholds", "'1.1' is not a threshold in 0...1"),
            (refusal { try self.request(references: ["plain.yaml"]) }, "--reference", "'plain.yaml' is not NAME=PIPELINE.yaml"),
            (refusal { try self.request(references: ["a/b=plain.yaml"]) }, "--reference", "'a/b=plain.yaml' is not NAME=PIPELINE.yaml"),
            (refusal { try self.request(references: [".x=plain.yaml"]) }, "--reference", "'.x=plain.yaml' is not"),
            (refusal { try self.request(references: ["x=a.yaml", "x=b.yaml"]) }, "--reference", "the name 'x' is given twice"),
        ]
        for (error, option, message) in cases {
            XCTAssertEqual(error?.option, option, "\(message)")
            XCTAssertTrue(error?.message.hasPrefix(message) == true, "\(String(describing: error)) should start with \(message)")
        }
    }

    // MARK: points

    /// A plain pipeline in memory and a cascade "file" served by the loader.
    let base: PipelineConfig = {
        var c = PipelineConfig(name: "base", modelPath: "/m/full.safetensors")
        c.preprocess.shortSide = 80
        return c
    }()
    let cascadeFile: PipelineConfig = {
        var c = PipelineConfig(name: "c", modelPath: "/m/full.safetensors")
        c.cascade = [.init(modelPath: "/m/a.safetensors", geometry: .init(frames: 8, height: 32, width: 32), threshold: 0.9),
                     .init(modelPath: "/m/b.safetensors", threshold: 0.8),
                     .init(modelPath: "/m/full.safetensors")]
        return c
    }()
    let fullSize = StageGeometry(frames: 16, height: 64, width: 64)

    func load(_ path: String) throws -> PipelineConfig {
        switch path {
        case "c.yaml": return cascadeFile
        case "plain.yaml": return PipelineConfig(name: "plain", modelPath: "/m/plain.safetensors")
        default: throw PipelineConfigError(file: path, key: "", line: nil, message: "cannot read the file")
        }
    }

    func testPointsAreTheFullModelThenEachOptionInOrder() throws {
        let r = try request(sizes: "16x64x64,8x32x32,16x48x64", keepRates: "1,0.5", keepLayers: "1,3", cascade: "c.yaml",
                            thresholds: "0.5,0.95", references: ["vivit=plain.yaml"])
        let points = try Sweep.points(base: base, fullSize: fullSize, request: r, load: load)
        XCTAssertEqual(points.map(\.name), ["full", "size-8x32x32", "size-16x48x64", "keep-0.5", "cascade-0.5", "cascade-0.95", "vivit"],
                       "the model's own size and rate 1 are the full model itself")
        XCTAssertEqual(points.map(\.kind), [.full, .size, .size, .keepRate, .cascade, .cascade, .reference])
        XCTAssertEqual(points.map(\.label), ["full", "8x32x32", "16x48x64", "r=0.5", "t=0.5", "t=0.95", "vivit"])

        XCTAssertEqual(points[0].config, base)
        XCTAssertEqual([points[0].parameters.frames, points[0].parameters.height, points[0].parameters.width], [16, 64, 64])

        let small = points[1].config
        XCTAssertEqual(small.sampling.frames, 8)
        XCTAssertEqual(small.preprocess.crop, [32, 32], "[width, height]")
        XCTAssertTrue(small.preprocess.interpolatePositionEmbeddings)
        XCTAssertEqual(small.preprocess.shortSide, 40, "the short side scales with the crop: 80 x 32/64")
        XCTAssertEqual(points[2].config.preprocess.crop, [64, 48])
        XCTAssertEqual(points[2].config.preprocess.shortSide, 80, "the larger side is unchanged")

        XCTAssertEqual(points[3].config.modelOptions.tokenKeeping, .init(rate: 0.5, layers: [1, 3]))
        XCTAssertEqual(points[3].parameters.keepRate, 0.5)
        XCTAssertEqual(points[3].parameters.keepLayers, [1, 3])
        XCTAssertNil(points[3].config.preprocess.crop, "a keep rate runs at the model's size")

        for (p, t) in zip(points[4...5], [0.5, 0.95]) {
            XCTAssertEqual(p.config.cascade?.map(\.threshold), [t, t, nil], "every stage but the last")
            XCTAssertEqual(p.config.cascade?.map(\.modelPath), cascadeFile.cascade?.map(\.modelPath))
            XCTAssertEqual(p.parameters.thresholds, [t, t])
            XCTAssertEqual(p.parameters.pipeline, "c.yaml")
        }
        XCTAssertEqual(points[6].config.name, "plain")
        XCTAssertEqual(points[6].parameters.pipeline, "plain.yaml")
    }

    func testACascadeWithoutThresholdsIsOnePointAtItsOwn() throws {
        let points = try Sweep.points(base: base, fullSize: fullSize, request: try request(cascade: "c.yaml"), load: load)
        XCTAssertEqual(points.map(\.name), ["full", "cascade"])
        XCTAssertEqual(points[1].config, cascadeFile)
        XCTAssertEqual(points[1].parameters.thresholds, [0.9, 0.8])
        XCTAssertEqual(points[1].label, "t=0.9/0.8")
    }

    /// A cascade as the base: its last stage alone is the full model, and its thresholds are
    /// swept unless --cascade names another cascade.
    func testACascadeBaseSweepsItsLastStageAndItsThresholds() throws {
        var given = cascadeFile
        given.sourcePath = "/p/given.yaml"
        given.cascade![2] = .init(modelPath: "/m/full.safetensors", geometry: .init(frames: 8, height: 48, width: 48),
                                  tokenKeeping: .init(rate: 0.7, layers: [1]))
        given.preprocess.shortSide = 80
        let points = try Sweep.points(base: given, fullSize: fullSize, request: try request(sizes: "8x32x32", thresholds: "0.5"), load: load)
        XCTAssertEqual(points.map(\.name), ["full", "size-8x32x32", "cascade-0.5"])
        let full = points[0].config
        XCTAssertNil(full.cascade)
        XCTAssertEqual(full.modelPath, "/m/full.safetensors")
        XCTAssertEqual(full.modelOptions.tokenKeeping, .init(rate: 0.7, layers: [1]), "the last stage's token keeping")
        XCTAssertEqual(full.sampling.frames, 8, "the last stage's geometry")
        XCTAssertEqual(full.preprocess.crop, [48, 48])
        XCTAssertTrue(full.preprocess.interpolatePositionEmbeddings)
        XCTAssertEqual(full.preprocess.shortSide, 80, "everything else as the cascade's")
        XCTAssertNotEqual(full.hash, given.hash)
        XCTAssertNil(points[1].config.cascade, "sizes resize the full model")
        XCTAssertEqual(points[2].config.cascade?.map(\.threshold), [0.5, 0.5, nil])
        XCTAssertEqual(points[2].parameters.pipeline, "/p/given.yaml")

        // --cascade wins over the base's own; without thresholds the base's cascade is one point.
        let other = try Sweep.points(base: given, fullSize: fullSize, request: try request(cascade: "c.yaml"), load: load)
        XCTAssertEqual(other.map(\.name), ["full", "cascade"])
        XCTAssertEqual(other[1].parameters.pipeline, "c.yaml")
        let own = try Sweep.points(base: given, fullSize: fullSize, request: SweepRequest(), load: load)
        XCTAssertEqual(own.map(\.name), ["full", "cascade"])
        XCTAssertEqual(own[1].config, given)
        XCTAssertEqual(own[1].parameters.thresholds, [0.9, 0.8])

        // A plain pipeline is its own last stage.
        XCTAssertEqual(base.lastStageAlone, base)
    }

    func testPointErrorsNameTheOption() throws {
        let cases: [(SweepError?, String, String)] = [
            (refusal { try Sweep.points(base: self.base, fullSize: self.fullSize, request: self.request(thresholds: "0.5"), load: self.load) },
             "--thresholds", "needs a cascade: a cascade --pipeline or --cascade FILE"),
            (refusal { try Sweep.points(base: self.base, fullSize: self.fullSize, request: self.request(cascade: "plain.yaml"), load: self.load) },
             "--cascade", "plain.yaml has no 'cascade' list"),
            (refusal { try Sweep.points(base: self.base, fullSize: self.fullSize, request: self.request(cascade: "gone.yaml"), load: self.load) },
             "--cascade", "gone.yaml: cannot read the file"),
            (refusal { try Sweep.points(base: self.base, fullSize: self.fullSize, request: self.request(references: ["full=plain.yaml"]), load: self.load) },
             "--reference", "the name 'full' is taken by another point"),
            (refusal { try Sweep.points(base: self.base, fullSize: self.fullSize, request: self.request(references: ["x=gone.yaml"]), load: self.load) },
             "--reference", "gone.yaml: cannot read the file"),
        ]
        for (error, option, message) in cases {
            XCTAssertEqual(error?.option, option, message)
            XCTAssertTrue(error?.message.hasPrefix(message) == true, "\(String(describing: error)) should start with \(message)")
        }
    }

    /// The points are checked against the bundled model (6 layers, TokenLearner at layer 2,
    /// tubelet 2 x 8 x 8, input 16 x 64 x 64) before anything runs.
    func testPlanChecksEveryPointAgainstItsModel() throws {
        let plan = try Sweep.plan(pipelinePath: Self.lowresPipeline,
                                  request: request(sizes: "8x32x32", keepRates: "0.5", keepLayers: "1", cascade: Self.cascadePipeline))
        XCTAssertEqual(plan.map(\.point.name), ["full", "size-8x32x32", "keep-0.5", "cascade"])
        XCTAssertEqual([plan[0].geometry.frames, plan[0].geometry.cropHeight, plan[0].geometry.cropWidth], [16, 64, 64])
        XCTAssertEqual([plan[1].model.inputFrames, plan[1].model.inputHeight, plan[1].model.inputWidth], [8, 32, 32])
        let flops = plan.map(\.model.fullFlopsPerClip)
        XCTAssertLessThan(flops[1], flops[0] / 4, "an eighth of the tokens")
        XCTAssertLessThan(flops[2], flops[0], "keeping half the tokens of each slice at layer 1")
        XCTAssertEqual(plan[3].model.stageCount, 2)

        // The shipped default is a cascade: its full model is its last stage, at 16 x 96 x 96.
        let shipped = try Sweep.plan(pipelinePath: TestPaths.repositoryRoot.appendingPathComponent("pipelines/default.yaml").path,
                                     request: request(sizes: "8x64x64"))
        XCTAssertEqual(shipped.map(\.point.name), ["full", "size-8x64x64", "cascade"])
        XCTAssertEqual([shipped[0].geometry.frames, shipped[0].geometry.cropHeight, shipped[0].geometry.cropWidth], [16, 96, 96])
        XCTAssertEqual(shipped[0].model.stageCount, 1)
        XCTAssertEqual(shipped[2].model.stageCount, 2)
        XCTAssertEqual(shipped[2].model.stages.last?.model.fullFlopsPerClip, shipped[0].model.fullFlopsPerClip)

        let cases: [(SweepError?, String, String)] = [
            (refusal { try Sweep.plan(pipelinePath: Self.lowresPipeline, request: self.request(keepRates: "0.5", keepLayers: "1,7")) },
             "--keep-layers", "rate 0.5 at layers [1, 7]: token keeping layers [7] out of range 0...5"),
            (refusal { try Sweep.plan(pipelinePath: Self.lowresPipeline, request: self.request(sizes: "1x64x64")) },
             "--sizes", "1x64x64: cannot run at 1x64x64: tubelet [2, 16, 16] does not fit"),
            (refusal { try Sweep.plan(pipelinePath: "/nonexistent/p.yaml", request: SweepRequest()) },
             "--pipeline", "/nonexistent/p.yaml: cannot read the file"),
        ]
        for (error, option, message) in cases {
            XCTAssertEqual(error?.option, option, message)
            XCTAssertTrue(error?.message.hasPrefix(message) == true, "\(String(describing: error)) should start with \(message)")
        }
    }

    // MARK: measurements

    func summary(clips: Int, wall: Double, model: Double, flops: Int, full: Int, exits: [Int]? = nil) -> RunSummary {
        RunSummary(model: .init(name: "m", sha256: "s"), pipeline: .init(name: "p", hash: "h"), shards: ["0/1"],
                   counts: .init(discovered: 4, inShard: 4, skipped: 0, processed: 4, notStarted: 0, ok: 4, error: 0),
                   clips: clips, wallSeconds: wall, videosPerSecond: 4 / wall, clipsPerSecond: Double(clips) / wall,
                   stages: ["decode": .init(workers: 2, busySeconds: 3), "tokenize": .init(workers: 1, busySeconds: model / 4),
                            "infer": .init(workers: 1, busySeconds: 3 * model / 4), "write": .init(workers: 1, busySeconds: 1)],
                   overlap: nil, peakRSSBytes: 0, interrupted: false,
                   flops: FlopSummary(clips: clips, total: flops, fullModelPerClip: full, exits: exits))
    }

    func point(_ name: String, _ kind: SweepPoint.Kind) -> SweepPoint {
        var p = SweepPoint.Parameters()
        if kind == .cascade { p.thresholds = [0.9] }
        return SweepPoint(name: name, kind: kind, parameters: p, label: name, config: base)
    }

    /// full: 8 clips of 2 GFLOPs in 4 s (2 s in the model); small: 8 clips of 0.5 GFLOPs in 1 s
    /// (0.25 s in the model); cascade: 6 clips stop at stage 0 (0.5 GFLOPs), 2 go on (2.5 GFLOPs),
    /// in 2 s (1.25 s in the model): the medians of three runs (9 s and 1.5 s, 7 s and 1 s besides).
    func syntheticReport() -> SweepReport {
        let labels = ["a", "b", "c"]
        let right = Evaluation.evaluate(labels: labels, predictions: [("a/1.mp4", "a"), ("a/2.mp4", "a"), ("b/1.mp4", "b"), ("b/2.mp4", "a")])
        let worse = Evaluation.evaluate(labels: labels, predictions: [("a/1.mp4", "a"), ("a/2.mp4", "b"), ("b/1.mp4", "b"), ("b/2.mp4", nil)])
        return SweepReport(input: "set", pipeline: "p.yaml", warmUp: true, points: [
            Sweep.measure(point("full", .full), evaluation: right, summaries: [summary(clips: 8, wall: 4, model: 2, flops: 16_000_000_000, full: 2_000_000_000)]),
            Sweep.measure(point("size-8x32x32", .size), evaluation: worse, summaries: [summary(clips: 8, wall: 1, model: 0.25, flops: 4_000_000_000, full: 500_000_000)]),
            Sweep.measure(point("cascade-0.9", .cascade), evaluation: right,
                          summaries: [(2, 1.25), (9, 7), (1.5, 1)].map { wall, model in      // three runs: the medians count
                              summary(clips: 8, wall: wall, model: model, flops: 6 * 500_000_000 + 2 * 2_500_000_000, full: 2_000_000_000, exits: [6, 2])
                          }),
        ])
    }

    func testMeasurementsAndRatiosAgainstTheFullModel() throws {
        let r = syntheticReport()
        let full = r.points[0], small = r.points[1], cascade = r.points[2]
        XCTAssertEqual([full.videos, full.correct], [4, 3])
        XCTAssertEqual(full.accuracy, 0.75)
        XCTAssertEqual(full.perClass, ["a": 1, "b": 0.5], "classes without videos are left out")
        XCTAssertEqual([small.videos, small.correct, small.failed], [3, 2, 1], "a failed video counts against nobody")
        XCTAssertEqual(full.gflopsPerClip, 2, accuracy: 1e-12)
        XCTAssertEqual(full.clipsPerSecond, 2)
        XCTAssertEqual(full.speedup, 1)
        XCTAssertEqual(full.flopRatio, 1)
        XCTAssertEqual(small.gflopsPerClip, 0.5, accuracy: 1e-12)
        XCTAssertEqual(small.speedup!, 4, accuracy: 1e-12)
        XCTAssertEqual(small.flopRatio!, 0.25, accuracy: 1e-12)
        XCTAssertNil(small.exits)
        XCTAssertNil(small.exitFractions)
        XCTAssertEqual(cascade.gflopsPerClip, 1, accuracy: 1e-12, "(6 x 0.5 + 2 x 2.5) / 8")
        XCTAssertEqual(cascade.flopRatio!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(cascade.speedup!, 2, accuracy: 1e-12)
        XCTAssertEqual(cascade.exits, [6, 2])
        XCTAssertEqual(cascade.exitFractions, [0.75, 0.25])
        XCTAssertEqual(cascade.wallSeconds, 2, "the median of 2, 9 and 1.5")
        XCTAssertEqual(cascade.wallSecondsRuns, [2, 9, 1.5])
        XCTAssertEqual(full.wallSecondsRuns, [4])
        XCTAssertEqual(Sweep.median([4, 1, 3, 2]), 2.5)
        XCTAssertEqual([full.modelSeconds, small.modelSeconds, cascade.modelSeconds], [2, 0.25, 1.25], "tokenize + infer busy")
        XCTAssertEqual(full.modelSpeedup, 1)
        XCTAssertEqual(small.modelSpeedup!, 8, accuracy: 1e-12)
        XCTAssertEqual(cascade.modelSpeedup!, 1.6, accuracy: 1e-12)

        // A full model that labelled nothing gives no ratios, rather than infinities.
        var none = full
        (none.clips, none.clipsPerSecond, none.gflopsPerClip) = (0, 0, 0)
        let empty = SweepReport(input: "set", pipeline: "p.yaml", warmUp: false, points: [none, small])
        XCTAssertNil(empty.points[1].speedup)
        XCTAssertNil(empty.points[1].flopRatio)
        var untimed = full
        untimed.modelSeconds = nil   // a summary without stage times
        XCTAssertNil(SweepReport(input: "set", pipeline: "p.yaml", warmUp: false, points: [untimed, small]).points[1].modelSpeedup)

        // sweep.json: every point key present, null when it does not apply.
        let json = try JSONValue(parsing: JSONEncoder().encode(r))
        guard case let .object(top) = json, case let .array(points)? = top["points"], case let .object(p)? = points.last else {
            return XCTFail("not a report: \(json)")
        }
        XCTAssertEqual(Set(top.keys), ["schema_version", "input", "pipeline", "warm_up", "points"])
        XCTAssertEqual(Set(p.keys), ["name", "kind", "parameters", "label", "videos", "correct", "accuracy", "per_class", "failed",
                                     "clips", "gflops_per_clip", "clips_per_second", "wall_seconds", "wall_seconds_runs", "speedup",
                                     "flop_ratio", "exits", "exit_fractions", "model_seconds", "model_speedup"])
        XCTAssertEqual(p["speedup"], .number(2))
        XCTAssertEqual(p["wall_seconds_runs"], .array([.number(2), .number(9), .number(1.5)]), "every run's wall time, in run order")
        XCTAssertEqual(top["schema_version"], .number(2))
        XCTAssertEqual(try JSONDecoder().decode(SweepReport.self, from: JSONEncoder().encode(r)), r, "round trip")
    }

    func testTable() {
        XCTAssertEqual(syntheticReport().table(), """
        point         kind       accuracy  GFLOPs/clip  clips/s  speed-up  model s  model speed-up   FLOPs  exits
        full          full          75.0%            2      2.0     1.00x     2.00           1.00x   1.00x
        size-8x32x32  size          66.7%          0.5      8.0     4.00x     0.25           8.00x   0.25x
        cascade-0.9   cascade       75.0%            1      4.0     2.00x     1.25           1.60x   0.50x  75% / 25%

        4 videos; speed-up (wall clock), model speed-up and FLOPs against the full model; model s: busy seconds of the tokenize and infer stages, where the model runs; exits: share of clips stopping at each cascade stage

        """)
    }

    // MARK: charts

    func testChartsDrawOneSeriesPerKindAndTheReferencesApart() throws {
        var r = syntheticReport()
        var keep = r.points[1]
        (keep.name, keep.kind, keep.label, keep.gflopsPerClip) = ("keep-0.5", .keepRate, "r=0.5", 1.5)
        keep.parameters.keepRate = 0.5
        var reference = r.points[0]
        (reference.name, reference.kind, reference.label, reference.gflopsPerClip) = ("vivit", .reference, "vivit", 3)
        var idle = r.points[1]
        (idle.name, idle.kind, idle.clips) = ("idle", .reference, 0)
        r = SweepReport(input: r.input, pipeline: r.pipeline, warmUp: true, points: r.points + [keep, reference, idle])

        let chart = r.chart(.gflopsPerClip, title: "t")
        XCTAssertEqual(chart.series.map(\.name), ["sizes", "keep rates", "cascade thresholds", "full model", "vivit"],
                       "a point that labelled no clip is not drawn")
        XCTAssertEqual(chart.series.map(\.marker), [.circle, .square, .triangle, .diamond, .cross])
        XCTAssertEqual(chart.series.map(\.joined), [true, true, true, false, false])
        XCTAssertEqual(chart.series[0].points, [.init(x: 0.5, y: 100 * (2.0 / 3), label: "size-8x32x32"), .init(x: 2, y: 75)],
                       "sizes by cost, ending at the full model (labelled once, by its own series)")
        XCTAssertEqual(chart.series[1].points.map(\.x), [1.5, 2], "keep rates by rate, up to the full model's 1")
        XCTAssertEqual(chart.series[3].points, [.init(x: 2, y: 75, label: "full")])
        XCTAssertEqual(chart.series[3].colour, .black)
        XCTAssertEqual(chart.y.title, "accuracy (%)")
        XCTAssertFalse(chart.x.logarithmic, "0.5 ... 3 GFLOPs span less than 10x")

        let speed = r.chart(.clipsPerSecond, title: "t")
        XCTAssertEqual(speed.series[0].points.map(\.x), [8, 2], "the same order, other x")
        XCTAssertEqual(speed.x.title, "clips per second")

        var wide = r.points
        wide[1].gflopsPerClip = 0.1
        XCTAssertTrue(SweepReport(input: "", pipeline: "", warmUp: true, points: wide).chart(.gflopsPerClip, title: "t").x.logarithmic)
    }

    func testWrittenChartsArePNGsOfTheChartSize() throws {
        let dir = try TestPaths.makeTemporaryDirectory("tokenreel-sweep-png")
        defer { try? FileManager.default.removeItem(at: dir) }
        try syntheticReport().write(to: dir, title: "synthetic")
        XCTAssertEqual(try JSONDecoder().decode(SweepReport.self, from: Data(contentsOf: dir.appendingPathComponent("sweep.json"))), syntheticReport())
        for name in ["accuracy-vs-gflops.png", "accuracy-vs-clips-per-second.png"] {
            let png = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            let (width, height, rgb) = try Self.decodeRGB(png)
            XCTAssertEqual([width, height], [900, 600], name)
            XCTAssertTrue(stride(from: 0, to: rgb.count, by: 3).contains { rgb[$0] == 0 && rgb[$0 + 1] == 114 && rgb[$0 + 2] == 178 },
                          "\(name): the first series' colour is drawn")
        }
    }

    /// Width, height and RGB pixels of an 8-bit RGB PNG with one IDAT chunk and unfiltered rows
    /// (what TokenReelPlot writes), inflated with zlib.
    static func decodeRGB(_ png: [UInt8]) throws -> (Int, Int, [UInt8]) {
        func u32(_ i: Int) -> Int { png[i ..< i + 4].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var chunks: [String: ArraySlice<UInt8>] = [:]
        var i = 8
        while i + 8 <= png.count {
            let length = u32(i)
            chunks[String(decoding: png[i + 4 ..< i + 8], as: UTF8.self)] = png[i + 8 ..< i + 8 + length]
            i += 12 + length
        }
        let header = try XCTUnwrap(chunks["IHDR"]), data = Array(try XCTUnwrap(chunks["IDAT"]))
        let width = u32(header.startIndex), height = u32(header.startIndex + 4)
        let row = 1 + 3 * width                                 // a filter byte, then the pixels
        var raw = [UInt8](repeating: 0, count: height * row)
        var size = uLong(raw.count)
        XCTAssertEqual(uncompress(&raw, &size, data, uLong(data.count)), Z_OK)
        XCTAssertEqual(Int(size), raw.count)
        var rgb: [UInt8] = []
        for y in 0 ..< height { rgb += raw[(y * row + 1) ..< ((y + 1) * row)] }
        return (width, height, rgb)
    }
}
