import XCTest
@testable import TokenReelPipeline

/// `tokenreel run` with pipelines/cascade.yaml and `tokenreel calibrate`, end to end with the
/// bundled model (slow in a debug build, so on a handful of clips).
final class CascadeCLITests: XCTestCase {
    static let shipped = TestPaths.repositoryRoot.appendingPathComponent("pipelines/cascade.yaml")
    var root: URL!
    override func setUpWithError() throws { root = try TestPaths.makeTemporaryDirectory("tokenreel-cascade") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// FLOPs per clip of each stage of the shipped cascade, from the models themselves.
    func stageFlops() throws -> [Int] {
        try CascadeModel.load(config: PipelineConfig.load(path: Self.shipped.path)).stages.map(\.model.fullFlopsPerClip)
    }

    /// The shipped cascade, copied with its threshold replaced and model paths made absolute.
    func cascade(threshold: String) throws -> URL {
        let text = try String(contentsOf: Self.shipped, encoding: .utf8)
            .replacingOccurrences(of: "../models/", with: TestPaths.repositoryRoot.appendingPathComponent("models").path + "/")
            .replacingOccurrences(of: #"threshold: [0-9.]+ "#, with: "threshold: \(threshold) ", options: .regularExpression)
        XCTAssertTrue(text.contains("threshold: \(threshold) "), "the shipped cascade has no `threshold: N  # comment` line")
        let url = root.appendingPathComponent("cascade-\(threshold).yaml")
        try Data(text.utf8).write(to: url)
        return url
    }

    func summary(_ out: URL) throws -> RunSummary {
        try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: out.appendingPathComponent("summary.json")))
    }

    func testRunRecordsExitsAndFlopsAndSkipsTheFullStage() throws {
        let input = root.appendingPathComponent("in")
        try VideoFactory.make(input.appendingPathComponent("a.mp4"), pattern: "testsrc2", seconds: 1.5)
        try VideoFactory.make(input.appendingPathComponent("b/c.mp4"), pattern: "mandelbrot", seconds: 1)
        let flops = try stageFlops()
        let cumulative = [flops[0], flops[0] + flops[1]]
        let schema = try SchemaChecker.repositorySchema()

        let out = root.appendingPathComponent("out")
        let r = try CLI.run(["run", input.path, "-o", out.path, "--pipeline", Self.shipped.path, "--progress", "never"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let clips = try readResults(out).values.flatMap(\.clips)
        XCTAssertEqual(clips.count, 2)
        for clip in clips {
            let e = try XCTUnwrap(clip.exitStage)
            XCTAssertEqual(clip.flops, cumulative[e], "a clip costs every stage up to its exit")
        }
        let s = try XCTUnwrap(summary(out).flops)
        XCTAssertEqual(s.exits?.reduce(0, +), 2)
        XCTAssertEqual(s.total, clips.compactMap(\.flops).reduce(0, +))
        XCTAssertEqual(s.fullModelPerClip, flops[1])
        for name in ["a.mp4.json", "b/c.mp4.json"] {
            XCTAssertEqual(schema.validate(try JSONValue(parsing: Data(contentsOf: out.appendingPathComponent(name)))), [], name)
        }
        XCTAssertEqual(schema.validate(try JSONValue(parsing: Data(contentsOf: out.appendingPathComponent("summary.json"))), against: "#/$defs/summary"), [])

        // Threshold 0: every clip stops at the cheap stage; the full stage's FLOPs are never spent.
        let cheap = root.appendingPathComponent("cheap")
        let r0 = try CLI.run(["run", input.path, "-o", cheap.path, "--pipeline", try cascade(threshold: "0").path, "--progress", "never"])
        XCTAssertEqual(r0.status, 0, r0.stderr)
        XCTAssertEqual(try readResults(cheap).values.flatMap(\.clips).map { [$0.exitStage, $0.flops] }, [[0, flops[0]], [0, flops[0]]])
        let s0 = try XCTUnwrap(summary(cheap).flops)
        XCTAssertEqual(s0.exits, [2, 0])
        XCTAssertEqual(s0.savedFraction, 1 - Double(flops[0]) / Double(flops[1]), accuracy: 1e-12)
    }

    func testCalibrateFitsABudgetThatTheRunThenKeeps() throws {
        // Four Motion10 samples of two classes (symbolic links: the walk follows them).
        let set = root.appendingPathComponent("set")
        let samples = TestPaths.repositoryRoot.appendingPathComponent("samples/motion10")
        for name in ["left/left-0000.avi", "left/left-0001.mov", "right/right-0000.mov", "right/right-0001.webm"] {
            let link = set.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: samples.appendingPathComponent(name))
        }
        try Data("not a video".utf8).write(to: set.appendingPathComponent("stray.mp4"))    // outside the class directories
        let fitted = root.appendingPathComponent("fitted/cascade.yaml")
        let r = try CLI.run(["calibrate", set.path, "--pipeline", Self.shipped.path, "--budget", "0.6", "--out", fitted.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("stage  input       threshold"), r.stdout)
        XCTAssertTrue(r.stdout.contains("8x48x48") && r.stdout.contains("16x64x64") && r.stdout.contains("on 4 clips"), r.stdout)
        XCTAssertTrue(r.stderr.contains("stray.mp4"), r.stderr)

        // The written pipeline: another directory, so its model paths were made absolute.
        let config = try PipelineConfig.load(path: fitted.path)
        let threshold = try XCTUnwrap(config.cascade?[0].threshold)
        XCTAssertTrue((0 ... 1).contains(threshold))
        XCTAssertEqual(config.modelURLs, try PipelineConfig.load(path: Self.shipped.path).modelURLs)

        // Running it on the same clips stays within the budget.
        try FileManager.default.removeItem(at: set.appendingPathComponent("stray.mp4"))
        let out = root.appendingPathComponent("out")
        let run = try CLI.run(["run", set.path, "-o", out.path, "--pipeline", fitted.path, "--progress", "never"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let s = try XCTUnwrap(summary(out).flops)
        XCTAssertEqual(s.clips, 4)
        XCTAssertLessThanOrEqual(s.meanPerClip, 0.6 * Double(s.fullModelPerClip))

        // Usage errors: both targets, a plain pipeline.
        let both = try CLI.run(["calibrate", set.path, "--pipeline", Self.shipped.path, "--budget", "0.5", "--max-accuracy-drop", "1", "--out", fitted.path])
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stderr.contains("exactly one of --budget and --max-accuracy-drop"), both.stderr)
        let plain = TestPaths.repositoryRoot.appendingPathComponent("pipelines/lowres.yaml").path
        let notCascade = try CLI.run(["calibrate", set.path, "--pipeline", plain, "--budget", "0.5", "--out", fitted.path])
        XCTAssertEqual(notCascade.status, 2)
        XCTAssertTrue(notCascade.stderr.contains("not a cascade"), notCascade.stderr)
    }
}
