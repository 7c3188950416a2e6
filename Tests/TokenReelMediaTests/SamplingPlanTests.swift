import XCTest
@testable import TokenReelMedia

final class SamplingPlanTests: XCTestCase {
    func info(duration: Double, fps: Double = 25, start: Double = 0, frames: Int? = nil) -> VideoInfo {
        VideoInfo(path: "v.mp4", container: "mp4", codec: "h264", width: 64, height: 48, displayWidth: 64, displayHeight: 48,
                  rotation: 0, flipped: false, pixelFormat: "yuv420p", bitDepth: 8, avgFrameRate: fps, realFrameRate: fps,
                  timeBase: .init(num: 1, den: 12800), duration: duration, frameCount: frames ?? Int((duration * fps).rounded()),
                  frameCountSource: "header", hasAudio: false, startTime: start)
    }

    /// Index of the frame holding t on a constant-frame-rate video.
    func frameIndex(_ t: Double, fps: Double = 25, start: Double = 0) -> Int { Int(((t - start) * fps + 1e-9).rounded(.down)) }

    func testUniformIsMMAction2TestModeSampling() throws {
        for (frames, t) in [(300, 16), (75, 16), (101, 8), (16, 16), (1000, 32)] {
            let plan = try SamplingPlan.make(for: info(duration: Double(frames) / 25, start: 1.5), mode: .uniform(frames: t))
            XCTAssertEqual(plan.clips.count, 1)
            let clip = plan.clips[0]
            XCTAssertEqual(clip.start, 1.5); XCTAssertEqual(clip.end, 1.5 + Double(frames) / 25, accuracy: 1e-12)
            XCTAssertEqual(clip.timestamps.map { frameIndex($0, start: 1.5) }, (0..<t).map { (2 * $0 + 1) * frames / (2 * t) }, "\(frames) frames")
            XCTAssertFalse(clip.repeatedFrames)
            XCTAssertEqual(clip.crop, .center)
        }
    }

    func testShortVideosRepeatFramesDeterministically() throws {
        let plan = try SamplingPlan.make(for: info(duration: 5.0 / 25), mode: .uniform(frames: 16))
        let clip = plan.clips[0]
        XCTAssertTrue(clip.repeatedFrames)
        XCTAssertEqual(clip.timestamps.map { frameIndex($0) }, [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4])   // floor((2i + 1) 5 / 32)
        XCTAssertEqual(plan, try SamplingPlan.make(for: info(duration: 5.0 / 25), mode: .uniform(frames: 16)))
    }

    func testSlidingTails() throws {
        let video = info(duration: 10)
        let drop = try SamplingPlan.make(for: video, mode: .sliding(frames: 4, clipSeconds: 4, strideSeconds: 3, tail: .drop))
        XCTAssertEqual(drop.clips.map(\.start), [0, 3, 6])
        XCTAssertEqual(drop.clips.map(\.end), [4, 7, 10])        // 6 + 4 = 10 fits exactly: no tail
        XCTAssertEqual(drop.clips[1].timestamps, [3.5, 4.5, 5.5, 6.5])

        let mode = { (tail: SlidingTail) in SamplingMode.sliding(frames: 4, clipSeconds: 4, strideSeconds: 4, tail: tail) }
        XCTAssertEqual(try SamplingPlan.make(for: video, mode: mode(.drop)).clips.map(\.start), [0, 4])
        let shift = try SamplingPlan.make(for: video, mode: mode(.shift))
        XCTAssertEqual(shift.clips.map(\.start), [0, 4, 6])
        XCTAssertEqual(shift.clips.last!.end, 10)
        XCTAssertFalse(shift.clips.last!.repeatedFrames)
        let pad = try SamplingPlan.make(for: video, mode: mode(.pad))
        XCTAssertEqual(pad.clips.map(\.start), [0, 4, 8])
        XCTAssertEqual(pad.clips.last!.timestamps, [8.5, 9.5, 10 - 0.02, 10 - 0.02])   // past the end: the last frame
        XCTAssertTrue(pad.clips.last!.repeatedFrames)
        XCTAssertEqual(pad.clips.map(\.index), [0, 1, 2])

        // A video shorter than one window: one clip over all of it, whatever the tail.
        for tail in [SlidingTail.drop, .shift, .pad] {
            let short = try SamplingPlan.make(for: info(duration: 2), mode: .sliding(frames: 8, clipSeconds: 4, strideSeconds: 2, tail: tail))
            XCTAssertEqual(short.clips.count, 1)
            XCTAssertEqual(short.clips[0].end, 2)
        }
    }

    func testMultiviewFourByThree() throws {
        let plan = try SamplingPlan.make(for: info(duration: 8), mode: .multiview(frames: 2, clips: 4, clipSeconds: nil, spatialCrops: 3))
        XCTAssertEqual(plan.clips.count, 12)
        XCTAssertEqual(plan.clips.map(\.crop), Array(repeating: [CropPosition.start, .center, .end], count: 4).flatMap { $0 })
        XCTAssertEqual(plan.clips.map(\.start), [0, 0, 0, 2, 2, 2, 4, 4, 4, 6, 6, 6])
        XCTAssertEqual(plan.clips[3].timestamps, [2.5, 3.5])
        XCTAssertEqual(plan.clips.map(\.index), Array(0..<12))

        let windows = try SamplingPlan.make(for: info(duration: 10), mode: .multiview(frames: 4, clips: 3, clipSeconds: 2, spatialCrops: 1))
        XCTAssertEqual(windows.clips.map(\.start), [0, 4, 8])
        XCTAssertEqual(windows.clips.map(\.end), [2, 6, 10])
        let single = try SamplingPlan.make(for: info(duration: 10), mode: .multiview(frames: 4, clips: 1, clipSeconds: 2, spatialCrops: 1))
        XCTAssertEqual(single.clips.map(\.start), [4])
    }

    func testInvalidParametersAndUnknownDurationAreErrors() {
        XCTAssertThrowsError(try SamplingPlan.make(for: info(duration: 1), mode: .uniform(frames: 0))) { XCTAssertTrue($0 is SamplingError) }
        XCTAssertThrowsError(try SamplingPlan.make(for: info(duration: 1), mode: .sliding(frames: 4, clipSeconds: 1, strideSeconds: 0, tail: .drop)))
        XCTAssertThrowsError(try SamplingPlan.make(for: info(duration: 1), mode: .multiview(frames: 4, clips: 2, clipSeconds: nil, spatialCrops: 2)))
        XCTAssertThrowsError(try SamplingPlan.make(for: info(duration: 0, frames: 0), mode: .uniform(frames: 4))) {
            XCTAssertEqual(($0 as? MediaError)?.kind, .corrupt)
        }
    }

    func testGeometryResizesTheShortSideThenCrops() {
        let g = FrameGeometry(shortSide: 128, cropWidth: 112, cropHeight: 112)
        XCTAssertTrue(g.resizedSize(displayWidth: 1280, displayHeight: 720) == (228, 128))
        XCTAssertTrue(g.resizedSize(displayWidth: 720, displayHeight: 1280) == (128, 228))
        XCTAssertTrue(g.cropOrigin(.center, width: 228, height: 128) == (58, 8))
        XCTAssertTrue(g.cropOrigin(.start, width: 228, height: 128) == (0, 8))
        XCTAssertTrue(g.cropOrigin(.end, width: 228, height: 128) == (116, 8))
        XCTAssertTrue(g.cropOrigin(.end, width: 128, height: 228) == (8, 116))
        // A crop larger than the resized frame grows the resize instead of failing.
        XCTAssertTrue(FrameGeometry(shortSide: 64, cropWidth: 100, cropHeight: 64).resizedSize(displayWidth: 80, displayHeight: 80) == (100, 100))
    }

    func testDisplayMatrixToTransform() {
        let one: Int32 = 1 << 16
        func matrix(_ a: Int32, _ b: Int32, _ c: Int32, _ d: Int32) -> [Int32] { [a, b, 0, c, d, 0, 0, 0, 1 << 30] }
        // av_display_rotation_set(m, -90): what phones write for portrait video (rotate 90 clockwise).
        let cw90 = DisplayTransform(displayMatrix: matrix(0, one, -one, 0))
        XCTAssertTrue(cw90.rotationAndFlip == (90, false))
        XCTAssertTrue(DisplayTransform(displayMatrix: matrix(0, -one, one, 0)).rotationAndFlip == (270, false))
        XCTAssertTrue(DisplayTransform(displayMatrix: matrix(-one, 0, 0, -one)).rotationAndFlip == (180, false))
        XCTAssertTrue(DisplayTransform(displayMatrix: matrix(-one, 0, 0, one)).rotationAndFlip == (0, true))
        XCTAssertTrue(DisplayTransform(displayMatrix: matrix(one, 0, 0, -one)).rotationAndFlip == (180, true))
        XCTAssertEqual(DisplayTransform(displayMatrix: matrix(46341, 46341, -46341, 46341)), .identity)   // 45 degrees
        // Clockwise 90 on a 3x2 picture: displayed top-left is coded bottom-left.
        XCTAssertTrue(cw90.displaySize(width: 3, height: 2) == (2, 3))
        XCTAssertTrue(cw90.sourcePixel(x: 0, y: 0, width: 3, height: 2) == (0, 1))
        XCTAssertTrue(cw90.sourcePixel(x: 1, y: 0, width: 3, height: 2) == (0, 0))
        XCTAssertTrue(cw90.sourcePixel(x: 0, y: 2, width: 3, height: 2) == (2, 1))
        for rotation in [0, 90, 180, 270] {
            for flipped in [false, true] {
                XCTAssertTrue(DisplayTransform(rotation: rotation, flipped: flipped).rotationAndFlip == (rotation, flipped))
            }
        }
    }
}
