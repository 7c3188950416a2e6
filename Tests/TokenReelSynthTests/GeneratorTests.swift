import XCTest
@testable import TokenReelSynth

/// Determinism from the seed, and that the generator really varies what the contract leaves open.
final class GeneratorTests: XCTestCase {
    func testModuleName() {
        XCTAssertEqual(TokenReelSynthModule.name, "TokenReelSynth")
    }

    /// SplitMix64's published reference outputs for seed 1234567.
    func testSplitMix64ReferenceSequence() {
        var rng = SynthRandom(seed: 1_234_567)
        XCTAssertEqual([rng.next(), rng.next(), rng.next()],
                       [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423])
    }

    func testRandomHelpersStayInRange() {
        var rng = SynthRandom(seed: 9)
        for _ in 0..<10_000 {
            let u = rng.uniform(-2, 3); XCTAssert(u >= -2 && u < 3)
            let i = rng.int(12, 30); XCTAssert((12...30).contains(i))
        }
        XCTAssertNotEqual(SynthRandom.derive(1, 2, 3), SynthRandom.derive(1, 3, 2), "key order matters")
        XCTAssertNotEqual(SynthRandom.derive(1, 2), SynthRandom.derive(2, 2))
    }

    func testClassNamesAndIndicesMatchTheContractTable() {
        XCTAssertEqual(Motion10Class.names, ["static", "left", "right", "up", "down", "zoom_in", "zoom_out", "rotate_cw", "rotate_ccw", "blink"])
        XCTAssertEqual(Motion10Class.allCases.map(\.index), Array(0..<10))
    }

    func testSameSeedSameSpecAndPixels() {
        for c in Motion10Class.allCases {
            let a = Motion10ClipSpec.random(c, seed: 77), b = Motion10ClipSpec.random(c, seed: 77)
            XCTAssertEqual(a, b)
            XCTAssertNotEqual(a, Motion10ClipSpec.random(c, seed: 78))
        }
        var small = Motion10Constraints(); small.maxWidth = 128; small.maxHeight = 96
        let spec = Motion10ClipSpec.random(.rotateCW, seed: 5, constraints: small)
        let r1 = Motion10Renderer(spec: spec), r2 = Motion10Renderer(spec: spec)
        for i in [0, spec.frameCount / 2, spec.frameCount - 1] { XCTAssertEqual(r1.frame(i), r2.frame(i), "frame \(i)") }
        XCTAssertNotEqual(r1.frame(0), r1.frame(spec.frameCount / 2), "the object moves")
    }

    func testSpecSurvivesJSONRoundTrip() throws {
        let spec = Motion10ClipSpec.random(.blink, seed: 3)
        let back = try JSONDecoder().decode(Motion10ClipSpec.self, from: JSONEncoder().encode(spec))
        XCTAssertEqual(back, spec)
    }

    func testShapesAreNormalisedElongatedAndAsymmetric() {
        var rng = SynthRandom(seed: 11)
        var kinds = Set<ShapeKind>()
        for _ in 0..<600 {
            let s = ShapeSpec.random(from: ShapeSet.all.kinds, using: &rng)
            kinds.insert(s.kind)
            XCTAssertNil(Self.crossing(s.vertices), "\(s.kind): the outline crosses itself")
            let (area, c) = ShapeSpec.areaAndCentroid(s.vertices)
            XCTAssertEqual(c.x, 0, accuracy: 1e-9); XCTAssertEqual(c.y, 0, accuracy: 1e-9)
            XCTAssertNotEqual(area, 0)
            var diameter = 0.0
            for p in s.vertices { for q in s.vertices { diameter = max(diameter, ((p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y)).squareRoot()) } }
            XCTAssertEqual(diameter, 1, accuracy: 1e-9, "\(s.kind)")
            XCTAssertGreaterThanOrEqual(s.elongation, ShapeSpec.minimumElongation, "\(s.kind)")
            // No rotational symmetry: rotating by 180 degrees (the only candidate an elongated shape
            // could have) never maps the vertex set onto itself.
            let turned = Set(s.vertices.map { "\((-$0.x * 1e6).rounded()),\((-$0.y * 1e6).rounded())" })
            let original = Set(s.vertices.map { "\(($0.x * 1e6).rounded()),\(($0.y * 1e6).rounded())" })
            XCTAssertNotEqual(turned, original, "\(s.kind) is symmetric under a half turn")
        }
        XCTAssertEqual(kinds, Set(ShapeKind.allCases))
    }

    /// The first pair of non-adjacent edges of a closed outline that cross, if any.
    static func crossing(_ p: [SynthPoint]) -> (Int, Int)? {
        func orient(_ a: SynthPoint, _ b: SynthPoint, _ c: SynthPoint) -> Double { (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x) }
        let n = p.count
        for i in 0 ..< n {
            for j in i + 2 ..< max(i + 2, n) where !(i == 0 && j == n - 1) {
                let (a, b, c, d) = (p[i], p[(i + 1) % n], p[j], p[(j + 1) % n])
                if orient(a, b, c) * orient(a, b, d) < 0 && orient(c, d, a) * orient(c, d, b) < 0 { return (i, j) }
            }
        }
        return nil
    }

    func testCrossingFindsABowTie() {
        XCTAssertNotNil(Self.crossing([SynthPoint(0, 0), SynthPoint(1, 1), SynthPoint(1, 0), SynthPoint(0, 1)]))
        XCTAssertNil(Self.crossing([SynthPoint(0, 0), SynthPoint(1, 0), SynthPoint(1, 1), SynthPoint(0, 1)]))
    }

    /// The default set draws the classic families with the random stream they always had (so
    /// the bundled model's training sets re-render the same); the others draw their own.
    func testShapeSetsDrawTheirFamiliesAndTheDefaultStreamIsUnchanged() {
        XCTAssertEqual(ShapeKind.classic, [.arrow, .lShape, .fShape, .notchedTriangle, .irregularPolygon, .flag])
        XCTAssertEqual(Motion10Constraints().shapes, .classic)
        for set in ShapeSet.allCases {
            var c = Motion10Constraints(); c.shapes = set
            let drawn = Set((0 ..< 200).map { Motion10ClipSpec.random(Motion10Class.allCases[$0 % 10], seed: UInt64($0), constraints: c).shape.kind })
            XCTAssertEqual(drawn, Set(set.kinds), "\(set)")
        }
        // `synth motion10 --seed 0`'s first `left` clip, read from its labels.jsonl before the
        // procedural families existed.
        let spec = Motion10ClipSpec.random(.left, seed: SynthRandom.derive(0, 1, 0))
        XCTAssertEqual(spec.shape.kind, .lShape)
        XCTAssertEqual([spec.width, spec.height, spec.frameCount], [154, 216, 43])
        XCTAssertEqual(spec.shape.vertices[0], SynthPoint(-0.18130121868116192, -0.5295388892087893))
        XCTAssertEqual(spec.motion.startX, 96.00341227424727)
    }

    /// Over a few hundred specs every open parameter takes many values.
    func testGeneratorVariesWhatTheContractLeavesOpen() {
        var shapes = Set<ShapeKind>(), backgrounds = Set<BackgroundKind>(), rates = Set<Int>()
        var portrait = 0, landscape = 0, square = 0, noisy = 0, clean = 0, brightObject = 0
        var sizes: [Double] = [], speeds: [Double] = [], durations: [Double] = [], widths = Set<Int>()
        for k in 0..<400 {
            let c = Motion10Class.allCases[k % 10]
            let s = Motion10ClipSpec.random(c, seed: UInt64(k))
            shapes.insert(s.shape.kind); backgrounds.insert(s.background.kind)
            rates.insert(Int((s.fps * 100).rounded())); widths.insert(s.width)
            if s.width < s.height { portrait += 1 } else if s.width > s.height { landscape += 1 } else { square += 1 }
            if s.noiseAmplitude > 0 { noisy += 1 } else { clean += 1 }
            if s.objectColour.luma > s.background.lumaRange.upperBound { brightObject += 1 }
            sizes.append(s.motion.startSize / Double(s.shortSide))
            durations.append(s.duration)
            if c == .left || c == .right { speeds.append(abs(s.motion.endX - s.motion.startX) / s.duration) }
        }
        XCTAssertEqual(shapes, Set(ShapeKind.classic))
        XCTAssertEqual(backgrounds, Set(BackgroundKind.allCases))
        XCTAssertGreaterThanOrEqual(rates.count, 15, "frame rates")
        XCTAssertGreaterThan(portrait, 40); XCTAssertGreaterThan(landscape, 40); XCTAssertGreaterThan(square, 5)
        XCTAssertGreaterThan(widths.count, 100)
        XCTAssertGreaterThan(noisy, 100); XCTAssertGreaterThan(clean, 40)
        XCTAssert((120...280).contains(brightObject), "bright objects \(brightObject) of 400")
        XCTAssertLessThan(sizes.min()!, 0.18); XCTAssertGreaterThan(sizes.max()!, 0.32)
        XCTAssertLessThan(durations.min()!, 2.2); XCTAssertGreaterThan(durations.max()!, 3.8)
        XCTAssertGreaterThan(speeds.max()! / speeds.min()!, 3, "translation speeds")
    }

    func testConstraintsOutsideTheContractAreReported() {
        var c = Motion10Constraints()
        XCTAssertEqual(c.problems(), [])
        c.maxWidth = 1280
        XCTAssertEqual(c.problems().count, 1)
        c = Motion10Constraints(); c.minFPS = 31
        XCTAssertFalse(c.problems().isEmpty)
    }

    func testObjectScaleShrinksOnlyTheObjectAndDefaultsToTheContract() {
        var c = Motion10Constraints()
        c.objectScale = 0.5 ... 0.5
        XCTAssertEqual(c.problems(), [])
        for k in 0 ..< 40 {
            let cls = Motion10Class.allCases[k % 10]
            let plain = Motion10ClipSpec.random(cls, seed: UInt64(k))
            let small = Motion10ClipSpec.random(cls, seed: UInt64(k), constraints: c)
            XCTAssertEqual(small.motion.startSize, plain.motion.startSize / 2, accuracy: 1e-9)
            XCTAssertEqual(small.motion.endSize, plain.motion.endSize / 2, accuracy: 1e-9)
            // Everything else is the unscaled clip's.
            var resized = small.motion
            (resized.startSize, resized.endSize) = (plain.motion.startSize, plain.motion.endSize)
            XCTAssertEqual(resized, plain.motion)
            XCTAssertEqual([small.width, small.height, small.frameCount], [plain.width, plain.height, plain.frameCount])
        }
        c.objectScale = 0 ... 1
        XCTAssertEqual(c.problems().count, 1)
        c.objectScale = 0.5 ... 1.5
        XCTAssertEqual(c.problems().count, 1)
    }

    func testConstraintsAreHonoured() {
        var c = Motion10Constraints()
        c.minWidth = 200; c.maxWidth = 240; c.minHeight = 100; c.maxHeight = 120; c.minFPS = 24; c.maxFPS = 25
        for k in 0..<100 {
            let s = Motion10ClipSpec.random(Motion10Class.allCases[k % 10], seed: UInt64(k), constraints: c)
            XCTAssert((200...240).contains(s.width) && (100...120).contains(s.height), "\(s.width)x\(s.height)")
            XCTAssert(s.width % 2 == 0 && s.height % 2 == 0)
            XCTAssert((23.9...25.0).contains(s.fps), "\(s.fps)")
        }
    }
}
