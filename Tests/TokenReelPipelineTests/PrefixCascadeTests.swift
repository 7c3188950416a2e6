import XCTest
import Logging
@testable import TokenReelPipeline

/// Cascades whose first stages see only the start of the clip (`first_frames`): the key, the
/// stages' inputs, and the engine decoding the rest of a clip only when those stages are unsure.
final class PrefixCascadeTests: XCTestCase {
    let quietLogger: Logger = { var l = Logger(label: "test"); l.logLevel = .critical; return l }()

    // MARK: Configuration

    static let threeStages = """
        cascade:
          - model: a
            first_frames: 8
            frames: 8
            threshold: 0.9
          - model: b
            frames: 8
            threshold: 0.7
          - model: c
        sampling:
          mode: uniform
        """

    func testFirstFramesParsesOnLeadingStagesOnly() throws {
        let c = try PipelineConfig.parse(yaml: Self.threeStages, file: "p.yaml")
        XCTAssertEqual(c.cascade?.map(\.firstFrames), [8, nil, nil])
        // It changes results, so it changes the hash; without it the hash is what it was.
        var without = c
        without.cascade![0].firstFrames = nil
        XCTAssertNotEqual(without.hash, c.hash)
        let plain = try PipelineConfig.parse(yaml: Self.threeStages.replacingOccurrences(of: "    first_frames: 8\n", with: ""), file: "p.yaml")
        XCTAssertEqual(plain.hash, without.hash)
        // Two leading stages with the same start are fine.
        let two = Self.threeStages.replacingOccurrences(of: "    frames: 8\n    threshold: 0.7", with: "    first_frames: 8\n    frames: 4\n    threshold: 0.7")
        XCTAssertEqual(try PipelineConfig.parse(yaml: two, file: "p.yaml").cascade?.map(\.firstFrames), [8, 8, nil])
    }

    func testFirstFramesErrorsNameTheKey() {
        let s = Self.threeStages
        expectError(s.replacingOccurrences(of: "  - model: c\n", with: "  - model: c\n    first_frames: 8\n"),
                    key: "cascade[2].first_frames", containing: ["last stage"])
        expectError(s.replacingOccurrences(of: "    frames: 8\n    threshold: 0.7", with: "    first_frames: 4\n    frames: 4\n    threshold: 0.7"),
                    key: "cascade[1].first_frames", containing: ["differs", "8"])
        expectError(s.replacingOccurrences(of: "    first_frames: 8\n", with: "")
                        .replacingOccurrences(of: "    frames: 8\n    threshold: 0.7", with: "    first_frames: 8\n    threshold: 0.7"),
                    key: "cascade[1].first_frames", containing: ["only the first stages", "cascade[0]"])
        expectError(s.replacingOccurrences(of: "first_frames: 8", with: "first_frames: 0"), key: "cascade[0].first_frames", containing: ["1...1024"])
        expectError(s.replacingOccurrences(of: "mode: uniform", with: "mode: sliding\n  clip_seconds: 1"), key: "sampling.mode", containing: ["'sliding'", "uniform"])
        expectError(s.replacingOccurrences(of: "mode: uniform", with: "mode: multiview"), key: "sampling.mode", containing: ["'multiview'"])
    }

    func testLoadingChecksFirstFramesAgainstTheStages() throws {
        let keep = CascadeTests.fixtures.appendingPathComponent("keep_vivit_gap.safetensors").path   // 8x16x16, tubelet 2x4x4
        func load(_ stages: String) throws -> CascadeModel<VideoModelAdapter> {
            let dir = try TestPaths.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("p.yaml").path
            try Data("cascade:\n\(stages)".utf8).write(to: URL(fileURLWithPath: path))
            return try CascadeModel.load(config: PipelineConfig.load(path: path))
        }
        let good = try load("  - model: \(keep)\n    first_frames: 4\n    frames: 4\n    threshold: 0.5\n  - model: \(keep)\n")
        XCTAssertEqual(good.prefixFrames, 4)
        XCTAssertEqual(good.stages.map(\.firstFrames), [4, nil])
        XCTAssertNil(good.runningEveryStage().prefixFrames, "calibration decodes whole clips")
        XCTAssertThrowsError(try load("  - model: \(keep)\n    first_frames: 2\n    threshold: 0.5\n  - model: \(keep)\n")) { error in
            XCTAssertEqual((error as? PipelineConfigError)?.key, "cascade[0].first_frames", "\(error)")
            XCTAssertTrue("\(error)".contains("takes 8"), "\(error)")
        }
        XCTAssertThrowsError(try load("  - model: \(keep)\n    first_frames: 8\n    frames: 4\n    threshold: 0.5\n  - model: \(keep)\n")) { error in
            XCTAssertEqual((error as? PipelineConfigError)?.key, "cascade[0].first_frames", "\(error)")
            XCTAssertTrue("\(error)".contains("decodes 8"), "\(error)")
        }
    }

    // MARK: The stages' inputs

    func testAPrefixStageSeesTheSameFramesFromAPrefixAsFromTheWholeClip() throws {
        let (first, full) = (PixelStage(name: "first", flops: 10), PixelStage(name: "full", flops: 100))
        let cascade = CascadeModel(stages: [
            .init(model: first, frames: 2, height: 1, width: 1, threshold: 0.5, firstFrames: 3),
            .init(model: full, frames: 4, height: 2, width: 2, threshold: nil),
        ])
        let whole = PrefixDecoder.clip(base: 20, frames: 4)
        let fromPrefix = try cascade.embed(whole.prefix(3), workspace: cascade.makeWorkspace())
        let fromWhole = try cascade.runningEveryStage().embed(whole, workspace: cascade.makeWorkspace())
        XCTAssertEqual(fromPrefix.first, fromWhole.first)
        XCTAssertEqual(fromPrefix.first.frames, 2)
        // Frames 0 and 2 of the first 3 (middles of two equal parts), each box-filtered to 1x1.
        XCTAssertEqual(fromPrefix.first.pixels, [20, 20, 20, 22, 22, 22])
        XCTAssertTrue(fromPrefix.isPrefix)
        // A prefix of the wrong length is an internal error, not a wrong answer.
        XCTAssertThrowsError(try cascade.embed(whole.prefix(2), workspace: cascade.makeWorkspace()))
        XCTAssertThrowsError(try cascade.embed(whole.prefix(4), workspace: cascade.makeWorkspace()))
    }

    func testUnsurePrefixesAskForTheWholeClipAndGoOnFromThere() throws {
        let (a, b, c) = (PixelStage(name: "a", flops: 10), PixelStage(name: "b", flops: 20), PixelStage(name: "c", flops: 100))
        let cascade = CascadeModel(stages: [
            .init(model: a, frames: 2, height: 2, width: 2, threshold: 0.9, firstFrames: 2),
            .init(model: b, frames: 2, height: 2, width: 2, threshold: 0.9, firstFrames: 2),
            .init(model: c, frames: 4, height: 2, width: 2, threshold: nil),
        ])
        let ws = cascade.makeWorkspace()
        let sure = PrefixDecoder.clip(base: PrefixDecoder.sure, frames: 4), unsure = PrefixDecoder.clip(base: PrefixDecoder.unsure, frames: 4)
        let out = cascade.classify([try cascade.embed(sure.prefix(2), workspace: ws), try cascade.embed(unsure.prefix(2), workspace: ws)],
                                   workspace: ws).map { try? $0.get() }
        XCTAssertEqual(out[0]?.exitStage, 0)
        XCTAssertEqual(out[0]?.needsWholeClip, false)
        let pending = try XCTUnwrap(out[1])
        XCTAssertTrue(pending.needsWholeClip)
        XCTAssertNil(pending.exitStage)
        XCTAssertEqual(pending.flops, 30)                          // both prefix stages ran
        XCTAssertEqual(pending.stageLogits.count, 2)
        XCTAssertEqual(c.classified, 0)

        var whole = unsure
        whole.earlier = pending
        let tokens = try cascade.embed(whole, workspace: ws)
        XCTAssertEqual(tokens.start, 2)
        XCTAssertEqual(a.embedded, 2)
        XCTAssertEqual(b.embedded, 1)
        let final = try XCTUnwrap(try? cascade.classify([tokens], workspace: ws)[0].get())
        XCTAssertEqual(final.exitStage, 2)
        XCTAssertEqual(final.flops, 130)
        XCTAssertEqual(final.stageLogits.count, 3)
        XCTAssertEqual(Array(final.stageLogits.prefix(2)), pending.stageLogits)
        XCTAssertFalse(final.needsWholeClip)
        XCTAssertEqual(c.geometries, [[4, 2, 2]])
        XCTAssertEqual(a.classified, 2)
        XCTAssertEqual(b.classified, 1)
    }

    // MARK: The engine

    func testTheRestIsDecodedOnlyForClipsTheStartLeftUnsure() throws {
        let root = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let input = root.appendingPathComponent("in")
        var kinds: [String: String] = [:]
        for i in 0 ..< 40 {
            let kind = i == 7 ? "broken-rest" : i == 11 ? "garbage" : i % 3 == 0 ? "unsure" : "sure"
            kinds["v\(i).mp4.json"] = kind
            try writeFake(input, "v\(i).mp4", kind)
        }
        let (a, c) = (PixelStage(name: "a", flops: 10), PixelStage(name: "c", flops: 100))
        let cascade = CascadeModel(stages: [
            .init(model: a, frames: 2, height: 1, width: 1, threshold: 0.9, firstFrames: 2),
            .init(model: c, frames: 4, height: 2, width: 2, threshold: nil),
        ])
        let decoder = PrefixDecoder()
        var config = testConfig(decode: 2, queue: 1, batch: 3)
        config.output.probabilities = true
        let outcome = try RunSession(inputRoot: input.path, outputRoot: root.appendingPathComponent("out").path, config: config,
                                     decoder: decoder, model: cascade, logger: quietLogger).run()
        let results = try readResults(root.appendingPathComponent("out"))
        XCTAssertEqual(results.count, 40)
        let unsure = kinds.filter { $0.value == "unsure" }.keys, sure = kinds.filter { $0.value == "sure" }.keys
        for name in sure {
            let clip = try XCTUnwrap(results[name]?.clips.first, name)
            XCTAssertEqual(clip.exitStage, 0, name)
            XCTAssertEqual(clip.flops, 10, name)
            XCTAssertEqual(clip.frameTimestamps.count, 2, "a clip settled from its start records the frames decoded")
            XCTAssertEqual(clip.timestamps.count, 2)
        }
        for name in unsure {
            let clip = try XCTUnwrap(results[name]?.clips.first, name)
            XCTAssertEqual(clip.exitStage, 1, name)
            XCTAssertEqual(clip.flops, 110, name)
            XCTAssertEqual(clip.frameTimestamps.count, 4)
            XCTAssertEqual(clip.label, "left")
            XCTAssertEqual(clip.stageProbabilities?.count, 2)
        }
        XCTAssertEqual(results["v7.mp4.json"]?.error?.kind, "corrupt")
        XCTAssertTrue(results["v7.mp4.json"]?.error?.message.contains("rest") ?? false)
        XCTAssertEqual(results["v11.mp4.json"]?.error?.kind, "not_media")
        // Only the unsure (and the broken one, whose start was unsure) had their rest decoded,
        // each exactly once; every rest, decoded or not, was let go (the files closed).
        XCTAssertEqual(decoder.counts.prefixes, 39)
        XCTAssertEqual(decoder.counts.restsDecoded, unsure.count + 1)
        XCTAssertEqual(decoder.counts.restsAlive, 0)
        XCTAssertEqual(c.classified, unsure.count)
        XCTAssertEqual(c.geometries, [[4, 2, 2]])
        XCTAssertEqual(a.classified, 39)
        let flops = try XCTUnwrap(outcome.summary.flops)
        XCTAssertEqual(flops.exits, [sure.count, unsure.count])
        XCTAssertEqual(flops.total, 10 * sure.count + 110 * unsure.count)
        XCTAssertEqual(outcome.summary.counts.ok, 38)
    }

    func testShuffledFramesDecodeTheWholeClip() throws {
        let root = try TestPaths.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let input = root.appendingPathComponent("in")
        for i in 0 ..< 3 { try writeFake(input, "v\(i).mp4", "unsure") }
        let cascade = CascadeModel(stages: [
            .init(model: PixelStage(name: "a", flops: 10), frames: 2, height: 2, width: 2, threshold: 0.9, firstFrames: 2),
            .init(model: PixelStage(name: "c", flops: 100), frames: 4, height: 2, width: 2, threshold: nil),
        ])
        let decoder = PrefixDecoder()
        var config = testConfig()
        config.preprocess.shuffleFrames = true
        _ = try RunSession(inputRoot: input.path, outputRoot: root.appendingPathComponent("out").path, config: config,
                           decoder: decoder, model: cascade, logger: quietLogger).run()
        XCTAssertEqual(decoder.counts.prefixes, 0)
        XCTAssertEqual(try readResults(root.appendingPathComponent("out")).values.map { $0.clips.first?.exitStage }, [1, 1, 1])
    }
}

/// Tokens of ``PixelStage``: the clip's pixels and geometry.
struct PixelTokens: Sendable, Equatable { var pixels: [UInt8]; var frames: Int; var height: Int; var width: Int }

/// A stage double whose logits depend on the clip's first pixel: ``PrefixDecoder/sure`` gives a
/// confident `static`, anything else a flat answer with `left` on top.
final class PixelStage: ClipModel, @unchecked Sendable {
    typealias Tokens = PixelTokens
    final class Workspace {}
    let name: String
    let sha256 = String(repeating: "d", count: 64)
    let labels = ["static", "left", "right", "up", "down"]
    let stageCount = 1
    let fullFlopsPerClip: Int
    private let lock = NSLock()
    private var counts = (embedded: 0, classified: 0)
    private var seen: Set<[Int]> = []

    init(name: String, flops: Int) { self.name = name; self.fullFlopsPerClip = flops }
    var embedded: Int { lock.lock(); defer { lock.unlock() }; return counts.embedded }
    var classified: Int { lock.lock(); defer { lock.unlock() }; return counts.classified }
    var geometries: [[Int]] { lock.lock(); defer { lock.unlock() }; return seen.sorted { $0.lexicographicallyPrecedes($1) } }

    func makeWorkspace() -> Workspace { Workspace() }

    func embed(_ clip: ClipFrames, workspace: Workspace) throws -> PixelTokens {
        lock.lock(); counts.embedded += 1; seen.insert([clip.frames, clip.height, clip.width]); lock.unlock()
        return PixelTokens(pixels: clip.pixels, frames: clip.frames, height: clip.height, width: clip.width)
    }

    func classify(_ batch: [PixelTokens], workspace: Workspace) -> [Result<ClipOutput, StageFailure>] {
        lock.lock(); counts.classified += batch.count; lock.unlock()
        return batch.map { t in
            .success(ClipOutput(logits: t.pixels.first == PrefixDecoder.sure ? [9, 0, 0, 0, 0] : [0, 0.5, 0, 0, 0], flops: fullFlopsPerClip))
        }
    }
}

/// A two-part decoder double. A fake video's text is its kind: `sure` or `unsure` (the first
/// pixel the stage doubles read), `broken-rest` (an unsure start whose rest fails to decode);
/// anything else is not media. Every video has one clip of 4 frames of 2x2; frame j's pixels
/// are all base + j. Counts prefixes, rests decoded and rests still held.
final class PrefixDecoder: VideoDecoding, @unchecked Sendable {
    static let sure: UInt8 = 10, unsure: UInt8 = 20

    final class Counts: @unchecked Sendable {
        private let lock = NSLock()
        private var values = (prefixes: 0, restsDecoded: 0, restsAlive: 0)
        func add(prefixes: Int = 0, decoded: Int = 0, alive: Int = 0) {
            lock.lock(); values.prefixes += prefixes; values.restsDecoded += decoded; values.restsAlive += alive; lock.unlock()
        }
        var prefixes: Int { lock.lock(); defer { lock.unlock() }; return values.prefixes }
        var restsDecoded: Int { lock.lock(); defer { lock.unlock() }; return values.restsDecoded }
        var restsAlive: Int { lock.lock(); defer { lock.unlock() }; return values.restsAlive }
    }
    let counts = Counts()

    static func clip(base: UInt8, frames: Int) -> ClipFrames {
        let pixels = (0 ..< frames).flatMap { j in [UInt8](repeating: base + UInt8(j), count: 12) }
        let times = (0 ..< frames).map { Double($0) * 0.25 }
        return ClipFrames(index: 0, start: 0, end: 1, timestamps: times, frameTimestamps: times, crop: "center",
                          repeatedFrames: false, pixels: pixels, frames: frames, height: 2, width: 2)
    }

    private func open(_ path: String, _ opened: (ProbeReport) throws -> Void) throws -> String {
        let kind = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard ["sure", "unsure", "broken-rest"].contains(kind) else { throw StageFailure(kind: "not_media", message: "\(path): not a fake video") }
        try opened(ProbeReport(probe: .object(["container": .string("fake")]), clipCount: 1))
        return kind
    }

    func decode(path: String, opened: (ProbeReport) throws -> Void, clip: (ClipFrames) throws -> Void) throws {
        try clip(Self.clip(base: try open(path, opened) == "sure" ? Self.sure : Self.unsure, frames: 4))
    }

    final class Rest: ClipRest, @unchecked Sendable {
        let whole: ClipFrames, broken: Bool, counts: Counts
        init(whole: ClipFrames, broken: Bool, counts: Counts) {
            self.whole = whole; self.broken = broken; self.counts = counts
            counts.add(alive: 1)
        }
        deinit { counts.add(alive: -1) }
        func decode() throws -> ClipFrames {
            counts.add(decoded: 1)
            if broken { throw StageFailure(kind: "corrupt", message: "the rest of the clip is broken") }
            return whole
        }
    }

    func decode(path: String, firstFrames: Int, opened: (ProbeReport) throws -> Void, prefix: (ClipFrames, ClipRest) throws -> Void) throws {
        let kind = try open(path, opened)
        let whole = Self.clip(base: kind == "sure" ? Self.sure : Self.unsure, frames: 4)
        counts.add(prefixes: 1)
        try prefix(whole.prefix(firstFrames), Rest(whole: whole, broken: kind == "broken-rest", counts: counts))
    }
}
