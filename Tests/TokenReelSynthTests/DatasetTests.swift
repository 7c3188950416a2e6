import XCTest
import TokenReelMedia
@testable import TokenReelSynth

/// The on-disk set: layout, labels.jsonl, determinism, independence from --per-class.
final class DatasetTests: XCTestCase {
    static func tiny(_ root: URL, perClass: Int = 1, seed: UInt64 = 7) -> Motion10Dataset {
        var c = Motion10Constraints()
        c.maxWidth = 112; c.maxHeight = 96; c.maxFPS = 12; c.maxDuration = 2.2
        return Motion10Dataset(root: root, perClass: perClass, seed: seed,
                               codecs: WriterCodec.allCases.filter(\.isAvailable), constraints: c)
    }

    func testLayoutLabelsAndByteIdenticalRegeneration() throws {
        VideoWriter.quietLibraryLogs()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("tokenreel-set-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let a = base.appendingPathComponent("a"), b = base.appendingPathComponent("b")
        let records = try Self.tiny(a).generate(jobs: 2)
        _ = try Self.tiny(b).generate(jobs: 1)

        XCTAssertEqual(records.count, 10)
        XCTAssertEqual(Set(records.map(\.label)), Set(Motion10Class.names))
        XCTAssertGreaterThanOrEqual(Set(records.map(\.codec)).count, 3, "several codecs in one set")
        for r in records {
            let parts = r.path.split(separator: "/")
            XCTAssertEqual(parts.count, 2); XCTAssertEqual(String(parts[0]), r.label)
            XCTAssert(r.path.hasSuffix("." + WriterCodec(rawValue: r.codec)!.fileExtension))
            XCTAssertEqual(r.spec.motionClass.rawValue, r.label)
            XCTAssertEqual(r.labelIndex, r.spec.motionClass.index)
            let fileA = try Data(contentsOf: a.appendingPathComponent(r.path))
            let fileB = try Data(contentsOf: b.appendingPathComponent(r.path))
            XCTAssertGreaterThan(fileA.count, 1000)
            XCTAssertEqual(fileA, fileB, "\(r.path) differs between two runs with the same seed")
        }
        let labelsA = try Data(contentsOf: a.appendingPathComponent("labels.jsonl"))
        XCTAssertEqual(labelsA, try Data(contentsOf: b.appendingPathComponent("labels.jsonl")))
        let lines = String(decoding: labelsA, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 10)
        let decoded = try lines.map { try JSONDecoder().decode(Motion10ClipRecord.self, from: Data($0.utf8)) }
        XCTAssertEqual(decoded, records)

        // The file really holds what the record says.
        let r = records[3]
        let info = try FFmpegCLI.probe(a.appendingPathComponent(r.path).path)
        XCTAssertEqual(info.width, r.spec.width); XCTAssertEqual(info.height, r.spec.height)
        XCTAssertEqual(info.frames, r.spec.frameCount)
    }

    func testClipsDoNotDependOnSetSizeAndDifferBySeed() {
        let root = URL(fileURLWithPath: "/unused")
        let one = Self.tiny(root, perClass: 1).plan(), three = Self.tiny(root, perClass: 3).plan()
        XCTAssertEqual(three.count, 30)
        for r in one { XCTAssertEqual(three.first { $0.path == r.path }, r) }
        let other = Self.tiny(root, perClass: 1, seed: 8).plan()
        XCTAssertNotEqual(one.map(\.spec.seed), other.map(\.spec.seed))
    }

    func testOutputThatIsAFileIsAClearError() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tokenreel-notadir-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertThrowsError(try Self.tiny(file).generate()) { error in
            XCTAssertEqual("\(error)", "\(file.path): exists and is not a directory")
        }
    }
}
