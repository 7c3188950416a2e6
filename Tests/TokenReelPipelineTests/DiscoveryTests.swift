import XCTest
@testable import TokenReelPipeline

final class DiscoveryTests: XCTestCase {
    var root: URL!
    override func setUpWithError() throws { root = try TestPaths.makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testWalkIsRecursiveFilteredSortedAndSurvivesSymlinkLoops() throws {
        let input = root.appendingPathComponent("in")
        for rel in ["b/x.mp4", "a/x.mp4", "a/deep/er/v.MKV", "z.webm", "notes.txt", ".hidden.mp4", "a/.cache/y.mp4"] {
            try writeFake(input, rel, "clips=1")
        }
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("a/deep/loop").path, withDestinationPath: "../..")   // -> in/
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("self").path, withDestinationPath: ".")
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("gone.mp4").path, withDestinationPath: "nowhere.mp4")
        try writeFake(root, "outside/o.mp4", "clips=1")
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("link-out").path, withDestinationPath: root.appendingPathComponent("outside").path)
        try fm.createDirectory(at: input.appendingPathComponent("out"), withIntermediateDirectories: true)
        try writeFake(input, "out/result.mp4", "clips=1")

        let found = try Discovery.walk(root: input.path, extensions: ["mp4", "mkv", "webm"], exclude: input.appendingPathComponent("out").path)
        XCTAssertEqual(found.map(\.relativePath), ["a/deep/er/v.MKV", "a/x.mp4", "b/x.mp4", "gone.mp4", "link-out/o.mp4", "z.webm"])
        XCTAssertEqual(found[1].size, 7)
        XCTAssertGreaterThan(found[1].modified, 1_000_000_000)
        XCTAssertEqual(try Discovery.walk(root: input.path, extensions: ["mp4", "mkv", "webm"], exclude: input.appendingPathComponent("out").path), found)
    }

    func testDefaultExtensionsTakeCameraDiscAndElementaryStreamsButNotStillsOrAudio() throws {
        let input = root.appendingPathComponent("in")
        let videos = ["cam/00001.MTS", "disc/VTS_01_1.VOB", "clip.y4m", "anim.gif", "raw.h264", "raw.hevc", "vp9.ivf", "old.asf", "tape.dv"]
        for rel in videos + ["still.png", "photo.jpg", "voice.m4a", "song.mp3", "subs.srt"] { try writeFake(input, rel, "clips=1") }
        let found = try Discovery.walk(root: input.path, extensions: PipelineConfig.Inputs().extensions)
        XCTAssertEqual(found.map(\.relativePath), videos.sorted())
    }

    func testNamesThatAreNotUTF8AreShownEscapedAndKeptAsBytes() throws {
        XCTAssertEqual(InputFile.displayName(Array("café-ü/日本.mp4".utf8)), "café-ü/日本.mp4")
        XCTAssertEqual(InputFile.displayName(Array("caf".utf8) + [0xE9] + Array(".mp4".utf8)), "caf%E9.mp4")
        XCTAssertEqual(InputFile.displayName([0xC3, 0xA9, 0xC3]), "é%C3")           // a sequence cut short
        XCTAssertEqual(InputFile.displayName([0xC0, 0xAF, 0x41]), "%C0%AFA")        // an overlong '/'
        XCTAssertEqual(InputFile.displayName([0xED, 0xA0, 0x80]), "%ED%A0%80")      // a UTF-16 surrogate
        XCTAssertEqual(InputFile.displayName([0xF0, 0x9F, 0x8E, 0xAC, 0xFF]), "🎬%FF")

        let input = root.appendingPathComponent("in")
        try writeFake(input, "b.mp4", "clips=1")
        let dir = Array((input.path + "/d").utf8) + [0xE9]
        XCTAssertEqual((dir + [0]).withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: $0.count) { mkdir($0, 0o755) } }, 0)
        let file = dir + Array("/x".utf8) + [0xFF] + Array(".MP4".utf8)
        let fd = (file + [0]).withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: $0.count) { open($0, O_CREAT | O_WRONLY, 0o644) } }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let found = try Discovery.walk(root: input.path, extensions: ["mp4"])
        XCTAssertEqual(found.map(\.relativePath), ["b.mp4", "d%E9/x%FF.MP4"])
        XCTAssertNil(found[0].rawPath)
        XCTAssertEqual(found[1].rawPath, file)
        XCTAssertEqual(found[1].path, input.path + "/d%E9/x%FF.MP4")
        // Opened through a link named like the file; the link is gone afterwards.
        let link = try found[1].withOpenablePath { path -> String in
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), path)
            XCTAssertEqual((path as NSString).lastPathComponent, "x%FF.MP4")
            return path
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: link))
        XCTAssertFalse(FileManager.default.fileExists(atPath: (link as NSString).deletingLastPathComponent))
        XCTAssertThrowsError(try found[1].withOpenablePath { path in throw StageFailure(kind: "corrupt", message: "\(path): bad") }) { error in
            XCTAssertEqual("\(error)", "corrupt: \(found[1].path): bad")
        }
        XCTAssertEqual(try found[0].withOpenablePath { $0 }, found[0].path)
    }

    func testMissingRootIsAnError() {
        XCTAssertThrowsError(try Discovery.walk(root: root.appendingPathComponent("nope").path, extensions: ["mp4"])) { e in
            XCTAssertTrue("\(e)".contains("no such directory"))
        }
    }

    func testShardParsingAndPartition() throws {
        XCTAssertEqual(try Shard(parsing: "1/3"), Shard(index: 1, count: 3))
        for bad in ["3/3", "-1/2", "1", "a/b", "0/0", "1/2/3"] { XCTAssertThrowsError(try Shard(parsing: bad), bad) }
        let paths = (0 ..< 200).map { "dir\($0 % 7)/video-\($0).mp4" }
        let shards = (0 ..< 3).map { Shard(index: $0, count: 3) }
        for p in paths { XCTAssertEqual(shards.filter { $0.contains(p) }.count, 1, p) }
        for s in shards { XCTAssertGreaterThan(paths.filter(s.contains).count, 40) }   // a real spread, not all in one
        XCTAssertEqual(Shard.fnv1a("a"), 0xaf63dc4c8601ec8c)   // FNV-1a 64 reference value: stable across machines
    }

    func testShardFromEnvironment() throws {
        XCTAssertNil(try Shard.fromEnvironment([:]))
        XCTAssertEqual(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "2", "TOKENREEL_SHARD_COUNT": "5"]), Shard(index: 2, count: 5))
        XCTAssertThrowsError(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "2"])) { e in XCTAssertTrue("\(e)".contains("TOKENREEL_SHARD_COUNT")) }
        XCTAssertEqual(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"]), Shard(index: 3, count: 4))
        XCTAssertEqual(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"]), Shard(index: 3, count: 4))
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "4"]))
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"]))
    }

    func testISOTimeIsUTCMillisecondsFromAnyThread() {
        XCTAssertEqual(OutputLayout.isoTime(0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(OutputLayout.isoTime(1_795_297_696.25), "2026-11-21T21:48:16.250Z")
        // One shared formatter: many threads at once get the same strings as one thread.
        let values = (0 ..< 400).map { 1.6e9 + Double($0) * 3_600.125 }
        let serial = values.map(OutputLayout.isoTime)
        let results = Locked([String](repeating: "", count: values.count))
        DispatchQueue.concurrentPerform(iterations: values.count) { i in
            let text = OutputLayout.isoTime(values[i])
            results.withLock { $0[i] = text }
        }
        XCTAssertEqual(results.withLock { $0 }, serial)
    }

    func testAtomicWriteReplacesAndLeavesNoTemporaryFiles() throws {
        let url = root.appendingPathComponent("a/b/c.json")
        try OutputLayout.writeAtomically(Data("one".utf8), to: url)
        try OutputLayout.writeAtomically(Data("two".utf8), to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["c.json"])
        XCTAssertEqual(OutputLayout(root: root).resultURL(for: "a/x.mp4").path, root.appendingPathComponent("a/x.mp4.json").path)
        // A file in the way of a directory: the error names it (not the temporary file).
        XCTAssertThrowsError(try OutputLayout.writeAtomically(Data("x".utf8), to: url.appendingPathComponent("d/e.json"))) { error in
            XCTAssertEqual("\(error)", "io: cannot create the directory \(url.path): a file of that name exists")
        }
        // A directory in the way of the file: the rename fails, naming the file and the step.
        try OutputLayout.createDirectories(root.appendingPathComponent("a/b/dir.json/x"))
        XCTAssertThrowsError(try OutputLayout.writeAtomically(Data("x".utf8), to: root.appendingPathComponent("a/b/dir.json"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("io: cannot write \(root.path)/a/b/dir.json (renaming its temporary file): "), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path).sorted(), ["c.json", "dir.json"])
    }

    /// A run killed mid-write leaves `.<name>.tmp-<host>-<pid>-<n>`; the next run removes those
    /// of dead processes on this host only (a shard still writing into the same directory, here or
    /// on another host, keeps its files).
    func testStaleTemporariesOfDeadProcessesAreRemoved() throws {
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier, alive = getpid(), host = OutputLayout.hostTag
        let files = ["a/.x.mp4.json.tmp-\(host)-\(dead)-17", ".summary.json.tmp-\(host)-\(dead)-4",
                     "a/.y.mp4.json.tmp-\(host)-\(alive)-9", "a/.w.mp4.json.tmp-other.host-\(dead)-9",
                     "a/x.mp4.json", "a/.notes.tmp-\(host)-abc-1", "b/.z.tmp-\(dead)-3"]
        for f in files {
            let url = root.appendingPathComponent(f)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: url)
        }
        XCTAssertEqual(OutputLayout(root: root).removeStaleTemporaries(),
                       [".summary.json.tmp-\(host)-\(dead)-4", "a/.x.mp4.json.tmp-\(host)-\(dead)-17"])
        for f in files.dropFirst(2) { XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(f).path), f) }
        // The names writeAtomically gives are the names this reads.
        let owner = OutputLayout.temporaryOwner(".c.json.tmp-\(host)-42-7")
        XCTAssertEqual(owner?.host, host); XCTAssertEqual(owner?.pid, 42)
        XCTAssertNil(OutputLayout.temporaryOwner("c.json.tmp-h-42-7"))
        XCTAssertNil(OutputLayout.temporaryOwner(".c.json.tmp-42-7"))
    }

    func testBoundedQueueBlocksBatchesAndDrains() {
        let q = BoundedQueue<Int>(capacity: 3)
        for i in 0 ..< 3 { XCTAssertTrue(q.push(i)) }
        let pushed = expectation(description: "fourth push waits for room")
        DispatchQueue.global().async { q.push(3); pushed.fulfill() }
        XCTAssertEqual(q.popBatch(max: 2), [0, 1])
        wait(for: [pushed], timeout: 10)
        XCTAssertEqual(q.popBatch(max: 10), [2, 3])
        XCTAssertEqual(q.highWater, 3)
        q.push(4); q.close()
        XCTAssertFalse(q.push(5))
        XCTAssertEqual(q.pop(), 4)
        XCTAssertNil(q.pop())
    }

    func testErrorMessagesAreReproducible() {
        let m = LabelingEngine<FakeDecoder, FakeModel>.reproducibleMessage(
            "/tmp/x/in/a b.mp4: not_media: failed [ffmpeg: [mov,mp4,m4a @ 0x7f80880aB300] moov atom not found]",
            absolutePath: "/tmp/x/in/a b.mp4", relativePath: "a b.mp4")
        XCTAssertEqual(m, "a b.mp4: not_media: failed [ffmpeg: [mov,mp4,m4a] moov atom not found]")
    }

    func testScoring() {
        let p = Scoring.softmax([1, 2, 3, 1000])
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertEqual(p[3], 1, accuracy: 1e-12)
        let top = Scoring.topK([0.2, 0.5, 0.2, 0.1], labels: ["a", "b", "c", "d"], k: 3)
        XCTAssertEqual(top.map(\.index), [1, 0, 2])   // tie 0.2/0.2 goes to the lower index
        XCTAssertEqual(top.map(\.label), ["b", "a", "c"])
        XCTAssertEqual(Scoring.mean([[1, 0], [0, 1], [0.5, 0.5]]), [0.5, 0.5])
    }
}
