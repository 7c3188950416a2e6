import XCTest
import TokenReelPipeline
#if canImport(Glibc)
import Glibc
#endif

/// End to end: the built `tokenreel` binary, the real media and model modules and the bundled
/// placeholder model, on temporary trees of real videos made with the `ffmpeg` CLI.
final class IntegrationTests: XCTestCase {
    /// One tree of videos for the whole class (making them takes a few seconds).
    static var root: URL!
    static var tree: (good: [String], broken: [String]) = ([], [])
    static var setupError: Error?
    /// The pipeline every test runs: uniform sampling, a small model by absolute path.
    static var pipeline: URL { root.appendingPathComponent("pipeline.yaml") }
    static var input: URL { root.appendingPathComponent("videos") }

    override class func setUp() {
        do {
            root = try TestPaths.makeTemporaryDirectory("tokenreel-it")
            tree = try VideoFactory.makeTree(at: input)
            // The model module's smallest reference model (8 frames of 16x16, 3 layers, 5 classes):
            // the bundled placeholder is far slower in a debug build, and the pipeline's behaviour
            // does not depend on the model's size.
            let model = TestPaths.repositoryRoot.appendingPathComponent("Tests/TokenReelModelTests/Fixtures/tl11_gap.safetensors").path
            guard FileManager.default.fileExists(atPath: model) else {
                throw StageFailure(kind: "fixture", message: "\(model) is missing: the integration tests need a small model")
            }
            // Small queues and one decoder: the stages still overlap, and runs stay short.
            try """
            name: it
            model: \(model)
            sampling: {mode: uniform}
            workers: {decode: 1, tokenize: 1, infer: 1, queue_capacity: 4, batch_size: 4, blas_threads: 1}
            output: {top_k: 3, probabilities: true}
            """.write(to: pipeline, atomically: true, encoding: .utf8)
        } catch { setupError = error }
    }

    override class func tearDown() {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    override func setUpWithError() throws {
        if let e = Self.setupError { throw e }
    }

    func out(_ name: String) -> URL { Self.root.appendingPathComponent("out-\(name)-\(UUID().uuidString.prefix(8))") }

    func run(_ input: URL, _ out: URL, _ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["run", input.path, "-o", out.path, "--pipeline", Self.pipeline.path, "--progress", "never"] + extra)
    }

    /// Every result file under `out`, parsed, by input path.
    func results(_ out: URL) throws -> [String: JSONValue] {
        var found: [String: JSONValue] = [:]
        let e = FileManager.default.enumerator(atPath: out.path)!
        while let rel = e.nextObject() as? String {
            guard rel.hasSuffix(".json"), !rel.hasPrefix("summary"), !(rel as NSString).lastPathComponent.hasPrefix(".") else { continue }
            let data = try Data(contentsOf: out.appendingPathComponent(rel))
            guard let value = try? JSONValue(parsing: data) else { XCTFail("\(rel) is not valid JSON (partial write?)"); continue }
            found[String(rel.dropLast(5))] = value
        }
        return found
    }

    func assertSameResults(_ a: [String: JSONValue], _ b: [String: JSONValue], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), file: file, line: line)
        for (k, v) in a { if let w = b[k], let d = approximatelyEqual(v, w) { XCTFail("\(k): \(d)", file: file, line: line) } }
    }

    func testRunLabelsEveryInputOnceValidatesAndResumes() throws {
        let o = out("main")
        let r = try run(Self.input, o)
        XCTAssertEqual(r.status, 1, "broken inputs must give exit code 1\n\(r.stderr)")
        XCTAssertEqual(r.stdout, "", "nothing on stdout")
        let all = Self.tree.good + Self.tree.broken
        let found = try results(o)
        XCTAssertEqual(Set(found.keys), Set(all))
        let schema = try SchemaChecker.repositorySchema()
        for (path, value) in found {
            XCTAssertEqual(schema.validate(value), [], path)
            let status = value["status"]?.stringValue
            if Self.tree.good.contains(path) {
                XCTAssertEqual(status, "ok", "\(path): \(value["error"] ?? .null)")
                XCTAssertEqual(value["clips"]?.arrayValue?.count, 1, path)
                XCTAssertEqual(value["clips"]?.arrayValue?.first?["frame_timestamps"]?.arrayValue?.count, 8, path)
                XCTAssertNotNil(value["label"]?.stringValue, path)
            } else {
                XCTAssertEqual(status, "error", path)
                XCTAssertFalse(value["error"]?["message"]?.stringValue?.isEmpty ?? true, path)
            }
        }
        XCTAssertNotEqual(found["a/clip.mp4"]?["input"]?["size"], found["b/clip.mp4"]?["input"]?["size"])
        let manifest = try String(contentsOf: o.appendingPathComponent("manifest.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(manifest.count, all.count)
        for line in manifest {
            XCTAssertEqual(schema.validate(try JSONValue(parsing: Data(line.utf8)), against: "#/$defs/manifest_entry"), [])
        }
        let summary = try JSONValue(parsing: Data(contentsOf: o.appendingPathComponent("summary.json")))
        XCTAssertEqual(schema.validate(summary, against: "#/$defs/summary"), [])
        XCTAssertEqual(summary["counts"]?["error"], .number(Double(Self.tree.broken.count)))

        // A second run skips everything and leaves every file as it was.
        let before = try results(o)
        let again = try run(Self.input, o)
        XCTAssertEqual(again.status, 1)
        let summary2 = try JSONValue(parsing: Data(contentsOf: o.appendingPathComponent("summary.json")))
        XCTAssertEqual(summary2["counts"]?["skipped"], .number(Double(all.count)))
        XCTAssertEqual(summary2["counts"]?["processed"], .number(0))
        XCTAssertEqual(try results(o), before)
    }

    /// Linux names are bytes: a Latin-1 directory and file are labelled, under their names with
    /// the bytes that are not UTF-8 written %XX, resumed by those names, and the links made to
    /// open them are gone afterwards.
    func testNamesThatAreNotUTF8AreLabelledUnderEscapedNames() throws {
        let input = Self.root.appendingPathComponent("latin1-\(UUID().uuidString.prefix(8))")
        let tmp = Self.root.appendingPathComponent("tmp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
        let dir = bytes(input.path + "/d") + [0xE9] + bytes("j") + [0xE0]
        XCTAssertEqual((dir + [0]).withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: $0.count) { mkdir($0, 0o755) } }, 0)
        func write(_ path: [UInt8], _ data: Data) {
            let fd = (path + [0]).withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: $0.count) { open($0, O_CREAT | O_WRONLY, 0o644) } }
            XCTAssertGreaterThanOrEqual(fd, 0)
            data.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        let video = try Data(contentsOf: Self.input.appendingPathComponent(Self.tree.good[0]))
        write(dir + bytes("/caf") + [0xE9] + bytes(".mp4"), video)
        write(bytes(input.path + "/empty") + [0xE9] + bytes(".mp4"), Data())

        let o = out("latin1")
        let r = try CLI.run(["run", input.path, "-o", o.path, "--pipeline", Self.pipeline.path, "--progress", "never"],
                            environment: ["TMPDIR": tmp.path])
        XCTAssertEqual(r.status, 1, r.stderr)   // the empty file
        let found = try results(o)
        XCTAssertEqual(Set(found.keys), ["d%E9j%E0/caf%E9.mp4", "empty%E9.mp4"])
        XCTAssertEqual(found["d%E9j%E0/caf%E9.mp4"]?["status"]?.stringValue, "ok", "\(found)")
        XCTAssertEqual(found["d%E9j%E0/caf%E9.mp4"]?["input"]?["path"]?.stringValue, "d%E9j%E0/caf%E9.mp4")
        let message = found["empty%E9.mp4"]?["error"]?["message"]?.stringValue ?? ""
        XCTAssertTrue(message.contains("empty%E9.mp4") && message.contains("empty file"), message)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "links left behind")
        let again = try CLI.run(["run", input.path, "-o", o.path, "--pipeline", Self.pipeline.path, "--progress", "never"])
        XCTAssertEqual(again.status, 1)
        let summary = try JSONValue(parsing: Data(contentsOf: o.appendingPathComponent("summary.json")))
        XCTAssertEqual(summary["counts"]?["skipped"], .number(2))
    }

    func testShardsTogetherEqualOneRunAndMerge() throws {
        let whole = out("whole"), sharded = out("sharded")
        XCTAssertEqual(try run(Self.input, whole).status, 1)
        let s0 = try run(Self.input, sharded, ["--shard", "0/2"])
        let s1 = try CLI.run(["run", Self.input.path, "-o", sharded.path, "--pipeline", Self.pipeline.path, "--progress", "never"],
                             environment: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2"])
        XCTAssertTrue([0, 1].contains(s0.status) && [0, 1].contains(s1.status), s0.stderr + s1.stderr)
        assertSameResults(try results(whole), try results(sharded))
        let merged = try CLI.run(["merge", sharded.path])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        let a = try ManifestIO.read(whole.appendingPathComponent("manifest.jsonl"))
        let b = try ManifestIO.read(sharded.appendingPathComponent("manifest.jsonl"))
        XCTAssertEqual(a.map(\.path), b.map(\.path))
        XCTAssertEqual(a.map(\.label), b.map(\.label))
        XCTAssertEqual(a.map(\.result), b.map(\.result))
    }

    func testSlidingAndMultiviewSampling() throws {
        let model = TestPaths.repositoryRoot.appendingPathComponent("Tests/TokenReelModelTests/Fixtures/tl11_gap.safetensors").path
        let one = Self.root.appendingPathComponent("one-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: one, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: one.appendingPathComponent("v.mkv").path,
                                                   withDestinationPath: Self.input.appendingPathComponent("formats/h264.mkv").path)   // 2.5 s
        let sliding = Self.root.appendingPathComponent("sliding.yaml")
        try "model: \(model)\nsampling: {mode: sliding, clip_seconds: 1.0, stride_seconds: 1.0, tail: shift}\n"
            .write(to: sliding, atomically: true, encoding: .utf8)
        let multiview = Self.root.appendingPathComponent("multiview.yaml")
        try "model: \(model)\nsampling: {mode: multiview, clips: 2, spatial_crops: 3}\npreprocess: {short_side: 24}\noutput: {top_k: 2, logits: true}\n"
            .write(to: multiview, atomically: true, encoding: .utf8)

        let o1 = out("sliding")
        XCTAssertEqual(try CLI.run(["run", one.path, "-o", o1.path, "--pipeline", sliding.path, "--progress", "never"]).status, 0)
        let r1 = try XCTUnwrap(try results(o1)["v.mkv"])
        let clips = try XCTUnwrap(r1["clips"]?.arrayValue)
        XCTAssertEqual(clips.count, 3)   // [0,1), [1,2), and the tail shifted to end at 2.5 s
        let starts = clips.compactMap { $0["start"]?.doubleValue }
        XCTAssertEqual(starts, starts.sorted())
        XCTAssertEqual(clips.first?["end"]?.doubleValue ?? 0, 1.0, accuracy: 0.01)
        for c in clips {
            let ts = c["frame_timestamps"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            XCTAssertEqual(ts.count, 8)
            XCTAssertTrue(ts.allSatisfy { $0 >= (c["start"]?.doubleValue ?? 0) - 0.1 && $0 <= (c["end"]?.doubleValue ?? 0) }, "\(ts)")
        }

        let o2 = out("multiview")
        XCTAssertEqual(try CLI.run(["run", one.path, "-o", o2.path, "--pipeline", multiview.path, "--progress", "never"]).status, 0)
        let r2 = try XCTUnwrap(try results(o2)["v.mkv"])
        XCTAssertEqual(try SchemaChecker.repositorySchema().validate(r2), [])
        let views = try XCTUnwrap(r2["clips"]?.arrayValue)
        XCTAssertEqual(views.count, 6)
        XCTAssertEqual(Set(views.compactMap { $0["crop"]?.stringValue }), ["start", "center", "end"])
        XCTAssertEqual(views.first?["logits"]?.arrayValue?.count, 5)
        XCTAssertEqual(r2["top_k"]?.arrayValue?.count, 2)
        // The video's score is the mean over the six views of the winning class's probability.
        let winner = try XCTUnwrap(r2["top_k"]?.arrayValue?.first?["index"]?.doubleValue).rounded()
        let probs = views.map { v -> Double in
            let logits = v["logits"]!.arrayValue!.compactMap(\.doubleValue)
            let m = logits.max()!
            let e = logits.map { Foundation.exp($0 - m) }
            return e[Int(winner)] / e.reduce(0, +)
        }
        XCTAssertEqual(r2["score"]?.doubleValue ?? -1, probs.reduce(0, +) / 6, accuracy: 1e-6)
    }

    /// A cascade whose first stage sees the start of the clip, on real files: a clip that goes on
    /// gets exactly the logits of the last stage alone (the two-part decode is the one decode), and
    /// one that exits records the frames its start held, with the probabilities the first stage
    /// gave when it also saw the whole clip's first frames.
    func testPrefixCascadeOnRealFiles() throws {
        let model = TestPaths.repositoryRoot.appendingPathComponent("Tests/TokenReelModelTests/Fixtures/tl11_gap.safetensors").path   // 8x16x16
        func pipeline(_ name: String, threshold: Double) throws -> URL {
            let url = Self.root.appendingPathComponent("\(name).yaml")
            try """
            name: prefix
            cascade:
              - {model: \(model), first_frames: 4, frames: 4, threshold: \(threshold)}
              - {model: \(model)}
            sampling: {mode: uniform}
            workers: {decode: 2, tokenize: 1, infer: 1, queue_capacity: 2, batch_size: 3, blas_threads: 1}
            output: {top_k: 3, probabilities: true, logits: true}
            """.write(to: url, atomically: true, encoding: .utf8)
            return url
        }
        let alone = Self.root.appendingPathComponent("alone.yaml")
        try "model: \(model)\nsampling: {mode: uniform}\noutput: {top_k: 3, probabilities: true, logits: true}\n"
            .write(to: alone, atomically: true, encoding: .utf8)
        func runWith(_ p: URL) throws -> [String: JSONValue] {
            let o = out(p.deletingPathExtension().lastPathComponent)
            _ = try CLI.run(["run", Self.input.path, "-o", o.path, "--pipeline", p.path, "--progress", "never"])
            return try results(o)
        }
        let goOn = try runWith(try pipeline("prefix-never", threshold: 1))
        let stop = try runWith(try pipeline("prefix-always", threshold: 0))
        let reference = try runWith(alone)
        let schema = try SchemaChecker.repositorySchema()
        var checked = 0
        for name in Self.tree.good {
            guard let ref = reference[name]?["clips"]?.arrayValue?.first, let full = goOn[name]?["clips"]?.arrayValue?.first,
                  let early = stop[name]?["clips"]?.arrayValue?.first else { XCTFail("\(name): no clip"); continue }
            XCTAssertEqual(schema.validate(goOn[name]!), [], name)
            XCTAssertEqual(schema.validate(stop[name]!), [], name)
            XCTAssertEqual(full["exit_stage"]?.doubleValue, 1, name)
            XCTAssertEqual(full["logits"], ref["logits"], name)
            XCTAssertEqual(full["frame_timestamps"], ref["frame_timestamps"], name)
            XCTAssertEqual(early["exit_stage"]?.doubleValue, 0, name)
            let refTimes = ref["frame_timestamps"]?.arrayValue ?? []
            XCTAssertEqual(early["frame_timestamps"]?.arrayValue, Array(refTimes.prefix(4)), name)
            XCTAssertEqual(early["stage_probabilities"]?.arrayValue?.first, full["stage_probabilities"]?.arrayValue?.first, name)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 3)
        // Broken files are error records in every run, as without first stages that see the start.
        for name in Self.tree.broken { XCTAssertEqual(stop[name]?["status"], reference[name]?["status"], name) }

        // A file cut after its start: a clip settled from its start never reads that far (a
        // label, no error); one that goes on meets the cut (an error record, as a whole decode).
        let cutDir = Self.root.appendingPathComponent("cut-\(UUID().uuidString.prefix(8))")
        let whole = cutDir.appendingPathComponent(".whole.mkv")
        try VideoFactory.make(whole, seconds: 4)
        let bytes = try Data(contentsOf: whole)
        try FileManager.default.removeItem(at: whole)
        try bytes.prefix(bytes.count * 2 / 3).write(to: cutDir.appendingPathComponent("cut.mkv"))
        func status(_ p: URL) throws -> (String?, String?) {
            let o = out("cut")
            _ = try CLI.run(["run", cutDir.path, "-o", o.path, "--pipeline", p.path, "--progress", "never"])
            let r = try results(o)["cut.mkv"]
            return (r?["status"]?.stringValue, r?["error"]?["kind"]?.stringValue)
        }
        XCTAssertEqual(try status(try pipeline("prefix-cut-stop", threshold: 0)).0, "ok")
        let onward = try status(try pipeline("prefix-cut-on", threshold: 1))
        XCTAssertEqual(onward.0, "error")
        XCTAssertEqual(onward.1, "truncated")
    }

    /// A directory of many inputs (symlinks to one video) so a run lasts long enough to interrupt.
    func manyInputs() throws -> URL {
        let dir = Self.root.appendingPathComponent("many-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let sources = Self.tree.good.map { Self.input.appendingPathComponent($0).path }
        for i in 0 ..< 48 {
            let src = sources[i % sources.count]
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(String(format: "v%02d.", i) + (src as NSString).pathExtension).path,
                                                       withDestinationPath: src)
        }
        return dir
    }

    /// Starts a run and sends `signals` once its first result file exists.
    func runAndSignal(_ input: URL, _ out: URL, _ signals: Int32...) throws -> CLI.Result {
        let started = try CLI.start(["run", input.path, "-o", out.path, "--pipeline", Self.pipeline.path, "--progress", "never"])
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, started.0.isRunning {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
            if names.contains(where: { $0.hasSuffix(".json") && !$0.hasPrefix(".") }) { break }
            usleep(5_000)
        }
        // Back to back: a second signal must win against a drain that can take only milliseconds.
        // (The kernel merges a pending signal with a second one of the same number, so tests of
        // "twice" send two different ones; the handler counts SIGINT and SIGTERM together.)
        for sig in signals { kill(started.0.processIdentifier, sig) }
        return CLI.finish(started)
    }

    func testSIGINTFinishesInFlightThenResumeEqualsUninterruptedRun() throws {
        let many = try manyInputs()
        let reference = out("ref"), interrupted = out("int")
        XCTAssertEqual(try run(many, reference).status, 0)
        let r = try runAndSignal(many, interrupted, SIGINT)
        XCTAssertEqual(r.status, 130, r.stderr)
        let summary = try JSONValue(parsing: Data(contentsOf: interrupted.appendingPathComponent("summary.json")))
        XCTAssertEqual(summary["interrupted"], .bool(true))
        let partial = try results(interrupted)
        XCTAssertLessThan(partial.count, 48)
        XCTAssertEqual(try ManifestIO.read(interrupted.appendingPathComponent("manifest.jsonl")).count, partial.count)
        let resumed = try run(many, interrupted)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        assertSameResults(try results(reference), try results(interrupted))
    }

    func testSecondSignalExitsAtOnceWithoutPartialJSON() throws {
        let many = try manyInputs()
        let o = out("twice")
        let r = try runAndSignal(many, o, SIGTERM, SIGINT)
        XCTAssertEqual(r.status, 130, r.stderr)
        let partial = try results(o)   // fails on any file that does not parse
        XCTAssertLessThan(partial.count, 48)
        XCTAssertFalse(FileManager.default.fileExists(atPath: o.appendingPathComponent("summary.json").path),
                       "the second signal exits before the summary is written")
    }

    func testSIGKILLLeavesNoPartialJSONAndRerunEqualsUninterruptedRun() throws {
        let many = try manyInputs()
        let reference = out("ref"), killed = out("kill")
        XCTAssertEqual(try run(many, reference).status, 0)
        let r = try runAndSignal(many, killed, SIGKILL)
        XCTAssertEqual(r.status, SIGKILL)
        let partial = try results(killed)   // fails on any file that does not parse
        XCTAssertLessThan(partial.count, 48)
        // What a writer killed between create and rename leaves (the killed run may or may not have
        // left one itself): the re-run removes it, since its process is gone.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let planted = killed.appendingPathComponent(".planted.mp4.json.tmp-\(OutputLayout.hostTag)-\(gone.processIdentifier)-1")
        try Data("{".utf8).write(to: planted)
        XCTAssertEqual(try run(many, killed).status, 0)
        assertSameResults(try results(reference), try results(killed))
        let left = FileManager.default.enumerator(atPath: killed.path)?.compactMap { $0 as? String }.filter { $0.contains(".tmp-") }
        XCTAssertEqual(left, [])
    }
}
