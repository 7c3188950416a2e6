import XCTest
@testable import TokenReelMedia

/// The reader must return, for every target time, the frame whose presentation interval holds
/// it, according to FFmpeg's own per-frame timestamps (ffprobe), whatever the seek/skip strategy.
extension XCTestCase {
    /// Checks every clip of `mode` on `path`: pattern index and timestamp of each frame against
    /// ffprobe's frame list. Returns the clips.
    @discardableResult
    func assertPicksMatchFFmpeg(_ path: String, _ mode: SamplingMode, options: DecodeOptions = .init(),
                                file: StaticString = #filePath, line: UInt = #line) throws -> [DecodedClip] {
        let times = try TestVideos.frameTimes(path)
        XCTAssertFalse(times.isEmpty, file: file, line: line)
        let (_, plan, clips) = try TestVideos.decodeAll(path, mode, options: options)
        XCTAssertEqual(clips.count, plan.clips.count, file: file, line: line)
        for (clip, planned) in zip(clips, plan.clips) {
            XCTAssertEqual(clip.plan, planned, file: file, line: line)
            for (j, t) in planned.timestamps.enumerated() {
                let expected = TestVideos.expectedFrame(for: t, times: times)
                XCTAssertEqual(TestVideos.frameIndex(clip, frame: j), expected,
                               "clip \(planned.index) target \(j) at \(t) s", file: file, line: line)
                XCTAssertEqual(clip.frameTimestamps[j], times[expected], accuracy: 1e-6,
                               "clip \(planned.index) target \(j) at \(t) s", file: file, line: line)
            }
        }
        return clips
    }

    /// Pixels must not depend on how the reader got there (seek or not, skip or not, threads).
    func assertSameFramesForEveryStrategy(_ path: String, _ mode: SamplingMode,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let variants = [
            DecodeOptions(skipUnneededFrames: false, allowSeeking: false),
            DecodeOptions(skipUnneededFrames: true, allowSeeking: false),
            DecodeOptions(skipUnneededFrames: false, allowSeeking: true),
            DecodeOptions(threads: 2),
        ]
        let (_, _, reference) = try TestVideos.decodeAll(path, mode, options: .init())
        for options in variants {
            let (_, _, clips) = try TestVideos.decodeAll(path, mode, options: options)
            XCTAssertEqual(clips.map(\.pixels), reference.map(\.pixels), "\(options)", file: file, line: line)
            XCTAssertEqual(clips.map(\.frameTimestamps), reference.map(\.frameTimestamps), "\(options)", file: file, line: line)
        }
    }
}

final class FrameSelectionTests: XCTestCase {
    func testUniformOnConstantFrameRateH264WithBFrames() throws {
        let path = try TestVideos.indexed("cfr.mp4", frames: 75, codec: ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "250"])
        let clips = try assertPicksMatchFFmpeg(path, .uniform(frames: 16))
        // MMAction2 test-mode SampleFrames(clip_len=1, num_clips=16): floor((i + 0.5) * 75 / 16).
        XCTAssertEqual((0..<16).map { TestVideos.frameIndex(clips[0], frame: $0) }, (0..<16).map { Int((Double($0) + 0.5) * 75 / 16) })
        XCTAssertFalse(clips[0].plan.repeatedFrames)
    }

    func testSeekingAndSkippingNeverChangeTheFrames() throws {
        let path = try TestVideos.indexed("gop10.mp4", frames: 150, codec: ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                                                                             "-x264-params", "bframes=3:b-pyramid=none", "-g", "10"])
        try assertPicksMatchFFmpeg(path, .sliding(frames: 4, clipSeconds: 1, strideSeconds: 1.5, tail: .pad))
        try assertSameFramesForEveryStrategy(path, .sliding(frames: 4, clipSeconds: 1, strideSeconds: 0.6, tail: .shift))
        try assertSameFramesForEveryStrategy(path, .uniform(frames: 8))
    }
}

/// The reader does only the work the plan needs, and its memory does not grow with files.
final class DecodeWorkTests: XCTestCase {
    func testSeeksOverGOPsSkipsUnneededFramesAndConvertsOnlyPicks() throws {
        let path = try TestVideos.indexed("work-gop10.mp4", frames: 200, codec: ["-c:v", "libx264", "-preset", "ultrafast",
                                                                                  "-x264-params", "bframes=3:b-pyramid=none", "-g", "10"])
        let (reader, plan, clips) = try TestVideos.decodeAll(path, .uniform(frames: 4))
        let stats = reader.statistics
        XCTAssertGreaterThan(stats.seeks, 0)
        XCTAssertLessThan(stats.packetsSent, 100, "\(stats)")   // 4 targets, one GOP of 10 each at most (+ lookahead)
        XCTAssertGreaterThan(stats.packetsMarkedSkippable, 0, "\(stats)")
        XCTAssertEqual(stats.framesConverted, Set(clips[0].frameTimestamps).count)
        XCTAssertEqual(plan.clips.count, 1)

        // Long GOP: no seek can help, but non-reference B-frames nobody picks are skipped.
        let long = try TestVideos.indexed("work-long-gop.mp4", frames: 200, codec: ["-c:v", "libx264", "-preset", "ultrafast",
                                                                                     "-x264-params", "bframes=3:b-pyramid=none", "-g", "250"])
        let (longReader, _, _) = try TestVideos.decodeAll(long, .uniform(frames: 4))
        XCTAssertEqual(longReader.statistics.seeks, 0)
        XCTAssertLessThan(longReader.statistics.framesDecoded, 120, "\(longReader.statistics)")
    }

    func testIntraOnlyFramesNobodyPicksAreNeverDecoded() throws {
        // MJPEG: every frame stands alone, and its decoder ignores skip_frame, so the reader must
        // not send the frames no target picks at all, and still pick exactly FFmpeg's frames.
        let avi = try TestVideos.indexed("drop-mjpeg.avi", frames: 100, codec: ["-c:v", "mjpeg", "-q:v", "3"])
        try assertPicksMatchFFmpeg(avi, .uniform(frames: 16))
        try assertPicksMatchFFmpeg(avi, .sliding(frames: 4, clipSeconds: 1, strideSeconds: 0.7, tail: .shift))
        try assertSameFramesForEveryStrategy(avi, .uniform(frames: 16))
        let (reader, _, clips) = try TestVideos.decodeAll(avi, .uniform(frames: 16))
        let stats = reader.statistics
        // Each seek's landing check may decode one frame more.
        XCTAssertLessThanOrEqual(stats.framesDecoded, Set(clips[0].frameTimestamps).count + stats.seeks, "\(stats)")
        XCTAssertGreaterThan(stats.packetsDropped, 70, "\(stats)")

        // Indexed MOV with sparse targets: seeks and drops together.
        let mov = try TestVideos.indexed("drop-mjpeg.mov", frames: 200, codec: ["-c:v", "mjpeg", "-q:v", "3"])
        try assertPicksMatchFFmpeg(mov, .uniform(frames: 5))
        try assertSameFramesForEveryStrategy(mov, .uniform(frames: 5))
        let (movReader, _, _) = try TestVideos.decodeAll(mov, .uniform(frames: 5))
        XCTAssertLessThanOrEqual(movReader.statistics.framesDecoded, 5 + movReader.statistics.seeks, "\(movReader.statistics)")

        // An inter codec is never dropped from, only skipped (it may need the frame as a reference).
        let h264 = try TestVideos.indexed("drop-inter.mp4", frames: 60, codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        let (interReader, _, _) = try TestVideos.decodeAll(h264, .uniform(frames: 4))
        XCTAssertEqual(interReader.statistics.packetsDropped, 0)
    }

    func testThreeCropsShareOneDecode() throws {
        let path = try TestVideos.indexed("crops.mp4", width: 96, height: 48, frames: 30, codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        let (reader, _, clips) = try TestVideos.decodeAll(path, .multiview(frames: 2, clips: 2, clipSeconds: nil, spatialCrops: 3),
                                                          geometry: { _ in FrameGeometry(shortSide: 48, cropWidth: 48, cropHeight: 48) })
        XCTAssertEqual(clips.map(\.plan.crop), [.start, .center, .end, .start, .center, .end])
        XCTAssertEqual(reader.statistics.framesConverted, 4)
        // Left crop's right half is the centre crop's left half.
        let row = 48 * 3
        for y in 0..<48 {
            XCTAssertEqual(clips[0].pixels[(y * row + 24 * 3)..<(y * row + row)], clips[1].pixels[(y * row)..<(y * row + 24 * 3)])
        }
        XCTAssertNotEqual(clips[0].pixels, clips[2].pixels)
    }

    func testMemoryDoesNotGrowOverManyFiles() throws {
        let path = try TestVideos.indexed("memory.mp4", frames: 25, codec: ["-c:v", "libx264", "-preset", "ultrafast"])
        func residentBytes() -> Int {
            let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
            return (Int(statm.split(separator: " ")[1]) ?? 0) * 4096
        }
        func run(_ n: Int) throws {
            for _ in 0..<n {
                _ = try TestVideos.decodeAll(path, .uniform(frames: 8))
                _ = try? MediaProbe.probe(path: path + ".missing")
            }
        }
        try run(50)   // warm up allocator pools
        let before = residentBytes()
        try run(300)
        XCTAssertLessThan(residentBytes() - before, 8 << 20, "resident memory grew over 300 files")
    }
}

/// A clip decoded in two parts (`decodePrefix`, then `decodeRest`) is the clip one `decode` gives,
/// and its prefix costs only the frames up to the prefix's last target.
final class TwoPartDecodeTests: XCTestCase {
    private func twoParts(_ path: String, frames: Int, first: Int, options: DecodeOptions = .init())
        throws -> (head: DecodedClip, whole: DecodedClip, headStats: VideoReader.Statistics, stats: VideoReader.Statistics) {
        let reader = try VideoReader(path: path, options: options)
        let plan = try SamplingPlan.make(for: reader.info, mode: .uniform(frames: frames))
        let geometry = FrameGeometry(shortSide: 32, cropWidth: 32, cropHeight: 32)
        let head = try reader.decodePrefix(plan, frames: first, geometry: geometry)
        let headStats = reader.statistics
        let whole = try reader.decodeRest()
        return (head, whole, headStats, reader.statistics)
    }

    func testTheTwoPartsAreTheOneDecodeAndThePrefixStopsEarly() throws {
        let videos = [
            try TestVideos.indexed("parts-bframes.mp4", frames: 120, codec: ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "250"]),
            try TestVideos.indexed("parts-gop10.mkv", frames: 120, codec: ["-c:v", "libx264", "-preset", "ultrafast", "-g", "10"]),
            try TestVideos.indexed("parts-mjpeg.mov", frames: 120, codec: ["-c:v", "mjpeg", "-q:v", "3"]),
            try TestVideos.indexed("parts-vp9.webm", frames: 60, codec: ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]),
        ]
        for path in videos {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let geometry = FrameGeometry(shortSide: 32, cropWidth: 32, cropHeight: 32)
            let (_, _, reference) = try TestVideos.decodeAll(path, .uniform(frames: 16), geometry: { _ in geometry })
            let oneCall = try VideoReader(path: path)
            try oneCall.decode(try SamplingPlan.make(for: oneCall.info, mode: .uniform(frames: 16)), geometry: geometry) { _ in }
            for first in [1, 8, 15] {
                let p = try twoParts(path, frames: 16, first: first)
                XCTAssertEqual(p.whole.pixels, reference[0].pixels, "\(name) first \(first)")
                XCTAssertEqual(p.whole.frameTimestamps, reference[0].frameTimestamps, "\(name) first \(first)")
                XCTAssertEqual(p.whole.plan, reference[0].plan)
                XCTAssertEqual(p.head.frames, first)
                XCTAssertEqual(p.head.pixels, Array(reference[0].pixels.prefix(first * 32 * 32 * 3)), "\(name) first \(first)")
                XCTAssertEqual(p.head.frameTimestamps, Array(reference[0].frameTimestamps.prefix(first)))
                // Together the two parts decode what one call does.
                XCTAssertEqual(p.stats.framesDecoded, oneCall.statistics.framesDecoded, "\(name) first \(first)")
                XCTAssertEqual(p.stats.framesConverted, oneCall.statistics.framesConverted, "\(name) first \(first)")
                // The prefix stops near its last target: about first/16 of the video, not all of it.
                XCTAssertLessThan(p.headStats.packetsSent, p.stats.packetsSent, "\(name) first \(first)")
            }
            let half = try twoParts(path, frames: 16, first: 8)
            let total = try TestVideos.frameTimes(path).count
            XCTAssertLessThanOrEqual(half.headStats.packetsSent + half.headStats.packetsDropped, total / 2 + 20, "\(name) \(half.headStats)")
        }
    }

    func testEveryStrategyGivesTheSameTwoParts() throws {
        let path = try TestVideos.indexed("parts-strategies.mp4", frames: 150, codec: ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                                                                                        "-x264-params", "bframes=3:b-pyramid=none", "-g", "10"])
        let reference = try twoParts(path, frames: 4, first: 2)
        for options in [DecodeOptions(skipUnneededFrames: false, allowSeeking: false), DecodeOptions(allowSeeking: false), DecodeOptions(threads: 2)] {
            let p = try twoParts(path, frames: 4, first: 2, options: options)
            XCTAssertEqual(p.head.pixels, reference.head.pixels, "\(options)")
            XCTAssertEqual(p.whole.pixels, reference.whole.pixels, "\(options)")
            XCTAssertEqual(p.whole.frameTimestamps, reference.whole.frameTimestamps, "\(options)")
        }
        XCTAssertGreaterThan(reference.stats.seeks, 0, "\(reference.stats)")   // the rest seeks over GOPs it does not need
    }
}
