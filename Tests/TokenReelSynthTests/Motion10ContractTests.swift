import XCTest
@testable import TokenReelSynth

/// Every line of shared/MOTION10.md, measured from rendered frames, for many seeds per class.
final class Motion10ContractTests: XCTestCase {
    /// Small frames keep the debug-build suite fast; the contract is scale-free.
    /// (`MOTION10_FULL=1` uses the contract's whole 96x96...640x480 range instead.)
    static let small: Motion10Constraints = {
        var c = Motion10Constraints()
        if ProcessInfo.processInfo.environment["MOTION10_FULL"] == nil { c.maxWidth = 144; c.maxHeight = 112 }
        return c
    }()
    /// Seeds per class: 6 in the suite; `MOTION10_SEEDS=200 swift test -c release --filter
    /// Motion10ContractTests` runs a bigger sweep.
    static let seedsPerClass = ProcessInfo.processInfo.environment["MOTION10_SEEDS"].flatMap(Int.init) ?? 6
    /// Measurement tolerances of a thresholded mask of a 15-40 px object: its area wobbles by up
    /// to ~20% with sub-pixel position and orientation (thin arms), its principal axis by a few
    /// degrees. Both are far from what the moving classes must show (area x3.24, 180 degrees).
    static let sameScaleAreaRatio = 1.25
    static let noTurnDegrees = 10.0
    /// A thresholded mask drops the pixels of an acute tip that the object covers less than half,
    /// so its extent underestimates the true Feret diameter by up to about a pixel per end.
    static let feretTolerancePixels = 1.5

    /// The envelope the clips of a test are drawn from.
    var constraints = Motion10ContractTests.small

    /// The procedural shape families (blobs, strokes) keep every line of the contract too.
    func testProceduralShapesKeepTheContract() {
        constraints.shapes = .procedural
        testStatic(); testLeft(); testUp(); testZoomIn(); testZoomOut(); testRotateCW(); testRotateCCW(); testBlink()
    }

    /// Renders a clip and measures the object in every frame.
    func renderAndTrack(_ c: Motion10Class, seed: UInt64) -> (Motion10ClipSpec, [ObjectMeasure]) {
        let spec = Motion10ClipSpec.random(c, seed: seed, constraints: constraints)
        let renderer = Motion10Renderer(spec: spec)
        let frames = (0..<spec.frameCount).map(renderer.frame)
        return (spec, MotionProbe.track(frames, spec: spec))
    }

    func forEachClip(_ c: Motion10Class, _ check: (Motion10ClipSpec, [ObjectMeasure], String) -> Void) {
        for k in 0..<Self.seedsPerClass {
            let seed = SynthRandom.derive(2026, UInt64(c.index), UInt64(k))
            let (spec, track) = renderAndTrack(c, seed: seed)
            let what = "\(c.rawValue) seed \(seed) (\(spec.width)x\(spec.height), \(spec.frameCount) frames, \(spec.shape.kind.rawValue))"
            checkCommon(spec, track, what)
            XCTAssertEqual(MotionProbe.classify(track, width: spec.width, height: spec.height), c, "\(what): measured motion names another class")
            check(spec, track, what)
        }
    }

    /// Contract lines every class shares: length, rate, resolution, object size, on screen.
    func checkCommon(_ spec: Motion10ClipSpec, _ track: [ObjectMeasure], _ what: String) {
        XCTAssert((2.0...4.0).contains(spec.duration), "\(what): duration \(spec.duration)")
        XCTAssert((12.0...30.0).contains(spec.fps), "\(what): fps \(spec.fps)")
        XCTAssert((96...640).contains(spec.width) && (96...480).contains(spec.height), "\(what): size")
        XCTAssertEqual(track.count, spec.frameCount)
        let short = Double(spec.shortSide)
        let visible = track.filter { $0.area > 0 }
        XCTAssertFalse(visible.isEmpty, "\(what): object never visible")
        for i in [0, visible.count / 2, visible.count - 1] {
            let size = visible[i].feretDiameter / short, slack = Self.feretTolerancePixels / short
            XCTAssert((0.15 - slack...0.35 + slack).contains(size), "\(what): object size \(size) of the short side")
        }
        XCTAssert(visible.allSatisfy { !$0.touchesBorder }, "\(what): object leaves the frame")
    }

    func maxCentreDeviation(_ track: [ObjectMeasure]) -> Double {
        let v = track.filter { $0.area > 0 }
        return v.map { (($0.centerX - v[0].centerX) * ($0.centerX - v[0].centerX) + ($0.centerY - v[0].centerY) * ($0.centerY - v[0].centerY)).squareRoot() }.max()!
    }

    func testStatic() {
        forEachClip(.static) { spec, track, what in
            let short = Double(spec.shortSide)
            XCTAssert(track.allSatisfy { $0.area > 0 }, "\(what): object disappears")
            XCTAssertLessThanOrEqual(maxCentreDeviation(track) / short, 0.02, what)
            let areas = track.map { Double($0.area) }
            XCTAssertLessThan(areas.max()! / areas.min()!, Self.sameScaleAreaRatio, "\(what): scale changes")
            XCTAssertLessThan(MotionProbe.maxTurnFromFirstDegrees(track), Self.noTurnDegrees, "\(what): rotates")
        }
    }

    func checkTranslation(_ c: Motion10Class) {
        forEachClip(c) { spec, track, what in
            XCTAssert(track.allSatisfy { $0.area > 0 }, "\(what): object disappears")
            let horizontal = c == .left || c == .right
            let sign: Double = (c == .right || c == .down) ? 1 : -1
            let along = track.map { horizontal ? $0.centerX : $0.centerY }
            let across = track.map { horizontal ? $0.centerY : $0.centerX }
            let extent = Double(horizontal ? spec.width : spec.height)
            let travel = sign * (along.last! - along.first!)
            XCTAssertGreaterThanOrEqual(travel / extent, 0.30, "\(what): travels \(travel / extent) of the frame")
            let drift = across.map { abs($0 - across[0]) }.max()!
            XCTAssertLessThanOrEqual(drift / Double(spec.shortSide), 0.05, "\(what): perpendicular drift")
            // Roughly constant speed: monotonic, and close to a straight line in time.
            for i in 1..<along.count { XCTAssertGreaterThan(sign * (along[i] - along[i - 1]), -0.5, "\(what): goes back at frame \(i)") }
            XCTAssertLessThanOrEqual(MotionProbe.lineResidual(along), 0.06 * abs(travel) + 1, "\(what): speed not roughly constant")
            let areas = track.map { Double($0.area) }
            XCTAssertLessThan(areas.max()! / areas.min()!, Self.sameScaleAreaRatio, "\(what): scale changes")
            XCTAssertLessThan(MotionProbe.maxTurnFromFirstDegrees(track), Self.noTurnDegrees, "\(what): rotates")
        }
    }

    func testLeft() { checkTranslation(.left) }
    func testRight() { checkTranslation(.right) }
    func testUp() { checkTranslation(.up) }
    func testDown() { checkTranslation(.down) }

    func checkZoom(_ c: Motion10Class) {
        forEachClip(c) { spec, track, what in
            let areas = track.map { Double($0.area) }
            let factor = (c == .zoomIn ? areas.last! / areas.first! : areas.first! / areas.last!).squareRoot()
            XCTAssertGreaterThanOrEqual(factor, 1.8, "\(what): linear zoom factor \(factor)")
            // Monotonic up to the mask's area wobble: never back below (above) the extreme so far.
            var extreme = areas[0]
            for i in 1..<areas.count {
                XCTAssert(c == .zoomIn ? areas[i] >= extreme * 0.92 : areas[i] <= extreme * 1.08, "\(what): zoom reverses at frame \(i)")
                extreme = c == .zoomIn ? max(extreme, areas[i]) : min(extreme, areas[i])
            }
            XCTAssertLessThanOrEqual(maxCentreDeviation(track) / Double(spec.shortSide), 0.05, "\(what): centre moves")
            XCTAssertLessThan(MotionProbe.maxTurnFromFirstDegrees(track), Self.noTurnDegrees, "\(what): rotates")
        }
    }

    func testZoomIn() { checkZoom(.zoomIn) }
    func testZoomOut() { checkZoom(.zoomOut) }

    func checkRotation(_ c: Motion10Class) {
        forEachClip(c) { spec, track, what in
            let turn = MotionProbe.totalTurnDegrees(track)
            let clockwise = c == .rotateCW
            XCTAssertEqual(turn > 0, clockwise, "\(what): turns \(turn) degrees (positive = clockwise on screen)")
            XCTAssert((180.0...360.0).contains(abs(turn)), "\(what): turns \(turn) degrees in total")
            XCTAssertLessThanOrEqual(maxCentreDeviation(track) / Double(spec.shortSide), 0.02, "\(what): centre moves")
            let areas = track.map { Double($0.area) }
            XCTAssertLessThan(areas.max()! / areas.min()!, Self.sameScaleAreaRatio + 0.05, "\(what): scale changes")
        }
    }

    func testRotateCW() { checkRotation(.rotateCW) }
    func testRotateCCW() { checkRotation(.rotateCCW) }

    func testBlink() {
        forEachClip(.blink) { spec, track, what in
            let maxArea = Double(track.map(\.area).max()!)
            var states: [Bool] = []
            for (i, m) in track.enumerated() {
                let a = Double(m.area)
                XCTAssert(a >= 0.8 * maxArea || a == 0, "\(what): frame \(i) is neither visible nor invisible (area \(a) of \(maxArea))")
                states.append(a > 0)
            }
            // Two full cycles = at least four visible/invisible transitions.
            let transitions = zip(states, states.dropFirst()).filter { $0 != $1 }.count
            XCTAssertGreaterThanOrEqual(transitions, 4, "\(what): \(transitions) transitions")
            XCTAssertLessThanOrEqual(maxCentreDeviation(track) / Double(spec.shortSide), 0.02, "\(what): not stationary")
        }
    }

    /// Luma gap >= 0.25 between the object and *every* background pixel (noise-free render; the
    /// per-pixel noise is checked to be mild separately).
    func testLumaContrastEverywhere() {
        for k in 0..<40 {
            let c = Motion10Class.allCases[k % 10]
            var spec = Motion10ClipSpec.random(c, seed: UInt64(1000 + k), constraints: Self.small)
            XCTAssertLessThanOrEqual(spec.noiseAmplitude, 0.05)
            spec.noiseAmplitude = 0
            spec.motion.blinkPeriod = nil
            let frame = Motion10Renderer(spec: spec).frame(0)
            let m = MotionProbe.track([frame], spec: spec)[0]
            let (w, h) = (spec.width, spec.height)
            // Interior pixels: the mask and all 8 neighbours. Background: 2 px away from the mask.
            var objectLumas: [Double] = [], backgroundLumas: [Double] = []
            for y in 0..<h { for x in 0..<w {
                var all = true, any = false
                for dy in -2...2 { for dx in -2...2 {
                    let (xx, yy) = (x + dx, y + dy)
                    guard xx >= 0, yy >= 0, xx < w, yy < h else { continue }
                    let inMask = m.mask[yy * w + xx]
                    if abs(dx) <= 1 && abs(dy) <= 1 && !inMask { all = false }
                    if inMask { any = true }
                } }
                let l = MotionProbe.luma(frame, y * w + x)
                if all && m.mask[y * w + x] { objectLumas.append(l) } else if !any { backgroundLumas.append(l) }
            } }
            XCTAssertFalse(objectLumas.isEmpty, "seed \(1000 + k): no interior pixels")
            let object = objectLumas.reduce(0, +) / Double(objectLumas.count)
            let gap = backgroundLumas.map { abs($0 - object) }.min()!
            XCTAssertGreaterThanOrEqual(gap, 0.25, "seed \(1000 + k) \(spec.background.kind): luma gap \(gap)")
        }
    }

    /// The sign convention of the oracle itself, on pictures drawn by hand: a bar pointing right,
    /// then the same bar with its right end lowered (towards the bottom of the screen), is a
    /// clockwise turn and must measure positive.
    func testOrientationSignConventionOnHandDrawnBars() {
        func bar(degreesBelowHorizontal a: Double) -> ObjectMeasure {
            let (w, h) = (64, 64)
            var mask = [Bool](repeating: false, count: w * h)
            let (c, s) = (cos(a * Double.pi / 180), sin(a * Double.pi / 180))
            for y in 0..<h { for x in 0..<w {
                let dx = Double(x) + 0.5 - 32, dy = Double(y) + 0.5 - 32
                let along = dx * c + dy * s, across = -dx * s + dy * c   // (c, s) points right and *down* for a > 0
                mask[y * w + x] = abs(along) < 20 && abs(across) < 3
            } }
            return MotionProbe.measure(mask: mask, width: w, height: h)
        }
        let turn = MotionProbe.totalTurnDegrees([bar(degreesBelowHorizontal: 0), bar(degreesBelowHorizontal: 30)])
        XCTAssertEqual(turn, 30, accuracy: 2, "right end lowered = clockwise on screen = positive")
        // And the generator's convention: a positive angle takes a point on +x to +y (down).
        let p = ShapeSpec.place([SynthPoint(1, 0)], x: 0, y: 0, size: 1, angleDegrees: 90)[0]
        XCTAssertEqual(p.x, 0, accuracy: 1e-12); XCTAssertEqual(p.y, 1, accuracy: 1e-12)
    }
}
