import XCTest
@testable import TokenReelPipeline

/// `tokenreel sweep` end to end with the bundled (random) model over two Motion10 samples: the
/// accuracies mean nothing, the files, fields and costs must be right. Also `pipelines validate`
/// on a cascade, whose every stage's model must exist.
final class SweepCLITests: XCTestCase {
    static let repo = TestPaths.repositoryRoot
    var root: URL!
    override func setUpWithError() throws { root = try TestPaths.makeTemporaryDirectory("tokenreel-sweep") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testSweepRunsEveryPointAndWritesTheTableJSONAndCharts() throws {
        let set = root.appendingPathComponent("set")
        for name in ["left/left-0000.avi", "right/right-0000.mov"] {      // symbolic links: the walk follows them
            let link = set.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: Self.repo.appendingPathComponent("samples/motion10/\(name)"))
        }
        let pipeline = Self.repo.appendingPathComponent("pipelines/lowres.yaml").path
        let cascade = Self.repo.appendingPathComponent("pipelines/cascade.yaml").path
        let out = root.appendingPathComponent("out")
        let r = try CLI.run(["sweep", set.path, "-o", out.path, "--pipeline", pipeline, "--sizes", "8x32x32",
                             "--keep-rates", "0.5", "--keep-layers", "1", "--cascade", cascade, "--thresholds", "0,1", "--repeat", "2", "--progress", "never"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warm-up"), "the full model runs once untimed first: \(r.stderr)")

        let report = try JSONDecoder().decode(SweepReport.self, from: Data(contentsOf: out.appendingPathComponent("sweep.json")))
        XCTAssertEqual(report.points.map(\.name), ["full", "size-8x32x32", "keep-0.5", "cascade-0.0", "cascade-1.0"])
        XCTAssertEqual(report.points.map(\.kind), [.full, .size, .keepRate, .cascade, .cascade])
        XCTAssertTrue(report.warmUp)
        XCTAssertEqual(report.pipeline, pipeline)

        // Every point ran every video, and its cost is what its model(s) cost per clip.
        let plan = try Sweep.plan(pipelinePath: pipeline, request: SweepRequest(
            sizes: "8x32x32", keepRates: "0.5", keepLayers: "1", cascade: cascade, thresholds: nil, references: []))
        let plain = plan.prefix(3).map { Double($0.model.fullFlopsPerClip) / 1e9 }
        let stages = plan[3].model.stages.map { Double($0.model.fullFlopsPerClip) / 1e9 }
        let expected = plain + [stages[0], stages[0] + stages[1]]     // threshold 0: all stop at stage 0; 1: none do
        for (p, gflops) in zip(report.points, expected) {
            XCTAssertEqual([p.videos, p.clips, p.failed], [2, 2, 0], p.name)
            XCTAssertEqual(p.wallSecondsRuns.count, 2, "--repeat 2: \(p.name)")
            XCTAssertEqual(p.wallSeconds, (p.wallSecondsRuns[0] + p.wallSecondsRuns[1]) / 2, accuracy: 1e-12, p.name)
            XCTAssertEqual(p.gflopsPerClip, gflops, accuracy: 1e-9, p.name)
            XCTAssertEqual(p.flopRatio!, gflops / plain[0], accuracy: 1e-9, p.name)
            XCTAssertGreaterThan(p.clipsPerSecond, 0, p.name)
            XCTAssertEqual(p.speedup!, p.clipsPerSecond / report.points[0].clipsPerSecond, accuracy: 1e-9, p.name)
            XCTAssertEqual(p.accuracy, Double(p.correct) / 2, p.name)
            let dir = out.appendingPathComponent("points/\(p.name)")
            for file in ["summary.json", "manifest.jsonl", "eval.json", "confusion.png", "left/left-0000.avi.json", "right/right-0000.mov.json"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(p.name)/\(file)")
            }
        }
        XCTAssertEqual(report.points.map(\.exits), [nil, nil, nil, [2, 0], [0, 2]])
        XCTAssertEqual(report.points[3].exitFractions, [1, 0])
        XCTAssertEqual(report.points[1].parameters.frames, 8)
        XCTAssertEqual(report.points[2].parameters.keepLayers, [1])
        XCTAssertEqual(report.points[4].parameters.thresholds, [1])

        // The table on stdout is the report's; the charts are PNGs of the chart size.
        XCTAssertEqual(r.stdout, report.table())
        XCTAssertTrue(r.stdout.contains("\ncascade-0.0   cascade"), r.stdout)
        XCTAssertTrue(r.stdout.contains("clips/s and model s: medians of 2 runs"), r.stdout)
        for name in ["accuracy-vs-gflops.png", "accuracy-vs-clips-per-second.png"] {
            let (width, height, _) = try SweepTests.decodeRGB([UInt8](Data(contentsOf: out.appendingPathComponent(name))))
            XCTAssertEqual([width, height], [900, 600], name)
        }
    }

    func testSweepRefusesBadOptionsBeforeRunningAnything() throws {
        let out = root.appendingPathComponent("out")
        let r = try CLI.run(["sweep", Self.repo.appendingPathComponent("samples/motion10").path, "-o", out.path,
                             "--pipeline", Self.repo.appendingPathComponent("pipelines/lowres.yaml").path,
                             "--keep-rates", "0.5", "--keep-layers", "7"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "tokenreel: --keep-layers: rate 0.5 at layers [7]: token keeping layers [7] out of range 0...5 (model motion10-tlvivit-s16x64.safetensors)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing ran")
        let zero = try CLI.run(["sweep", Self.repo.appendingPathComponent("samples/motion10").path, "-o", out.path, "--repeat", "0"])
        XCTAssertEqual(zero.status, 2)
        XCTAssertEqual(zero.stderr, "tokenreel: --repeat: 0 is not a number of runs (1 or more)\n")
    }

    func testValidateChecksEveryCascadeStagesModel() throws {
        let text = try String(contentsOf: Self.repo.appendingPathComponent("pipelines/cascade.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "../models/", with: Self.repo.appendingPathComponent("models").path + "/")
        let firstMissing = root.appendingPathComponent("first-missing.yaml")
        let firstStage = try XCTUnwrap(text.range(of: "motion10-tlvivit-s16x64.safetensors"))
        try Data(text.replacingCharacters(in: firstStage, with: "missing.safetensors").utf8).write(to: firstMissing)
        let r = try CLI.run(["pipelines", "validate", firstMissing.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "tokenreel: \(firstMissing.path): key 'cascade[0].model': \(Self.repo.appendingPathComponent("models/missing.safetensors").path): no such file (relative paths are taken from the pipeline file's directory)\n")

        let ok = try CLI.run(["pipelines", "validate", Self.repo.appendingPathComponent("pipelines/cascade.yaml").path])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("models \(Self.repo.appendingPathComponent("models/motion10-tlvivit-s16x64.safetensors").path), "), ok.stdout)
    }
}
