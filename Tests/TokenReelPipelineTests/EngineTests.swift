import XCTest
import Logging
@testable import TokenReelPipeline

/// The staged engine and a whole run, with deterministic doubles for decode, tokenize and infer.
final class EngineTests: XCTestCase {
    var root: URL!
    let quietLogger: Logger = { var l = Logger(label: "test"); l.logLevel = .critical; return l }()
    var input: URL { root.appendingPathComponent("in") }
    override func setUpWithError() throws { root = try TestPaths.makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// A tree with good and broken fakes, same-named files in different folders and nesting.
    func makeTree() throws {
        try writeFake(input, "a/x.mp4", "clips=3")
        try writeFake(input, "b/x.mp4", "clips=1")
        try writeFake(input, "b/deep/long.mkv", "clips=12")
        try writeFake(input, "c/broken.mp4", "garbage")
        try writeFake(input, "c/half.mp4", "clips=4 fail=2")
        try writeFake(input, "c/nan.mp4", "clips=2 nan")
        try writeFake(input, "c/empty.webm", "clips=0")
        for i in 0 ..< 9 { try writeFake(input, "many/v\(i).mp4", "clips=\(1 + i % 3) seed\(i)") }
    }

    func session(_ out: String, config: PipelineConfig = testConfig(), decoder: FakeDecoder = FakeDecoder(),
                 model: FakeModel = FakeModel(), shard: Shard = .all, force: Bool = false) -> RunSession<FakeDecoder, FakeModel> {
        RunSession(inputRoot: input.path, outputRoot: root.appendingPathComponent(out).path, config: config,
                   decoder: decoder, model: model, shard: shard, force: force, logger: quietLogger)
    }

    func testEveryInputGetsOneResultAndBrokenOnesAreErrorRecords() throws {
        try makeTree()
        let outcome = try session("out").run()
        let results = try readResults(root.appendingPathComponent("out"))
        XCTAssertEqual(results.count, 16)
        XCTAssertEqual(outcome.manifest.count, 16)
        XCTAssertEqual(Set(outcome.manifest.map(\.result)), Set(results.keys))
        XCTAssertEqual(outcome.exitCode, 1)
        XCTAssertEqual(outcome.summary.counts.error, 4)
        XCTAssertEqual(outcome.summary.counts.ok, 12)
        XCTAssertEqual(outcome.summary.clips, 3 + 1 + 12 + 2 + 2 + (0 ..< 9).map { 1 + $0 % 3 }.reduce(0, +))
        let kinds = Dictionary(uniqueKeysWithValues: results.values.filter { $0.status == .error }.map { ($0.input.path, $0.error!.kind) })
        XCTAssertEqual(kinds, ["c/broken.mp4": "not_media", "c/half.mp4": "corrupt", "c/nan.mp4": "model_output", "c/empty.webm": "no_clips"])

        // Same-named files in different folders are distinct results.
        XCTAssertEqual(results["a/x.mp4.json"]?.clips.count, 3)
        XCTAssertEqual(results["b/x.mp4.json"]?.clips.count, 1)

        // Clips in plan order; the video label is the argmax of the mean of the clip probabilities.
        let long = try XCTUnwrap(results["b/deep/long.mkv.json"])
        XCTAssertEqual(long.clips.map(\.index), Array(0 ..< 12))
        let model = FakeModel()
        let probs = long.clips.map { clip -> [Double] in
            // Recompute independently from the decoder's pixels.
            var got: [Double] = []
            try? FakeDecoder().decode(path: input.appendingPathComponent("b/deep/long.mkv").path, opened: { _ in }, clip: { frames in
                if frames.index == clip.index { got = Scoring.softmax(model.logits(try model.embed(frames, workspace: .init()))) }
            })
            return got
        }
        let mean = Scoring.mean(probs)
        let best = mean.indices.max { mean[$0] < mean[$1] }!
        XCTAssertEqual(long.label, model.labels[best])
        XCTAssertEqual(long.score!, mean[best], accuracy: 1e-12)
        XCTAssertEqual(long.topK?.count, 3)
        XCTAssertEqual(long.clips[5].score, long.clips[5].topK[0].score)
        XCTAssertEqual(long.model.sha256, model.sha256)
        XCTAssertEqual(long.pipeline.hash, testConfig().hash)

        // Outputs validate against the repository's schema.
        let schema = try SchemaChecker.repositorySchema()
        for (name, r) in results {
            let json = try JSONValue(parsing: OutputLayout.encoder(pretty: true).encode(r))
            XCTAssertEqual(schema.validate(json), [], name)
            let onDisk = try JSONValue(parsing: Data(contentsOf: root.appendingPathComponent("out/\(name)")))
            XCTAssertEqual(schema.validate(onDisk), [], name)
        }
        let out = root.appendingPathComponent("out")
        for line in try String(contentsOf: out.appendingPathComponent("manifest.jsonl"), encoding: .utf8).split(separator: "\n") {
            XCTAssertEqual(schema.validate(try JSONValue(parsing: Data(line.utf8)), against: "#/$defs/manifest_entry"), [])
        }
        XCTAssertEqual(schema.validate(try JSONValue(parsing: Data(contentsOf: out.appendingPathComponent("summary.json"))), against: "#/$defs/summary"), [])
        // The checker is not vacuous: a wrong result fails.
        var bad = try JSONValue(parsing: Data(contentsOf: out.appendingPathComponent("a/x.mp4.json"))).objectValue!
        bad["status"] = .string("maybe"); bad["extra"] = .null
        XCTAssertEqual(schema.validate(.object(bad)).count, 2)
    }

    func testSecondRunSkipsEverythingAndForceRedoes() throws {
        try makeTree()
        let first = try session("out").run()
        let before = try readResults(root.appendingPathComponent("out"))
        let second = try session("out").run()
        XCTAssertEqual(second.summary.counts.skipped, 16)
        XCTAssertEqual(second.summary.counts.processed, 0)
        XCTAssertEqual(second.manifest, first.manifest)
        XCTAssertEqual(second.exitCode, 1)   // the broken inputs are still broken
        XCTAssertEqual(try readResults(root.appendingPathComponent("out")), before)   // untouched, timings included

        // A changed input is redone; a changed pipeline redoes everything; --force redoes everything.
        try writeFake(input, "a/x.mp4", "clips=2 changed")
        XCTAssertEqual(try session("out").run().summary.counts.processed, 1)
        var config = testConfig(); config.output.topK = 2
        XCTAssertEqual(try session("out", config: config).run().summary.counts.processed, 16)
        XCTAssertEqual(try session("out", config: config, force: true).run().summary.counts.processed, 16)
    }

    func testShardsTogetherEqualOneUnshardedRunAndMerge() throws {
        try makeTree()
        let whole = try session("whole").run()
        let s0 = try session("sharded", shard: Shard(index: 0, count: 2)).run()
        let s1 = try session("sharded", shard: Shard(index: 1, count: 2)).run()
        XCTAssertEqual(s0.manifest.count + s1.manifest.count, 16)
        XCTAssertGreaterThan(s0.manifest.count, 0); XCTAssertGreaterThan(s1.manifest.count, 0)
        let a = try readResults(root.appendingPathComponent("whole")).mapValues(withoutTimings)
        let b = try readResults(root.appendingPathComponent("sharded")).mapValues(withoutTimings)
        XCTAssertEqual(a, b)
        let names = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("sharded").path)
        XCTAssertTrue(names.contains("manifest.shard-0-of-2.jsonl") && names.contains("summary.shard-1-of-2.json"), "\(names)")

        let merged = try ShardMerge.merge(directories: [root.appendingPathComponent("sharded").path], into: root.appendingPathComponent("sharded").path)
        XCTAssertEqual(merged.manifest, whole.manifest)
        XCTAssertEqual(merged.summary.counts.ok, whole.summary.counts.ok)
        XCTAssertEqual(merged.summary.counts.processed, 16)
        XCTAssertEqual(merged.summary.shards, ["0/2", "1/2"])
        XCTAssertEqual(try ManifestIO.read(root.appendingPathComponent("sharded/manifest.jsonl")), whole.manifest)

        // Shards run in separate directories merge too; result paths then point into them.
        _ = try session("s0", shard: Shard(index: 0, count: 2)).run()
        _ = try session("s1", shard: Shard(index: 1, count: 2)).run()
        let apart = try ShardMerge.merge(directories: ["s0", "s1"].map { root.appendingPathComponent($0).path }, into: root.appendingPathComponent("all").path)
        XCTAssertEqual(apart.manifest.map(\.path), whole.manifest.map(\.path))
        XCTAssertTrue(apart.manifest.allSatisfy { FileManager.default.fileExists(atPath: $0.result) })
        // Shards of different pipelines do not merge.
        var other = testConfig(); other.output.topK = 1
        _ = try session("s1", config: other, shard: Shard(index: 1, count: 2), force: true).run()
        XCTAssertThrowsError(try ShardMerge.merge(directories: ["s0", "s1"].map { root.appendingPathComponent($0).path }, into: root.appendingPathComponent("x").path))
    }

    func testStopFinishesInFlightThenResumeEqualsUninterruptedRun() throws {
        for i in 0 ..< 10 { try writeFake(input, "v\(i).mp4", "clips=\(1 + i % 4) v\(i)") }
        let gate = DispatchSemaphore(value: 0)
        let reached = DispatchSemaphore(value: 0)
        let decoder = FakeDecoder(beforeOpen: { path in
            if path.hasSuffix("/v3.mp4") { reached.signal(); gate.wait() }
        })
        let s = session("out", config: testConfig(decode: 1), decoder: decoder)
        let outcome = Locked<RunOutcome?>(nil)
        let done = expectation(description: "run ends")
        DispatchQueue.global().async { let o = try? s.run(); outcome.withLock { $0 = o }; done.fulfill() }
        reached.wait()          // v0..v2 handed out, v3 in the decoder's hands
        s.stop()
        gate.signal()
        wait(for: [done], timeout: 60)
        let o = try XCTUnwrap(outcome.withLock { $0 })
        XCTAssertTrue(o.summary.interrupted)
        XCTAssertEqual(o.exitCode, 130)
        XCTAssertEqual(o.manifest.map(\.path), ["v0.mp4", "v1.mp4", "v2.mp4", "v3.mp4"])
        XCTAssertEqual(o.summary.counts.notStarted, 6)
        XCTAssertEqual(try readResults(root.appendingPathComponent("out")).count, 4)

        let resumed = try session("out").run()
        XCTAssertEqual(resumed.summary.counts.skipped, 4)
        XCTAssertEqual(resumed.summary.counts.processed, 6)
        XCTAssertEqual(resumed.exitCode, 0)
        _ = try session("straight").run()
        XCTAssertEqual(try readResults(root.appendingPathComponent("out")).mapValues(withoutTimings),
                       try readResults(root.appendingPathComponent("straight")).mapValues(withoutTimings))
    }

    func testInferenceBatchesClipsAcrossVideos() throws {
        for i in 0 ..< 20 { try writeFake(input, "v\(i).mp4", "clips=1 v\(i)") }
        let model = FakeModel()
        let embeds = NSCondition()
        var embedded = 0
        model.afterEmbed = { n in embeds.lock(); embedded = n; embeds.broadcast(); embeds.unlock() }
        // Hold the first inference (of b clips) until tokenize has embedded b + 9 clips: the
        // token queue (capacity 8) is then full, so the next call takes 8 clips of 8 videos.
        model.beforeClassify = { call, b in
            guard call == 0 else { return }
            embeds.lock(); while embedded < b + 9 { embeds.wait() }; embeds.unlock()
        }
        let o = try session("out", config: testConfig(decode: 1, queue: 8, batch: 8), model: model).run()
        XCTAssertEqual(o.summary.counts.ok, 20)
        XCTAssertEqual(model.batchSizes.dropFirst().first, 8, "\(model.batchSizes)")
        XCTAssertEqual(model.batchSizes.reduce(0, +), 20)
        XCTAssertTrue(model.batchSizes.allSatisfy { $0 <= 8 })
    }

    func testQueuesBoundMemoryWhateverTheNumberOfVideos() throws {
        // 40 videos of up to 30 clips through queues of 2 and batches of 3: clips alive between
        // decode and infer never exceed what the configuration allows.
        for i in 0 ..< 40 { try writeFake(input, "v\(i).mp4", "clips=\(1 + (i * 7) % 30) v\(i)") }
        let live = LiveClips()
        let model = FakeModel(); model.live = live
        let config = testConfig(decode: 2, tokenize: 2, infer: 2, queue: 2, batch: 3)
        let o = try session("out", config: config, decoder: FakeDecoder(live: live), model: model).run()
        XCTAssertEqual(o.summary.counts.ok, 40)
        // In a decoder's hand (1 each), in two queues, in a tokenizer's hand (1 each), in a batch.
        let bound = 2 * 1 + 2 * 2 + 2 * 1 + 2 * 3
        XCTAssertLessThanOrEqual(live.maximum, bound)
        XCTAssertGreaterThan(o.summary.clips, 40 * 10)
        XCTAssertEqual(o.summary.stages["decode"]?.workers, 2)
        XCTAssertNotNil(o.summary.overlap)
    }
}
