import XCTest
import Logging
@testable import TokenReelPipeline

/// Early-exit cascades: the `cascade` key, the derived clips, and real skipping in the engine.
final class CascadeTests: XCTestCase {
    static let fixtures = TestPaths.repositoryRoot.appendingPathComponent("Tests/TokenReelModelTests/Fixtures")
    static let placeholder = TestPaths.repositoryRoot.appendingPathComponent("models/placeholder-random.safetensors")

    // MARK: Configuration

    static let good = """
        name: two-step
        cascade:
          - model: small.safetensors
            frames: 8
            height: 32
            width: 40
            token_keeping: {rate: 0.5, layers: [1, 3]}
            threshold: 0.8
          - model: ../models/full.safetensors
        sampling:
          mode: uniform
        """

    func testAGoodCascadeParses() throws {
        let c = try PipelineConfig.parse(yaml: Self.good, file: "/p/pipes/two.yaml")
        let stages = try XCTUnwrap(c.cascade)
        XCTAssertEqual(stages.count, 2)
        XCTAssertEqual(stages[0], .init(modelPath: "small.safetensors", geometry: .init(frames: 8, height: 32, width: 40),
                                        tokenKeeping: .init(rate: 0.5, layers: [1, 3]), threshold: 0.8))
        XCTAssertEqual(stages[1], .init(modelPath: "../models/full.safetensors"))
        // `model` is the last (full) stage's; every model path is taken from the pipeline's directory.
        XCTAssertEqual(c.modelURL.path, "/p/models/full.safetensors")
        XCTAssertEqual(c.modelURLs.map(\.path), ["/p/pipes/small.safetensors", "/p/models/full.safetensors"])
        // Thresholds and geometries change results, so they change the hash; workers do not.
        var other = c
        other.cascade![0].threshold = 0.7
        XCTAssertNotEqual(other.hash, c.hash)
        other = c
        other.cascade![0].geometry.frames = 4
        XCTAssertNotEqual(other.hash, c.hash)
        other = c
        other.workers.batchSize = 3
        XCTAssertEqual(other.hash, c.hash)
        // A plain pipeline's hash does not see the new key.
        XCTAssertEqual(try PipelineConfig.parse(yaml: "name: pinned\nmodel: m\n", file: "p.yaml").hash, ConfigTests.pinnedHash)
    }

    func testCascadeErrorsNameFileAndKey() {
        let two = { (first: String, second: String) in "cascade:\n  - model: a\n\(first)  - model: b\n\(second)" }
        expectError("model: m\n" + two("    threshold: 0.5\n", ""), key: "cascade", containing: ["mutually exclusive", "cascade[i].model"])
        expectError(two("", ""), key: "cascade[0].threshold", containing: ["required on every stage but the last", "0...1"])
        expectError(two("    threshold: 0.5\n", "    threshold: 0.9\n"), key: "cascade[1].threshold", containing: ["last stage"])
        expectError(two("    threshold: 1.5\n", ""), key: "cascade[0].threshold", containing: ["'1.5'", "0...1"])
        expectError(two("    threshold: -0.1\n", ""), key: "cascade[0].threshold", containing: ["0...1"])
        expectError(two("    threshold: sure\n", ""), key: "cascade[0].threshold", containing: ["'sure'"])
        expectError(two("    threshold: 0.5\n    frames: 0\n", ""), key: "cascade[0].frames", containing: ["1...1024"])
        expectError(two("    threshold: 0.5\n    height: 4\n", ""), key: "cascade[0].height", containing: ["8...8192"])
        expectError(two("    threshold: 0.5\n", "    width: wide\n"), key: "cascade[1].width", containing: ["'wide'"])
        expectError(two("    threshold: 0.5\n    size: 32\n", ""), key: "cascade[0].size", containing: ["unknown key", "threshold"])
        expectError(two("    threshold: 0.5\n    token_keeping: {rate: 2, layers: [1]}\n", ""), key: "cascade[0].token_keeping.rate")
        expectError("cascade:\n  - model: a\n", key: "cascade", containing: ["2 to 8 stages", "'model'"])
        expectError("cascade:\n  - model: a\n    threshold: 0.5\n  - frames: 8\n", key: "cascade[1].model", containing: ["required"])
        expectError("cascade: a.safetensors\n", key: "cascade", containing: ["must be a list"])
        // Geometry and model options belong to the stages.
        let ok = two("    threshold: 0.5\n", "")
        expectError(ok + "sampling:\n  frames: 8\n", key: "sampling.frames", containing: ["not used with 'cascade'", "cascade[i].frames"])
        expectError(ok + "preprocess:\n  crop: [32, 32]\n", key: "preprocess.crop", containing: ["not used with 'cascade'"])
        expectError(ok + "preprocess:\n  interpolate_position_embeddings: true\n", key: "preprocess.interpolate_position_embeddings")
        expectError(ok + "model_options:\n  token_keeping: {rate: 0.5, layers: [1]}\n", key: "model_options", containing: ["cascade[i].token_keeping"])
        XCTAssertNoThrow(try PipelineConfig.parse(yaml: ok + "sampling:\n  mode: uniform\npreprocess:\n  resize: stretch\n", file: "p.yaml"))
    }

    /// A cascade pipeline file over real models, in a temporary directory.
    private func writePipeline(_ stages: String) throws -> String {
        let dir = try TestPaths.makeTemporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cascade.yaml").path
        try Data("cascade:\n\(stages)".utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testLoadingChecksLabelsAndGeometryAgainstTheModels() throws {
        let keep = Self.fixtures.appendingPathComponent("keep_vivit_gap.safetensors").path   // 8x16x16, tubelet 2x4x4
        let path = try writePipeline("""
              - model: \(keep)
                frames: 4
                height: 8
                width: 12
                token_keeping: {rate: 0.5, layers: [1]}
                threshold: 0.5
              - model: \(keep)
            """)
        let model = try CascadeModel.load(config: PipelineConfig.load(path: path))
        XCTAssertEqual(model.stages.map { [$0.frames, $0.height, $0.width] }, [[4, 8, 12], [8, 16, 16]])
        XCTAssertEqual([model.inputFrames, model.inputHeight, model.inputWidth], [8, 16, 16])
        XCTAssertEqual(model.stages.map(\.threshold), [0.5, nil])
        XCTAssertEqual(model.stages[0].model.model.tokenKeeping?.rate, 0.5)
        XCTAssertLessThan(model.stages[0].model.fullFlopsPerClip, model.stages[1].model.fullFlopsPerClip)
        XCTAssertEqual(model.fullFlopsPerClip, model.stages[1].model.fullFlopsPerClip)
        XCTAssertEqual(model.name, "keep_vivit_gap+keep_vivit_gap")
        XCTAssertEqual(model.sha256.count, 64)
        XCTAssertNotEqual(model.sha256, model.stages[0].model.sha256)

        // Stages labelling other classes: both files named.
        let mixed = try writePipeline("  - model: \(keep)\n    threshold: 0.5\n  - model: \(Self.placeholder.path)\n")
        XCTAssertThrowsError(try CascadeModel.load(config: PipelineConfig.load(path: mixed))) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "cascade[1].model")
            XCTAssertTrue("\(e)".hasPrefix(mixed), "\(e)")
            XCTAssertTrue("\(e)".contains(keep) && "\(e)".contains(Self.placeholder.path), "\(e)")
        }
        // A geometry the model cannot run at: fewer frames than one tubelet.
        let short = try writePipeline("  - model: \(keep)\n    frames: 1\n    threshold: 0.5\n  - model: \(keep)\n")
        XCTAssertThrowsError(try CascadeModel.load(config: PipelineConfig.load(path: short))) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "cascade[0]")
            XCTAssertTrue("\(e)".contains("tubelet") && "\(e)".contains("cascade[0].frames"), "\(e)")
        }
        let missing = try writePipeline("  - model: nowhere.safetensors\n    threshold: 0.5\n  - model: \(keep)\n")
        XCTAssertThrowsError(try CascadeModel.load(config: PipelineConfig.load(path: missing))) { e in
            XCTAssertEqual((e as? PipelineConfigError)?.key, "cascade[0].model")
        }
    }

    func testTheShippedCascadeLoadsWithTheBundledModel() throws {
        let path = TestPaths.repositoryRoot.appendingPathComponent("pipelines/cascade.yaml").path
        let config = try PipelineConfig.load(path: path)
        let model = try CascadeModel.load(config: config)
        XCTAssertEqual(model.stageCount, 2)
        XCTAssertEqual(model.stages.map { [$0.frames, $0.height, $0.width] }, [[8, 48, 48], [16, 64, 64]])
        let g = try config.resolveGeometry(modelFrames: model.inputFrames, modelHeight: model.inputHeight, modelWidth: model.inputWidth)
        XCTAssertEqual(g, ResolvedGeometry(frames: 16, cropWidth: 64, cropHeight: 64, shortSide: 64))
        XCTAssertLessThan(model.stages[0].model.fullFlopsPerClip * 2, model.stages[1].model.fullFlopsPerClip)
    }

    // MARK: Derived clips

    func testFrameIndicesAreTheMiddlesOfEqualParts() {
        XCTAssertEqual(ClipResampler.frameIndices(from: 16, to: 8), [1, 3, 5, 7, 9, 11, 13, 15])
        XCTAssertEqual(ClipResampler.frameIndices(from: 16, to: 16), Array(0 ..< 16))
        XCTAssertEqual(ClipResampler.frameIndices(from: 16, to: 5), [1, 4, 8, 11, 14])
        XCTAssertEqual(ClipResampler.frameIndices(from: 3, to: 1), [1])
        XCTAssertEqual(ClipResampler.frameIndices(from: 8, to: 3), [1, 4, 6])
    }

    /// A clip whose pixel at (frame f, y, x, channel c) is `value(f, y, x, c)`.
    private func clip(frames: Int, height: Int, width: Int, _ value: (Int, Int, Int, Int) -> Int) -> ClipFrames {
        var pixels: [UInt8] = []
        for f in 0 ..< frames { for y in 0 ..< height { for x in 0 ..< width { for c in 0 ..< 3 { pixels.append(UInt8(value(f, y, x, c))) } } } }
        let times = (0 ..< frames).map { Double($0) / 10 }
        return ClipFrames(index: 3, start: 0, end: 1, timestamps: times, frameTimestamps: times.map { $0 + 0.01 }, crop: "center",
                          repeatedFrames: false, pixels: pixels, frames: frames, height: height, width: width)
    }

    func testDownscaleAveragesBoxesAndRoundsHalfUp() {
        // 4 frames of 4x4 -> 2 frames of 2x2: frames 1 and 3, each 2x2 block averaged.
        let block: [[Int]] = [[1, 2, 0, 1], [2, 2, 0, 0], [10, 11, 100, 101], [10, 11, 102, 103]]
        let c = clip(frames: 4, height: 4, width: 4) { f, y, x, ch in block[y][x] + 40 * f + ch }
        let d = ClipResampler.derive(c, frames: 2, height: 2, width: 2)
        XCTAssertEqual([d.frames, d.height, d.width], [2, 2, 2])
        XCTAssertEqual(d.timestamps, [0.1, 0.3])
        XCTAssertEqual(d.frameTimestamps, [0.11, 0.31])
        XCTAssertEqual(d.index, 3)
        func px(_ f: Int, _ y: Int, _ x: Int, _ ch: Int) -> UInt8 { d.pixels[((f * 2 + y) * 2 + x) * 3 + ch] }
        // Frame 1 (+40): means 1.75 -> 2, 0.25 -> 0, 10.5 -> 11 (half up), 101.5 -> 102.
        XCTAssertEqual([px(0, 0, 0, 0), px(0, 0, 1, 0), px(0, 1, 0, 0), px(0, 1, 1, 0)], [42, 40, 51, 142])
        XCTAssertEqual(px(0, 1, 1, 2), 144)
        // Frame 3 (+120).
        XCTAssertEqual([px(1, 0, 0, 0), px(1, 1, 1, 1)], [122, 223])

        // A non-integer factor: 3 columns -> 2, each output column two thirds of its near input.
        let row = clip(frames: 1, height: 1, width: 3) { _, _, x, _ in [30, 60, 90][x] }
        let narrow = clip(frames: 1, height: 8, width: 9) { _, y, x, _ in y * 20 + x }
        XCTAssertEqual(ClipResampler.boxWeights(from: 3, to: 2).map { $0.map(\.index) }, [[0, 1], [1, 2]])
        XCTAssertEqual(ClipResampler.boxWeights(from: 3, to: 2)[0].map(\.weight), [2.0 / 3, 1.0 / 3])
        // (Only downscaling is allowed; a width-1 output from 3 averages all of them.)
        XCTAssertEqual(ClipResampler.derive(row, frames: 1, height: 1, width: 1).pixels, [60, 60, 60])
        let d2 = ClipResampler.derive(narrow, frames: 1, height: 8, width: 6)
        // Column 0 of 6 from 9: inputs 0 (weight 2/3) and 1 (1/3) -> y*20 + 1/3.
        XCTAssertEqual((0 ..< 8).map { Int(d2.pixels[($0 * 6) * 3]) }, (0 ..< 8).map { $0 * 20 })
        // Column 1: inputs 1 (1/3) and 2 (2/3) -> y*20 + 5/3 -> +2.
        XCTAssertEqual((0 ..< 8).map { Int(d2.pixels[($0 * 6 + 1) * 3]) }, (0 ..< 8).map { $0 * 20 + 2 })
        // The decoded geometry itself is the clip, untouched.
        XCTAssertEqual(ClipResampler.derive(c, frames: 4, height: 4, width: 4).pixels, c.pixels)
    }

    func testDerivedPixelsAreTheRuleExactlyForAnyFactor() {
        // The rule written the plain way (per pixel and channel, taps in order, in Double), against
        // the resampler on random pixels: integer and non-integer factors, frames thinned or kept.
        func plain(_ c: ClipFrames, _ t: Int, _ h: Int, _ w: Int) -> [UInt8] {
            let rows = ClipResampler.boxWeights(from: c.height, to: h), cols = ClipResampler.boxWeights(from: c.width, to: w)
            var out: [UInt8] = []
            for f in ClipResampler.frameIndices(from: c.frames, to: t) {
                for rowTaps in rows {
                    for x in 0 ..< w {
                        for ch in 0 ..< 3 {
                            var sum = 0.0
                            for (i, rw) in rowTaps {
                                var across = 0.0
                                for (j, cw) in cols[x] { across += cw * Double(c.pixels[((f * c.height + i) * c.width + j) * 3 + ch]) }
                                sum += rw * across
                            }
                            out.append(UInt8(min(255, max(0, (sum + 0.5).rounded(.down)))))
                        }
                    }
                }
            }
            return out
        }
        var rng = SystemRandomNumberGenerator()
        // Power-of-two factors (96 -> 48, 64 -> 16, one axis only) take the integer path; the rest the Double one.
        for (from, to) in [((16, 64, 64), (8, 48, 48)), ((16, 64, 64), (8, 32, 32)), ((5, 37, 23), (3, 20, 17)), ((4, 9, 9), (4, 9, 2)),
                           ((16, 96, 96), (8, 48, 48)), ((4, 64, 96), (2, 16, 24)), ((2, 8, 12), (2, 8, 3)), ((3, 32, 30), (3, 16, 20))] {
            let c = clip(frames: from.0, height: from.1, width: from.2) { _, _, _, _ in Int.random(in: 0 ... 255, using: &rng) }
            XCTAssertEqual(ClipResampler.derive(c, frames: to.0, height: to.1, width: to.2).pixels, plain(c, to.0, to.1, to.2), "\(from) -> \(to)")
        }
        XCTAssertEqual(ClipResampler.binaryFactor(96, 48), 2)
        XCTAssertEqual(ClipResampler.binaryFactor(96, 24), 4)
        XCTAssertEqual(ClipResampler.binaryFactor(96, 96), 1)
        XCTAssertNil(ClipResampler.binaryFactor(96, 32))
        XCTAssertNil(ClipResampler.binaryFactor(64, 48))
        // Block means round half up: (1 + 2) / 2 = 1.5 -> 2, (0 + 1 + 1 + 1) / 4 = 0.75 -> 1, (255 x 4) / 4 -> 255.
        let halves = clip(frames: 1, height: 2, width: 2) { _, y, x, _ in [[1, 2], [1, 2]][y][x] }
        XCTAssertEqual(ClipResampler.derive(halves, frames: 1, height: 1, width: 1).pixels, [2, 2, 2])
        XCTAssertEqual(ClipResampler.derive(halves, frames: 1, height: 2, width: 1).pixels, [2, 2, 2, 2, 2, 2])
        let quarter = clip(frames: 1, height: 2, width: 2) { _, y, x, _ in y + x > 0 ? 1 : 0 }
        XCTAssertEqual(ClipResampler.derive(quarter, frames: 1, height: 1, width: 1).pixels, [1, 1, 1])
        let white = clip(frames: 2, height: 4, width: 4) { _, _, _, _ in 255 }
        XCTAssertEqual(ClipResampler.derive(white, frames: 1, height: 2, width: 2).pixels, [UInt8](repeating: 255, count: 12))
    }

    // MARK: The engine with doubles

    let quietLogger: Logger = { var l = Logger(label: "test"); l.logLevel = .critical; return l }()

    func testConfidentClipsNeverReachTheNextStage() throws {
        let root = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let input = root.appendingPathComponent("in")
        for i in 0 ..< 6 { try writeFake(input, "v\(i).mp4", "clips=\(1 + i % 4) v\(i)") }
        try writeFake(input, "nan.mp4", "clips=2 nan")
        let cheap = StageDouble(name: "cheap", flops: 100, logits: { t in
            t.index % 2 == 0 ? [8, 0, 0, 0, 0] : [0, 0, 0, 0, 0]               // even clips: top probability 0.9987
        })
        let full = StageDouble(name: "full", flops: 800, logits: { t in t.nan ? [.nan, 0, 0, 0, 0] : [0, 5, 0, 0, 0] })
        let cascade = CascadeModel(stages: [
            .init(model: cheap, frames: 1, height: 1, width: 1, threshold: 0.9),
            .init(model: full, frames: 2, height: 2, width: 2, threshold: nil),
        ])
        var config = testConfig(decode: 2, queue: 2, batch: 3)
        config.output.probabilities = true
        let outcome = try RunSession(inputRoot: input.path, outputRoot: root.appendingPathComponent("out").path, config: config,
                                     decoder: FakeDecoder(), model: cascade, logger: quietLogger).run()
        let results = try readResults(root.appendingPathComponent("out"))
        let clips = results.values.filter { $0.status == .ok }.flatMap(\.clips)
        let even = clips.filter { $0.index % 2 == 0 }, odd = clips.filter { $0.index % 2 == 1 }
        XCTAssertEqual(clips.count, 1 + 2 + 3 + 4 + 1 + 2)
        XCTAssertEqual(odd.count, 0 + 1 + 1 + 2 + 0 + 1)

        // Stage 0 saw every clip (the nan video's too), at its own derived geometry; stage 1 only the unsure ones.
        XCTAssertEqual(cheap.classified, clips.count + 2)
        XCTAssertEqual(cheap.geometries, [[1, 1, 1]])
        XCTAssertEqual(full.embedded, odd.count + 1)           // the nan video's clip 1 goes on; its clip 0 exits
        XCTAssertEqual(full.classified, odd.count + 1)
        XCTAssertEqual(full.geometries, [[2, 2, 2]])
        XCTAssertTrue(full.batchSizes.allSatisfy { $0 <= 3 })

        XCTAssertTrue(even.allSatisfy { $0.exitStage == 0 && $0.flops == 100 && $0.label == "static" && $0.stageProbabilities?.count == 1 })
        XCTAssertTrue(odd.allSatisfy { $0.exitStage == 1 && $0.flops == 900 && $0.label == "left" && $0.stageProbabilities?.count == 2 })
        XCTAssertEqual(odd.first?.stageProbabilities?.last, odd.first?.probabilities)
        XCTAssertEqual(results["nan.mp4.json"]?.error?.kind, "model_output")

        // The summary: exits per stage, and the FLOPs saved against the full stage alone.
        let flops = try XCTUnwrap(outcome.summary.flops)
        XCTAssertEqual(flops.exits, [even.count + 1, odd.count])   // + the nan video's confident clip 0
        XCTAssertEqual(flops.clips, clips.count + 1)
        XCTAssertEqual(flops.total, 100 * (even.count + 1) + 900 * odd.count)
        XCTAssertEqual(flops.fullModelPerClip, 800)
        XCTAssertEqual(flops.savedTotal, 800 * flops.clips - flops.total)
        XCTAssertEqual(flops.savedFraction, Double(flops.savedTotal) / Double(800 * flops.clips), accuracy: 1e-12)
        XCTAssertEqual(flops.meanPerClip, Double(flops.total) / Double(flops.clips), accuracy: 1e-9)

        // Everything written validates against the schema.
        let schema = try SchemaChecker.repositorySchema()
        let out = root.appendingPathComponent("out")
        for name in results.keys {
            XCTAssertEqual(schema.validate(try JSONValue(parsing: Data(contentsOf: out.appendingPathComponent(name)))), [], name)
        }
        XCTAssertEqual(schema.validate(try JSONValue(parsing: Data(contentsOf: out.appendingPathComponent("summary.json"))), against: "#/$defs/summary"), [])

        // Running every stage (calibration) sends every clip to the last stage.
        let every = cascade.runningEveryStage()
        let tokens = try (0 ..< 4).map { i in try every.embed(FakeClip.make(index: i), workspace: every.makeWorkspace()) }
        let outputs = every.classify(tokens, workspace: every.makeWorkspace()).map { try? $0.get() }
        XCTAssertEqual(outputs.map { $0?.exitStage }, [1, 1, 1, 1])
        XCTAssertEqual(outputs.map { $0?.flops }, [900, 900, 900, 900])
        XCTAssertEqual(outputs.map { $0?.stageLogits.count }, [2, 2, 2, 2])
        // Non-finite logits never exit early, even at threshold 0.
        XCTAssertEqual(CascadeModel<StageDouble>.confidence([.nan, 1]), -.infinity)
        XCTAssertFalse(CascadeModel<StageDouble>.confidence([.infinity, 0]) >= 0)
        XCTAssertEqual(CascadeModel<StageDouble>.confidence([0, 0, 0, 0]), 0.25)
    }

    func testAPlainRunRecordsFlopsButNoExits() throws {
        let root = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let input = root.appendingPathComponent("in")
        for i in 0 ..< 3 { try writeFake(input, "v\(i).mp4", "clips=2 v\(i)") }
        let outcome = try RunSession(inputRoot: input.path, outputRoot: root.appendingPathComponent("out").path, config: testConfig(),
                                     decoder: FakeDecoder(), model: FakeModel(), logger: quietLogger).run()
        let clips = try readResults(root.appendingPathComponent("out")).values.flatMap(\.clips)
        XCTAssertEqual(clips.count, 6)
        XCTAssertTrue(clips.allSatisfy { $0.flops == FakeModel.flopsPerClip && $0.exitStage == nil && $0.stageProbabilities == nil })
        let json = try JSONValue(parsing: Data(contentsOf: root.appendingPathComponent("out/v0.mp4.json")))
        XCTAssertNil(json["clips"]?.arrayValue?.first?["exit_stage"], "no exit_stage key for a plain pipeline")
        XCTAssertEqual(outcome.summary.flops, FlopSummary(clips: 6, total: 6 * FakeModel.flopsPerClip, fullModelPerClip: FakeModel.flopsPerClip, exits: nil))
        XCTAssertEqual(outcome.summary.flops?.savedTotal, 0)
        // A one-stage cascade is its model: same name, weights digest, results and no exit record.
        let single = CascadeModel(stages: [.init(model: FakeModel(), frames: 2, height: 2, width: 2, threshold: nil)])
        XCTAssertEqual(single.name, FakeModel().name)
        XCTAssertEqual(single.sha256, FakeModel().sha256)
        let out = try single.classify([single.embed(FakeClip.make(index: 1), workspace: single.makeWorkspace())], workspace: single.makeWorkspace())
        XCTAssertEqual(try out[0].get(), ClipOutput(logits: FakeModel().logits(try FakeModel().embed(FakeClip.make(index: 1), workspace: .init())),
                                                    flops: FakeModel.flopsPerClip))
        // Merging shards adds their counts up.
        let merged = FlopSummary.merged([FlopSummary(clips: 2, total: 300, fullModelPerClip: 200, exits: [1, 1]),
                                         FlopSummary(clips: 3, total: 200, fullModelPerClip: 200, exits: [3, 0])])
        XCTAssertEqual(merged, FlopSummary(clips: 5, total: 500, fullModelPerClip: 200, exits: [4, 1]))
        XCTAssertEqual(merged?.savedFraction, 0.5)
        XCTAssertNil(FlopSummary.merged([merged, nil]))
    }
}

/// Tokens of ``StageDouble``: what it needs to decide, and the geometry it was given.
struct StageTokens: Sendable { var index: Int; var nan: Bool; var geometry: [Int] }

/// A cascade stage double: logits from a rule on the clip, counting every clip it embeds and classifies.
final class StageDouble: ClipModel, @unchecked Sendable {
    typealias Tokens = StageTokens
    final class Workspace {}
    let name: String
    let sha256: String
    let labels = ["static", "left", "right", "up", "down"]
    let stageCount = 1
    let fullFlopsPerClip: Int
    private let rule: @Sendable (StageTokens) -> [Float]
    private let lock = NSLock()
    private var counts = (embedded: 0, classified: 0)
    private var seen: Set<[Int]> = []
    private var sizes: [Int] = []

    init(name: String, flops: Int, logits: @escaping @Sendable (StageTokens) -> [Float]) {
        self.name = name; self.fullFlopsPerClip = flops; self.rule = logits
        sha256 = String(repeating: name == "cheap" ? "c" : "f", count: 64)
    }

    var embedded: Int { lock.lock(); defer { lock.unlock() }; return counts.embedded }
    var classified: Int { lock.lock(); defer { lock.unlock() }; return counts.classified }
    var geometries: [[Int]] { lock.lock(); defer { lock.unlock() }; return seen.sorted { $0.lexicographicallyPrecedes($1) } }
    var batchSizes: [Int] { lock.lock(); defer { lock.unlock() }; return sizes }

    func makeWorkspace() -> Workspace { Workspace() }

    func embed(_ clip: ClipFrames, workspace: Workspace) throws -> StageTokens {
        let g = [clip.frames, clip.height, clip.width]
        lock.lock(); counts.embedded += 1; seen.insert(g); lock.unlock()
        return StageTokens(index: clip.index, nan: clip.pixels.allSatisfy { $0 == 255 }, geometry: g)
    }

    func classify(_ batch: [StageTokens], workspace: Workspace) -> [Result<ClipOutput, StageFailure>] {
        lock.lock(); counts.classified += batch.count; if !batch.isEmpty { sizes.append(batch.count) }; lock.unlock()
        return batch.map { .success(ClipOutput(logits: rule($0), flops: fullFlopsPerClip)) }
    }
}

/// One fake clip of 2 frames of 2x2, as ``FakeDecoder`` makes them.
enum FakeClip {
    static func make(index: Int) -> ClipFrames {
        ClipFrames(index: index, start: 0, end: 1, timestamps: [0, 0.5], frameTimestamps: [0, 0.5], crop: "center", repeatedFrames: false,
                   pixels: (0 ..< 24).map { UInt8($0 * 10 + index) }, frames: 2, height: 2, width: 2)
    }
}
