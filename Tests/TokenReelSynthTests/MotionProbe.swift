import Foundation
@testable import TokenReelSynth

/// The test oracle: measures the object in RGB24 frames, knowing only which luma side the
/// object is on (from the spec's colours), never the generator's motion parameters.
///
/// Coordinates are pixel centres (i + 0.5, j + 0.5), y down. Orientation is the principal axis
/// of the mask, `0.5 * atan2(2 mu11, mu20 - mu02)`: with y pointing down, an *increasing*
/// angle turns the axis from +x towards +y, i.e. clockwise on screen (checked against a
/// hand-drawn picture in `testOrientationSignConventionOnHandDrawnBars`).
struct ObjectMeasure {
    var area: Int
    var centerX: Double
    var centerY: Double
    /// Principal-axis angle in radians (mod pi).
    var orientation: Double
    /// The mask touches the frame's border.
    var touchesBorder: Bool
    /// The mask, [H, W], row-major.
    var mask: [Bool]
    var width: Int
    var height: Int

    /// Largest extent of the mask over 72 directions, in pixels (pixel-centre extent + 1): an
    /// estimate of the object's Feret diameter, its linear size.
    var feretDiameter: Double {
        var points: [(Double, Double)] = []
        for y in 0..<height { for x in 0..<width where mask[y * width + x] { points.append((Double(x), Double(y))) } }
        guard !points.isEmpty else { return 0 }
        var best = 0.0
        for k in 0..<72 {
            let a = Double(k) * Double.pi / 72
            let (c, s) = (cos(a), sin(a))
            var lo = Double.infinity, hi = -Double.infinity
            for p in points { let u = p.0 * c + p.1 * s; lo = min(lo, u); hi = max(hi, u) }
            best = max(best, hi - lo + 1)
        }
        return best
    }
}

enum MotionProbe {
    /// BT.601 luma of pixel `i` (0...1).
    static func luma(_ rgb: [UInt8], _ i: Int) -> Double {
        (0.299 * Double(rgb[3 * i]) + 0.587 * Double(rgb[3 * i + 1]) + 0.114 * Double(rgb[3 * i + 2])) / 255
    }

    /// Threshold halfway between the object's luma and the nearest background luma.
    static func threshold(for spec: Motion10ClipSpec) -> (value: Double, objectIsBrighter: Bool) {
        let object = spec.objectColour.luma, range = spec.background.lumaRange
        let brighter = object > range.upperBound
        return ((object + (brighter ? range.upperBound : range.lowerBound)) / 2, brighter)
    }

    static func measure(_ rgb: [UInt8], width: Int, height: Int, threshold: Double, objectIsBrighter: Bool) -> ObjectMeasure {
        var mask = [Bool](repeating: false, count: width * height)
        for i in 0..<(width * height) {
            let y = luma(rgb, i)
            mask[i] = objectIsBrighter ? y > threshold : y < threshold
        }
        return measure(mask: mask, width: width, height: height)
    }

    static func measure(mask: [Bool], width: Int, height: Int) -> ObjectMeasure {
        var n = 0, sx = 0.0, sy = 0.0, border = false
        for y in 0..<height { for x in 0..<width where mask[y * width + x] {
            n += 1; sx += Double(x) + 0.5; sy += Double(y) + 0.5
            if x == 0 || y == 0 || x == width - 1 || y == height - 1 { border = true }
        } }
        guard n > 0 else { return ObjectMeasure(area: 0, centerX: .nan, centerY: .nan, orientation: .nan, touchesBorder: false, mask: mask, width: width, height: height) }
        let cx = sx / Double(n), cy = sy / Double(n)
        var m20 = 0.0, m02 = 0.0, m11 = 0.0
        for y in 0..<height { for x in 0..<width where mask[y * width + x] {
            let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
            m20 += dx * dx; m02 += dy * dy; m11 += dx * dy
        } }
        return ObjectMeasure(area: n, centerX: cx, centerY: cy, orientation: 0.5 * atan2(2 * m11, m20 - m02),
                             touchesBorder: border, mask: mask, width: width, height: height)
    }

    /// Measures every frame of a clip.
    static func track(_ frames: [[UInt8]], spec: Motion10ClipSpec) -> [ObjectMeasure] {
        let t = threshold(for: spec)
        return frames.map { measure($0, width: spec.width, height: spec.height, threshold: t.value, objectIsBrighter: t.objectIsBrighter) }
    }

    /// Sum of frame-to-frame principal-axis turns, each unwrapped into (-90, 90] degrees.
    /// Positive = clockwise on screen.
    static func totalTurnDegrees(_ track: [ObjectMeasure]) -> Double {
        var total = 0.0
        for i in 1..<track.count {
            var d = track[i].orientation - track[i - 1].orientation
            while d > Double.pi / 2 { d -= Double.pi }
            while d <= -Double.pi / 2 { d += Double.pi }
            total += d
        }
        return total * 180 / Double.pi
    }

    /// Largest principal-axis difference from the first frame, wrapped into [0, 90] degrees.
    static func maxTurnFromFirstDegrees(_ track: [ObjectMeasure]) -> Double {
        let v = track.filter { $0.area > 0 }
        return v.map { m -> Double in
            var d = abs(m.orientation - v[0].orientation).truncatingRemainder(dividingBy: Double.pi)
            if d > Double.pi / 2 { d = Double.pi - d }
            return d * 180 / Double.pi
        }.max() ?? 0
    }

    /// Largest deviation of a series from its least-squares line.
    static func lineResidual(_ values: [Double]) -> Double {
        let n = Double(values.count)
        let xs = values.indices.map(Double.init)
        let mx = xs.reduce(0, +) / n, my = values.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0
        for (x, y) in zip(xs, values) { sxy += (x - mx) * (y - my); sxx += (x - mx) * (x - mx) }
        let slope = sxx > 0 ? sxy / sxx : 0
        return zip(xs, values).map { abs($1 - (my + slope * ($0 - mx))) }.max() ?? 0
    }

    /// Names the motion a track shows, from measurements alone (the contract's table read
    /// backwards, with thresholds halfway between "none" and what a class must show).
    static func classify(_ track: [ObjectMeasure], width: Int, height: Int) -> Motion10Class? {
        let visible = track.filter { $0.area > 0 }
        guard let first = visible.first, let last = visible.last else { return nil }
        let states = track.map { $0.area > 0 }
        let transitions = zip(states, states.dropFirst()).filter { $0 != $1 }.count
        if transitions >= 4 { return .blink }
        let turn = totalTurnDegrees(visible)
        if abs(turn) >= 120 { return turn > 0 ? .rotateCW : .rotateCCW }
        let scale = (Double(last.area) / Double(first.area)).squareRoot()
        if scale >= 1.5 { return .zoomIn }
        if scale <= 1 / 1.5 { return .zoomOut }
        let dx = (last.centerX - first.centerX) / Double(width), dy = (last.centerY - first.centerY) / Double(height)
        if max(abs(dx), abs(dy)) >= 0.15 {
            return abs(dx) > abs(dy) ? (dx < 0 ? .left : .right) : (dy < 0 ? .up : .down)
        }
        return .static
    }
}
