import Foundation

/// Where the object is in one frame. Coordinates are pixels with the origin at the top-left
/// corner of the frame (pixel (i, j) covers [i, i+1) x [j, j+1)), y pointing down.
public struct ObjectState: Codable, Equatable, Sendable {
    /// Position of the object's area centroid.
    public var centerX: Double
    public var centerY: Double
    /// Linear size (Feret diameter) in pixels.
    public var size: Double
    /// Orientation in degrees, positive = clockwise on screen.
    public var angle: Double
    public var visible: Bool
}

/// How the object moves over the clip. Position, size and angle run from their start to their
/// end value along `progress(t)`, t = frame / (frames - 1); the size follows a geometric path
/// (constant zoom rate).
public struct MotionSpec: Codable, Equatable, Sendable {
    public var startX: Double, startY: Double
    public var endX: Double, endY: Double
    public var startSize: Double, endSize: Double
    public var startAngle: Double, endAngle: Double
    /// Speed variation: progress(t) = t + easing * sin(2 pi t) / (2 pi). |easing| < 1 keeps the
    /// motion monotonic; the generator uses |easing| <= 0.2 ("roughly constant speed").
    public var easing: Double
    /// Blink: period in frames, visible fraction of each period, and phase in frames. nil = always visible.
    public var blinkPeriod: Double?
    public var blinkDuty: Double?
    public var blinkPhase: Double?

    func progress(_ t: Double) -> Double { t + easing * sin(2 * Double.pi * t) / (2 * Double.pi) }
}

/// Everything needed to render one Motion10 clip, reproducibly. Written next to every clip in
/// `labels.jsonl` as its ground truth.
public struct Motion10ClipSpec: Codable, Equatable, Sendable {
    public var motionClass: Motion10Class
    public var seed: UInt64
    public var width: Int
    public var height: Int
    /// Frame rate as a rational number (e.g. 30000/1001).
    public var fpsNumerator: Int
    public var fpsDenominator: Int
    public var frameCount: Int
    public var shape: ShapeSpec
    public var objectColour: SynthColour
    public var background: BackgroundSpec
    /// Per-pixel noise: every channel of every pixel gets a triangular-distributed offset in
    /// [-noiseAmplitude, +noiseAmplitude] (0...1 scale), fresh for every frame.
    public var noiseAmplitude: Double
    public var motion: MotionSpec

    public var fps: Double { Double(fpsNumerator) / Double(fpsDenominator) }
    public var duration: Double { Double(frameCount) / fps }
    public var shortSide: Int { min(width, height) }

    /// The object's state in frame `frame` (0-based).
    public func state(at frame: Int) -> ObjectState {
        let t = frameCount > 1 ? Double(frame) / Double(frameCount - 1) : 0
        let p = motion.progress(t)
        let size = motion.startSize * pow(motion.endSize / motion.startSize, p)
        var visible = true
        if let period = motion.blinkPeriod, let duty = motion.blinkDuty, let phase = motion.blinkPhase {
            let u = (Double(frame) + phase) / period
            visible = u - floor(u) < duty
        }
        return ObjectState(centerX: motion.startX + (motion.endX - motion.startX) * p,
                           centerY: motion.startY + (motion.endY - motion.startY) * p,
                           size: size,
                           angle: motion.startAngle + (motion.endAngle - motion.startAngle) * p,
                           visible: visible)
    }

    /// The object's outline in frame pixels for a given state.
    public func outline(_ state: ObjectState) -> [SynthPoint] {
        ShapeSpec.place(shape.vertices, x: state.centerX, y: state.centerY, size: state.size, angleDegrees: state.angle)
    }
}

extension ShapeSpec {
    /// Vertices scaled by `size`, turned clockwise on screen by `angleDegrees`, moved to (x, y).
    static func place(_ vertices: [SynthPoint], x: Double, y: Double, size: Double, angleDegrees: Double) -> [SynthPoint] {
        let a = angleDegrees * Double.pi / 180
        let (c, s) = (cos(a), sin(a))
        return vertices.map { v in SynthPoint(x + size * (v.x * c - v.y * s), y + size * (v.x * s + v.y * c)) }
    }
}

/// The envelope a generated set is drawn from. Defaults are the contract's own limits.
public struct Motion10Constraints: Sendable, Equatable {
    public var minWidth = 96, minHeight = 96
    public var maxWidth = 640, maxHeight = 480
    public var minFPS = 12, maxFPS = 30
    public var minDuration = 2.0, maxDuration = 4.0
    /// Training data beyond the contract: each clip's object is drawn at a factor from this range
    /// (one per clip) times the size the contract's range gave it, so below 1 the object can be
    /// smaller than the contract's 15% of the short side, as thin shapes of another generator
    /// look. The default 1...1 draws nothing: the clips of a seed stay byte for byte the same.
    public var objectScale: ClosedRange<Double> = 1 ... 1
    /// Shape families to draw from. The default, `classic`, keeps a seed's clips as they were
    /// before the procedural families existed; `all` and `procedural` (training data meant to
    /// generalise to other generators' shapes) change every clip of a seed.
    public var shapes: ShapeSet = .classic

    public init() {}

    /// Problems that make the envelope empty or step outside the contract, one sentence each.
    public func problems() -> [String] {
        var out: [String] = []
        if minWidth < 96 || minHeight < 96 { out.append("minimum size \(minWidth)x\(minHeight) is below the contract's 96x96") }
        if maxWidth > 640 || maxHeight > 480 { out.append("maximum size \(maxWidth)x\(maxHeight) is above the contract's 640x480") }
        if minWidth > maxWidth || minHeight > maxHeight { out.append("minimum size \(minWidth)x\(minHeight) exceeds maximum \(maxWidth)x\(maxHeight)") }
        if minFPS < 12 || maxFPS > 30 || minFPS > maxFPS { out.append("frame rates \(minFPS)...\(maxFPS) are not inside 12...30") }
        if minDuration < 2 || maxDuration > 4 || minDuration > maxDuration { out.append("durations \(minDuration)...\(maxDuration) s are not inside 2...4 s") }
        if !(objectScale.lowerBound > 0 && objectScale.upperBound <= 1) {
            out.append("object scale \(objectScale.lowerBound)...\(objectScale.upperBound) is not inside (0, 1]")
        }
        return out
    }
}

extension Motion10ClipSpec {
    /// Margins the generator keeps inside the contract's limits so that a measurement from
    /// rasterised, anti-aliased, encoded frames still lands inside them.
    public enum Margins {
        /// Object linear size, fraction of the short side (contract: 0.15...0.35).
        public static let sizeRange = 0.16...0.34
        /// Minimum luma gap object/background (contract: 0.25).
        public static let lumaGap = 0.32
        /// Translation distance, fraction of width/height (contract: >= 0.30).
        public static let minTravel = 0.33
        /// Perpendicular drift of a translation, fraction of the short side (contract: <= 0.05).
        public static let maxDrift = 0.03
        /// Zoom factor (contract: >= 1.8).
        public static let minZoom = 1.9
        /// Total rotation in degrees (contract: 180...360).
        public static let rotation = 190.0...350.0
        /// Centre drift of `static` (contract: <= 0.02 of the short side) and of zooms (<= 0.05).
        public static let staticDrift = 0.01, zoomDrift = 0.015
        /// Blink: full cycles per clip (contract: >= 2) and minimum frames per on/off phase.
        public static let blinkCycles = 2.3...4.5, blinkMinPhaseFrames = 2.0
        /// Largest per-pixel noise amplitude (0...1 scale).
        public static let maxNoise = 0.05
    }

    /// Draws a clip of class `motionClass` from `seed`, inside `constraints`.
    ///
    /// Every parameter the contract leaves open is drawn here, in a fixed order, from one
    /// `SynthRandom` stream, so the same (class, seed, constraints) always give the same spec.
    public static func random(_ motionClass: Motion10Class, seed: UInt64, constraints: Motion10Constraints = .init()) -> Motion10ClipSpec {
        var rng = SynthRandom(seed: seed)

        // Resolution: a common or a random aspect ratio, a width, all clamped and made even
        // (even sizes suit every 4:2:0 encoder).
        let aspects: [Double] = [1, 4.0 / 3, 3.0 / 2, 16.0 / 9, 2, 3.0 / 4, 9.0 / 16, 2.0 / 3]
        let aspect = rng.chance(0.6) ? rng.pick(aspects) : exp(rng.uniform(log(0.5), log(2)))
        let logW = rng.uniform(log(Double(constraints.minWidth)), log(Double(constraints.maxWidth)))
        func even(_ v: Double, _ lo: Int, _ hi: Int) -> Int {
            let clamped = min(max(Int(v.rounded()), lo), hi)
            let e = clamped & ~1
            return e < lo ? min(e + 2, hi) : e
        }
        let width = even(exp(logW), constraints.minWidth, constraints.maxWidth)
        let height = even(Double(width) / aspect, constraints.minHeight, constraints.maxHeight)
        let short = Double(min(width, height))

        // Frame rate and length.
        let allCommonRates: [(Int, Int)] = [(12, 1), (15, 1), (24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (20, 1)]
        let commonRates = allCommonRates.filter { (n: Int, d: Int) -> Bool in
            let value = Double(n) / Double(d)
            return value >= Double(constraints.minFPS) && value <= Double(constraints.maxFPS)
        }
        let rate = rng.chance(0.6) && !commonRates.isEmpty ? rng.pick(commonRates) : (rng.int(constraints.minFPS, constraints.maxFPS), 1)
        let fps = Double(rate.0) / Double(rate.1)
        let minFrames = Int((constraints.minDuration * fps).rounded(.up)), maxFrames = Int((constraints.maxDuration * fps).rounded(.down))
        let frameCount = rng.int(minFrames, max(minFrames, maxFrames))

        // Object and background colours with a luma gap everywhere.
        let shape = ShapeSpec.random(from: constraints.shapes.kinds, using: &rng)
        let brightObject = rng.chance(0.5)
        let objectLuma = brightObject ? rng.uniform(0.5, 0.97) : rng.uniform(0.03, 0.5)
        let bgLo = brightObject ? 0.0 : objectLuma + Margins.lumaGap
        let bgHi = brightObject ? objectLuma - Margins.lumaGap : 1.0
        let lumaA = rng.uniform(max(bgLo, 0), max(bgHi, 0))
        let spread = rng.uniform(0.05, 0.3)
        let lumaB = min(max(lumaA + (rng.chance(0.5) ? spread : -spread), max(bgLo, 0)), max(bgHi, 0))
        let objectColour = SynthColour.random(luma: objectLuma, using: &rng)
        let kind = rng.pick(BackgroundKind.allCases)
        let colourA = SynthColour.random(luma: lumaA, using: &rng)
        let colourB = SynthColour.random(luma: lumaB, using: &rng)
        let background = BackgroundSpec(
            kind: kind, colourA: colourA, colourB: kind == .solid ? colourA : colourB,
            angle: rng.uniform(0, 2 * Double.pi),
            stripePeriod: rng.uniform(0.08, 0.3) * short, stripeSoftness: rng.uniform(0, 0.25),
            noiseCell: rng.uniform(0.1, 0.4) * short, noiseSeed: rng.next())
        let noise = rng.chance(0.25) ? 0 : rng.uniform(0, Margins.maxNoise)

        var motion = sampleMotion(motionClass, shape: shape, width: Double(width), height: Double(height),
                                  frameCount: frameCount, using: &rng)
        if constraints.objectScale != 1 ... 1 {
            // Drawn last, so every other parameter is the unscaled clip's; a smaller object still
            // stays inside the frame on the same path.
            let factor = rng.uniform(constraints.objectScale.lowerBound, constraints.objectScale.upperBound)
            motion.startSize *= factor
            motion.endSize *= factor
        }
        return Motion10ClipSpec(motionClass: motionClass, seed: seed, width: width, height: height,
                                fpsNumerator: rate.0, fpsDenominator: rate.1, frameCount: frameCount,
                                shape: shape, objectColour: objectColour, background: background,
                                noiseAmplitude: noise, motion: motion)
    }

    /// The class-specific part: sizes, angles, path, blinking.
    private static func sampleMotion(_ motionClass: Motion10Class, shape: ShapeSpec, width: Double, height: Double,
                                     frameCount: Int, using rng: inout SynthRandom) -> MotionSpec {
        let short = min(width, height)
        let margin = 1.0
        let angle0 = rng.uniform(0, 360)
        let easing = rng.uniform(-0.2, 0.2)

        /// Range of centre positions that keep the object (at `size`, `angle`) fully inside.
        func centreRange(size: Double, angle: Double) -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
            let p = ShapeSpec.place(shape.vertices, x: 0, y: 0, size: size, angleDegrees: angle)
            let xs = p.map(\.x), ys = p.map(\.y)
            return ((-xs.min()! + margin)...(width - xs.max()! - margin), (-ys.min()! + margin)...(height - ys.max()! - margin))
        }
        func inside(_ r: ClosedRange<Double>) -> Double { rng.uniform(r.lowerBound, r.upperBound) }

        var m = MotionSpec(startX: 0, startY: 0, endX: 0, endY: 0, startSize: 0, endSize: 0,
                           startAngle: angle0, endAngle: angle0, easing: easing,
                           blinkPeriod: nil, blinkDuty: nil, blinkPhase: nil)
        switch motionClass {
        case .static, .blink:
            let size = rng.uniform(Margins.sizeRange.lowerBound, Margins.sizeRange.upperBound) * short
            let r = centreRange(size: size, angle: angle0)
            m.startSize = size; m.endSize = size
            m.startX = inside(r.x); m.startY = inside(r.y)
            if motionClass == .static {
                // A barely visible drift, as a hand-held "static" shot has.
                let d = rng.uniform(0, Margins.staticDrift) * short, a = rng.uniform(0, 2 * Double.pi)
                m.endX = min(max(m.startX + d * cos(a), r.x.lowerBound), r.x.upperBound)
                m.endY = min(max(m.startY + d * sin(a), r.y.lowerBound), r.y.upperBound)
            } else {
                m.endX = m.startX; m.endY = m.startY
                m.easing = 0
                let n = Double(frameCount)
                let maxCycles = min(Margins.blinkCycles.upperBound, n / (2 * Margins.blinkMinPhaseFrames) / 1.25)
                let cycles = rng.uniform(Margins.blinkCycles.lowerBound, max(Margins.blinkCycles.lowerBound, maxCycles))
                let period = n / cycles
                let duty = rng.uniform(max(0.4, Margins.blinkMinPhaseFrames / period), min(0.6, 1 - Margins.blinkMinPhaseFrames / period))
                m.blinkPeriod = period; m.blinkDuty = duty; m.blinkPhase = rng.uniform(0, period)
            }
        case .left, .right, .up, .down:
            let size = rng.uniform(Margins.sizeRange.lowerBound, Margins.sizeRange.upperBound) * short
            let r = centreRange(size: size, angle: angle0)
            m.startSize = size; m.endSize = size
            let horizontal = motionClass == .left || motionClass == .right
            let along = horizontal ? r.x : r.y, across = horizontal ? r.y : r.x
            let extent = horizontal ? width : height
            let available = along.upperBound - along.lowerBound
            let travel = rng.uniform(Margins.minTravel * extent, max(Margins.minTravel * extent, min(0.8 * extent, available)))
            let from = rng.uniform(along.lowerBound, max(along.lowerBound, along.upperBound - travel))
            let forward = motionClass == .right || motionClass == .down
            let a0 = forward ? from : from + travel, a1 = forward ? from + travel : from
            let c0 = inside(across)
            let drift = rng.uniform(-Margins.maxDrift, Margins.maxDrift) * short
            let c1 = min(max(c0 + drift, across.lowerBound), across.upperBound)
            if horizontal { (m.startX, m.endX, m.startY, m.endY) = (a0, a1, c0, c1) } else { (m.startY, m.endY, m.startX, m.endX) = (a0, a1, c0, c1) }
        case .zoomIn, .zoomOut:
            let lo = Margins.sizeRange.lowerBound, hi = Margins.sizeRange.upperBound
            let small = rng.uniform(lo, hi / Margins.minZoom) * short
            let factor = rng.uniform(Margins.minZoom, hi * short / small)
            let big = small * factor
            let r = centreRange(size: big, angle: angle0)
            m.startX = inside(r.x); m.startY = inside(r.y)
            let d = rng.uniform(0, Margins.zoomDrift) * short, a = rng.uniform(0, 2 * Double.pi)
            m.endX = min(max(m.startX + d * cos(a), r.x.lowerBound), r.x.upperBound)
            m.endY = min(max(m.startY + d * sin(a), r.y.lowerBound), r.y.upperBound)
            (m.startSize, m.endSize) = motionClass == .zoomIn ? (small, big) : (big, small)
        case .rotateCW, .rotateCCW:
            let size = rng.uniform(Margins.sizeRange.lowerBound, Margins.sizeRange.upperBound) * short
            let radius = shape.circumradius * size + margin
            m.startSize = size; m.endSize = size
            m.startX = rng.uniform(radius, width - radius); m.startY = rng.uniform(radius, height - radius)
            m.endX = m.startX; m.endY = m.startY
            let total = rng.uniform(Margins.rotation.lowerBound, Margins.rotation.upperBound)
            m.endAngle = angle0 + (motionClass == .rotateCW ? total : -total)
        }
        return m
    }
}
