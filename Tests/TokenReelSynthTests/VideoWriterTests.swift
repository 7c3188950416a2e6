import XCTest
import TokenReelMedia
@testable import TokenReelSynth

/// VideoWriter round trips: encode with libavcodec, decode with the ffmpeg CLI, compare.
final class VideoWriterTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        VideoWriter.quietLibraryLogs()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tokenreel-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A small rotate_cw clip: 12-15 fps, at most 128x96, 2-3 s, without per-pixel noise (fresh
    /// noise in every frame is what inter-frame codecs smooth away first, and it would hide a
    /// frame offset from the comparison below).
    static let spec: Motion10ClipSpec = {
        var c = Motion10Constraints()
        c.maxWidth = 128; c.maxHeight = 96; c.maxFPS = 15; c.maxDuration = 3
        var spec = Motion10ClipSpec.random(.rotateCW, seed: 42, constraints: c)
        spec.noiseAmplitude = 0
        return spec
    }()

    func encode(_ codec: WriterCodec, spec: Motion10ClipSpec = VideoWriterTests.spec, name: String? = nil) throws -> (String, [[UInt8]]) {
        let path = dir.appendingPathComponent((name ?? codec.rawValue) + "." + codec.fileExtension).path
        let renderer = Motion10Renderer(spec: spec)
        let frames = (0..<spec.frameCount).map(renderer.frame)
        let writer = try VideoWriter(path: path, width: spec.width, height: spec.height,
                                     frameRate: WriterFrameRate(Int32(spec.fpsNumerator), Int32(spec.fpsDenominator)), codec: codec)
        for f in frames { try writer.write(rgb: f) }
        try writer.finish()
        XCTAssertTrue(writer.isFinished)
        XCTAssertEqual(writer.framesWritten, spec.frameCount)
        return (path, frames)
    }

    /// Mean absolute luma difference (0...255) the lossy codecs may leave. Luma, because 4:2:0
    /// chroma subsampling legitimately smears hard colour edges (stripes of opposite hues) by far
    /// more; colour fidelity is checked on flat colours in `testFlatColoursSurviveEncoding`.
    static let maxMeanAbsLumaError = 4.0

    func checkRoundTrip(_ codec: WriterCodec, expectedCodecName: String) throws {
        guard codec.isAvailable else { throw XCTSkip("\(codec.encoderName) is not in this libavcodec") }
        let spec = Self.spec
        let (path, frames) = try encode(codec)
        let info = try FFmpegCLI.probe(path)
        XCTAssertEqual(info.codec, expectedCodecName)
        XCTAssertEqual(info.width, spec.width); XCTAssertEqual(info.height, spec.height)
        XCTAssertEqual(info.frames, spec.frameCount, "frame count")
        XCTAssertEqual(info.frameRate, "\(spec.fpsNumerator)/\(spec.fpsDenominator)")
        XCTAssertEqual(info.pixelFormat, codec == .mjpeg ? "yuvj420p" : "yuv420p")

        let decoded = try FFmpegCLI.decodeRGB(path, width: spec.width, height: spec.height)
        XCTAssertEqual(decoded.count, frames.count)
        func lumaError(_ a: [UInt8], _ b: [UInt8]) -> Double {
            var sum = 0.0
            for i in 0..<(a.count / 3) { sum += abs(MotionProbe.luma(a, i) - MotionProbe.luma(b, i)) * 255 }
            return sum / Double(a.count / 3)
        }
        var worstLuma = 0.0
        for (i, b) in decoded.enumerated() {
            let e = lumaError(frames[i], b)
            worstLuma = max(worstLuma, e)
            // Decoded frame i is closest to rendered frame i, not to its neighbours (no offset).
            for j in [i - 1, i + 1] where frames.indices.contains(j) {
                XCTAssertLessThan(e, lumaError(frames[j], b), "\(codec): decoded frame \(i) looks more like rendered frame \(j)")
            }
        }
        XCTAssertLessThanOrEqual(worstLuma, Self.maxMeanAbsLumaError, "\(codec): worst frame mean |luma error| \(worstLuma)")
        // The motion survives encoding: measured from the decoded frames it is still clockwise.
        let turn = MotionProbe.totalTurnDegrees(MotionProbe.track(decoded, spec: spec))
        XCTAssert((180.0...360.0).contains(turn), "\(codec): decoded clip turns \(turn) degrees")
    }

    func testH264MP4RoundTrip() throws { try checkRoundTrip(.h264, expectedCodecName: "h264") }
    func testMPEG4AVIRoundTrip() throws { try checkRoundTrip(.mpeg4, expectedCodecName: "mpeg4") }
    func testMJPEGMOVRoundTrip() throws { try checkRoundTrip(.mjpeg, expectedCodecName: "mjpeg") }
    func testVP9WebMRoundTrip() throws { try checkRoundTrip(.vp9, expectedCodecName: "vp9") }
    func testHEVCMKVRoundTrip() throws { try checkRoundTrip(.hevc, expectedCodecName: "hevc") }

    /// Flat colours come back within a few levels per channel: catches a wrong YUV matrix,
    /// range (limited vs full), or swapped chroma planes.
    func testFlatColoursSurviveEncoding() throws {
        let colours: [[UInt8]] = [[200, 30, 40], [20, 180, 60], [40, 60, 220], [250, 250, 250], [10, 10, 10], [128, 128, 128]]
        for codec in WriterCodec.allCases where codec.isAvailable {
            let path = dir.appendingPathComponent("flat." + codec.fileExtension).path
            let writer = try VideoWriter(path: path, width: 32, height: 32, frameRate: .init(12), codec: codec)
            for c in colours { try writer.write(rgb: [UInt8]((0..<(32 * 32)).flatMap { _ in c })) }
            try writer.finish()
            let decoded = try FFmpegCLI.decodeRGB(path, width: 32, height: 32)
            XCTAssertEqual(decoded.count, colours.count, "\(codec)")
            for (c, frame) in zip(colours, decoded) {
                let centre = (16 * 32 + 16) * 3
                for k in 0..<3 {
                    XCTAssertLessThanOrEqual(abs(Int(frame[centre + k]) - Int(c[k])), 4, "\(codec) colour \(c) came back as \(Array(frame[centre..<(centre + 3)]))")
                }
            }
        }
    }

    /// Same frames, same options: the same bytes (single-threaded encoders, bit-exact flags).
    func testSameFramesGiveIdenticalBytes() throws {
        for codec in WriterCodec.allCases where codec.isAvailable {
            let (a, _) = try encode(codec, name: "a")
            let (b, _) = try encode(codec, name: "b")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)), "\(codec)")
        }
    }

    func testNTSCFrameRateIsKept() throws {
        var spec = Self.spec
        spec.fpsNumerator = 30000; spec.fpsDenominator = 1001; spec.frameCount = 60
        let (path, _) = try encode(.h264, spec: spec, name: "ntsc")
        let info = try FFmpegCLI.probe(path)
        XCTAssertEqual(info.frameRate, "30000/1001")
        XCTAssertEqual(info.frames, 60)
    }

    func testErrorsNameTheFileAndTheCall() throws {
        let missing = dir.appendingPathComponent("no/such/dir/x.mp4").path
        XCTAssertThrowsError(try VideoWriter(path: missing, width: 64, height: 64, frameRate: .init(25), codec: .mpeg4)) { error in
            let e = error as? WriterError
            XCTAssertEqual(e?.path, missing)
            XCTAssertEqual(e?.call, "avio_open")
            XCTAssert(e?.description.contains(missing) == true && e?.description.contains("No such file") == true, "\(error)")
        }
        let odd = dir.appendingPathComponent("odd.mp4").path
        XCTAssertThrowsError(try VideoWriter(path: odd, width: 65, height: 64, frameRate: .init(25), codec: .mpeg4)) { error in
            XCTAssert("\(error)".contains("65x64"), "\(error)")
        }
        let path = dir.appendingPathComponent("short.avi").path
        let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: .init(25), codec: .mpeg4)
        XCTAssertThrowsError(try writer.write(rgb: [UInt8](repeating: 0, count: 10))) { error in
            XCTAssert("\(error)".contains("64x48x3 = 9216"), "\(error)")
        }
        XCTAssertThrowsError(try writer.finish()) { error in XCTAssert("\(error)".contains("no frames"), "\(error)") }
    }

    func testUnfinishedFileIsRemoved() throws {
        let path = dir.appendingPathComponent("unfinished.avi").path
        do {
            let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: .init(25), codec: .mpeg4)
            try writer.write(rgb: [UInt8](repeating: 128, count: 64 * 48 * 3))
            XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "a dropped writer leaves no half-written file")
    }
}
