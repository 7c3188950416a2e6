import XCTest
@testable import TokenReelMedia

/// The reader must return, for every target time, the frame whose presentation interval holds
/// it, according to FFmpeg's own per-frame timestamps (ffprobe), whatever the seek/skip strategy.
final class FrameSelectionTests: XCTestCase {
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
