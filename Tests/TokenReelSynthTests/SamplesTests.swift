import XCTest
import TokenReelMedia
@testable import TokenReelSynth

/// The committed samples/ clips, decoded by the ffmpeg CLI (display rotation applied), show the
/// motion their labels name. Regenerate them with scripts/make-samples.sh.
final class SamplesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples")

    struct RealSample: Decodable { var path: String; var label: String; var source: Motion10ClipRecord }

    func lines(_ url: URL) throws -> [Substring] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(url.path) not found; run scripts/make-samples.sh") }
        return String(decoding: try Data(contentsOf: url), as: UTF8.self).split(separator: "\n")
    }

    /// Displayed size: coded size, swapped for a +-90 degree display rotation.
    func displayedSize(_ file: String) throws -> (Int, Int) {
        let out = try FFmpegCLI.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                "stream=width,height:stream_side_data=rotation", "-of", "default=noprint_wrappers=1", file])
        var f: [String: String] = [:]
        for line in String(decoding: out, as: UTF8.self).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1); if kv.count == 2 { f[String(kv[0])] = String(kv[1]) }
        }
        let (w, h) = (Int(f["width"] ?? "") ?? 0, Int(f["height"] ?? "") ?? 0)
        return abs(Int(f["rotation"] ?? "0") ?? 0) == 90 ? (h, w) : (w, h)
    }

    func measuredClass(_ file: String, spec: Motion10ClipSpec) throws -> Motion10Class? {
        let (w, h) = try displayedSize(file)
        let frames = try FFmpegCLI.decodeRGB(file, width: w, height: h)
        var shown = spec; shown.width = w; shown.height = h
        return MotionProbe.classify(MotionProbe.track(frames, spec: shown), width: w, height: h)
    }

    func testMotion10SamplesShowTheirLabels() throws {
        let dir = Self.root.appendingPathComponent("motion10")
        let records = try lines(dir.appendingPathComponent("labels.jsonl")).map { try JSONDecoder().decode(Motion10ClipRecord.self, from: Data($0.utf8)) }
        XCTAssertEqual(Set(records.map(\.label)), Set(Motion10Class.names), "every class has a sample")
        XCTAssertGreaterThanOrEqual(Set(records.map(\.codec)).count, 3, "several codecs")
        for r in records {
            let file = dir.appendingPathComponent(r.path).path
            XCTAssertEqual(try measuredClass(file, spec: r.spec)?.rawValue, r.label, r.path)
        }
    }

    func testRealLookingSamplesShowTheirDisplayedLabels() throws {
        let dir = Self.root.appendingPathComponent("real")
        let samples = try lines(dir.appendingPathComponent("labels.jsonl")).map { try JSONDecoder().decode(RealSample.self, from: Data($0.utf8)) }
        XCTAssertGreaterThanOrEqual(samples.count, 3)
        var portrait = false
        for s in samples {
            let file = dir.appendingPathComponent(s.path).path
            let (w, h) = try displayedSize(file)
            portrait = portrait || h > w
            XCTAssertEqual(try measuredClass(file, spec: s.source.spec)?.rawValue, s.label, s.path)
        }
        XCTAssertTrue(portrait, "a portrait sample")
    }

    func testSamplesStaySmall() throws {
        var total = 0
        let files = FileManager.default.enumerator(at: Self.root, includingPropertiesForKeys: [.fileSizeKey])
        while let url = files?.nextObject() as? URL { total += (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) ?? 0 }
        if total == 0 { throw XCTSkip("no samples/") }
        XCTAssertLessThan(total, 1_200_000, "samples/ holds \(total) bytes")
    }
}
