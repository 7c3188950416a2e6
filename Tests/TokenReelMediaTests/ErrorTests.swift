import Foundation
import XCTest
@testable import TokenReelMedia

/// Every failure names the file and its kind, for the probe and for the reader.
final class ErrorTests: XCTestCase {
    func write(_ name: String, _ data: Data) throws -> String {
        let path = TestVideos.directory.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A copy of `source` cut to `fraction` of its bytes.
    func truncated(_ source: String, fraction: Double, name: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        return try write(name, data.prefix(Int(Double(data.count) * fraction)))
    }

    /// Opens and decodes a 16-frame uniform plan; returns the error.
    func failure(_ path: String, options: DecodeOptions = .init(), file: StaticString = #filePath, line: UInt = #line) -> MediaError? {
        do {
            _ = try TestVideos.decodeAll(path, .uniform(frames: 16), options: options)
            XCTFail("\(path) decoded without error", file: file, line: line)
            return nil
        } catch let error as MediaError {
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(path), file: file, line: line)
            return error
        } catch {
            XCTFail("not a MediaError: \(error)", file: file, line: line)
            return nil
        }
    }

    func assertProbeFails(_ path: String, _ kind: MediaError.Kind, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try MediaProbe.probe(path: path), file: file, line: line) {
            XCTAssertEqual(($0 as? MediaError)?.kind, kind, file: file, line: line)
        }
    }

    func testFilesThatAreNotVideos() throws {
        let empty = try write("empty.mp4", Data())
        var generator = SystemRandomNumberGenerator()
        let random = try write("random.mp4", Data((0..<50_000).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        let text = try write("notes.mp4", Data(String(repeating: "this is a text file, not a video\n", count: 100).utf8))
        let audio = try TestVideos.make("audio-only.m4a", ["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac"])
        let missing = TestVideos.directory.appendingPathComponent("missing.mp4").path

        for (path, kind) in [(empty, MediaError.Kind.notMedia), (random, .notMedia), (text, .notMedia),
                             (audio, .noVideoStream), (missing, .notFound)] {
            XCTAssertEqual(failure(path)?.kind, kind, path)
            assertProbeFails(path, kind)
        }
        XCTAssertTrue(failure(audio)?.message.contains("audio") ?? false)
    }

    func testANameThatIsNotUTF8IsSaidToBeOne() throws {
        // A real file whose name has a byte that is not UTF-8: listing the directory gives the name
        // with U+FFFD, which no file has; the error must say why, not just "no such file".
        let dir = TestVideos.directory.appendingPathComponent("latin1-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var raw = Array(dir.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".mp4".utf8) + [0]
        let fd = raw.withUnsafeMutableBytes { open($0.baseAddress!.assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let listed = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(listed.count, 1)
        let path = dir.path + "/" + listed[0]
        XCTAssertTrue(path.contains("\u{FFFD}"), path)
        let error = failure(path)
        XCTAssertEqual(error?.kind, .notFound)
        XCTAssertTrue(error?.message.contains("not valid UTF-8") ?? false, error?.message ?? "")
        XCTAssertEqual(failure(dir.path + "/missing.mp4")?.message, "no such file")
    }

    func testUnknownCodecIsUnsupported() throws {
        // An AVI whose video fourcc (FMP4, in the stream header and format) names no codec FFmpeg knows.
        let source = try TestVideos.indexed("for-tag.avi", frames: 5, codec: ["-c:v", "mpeg4"])
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        let tag = Data("FMP4".utf8)
        var replaced = 0
        while let range = data.range(of: tag) { data.replaceSubrange(range, with: Data("QQQQ".utf8)); replaced += 1 }
        XCTAssertGreaterThan(replaced, 0)
        let path = try write("unknown-codec.avi", data)
        let error = failure(path)
        XCTAssertEqual(error?.kind, .unsupportedCodec)
        assertProbeFails(path, .unsupportedCodec)
    }

    func testTruncatedFilesSayWhereTheDataEnds() throws {
        let codec = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"]
        let fast = try TestVideos.indexed("whole-faststart.mp4", width: 128, height: 96, frames: 100, codec: codec + ["-movflags", "+faststart"])
        let error = failure(try truncated(fast, fraction: 0.5, name: "cut-faststart.mp4"))
        XCTAssertEqual(error?.kind, .truncated)
        XCTAssertNotNil(error?.timestamp)
        XCTAssertLessThan(error?.timestamp ?? 99, 3.5)

        let mkv = try TestVideos.indexed("whole.mkv", width: 128, height: 96, frames: 100, codec: codec)
        let mkvError = failure(try truncated(mkv, fraction: 0.5, name: "cut.mkv"))
        XCTAssertEqual(mkvError?.kind, .truncated)
        XCTAssertNotNil(mkvError?.timestamp)

        // moov at the end: the index is what got cut.
        let moovLast = try TestVideos.indexed("whole-moov-last.mp4", width: 128, height: 96, frames: 100, codec: codec)
        let cut = try truncated(moovLast, fraction: 0.5, name: "cut-moov-last.mp4")
        let moovError = failure(cut)
        XCTAssertEqual(moovError?.kind, .truncated)
        XCTAssertTrue(moovError?.ffmpegLog.contains { $0.contains("moov atom not found") } ?? false, "\(moovError?.ffmpegLog ?? [])")
        assertProbeFails(cut, .truncated)
    }

    func testCorruptDataIsReportedWithItsTimestamp() throws {
        let source = try TestVideos.indexed("for-corrupt.avi", width: 128, height: 96, frames: 50, codec: ["-c:v", "mjpeg"])
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        // Overwrite the JPEG data of the frames in the second half with garbage, keep the container intact.
        let start = data.count / 2
        for i in stride(from: start, to: data.count - 4096, by: 1) where i % 3 == 0 { data[i] = 0xFF }
        let path = try write("corrupt.avi", data)
        let error = failure(path)
        XCTAssertEqual(error?.kind, .corrupt, "\(String(describing: error))")
        XCTAssertNotNil(error?.timestamp)
        XCTAssertFalse(error?.ffmpegLog.isEmpty ?? true)
    }

    func testTimeSpentInTheClipHandlerIsNotDecodeTime() throws {
        let path = try TestVideos.indexed("slow-consumer.mp4", frames: 50, codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        let reader = try VideoReader(path: path, options: DecodeOptions(timeoutSeconds: 2))
        let plan = try SamplingPlan.make(for: reader.info, mode: .multiview(frames: 2, clips: 4, clipSeconds: nil, spatialCrops: 1))
        var delivered = 0
        // 4 x 0.7 s in the handler (a full queue downstream) exceeds the 2 s budget only if it counted.
        try reader.decode(plan, geometry: TestVideos.wholeFrame(reader.info)) { _ in
            delivered += 1
            Thread.sleep(forTimeInterval: 0.7)
        }
        XCTAssertEqual(delivered, 4)
    }

    func testDeadlineInterruptsTheFile() throws {
        let path = try TestVideos.indexed("deadline.mp4", frames: 10, codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        XCTAssertEqual(failure(path, options: DecodeOptions(timeoutSeconds: 1e-9))?.kind, .timeout)
        XCTAssertThrowsError(try MediaProbe.probe(path: path, options: DecodeOptions(timeoutSeconds: 1e-9))) {
            XCTAssertEqual(($0 as? MediaError)?.kind, .timeout)
        }
    }
}
