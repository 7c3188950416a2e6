import Foundation
import XCTest
@testable import TokenReelPipeline

/// `synth`, `export`, `run`, `model run` and `eval` together, on a tiny Motion10 set rendered by
/// the project: the exported clips are exactly what the pipeline feeds the model, and eval's
/// numbers are the run's labels counted against the class directories.
final class Motion10CLITests: XCTestCase {
    static var root: URL!
    static var set: URL { root.appendingPathComponent("set") }
    static var pipeline: URL { root.appendingPathComponent("motion10.yaml") }
    static let model = TestPaths.repositoryRoot.appendingPathComponent("models/placeholder-random.safetensors")

    override class func setUp() {
        super.setUp()
        root = try! TestPaths.makeTemporaryDirectory("tokenreel-motion10")
        let synth = try! CLI.run(["synth", "motion10", "--out", set.path, "--per-class", "1", "--seed", "5",
                                  "--max-size", "128x96", "--codecs", "h264,mpeg4", "--quiet"])
        precondition(synth.status == 0, "synth failed: \(synth.stderr)")
        try! Data("""
        name: motion10-test
        model: \(model.path)
        sampling:
          mode: uniform
        preprocess:
          resize: stretch
        workers:
          decode: 2
          batch_size: 4
        output:
          top_k: 3
          logits: true
        """.utf8).write(to: pipeline)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: root)
        super.tearDown()
    }

    func testExportedClipsAreWhatThePipelineFeedsTheModel() throws {
        let python = try XCTUnwrap(PythonWithNumPy.find(), "no Python with NumPy: run `make setup-python` (creates .venv)")
        let root = Self.root!
        let npz = root.appendingPathComponent("clips.npz"), out = root.appendingPathComponent("run")
        let export = try CLI.run(["export", Self.set.path, "--pipeline", Self.pipeline.path, "--out", npz.path])
        XCTAssertEqual(export.status, 0, export.stderr)
        let run = try CLI.run(["run", Self.set.path, "-o", out.path, "--pipeline", Self.pipeline.path, "--progress", "never"])
        XCTAssertEqual(run.status, 0, run.stderr)

        // Normalise the exported pixels as the model's metadata says, run the model on them
        // directly, and compare with the logits the pipeline recorded for the same videos.
        let clips = root.appendingPathComponent("clips.npy"), logits = root.appendingPathComponent("logits.npy")
        let prep = try PythonWithNumPy.run(python, script: """
            import sys, json, numpy as np
            z = np.load(sys.argv[1])
            assert json.loads(str(z["normalization"])) == {"type": "zero_centered"}, str(z["normalization"])
            assert z["pixels"].shape == (10, 16, 64, 64, 3), z["pixels"].shape
            names = list(z["label_names"])
            for video, label in zip(z["videos"], z["labels"]):
                assert names[label] == str(video).split("/")[0], (video, label)
            np.save(sys.argv[2], (z["pixels"].astype(np.float32) / 255.0 * 2.0 - 1.0).astype(np.float32))
            print("OK")
            """, arguments: [npz.path, clips.path])
        XCTAssertEqual(prep.status, 0, prep.output)
        let model = try CLI.run(["model", "run", "--weights", Self.model.path, "--input", clips.path, "--output", logits.path])
        XCTAssertEqual(model.status, 0, model.stderr)
        let compare = try PythonWithNumPy.run(python, script: """
            import sys, json, numpy as np
            z = np.load(sys.argv[1]); ours = np.load(sys.argv[2])
            worst = 0.0
            for row, video in zip(ours, z["videos"]):
                result = json.load(open(sys.argv[3] + "/" + str(video) + ".json"))
                assert result["pipeline"]["hash"] == str(z["pipeline_hash"]), "export and run used other pipelines"
                recorded = np.array(result["clips"][0]["logits"])
                worst = max(worst, float(np.abs(recorded - row).max() / np.abs(recorded).max()))
            assert worst < 1e-4, worst
            print("OK", worst)
            """, arguments: [npz.path, logits.path, out.path])
        XCTAssertEqual(compare.status, 0, compare.output)
    }

    func testEvalCountsTheRunsLabelsAgainstTheClassDirectories() throws {
        let out = Self.root.appendingPathComponent("eval")
        let r = try CLI.run(["eval", Self.set.path, "-o", out.path, "--pipeline", Self.pipeline.path, "--progress", "never"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("accuracy "), r.stdout)
        let report = try JSONDecoder().decode(EvaluationReport.self, from: Data(contentsOf: out.appendingPathComponent("eval.json")))
        XCTAssertEqual(report.total, 10)
        XCTAssertEqual(report.perClass.map(\.total), [Int](repeating: 1, count: 10))
        // The confusion matrix is the manifest's labels against the directories, nothing else.
        var expected = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for entry in try ManifestIO.read(out.appendingPathComponent("manifest.jsonl")) {
            let t = try XCTUnwrap(report.labels.firstIndex(of: String(entry.path.split(separator: "/")[0])))
            let p = try XCTUnwrap(report.labels.firstIndex(of: try XCTUnwrap(entry.label)))
            expected[t][p] += 1
        }
        XCTAssertEqual(report.confusion, expected)
        XCTAssertEqual(report.correct, (0..<10).map { expected[$0][$0] }.reduce(0, +))
        let png = try Data(contentsOf: out.appendingPathComponent("confusion.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])

        // The temporal control is another pipeline: its results never pass for the ordered ones.
        let shuffled = try CLI.run(["eval", Self.set.path, "-o", out.path, "--pipeline", Self.pipeline.path,
                                    "--shuffle-frames", "--progress", "never"])
        XCTAssertEqual(shuffled.status, 0, shuffled.stderr)
        XCTAssertTrue(shuffled.stderr.contains("reused=0"), "shuffled run reused ordered results: \(shuffled.stderr)")
    }
}
