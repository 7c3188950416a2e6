import XCTest
import TokenReelPipeline

/// The command-line contract that needs no model: help text, usage errors, exit code 2.
final class CLITests: XCTestCase {
    func testRunHelpSnapshot() throws {
        let r = try CLI.run(["run", "--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout, RunHelpSnapshot.text, "tokenreel run --help changed; update RunHelpSnapshot.swift if intended:\n\(r.stdout)")
    }

    func testUsageAndConfigurationErrorsExitTwoAndNameTheProblem() throws {
        let dir = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml")
        try "model: m.safetensors\nsampling:\n  mode: sideways\n".write(to: bad, atomically: true, encoding: .utf8)

        var r = try CLI.run(["run", dir.path, "-o", dir.appendingPathComponent("out").path, "--pipeline", bad.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains(bad.path) && r.stderr.contains("sampling.mode") && r.stderr.contains("uniform, sliding, multiview"), r.stderr)
        XCTAssertEqual(r.stdout, "")

        r = try CLI.run(["pipelines", "validate", bad.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("sampling.mode"), r.stderr)

        r = try CLI.run(["run", dir.appendingPathComponent("missing").path, "-o", dir.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("no such directory"), r.stderr)

        r = try CLI.run(["run", dir.path, "-o", dir.path, "--shard", "2/2"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("0 <= I < N"), r.stderr)

        r = try CLI.run(["run", dir.path, "-o", dir.path, "--progress", "sometimes"])
        XCTAssertEqual(r.status, 2)

        r = try CLI.run(["run", dir.path, "-o", dir.path], environment: ["JOB_COMPLETION_INDEX": "1"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("TOKENREEL_SHARD_COUNT"), r.stderr)

        r = try CLI.run(["merge", dir.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("no manifest"), r.stderr)

        // An output that cannot be made: one line naming it and why, not a Foundation error dump.
        let file = dir.appendingPathComponent("file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        r = try CLI.run(["run", dir.path, "-o", file.appendingPathComponent("out").path, "--log-level", "warning"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr, "tokenreel: io: cannot create the directory \(file.path): a file of that name exists\n")
    }

    func testBundledPipelinesAreFoundFromAnyDirectory() throws {
        let elsewhere = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        // From an unrelated directory: found next to the executable (the repository's pipelines/).
        var r = try CLI.run(["pipelines", "list"], cwd: elsewhere)
        XCTAssertEqual(r.status, 0, r.stderr)
        let repoPipelines = TestPaths.repositoryRoot.appendingPathComponent("pipelines").resolvingSymlinksInPath().path
        XCTAssertEqual(r.stdout.split(separator: "\n").map { URL(fileURLWithPath: String($0)).resolvingSymlinksInPath().path },
                       ["cascade.yaml", "default.yaml", "hires.yaml", "lowres.yaml", "multiview.yaml", "sliding.yaml", "start.yaml",
                        "vivit-reference.yaml"].map { repoPipelines + "/" + $0 })
        // TOKENREEL_PIPELINES_DIR comes first.
        try "model: m.safetensors\n".write(to: elsewhere.appendingPathComponent("default.yaml"), atomically: true, encoding: .utf8)
        r = try CLI.run(["pipelines", "list"], environment: ["TOKENREEL_PIPELINES_DIR": elsewhere.path], cwd: elsewhere)
        XCTAssertEqual(r.stdout, elsewhere.appendingPathComponent("default.yaml").path + "\n")
    }

    func testShippedPipelinesValidate() throws {
        let dir = TestPaths.repositoryRoot.appendingPathComponent("pipelines")
        let files = ["default.yaml", "sliding.yaml", "multiview.yaml", "cascade.yaml", "vivit-reference.yaml", "hires.yaml",
                     "lowres.yaml", "start.yaml"]
            .map { dir.appendingPathComponent($0).path }
        let r = try CLI.run(["pipelines", "validate"] + files)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 8)
    }
}
