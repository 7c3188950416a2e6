import XCTest
import Foundation
import TokenReelPipeline

// Deterministic test doubles for the decode, tokenize and infer stages, so queues, batching,
// resume, shards, signals and JSON are tested without FFmpeg or BLAS.
//
// A fake "video" is a text file:
//   clips=N            N clips of T=2 frames of 2x2 pixels, derived from the file's bytes
//   clips=N fail=K     throws `corrupt` after K clips
//   clips=N nan        every clip makes the model return NaN logits
// Anything else is `not_media`; a missing file is `not_found`.

/// Counts clips alive between decode and infer, and the most at once.
final class LiveClips: @unchecked Sendable {
    private let lock = NSLock()
    private var live = 0
    private(set) var peak = 0
    func add(_ n: Int) { lock.lock(); live += n; peak = max(peak, live); lock.unlock() }
    var maximum: Int { lock.lock(); defer { lock.unlock() }; return peak }
}

struct FakeDecoder: VideoDecoding {
    var live: LiveClips? = nil
    /// Called with the path before each file is opened (on the decode worker).
    var beforeOpen: (@Sendable (String) -> Void)? = nil

    func decode(path: String, opened: (ProbeReport) throws -> Void, clip: (ClipFrames) throws -> Void) throws {
        beforeOpen?(path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StageFailure(kind: "not_found", message: "\(path): cannot open")
        }
        let words = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard let first = words.first, first.hasPrefix("clips="), let n = Int(first.dropFirst(6)) else {
            throw StageFailure(kind: "not_media", message: "\(path): not a fake video")
        }
        let failAfter = words.first { $0.hasPrefix("fail=") }.flatMap { Int($0.dropFirst(5)) }
        let nan = words.contains("nan")
        try opened(ProbeReport(probe: .object(["container": .string("fake"), "clips": .number(Double(n))]), clipCount: n))
        let seed = Shard.fnv1a(String(decoding: data, as: UTF8.self))
        for i in 0 ..< n {
            if i == failAfter { throw StageFailure(kind: "corrupt", message: "\(path): broken after \(i) clips") }
            let pixels: [UInt8] = nan ? [UInt8](repeating: 255, count: 24)
                : (0 ..< 24).map { UInt8(truncatingIfNeeded: (seed >> UInt64(($0 + i * 7) % 56)) &+ UInt64($0 * 31 + i * 17)) }
            live?.add(1)
            try clip(ClipFrames(index: i, start: Double(i), end: Double(i + 1), timestamps: [Double(i), Double(i) + 0.5],
                                frameTimestamps: [Double(i), Double(i) + 0.5], crop: "center", repeatedFrames: false,
                                pixels: pixels, frames: 2, height: 2, width: 2))
        }
    }
}

final class FakeModel: ClipModel, @unchecked Sendable {
    typealias Tokens = [Float]
    final class Workspace { let id = UUID() }

    let name = "fake-model"
    let sha256 = String(repeating: "ab", count: 32)
    let labels = ["static", "left", "right", "up", "down"]
    let stageCount = 1
    /// FLOPs every clip is said to cost.
    static let flopsPerClip = 1_000
    var fullFlopsPerClip: Int { Self.flopsPerClip }
    var live: LiveClips? = nil
    /// Called at the start of every classify call with its 0-based number and batch size.
    var beforeClassify: ((Int, Int) -> Void)? = nil
    /// Called after every embed with the running count.
    var afterEmbed: ((Int) -> Void)? = nil

    private let lock = NSLock()
    private var classifyCalls = 0
    private var embeds = 0
    private(set) var batchSizes: [Int] = []

    func makeWorkspace() -> Workspace { Workspace() }

    func embed(_ clip: ClipFrames, workspace: Workspace) throws -> [Float] {
        guard clip.pixels.count == clip.frames * clip.height * clip.width * 3 else {
            throw StageFailure(kind: "internal", message: "clip \(clip.index): wrong pixel count")
        }
        var channel = [Float](repeating: 0, count: 3)
        for (i, p) in clip.pixels.enumerated() { channel[i % 3] += Float(p) / 255 }
        lock.lock(); embeds += 1; let n = embeds; lock.unlock()
        afterEmbed?(n)
        return channel
    }

    func classify(_ batch: [[Float]], workspace: Workspace) -> [Result<ClipOutput, StageFailure>] {
        lock.lock(); let call = classifyCalls; classifyCalls += 1; batchSizes.append(batch.count); lock.unlock()
        beforeClassify?(call, batch.count)
        live?.add(-batch.count)
        return batch.map { .success(ClipOutput(logits: logits($0), flops: Self.flopsPerClip)) }
    }

    /// The logits of one clip's tokens.
    func logits(_ t: [Float]) -> [Float] {
        if t.allSatisfy({ $0 == 8 }) { return [Float](repeating: .nan, count: labels.count) }   // all-255 pixels
        return (0 ..< labels.count).map { c in t[c % 3] * Float(c + 1) - t[(c + 1) % 3] * 0.5 }
    }
}

/// Writes a fake video file (creating directories).
func writeFake(_ root: URL, _ relative: String, _ content: String) throws {
    let url = root.appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(content.utf8).write(to: url)
}

/// A test configuration: small queues so back-pressure really happens.
func testConfig(decode: Int = 2, tokenize: Int = 1, infer: Int = 1, queue: Int = 2, batch: Int = 4) -> PipelineConfig {
    var c = PipelineConfig(name: "test", modelPath: "/nonexistent/fake.safetensors")
    c.workers.decode = decode; c.workers.tokenize = tokenize; c.workers.infer = infer
    c.workers.queueCapacity = queue; c.workers.batchSize = batch
    c.output.topK = 3
    return c
}

/// A result with its timings zeroed, for comparing runs.
func withoutTimings(_ r: VideoResult) -> VideoResult {
    var r = r
    r.timing = .init(decode: 0, tokenize: 0, infer: 0)
    return r
}

/// Every `*.json` result under `out` (not manifest or summary), by relative path.
func readResults(_ out: URL) throws -> [String: VideoResult] {
    var results: [String: VideoResult] = [:]
    let base = out.path + "/"
    let e = FileManager.default.enumerator(atPath: out.path)!
    while let rel = e.nextObject() as? String {
        guard rel.hasSuffix(".json"), !rel.hasPrefix("summary"), !(rel as NSString).lastPathComponent.hasPrefix(".") else { continue }
        results[rel] = try JSONDecoder().decode(VideoResult.self, from: Data(contentsOf: URL(fileURLWithPath: base + rel)))
    }
    return results
}

extension XCTestCase {
    /// Parsing `yaml` (as `pipes/bad.yaml`) fails with an error naming that file and `key`, whose
    /// text contains every string of `containing`.
    func expectError(_ yaml: String, key: String, containing: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: yaml, file: "pipes/bad.yaml"), file: file, line: line) { error in
            guard let e = error as? PipelineConfigError else { return XCTFail("wrong error \(error)", file: file, line: line) }
            XCTAssertEqual(e.key, key, "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix("pipes/bad.yaml"), e.description, file: file, line: line)
            for c in containing { XCTAssertTrue(e.description.contains(c), "\(e.description) lacks \(c)", file: file, line: line) }
        }
    }
}
