import Foundation
import XCTest
@testable import TokenReelMedia

/// Containers, codecs, pixel formats, sizes, variable frame rate and display rotation.
final class FormatTests: XCTestCase {
    func testContainersAndCodecs() throws {
        let cases: [(String, [String])] = [
            ("h264.mkv", ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"]),
            ("hevc.mp4", ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none:bframes=2", "-tag:v", "hvc1"]),
            ("hevc.mkv", ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none:keyint=12"]),
            ("vp9.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "12"]),
            ("mpeg4.avi", ["-c:v", "mpeg4", "-q:v", "3", "-bf", "2"]),
            ("mjpeg.mov", ["-c:v", "mjpeg", "-q:v", "3"]),
            ("h264.mov", ["-c:v", "libx264", "-preset", "ultrafast"]),
            ("h264-faststart.mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-g", "12", "-movflags", "+faststart"]),
            ("h264.ts", ["-c:v", "libx264", "-preset", "ultrafast", "-g", "12"]),
            ("av1.mkv", ["-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "40", "-b:v", "0", "-g", "12"]),
            ("raw.h264", ["-c:v", "libx264", "-preset", "ultrafast", "-g", "12"]),   // no container timestamps at all
            ("h264.m2ts", ["-c:v", "libx264", "-preset", "ultrafast", "-g", "12"]),
            ("mpeg2.vob", ["-c:v", "mpeg2video", "-q:v", "3", "-bf", "2"]),
            ("vp9.ivf", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "12"]),
            ("yuv.y4m", ["-pix_fmt", "yuv420p"]),
            ("pal8.gif", ["-c:v", "gif"]),   // palette frames, timestamps in centiseconds
        ]
        for (name, codec) in cases {
            let path = try TestVideos.indexed(name, frames: 40, codec: codec)
            try assertPicksMatchFFmpeg(path, .uniform(frames: 8))
            try assertPicksMatchFFmpeg(path, .multiview(frames: 3, clips: 3, clipSeconds: 0.4, spatialCrops: 1))
            let info = try MediaProbe.probe(path: path)
            XCTAssertEqual(info.frameCount, 40, name)
            XCTAssertEqual(info.duration, 1.6, accuracy: 0.05, name)
            // The reader plans clips over the same duration (MPEG-PS/TS estimate it short with B-frames).
            XCTAssertEqual(try VideoReader(path: path).info.duration, 1.6, accuracy: 0.05, name)
            XCTAssertEqual(info.avgFrameRate ?? info.realFrameRate ?? 0, 25, accuracy: 0.01, name)   // IVF stores only the latter
        }
    }

    func testAudioLongerThanVideoIsNotTruncation() throws {
        // The container's duration covers 4 s of audio; the video stops after 2 s, cleanly.
        for name in ["long-audio.mkv", "long-audio.ts"] {
            let path = try TestVideos.make(name, ["-f", "lavfi", "-i", TestVideos.indexSource(frames: 50), "-f", "lavfi", "-i", "sine=d=4",
                                                  "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "mp2"])
            let clips = try assertPicksMatchFFmpeg(path, .uniform(frames: 8))
            XCTAssertEqual(clips.count, 1, name)
        }
        let info = try MediaProbe.probe(path: TestVideos.directory.appendingPathComponent("long-audio.mkv").path)
        XCTAssertEqual(info.duration, 2, accuracy: 0.05)
        XCTAssertTrue(info.hasAudio)
    }

    func testVariableFrameRate() throws {
        // 60 frames: 20 at 25 fps, 20 at 10 fps, 20 at 50 fps (timestamps, not duplicated frames).
        let pts = "setpts='(if(lt(N,20),N*0.04,if(lt(N,40),0.8+(N-20)*0.1,2.8+(N-40)*0.02)))/TB'"
        for name in ["vfr.mkv", "vfr.mp4"] {
            let path = try TestVideos.indexed(name, frames: 60, filters: pts,
                                              codec: ["-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"])
            let times = try TestVideos.frameTimes(path)
            XCTAssertEqual(times.count, 60)
            XCTAssertEqual(times[30], 1.8, accuracy: 0.002)
            try assertPicksMatchFFmpeg(path, .uniform(frames: 16))
            try assertPicksMatchFFmpeg(path, .sliding(frames: 5, clipSeconds: 0.5, strideSeconds: 0.35, tail: .shift))
            try assertSameFramesForEveryStrategy(path, .sliding(frames: 5, clipSeconds: 0.5, strideSeconds: 0.35, tail: .pad))
        }
    }

    func testPixelFormatsAndOddSizes() throws {
        let cases: [(String, Int, Int, [String], Int, String)] = [
            ("odd.mkv", 65, 49, ["-c:v", "ffv1", "-pix_fmt", "yuv420p"], 8, "yuv420p"),
            ("odd-444.mp4", 63, 47, ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"], 8, "yuv444p"),
            ("10bit.mkv", 64, 48, ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none", "-pix_fmt", "yuv420p10le"], 10, "yuv420p10le"),
            ("444.mp4", 64, 48, ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"], 8, "yuv444p"),
            ("grey.mkv", 63, 47, ["-c:v", "ffv1", "-pix_fmt", "gray"], 8, "gray"),
            ("10bit-444.mkv", 64, 48, ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p10le"], 10, "yuv444p10le"),
        ]
        for (name, w, h, codec, depth, format) in cases {
            let path = try TestVideos.indexed(name, width: w, height: h, frames: 30, codec: codec)
            let info = try MediaProbe.probe(path: path)
            XCTAssertEqual(info.bitDepth, depth, name)
            XCTAssertEqual(info.pixelFormat, format, name)
            XCTAssertTrue((info.width, info.height) == (w, h), name)
            try assertPicksMatchFFmpeg(path, .uniform(frames: 6))
            // Model geometry: short side 32, centre crop 32x32 from odd sizes.
            let (_, _, clips) = try TestVideos.decodeAll(path, .uniform(frames: 6), geometry: { _ in
                FrameGeometry(shortSide: 33, cropWidth: 31, cropHeight: 32) })
            XCTAssertEqual(clips[0].pixels.count, 6 * 32 * 31 * 3, name)
        }
    }

    func testShortVideoRepeatsFrames() throws {
        let path = try TestVideos.indexed("five-frames.mp4", frames: 5, codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        let clips = try assertPicksMatchFFmpeg(path, .uniform(frames: 16))
        XCTAssertTrue(clips[0].plan.repeatedFrames)
        XCTAssertEqual((0..<16).map { TestVideos.frameIndex(clips[0], frame: $0) }, (0..<16).map { (2 * $0 + 1) * 5 / 32 })
        let one = try TestVideos.indexed("one-frame.mkv", frames: 1, codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        let single = try assertPicksMatchFFmpeg(one, .uniform(frames: 4))
        XCTAssertEqual(single[0].frameTimestamps, [0, 0, 0, 0])
    }

    // MARK: - Against the ffmpeg CLI's own pixels

    /// ffmpeg's frames `indices` (decode order) through its scale (bilinear) and crop filters, as RGB24.
    /// The CLI applies the display rotation itself (autorotate) before filtering.
    func ffmpegFrames(_ path: String, indices: [Int], resized: (Int, Int), crop: (w: Int, h: Int, x: Int, y: Int)) throws -> [Int: [UInt8]] {
        let unique = Array(Set(indices)).sorted()
        let select = unique.map { "eq(n\\,\($0))" }.joined(separator: "+")
        let graph = "select='\(select)',scale=\(resized.0):\(resized.1):flags=bilinear,crop=\(crop.w):\(crop.h):\(crop.x):\(crop.y)"
        let raw = try TestVideos.run("ffmpeg", ["-nostdin", "-v", "error", "-i", path, "-vf", graph, "-fps_mode", "passthrough",
                                                "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        let size = crop.w * crop.h * 3
        XCTAssertEqual(raw.count, unique.count * size)
        var frames: [Int: [UInt8]] = [:]
        for (k, index) in unique.enumerated() { frames[index] = [UInt8](raw[(k * size)..<((k + 1) * size)]) }
        return frames
    }

    /// Decodes `mode` and compares every frame with ffmpeg's rendering of the frame it should be.
    func assertPixelsMatchFFmpegCLI(_ path: String, _ mode: SamplingMode, geometry: FrameGeometry,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let times = try TestVideos.frameTimes(path)
        let (reader, plan, clips) = try TestVideos.decodeAll(path, mode, geometry: { _ in geometry })
        let resized = geometry.resizedSize(displayWidth: reader.info.displayWidth, displayHeight: reader.info.displayHeight)
        for clip in clips {
            let origin = geometry.cropOrigin(clip.plan.crop, width: resized.width, height: resized.height)
            let indices = clip.plan.timestamps.map { TestVideos.expectedFrame(for: $0, times: times) }
            let reference = try ffmpegFrames(path, indices: indices, resized: (resized.width, resized.height),
                                             crop: (geometry.cropWidth, geometry.cropHeight, origin.x, origin.y))
            let size = geometry.cropWidth * geometry.cropHeight * 3
            for (j, index) in indices.enumerated() {
                let ours = clip.pixels[(j * size)..<((j + 1) * size)]
                guard let theirs = reference[index] else { XCTFail("ffmpeg gave no frame \(index)", file: file, line: line); continue }
                let diffs = zip(ours, theirs).map { abs(Int($0) - Int($1)) }
                let mean = Double(diffs.reduce(0, +)) / Double(size)
                XCTAssertLessThan(mean, 2.0, "clip \(clip.plan.index) frame \(j) (index \(index)) mean |diff|", file: file, line: line)
            }
        }
        XCTAssertEqual(clips.count, plan.clips.count, file: file, line: line)
    }

    func testPixelsMatchFFmpegSelectScaleCrop() throws {
        let cfr = try TestVideos.indexed("compare.mp4", width: 96, height: 64, frames: 50,
                                         codec: ["-c:v", "libx264", "-preset", "ultrafast", "-g", "10"])
        try assertPixelsMatchFFmpegCLI(cfr, .multiview(frames: 4, clips: 2, clipSeconds: nil, spatialCrops: 3),
                                       geometry: FrameGeometry(shortSide: 40, cropWidth: 40, cropHeight: 40))
        let pts = "setpts='(if(lt(N,25),N*0.04,1+(N-25)*0.12))/TB'"
        let vfr = try TestVideos.indexed("compare-vfr.mkv", width: 96, height: 64, frames: 50, filters: pts,
                                         codec: ["-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast"])
        try assertPixelsMatchFFmpegCLI(vfr, .uniform(frames: 16), geometry: FrameGeometry(shortSide: 48, cropWidth: 64, cropHeight: 48))
    }

    /// `stretch` resizes the whole 96x64 frame to the input size: ffmpeg's `scale=W:H` exactly.
    func testStretchResizesTheWholeFrame() throws {
        let g = FrameGeometry(shortSide: 32, cropWidth: 32, cropHeight: 40, resize: .stretch)
        XCTAssertTrue(g.resizedSize(displayWidth: 96, displayHeight: 64) == (32, 40))
        XCTAssertTrue(g.cropOrigin(.center, width: 32, height: 40) == (0, 0))
        let wide = try TestVideos.indexed("stretch.mp4", width: 96, height: 64, frames: 20,
                                          codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        try assertPixelsMatchFFmpegCLI(wide, .uniform(frames: 4), geometry: g)
        let one: Int32 = 1 << 16
        let portrait = try rotated(wide, name: "stretch-rot90.mp4", 0, one, -one, 0)
        try assertPixelsMatchFFmpegCLI(portrait, .uniform(frames: 4), geometry: g)
    }

    // MARK: - Display rotation

    /// A copy of an MP4 whose track header carries the display matrix (a, b, c, d) (16.16 values).
    func rotated(_ source: String, name: String, _ a: Int32, _ b: Int32, _ c: Int32, _ d: Int32) throws -> String {
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        let range = try XCTUnwrap(data.range(of: Data("tkhd".utf8)))
        XCTAssertEqual(data[range.upperBound], 0, "tkhd version 0")
        let matrix = range.upperBound + 40     // version/flags, times, track id, duration, layer, volume
        for (k, value) in [a, b, 0, c, d, 0, 0, 0, 1 << 30].enumerated() {
            withUnsafeBytes(of: value.bigEndian) { data.replaceSubrange((matrix + 4 * k)..<(matrix + 4 * k + 4), with: $0) }
        }
        let path = TestVideos.directory.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testDisplayRotationIsApplied() throws {
        let source = try TestVideos.indexed("upright.mp4", width: 96, height: 64, frames: 20,
                                            codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        let one: Int32 = 1 << 16
        for (rotation, a, b, c, d) in [(90, 0, one, -one, 0), (180, -one, 0, 0, -one), (270, 0, -one, one, 0)] {
            let path = try rotated(source, name: "rot\(rotation).mp4", a, b, c, d)
            let info = try MediaProbe.probe(path: path)
            XCTAssertEqual(info.rotation, rotation)
            XCTAssertFalse(info.flipped)
            let expected: (Int, Int) = rotation == 180 ? (96, 64) : (64, 96)
            XCTAssertTrue((info.displayWidth, info.displayHeight) == expected)
            // The ffmpeg CLI rotates (transpose / hflip+vflip) before scaling; so must we.
            try assertPixelsMatchFFmpegCLI(path, .uniform(frames: 3), geometry: FrameGeometry(shortSide: 32, cropWidth: 32, cropHeight: 40))
        }

        // A mirror (no rotation): the decoded frames are the upright ones mirrored left-right.
        let mirrored = try rotated(source, name: "mirror.mp4", -one, 0, 0, one)
        XCTAssertTrue(try MediaProbe.probe(path: mirrored).flipped)
        let (_, _, flipped) = try TestVideos.decodeAll(mirrored, .uniform(frames: 2))
        let (_, _, upright) = try TestVideos.decodeAll(source, .uniform(frames: 2))
        let w = upright[0].width, h = upright[0].height
        for j in 0..<2 {
            for y in 0..<h {
                for x in 0..<w {
                    let a = ((j * h + y) * w + x) * 3, b = ((j * h + y) * w + (w - 1 - x)) * 3
                    XCTAssertEqual(flipped[0].pixels[a..<(a + 3)], upright[0].pixels[b..<(b + 3)])
                }
            }
        }
    }
}
