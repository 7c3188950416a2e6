import Foundation

/// A 2-D point in shape or pixel units.
public struct SynthPoint: Codable, Equatable, Sendable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// The families of filled, rotationally asymmetric shapes the generator draws.
public enum ShapeKind: String, CaseIterable, Codable, Sendable {
    case arrow
    case lShape = "L"
    case fShape = "F"
    case notchedTriangle = "notched_triangle"
    case irregularPolygon = "irregular_polygon"
    case flag
    /// A smooth closed curve: radius 1 plus four random harmonics of the angle (beans,
    /// teardrops, kidneys, pinched potatoes).
    case blob
    /// A thick stroke along a random path: a polyline of two to four segments turning by 40-140
    /// degrees either way (Z, S, hooks, zigzags, bent Ls) or an arc of 160-300 degrees (C, hook).
    case stroke

    /// The families the bundled model was trained on; the default set draws only these, so a
    /// seed's clips are the same as before the procedural families existed.
    public static let classic: [ShapeKind] = [.arrow, .lShape, .fShape, .notchedTriangle, .irregularPolygon, .flag]
    /// Families built from random curves and paths rather than a fixed outline, for training
    /// that must generalise to shapes no one listed.
    public static let procedural: [ShapeKind] = [.blob, .stroke]
}

/// Which shape families a generated set draws from.
public enum ShapeSet: String, CaseIterable, Sendable {
    case classic, procedural, all

    public var kinds: [ShapeKind] {
        switch self {
        case .classic: return ShapeKind.classic
        case .procedural: return ShapeKind.procedural
        case .all: return ShapeKind.classic + ShapeKind.procedural
        }
    }
}

/// One concrete shape: a simple polygon in normalised units.
///
/// Normalisation: the polygon's area centroid is at the origin (so scaling and rotating about the
/// origin keep the object's centre of mass fixed on screen) and its largest vertex-to-vertex
/// distance, the Feret diameter, is 1. The object's *linear size* in the contract is that
/// diameter times `ObjectState.size`.
public struct ShapeSpec: Codable, Equatable, Sendable {
    public var kind: ShapeKind
    public var vertices: [SynthPoint]

    /// Ratio of the larger to the smaller principal second moment of the filled shape. Every
    /// generated shape has at least `ShapeSpec.minimumElongation`, so its orientation is visible
    /// (and measurable) in every frame.
    public var elongation: Double { ShapeSpec.elongation(vertices) }

    /// Largest distance of a vertex from the centroid (the radius that any rotation sweeps).
    public var circumradius: Double { vertices.map { ($0.x * $0.x + $0.y * $0.y).squareRoot() }.max() ?? 0 }

    public static let minimumElongation = 1.7

    /// Draws a random shape of a random family among `kinds`.
    static func random(from kinds: [ShapeKind] = ShapeKind.classic, using rng: inout SynthRandom) -> ShapeSpec {
        let kind = rng.pick(kinds)
        var points = rawPolygon(kind, using: &rng)
        if rng.chance(0.5) { points = points.reversed().map { SynthPoint(-$0.x, $0.y) } }   // mirror image
        points = normalised(points)
        // Stretch along the major axis until the orientation is unambiguous.
        var tries = 0
        while elongation(points) < minimumElongation && tries < 20 {
            let axis = majorAxisAngle(points)
            points = normalised(points.map { p in
                let (c, s) = (cos(axis), sin(axis))
                let u = p.x * c + p.y * s, v = -p.x * s + p.y * c
                let u2 = u * 1.2
                return SynthPoint(u2 * c - v * s, u2 * s + v * c)
            })
            tries += 1
        }
        return ShapeSpec(kind: kind, vertices: points)
    }

    /// Un-normalised outlines, counter-clockwise or clockwise (filling is even-odd, so either works).
    private static func rawPolygon(_ kind: ShapeKind, using rng: inout SynthRandom) -> [SynthPoint] {
        switch kind {
        case .arrow:
            let shaft = rng.uniform(0.16, 0.28), head = rng.uniform(0.42, 0.6), headLength = rng.uniform(0.28, 0.45)
            let neck = 1 - headLength
            return [SynthPoint(0, -shaft / 2), SynthPoint(neck, -shaft / 2), SynthPoint(neck, -head / 2),
                    SynthPoint(1, 0), SynthPoint(neck, head / 2), SynthPoint(neck, shaft / 2), SynthPoint(0, shaft / 2)]
        case .lShape:
            let stem = rng.uniform(0.2, 0.32), foot = rng.uniform(0.5, 0.75), thick = rng.uniform(0.2, 0.3)
            return [SynthPoint(0, 0), SynthPoint(stem, 0), SynthPoint(stem, 1 - thick), SynthPoint(foot, 1 - thick),
                    SynthPoint(foot, 1), SynthPoint(0, 1)]
        case .fShape:
            let stem = rng.uniform(0.18, 0.26), top = rng.uniform(0.55, 0.72), mid = rng.uniform(0.38, 0.52)
            let t = rng.uniform(0.16, 0.22), m = rng.uniform(0.38, 0.5)
            return [SynthPoint(0, 0), SynthPoint(top, 0), SynthPoint(top, t), SynthPoint(stem, t), SynthPoint(stem, m),
                    SynthPoint(mid, m), SynthPoint(mid, m + t), SynthPoint(stem, m + t), SynthPoint(stem, 1), SynthPoint(0, 1)]
        case .notchedTriangle:
            let a = SynthPoint(0, 0), b = SynthPoint(1, rng.uniform(-0.1, 0.2)), c = SynthPoint(rng.uniform(0.15, 0.45), rng.uniform(0.65, 0.9))
            let f = rng.uniform(0.3, 0.65), half = rng.uniform(0.06, 0.1), depth = rng.uniform(0.15, 0.25)
            func lerp(_ p: SynthPoint, _ q: SynthPoint, _ t: Double) -> SynthPoint { SynthPoint(p.x + (q.x - p.x) * t, p.y + (q.y - p.y) * t) }
            let (dx, dy) = (b.x - a.x, b.y - a.y)
            let length = (dx * dx + dy * dy).squareRoot()
            var normal = SynthPoint(-dy / length, dx / length)   // points into the triangle (towards c)
            if normal.x * (c.x - a.x) + normal.y * (c.y - a.y) < 0 { normal = SynthPoint(-normal.x, -normal.y) }
            let mid = lerp(a, b, f)
            let tip = SynthPoint(mid.x + normal.x * depth, mid.y + normal.y * depth)
            return [a, lerp(a, b, f - half), tip, lerp(a, b, f + half), b, c]
        case .irregularPolygon:
            let n = rng.int(6, 10), stretch = rng.uniform(1.2, 1.8)
            var points: [SynthPoint] = []
            for i in 0..<n {
                let angle = (Double(i) + rng.uniform(-0.3, 0.3)) / Double(n) * 2 * Double.pi
                let radius = rng.uniform(0.45, 1.0)
                points.append(SynthPoint(radius * cos(angle) * stretch, radius * sin(angle)))
            }
            return points
        case .flag:
            let pole = rng.uniform(0.1, 0.16), width = rng.uniform(0.45, 0.7), height = rng.uniform(0.38, 0.55)
            return [SynthPoint(0, 0), SynthPoint(pole, 0), SynthPoint(pole + width, height / 2), SynthPoint(pole, height),
                    SynthPoint(pole, 1), SynthPoint(0, 1)]
        case .blob:
            let amplitudes = [rng.uniform(0, 0.35), rng.uniform(0, 0.35), rng.uniform(0, 0.2), rng.uniform(0, 0.12)]
            let phases = (0..<4).map { _ in rng.uniform(0, 2 * Double.pi) }
            let n = 48
            return (0..<n).map { i in
                let angle = Double(i) / Double(n) * 2 * Double.pi
                var radius = 1.0
                for (k, a) in amplitudes.enumerated() { radius += a * cos(Double(k + 1) * angle + phases[k]) }
                radius = max(radius, 0.2)
                return SynthPoint(radius * cos(angle), radius * sin(angle))
            }
        case .stroke:
            // Widths are fractions of the path's extent (its Feret diameter), so
            // after normalisation a stroke is 15-30% of the object's size, as thick as the classic
            // shapes' arms, whatever the path's length.
            let relativeWidth = rng.uniform(0.15, 0.3)
            if rng.chance(0.25) {
                let sweep = rng.uniform(160, 300) * Double.pi / 180
                let extent = 2 * sin(min(sweep, Double.pi) / 2)    // the arc's chord, or its diameter past a half turn
                return arcOutline(sweep: sweep, width: relativeWidth * extent)
            }
            // A path that never comes back within a stroke width of itself, so the outline is simple.
            for _ in 0..<50 {
                var path = [SynthPoint(0, 0)]
                var heading = 0.0
                for k in 0..<rng.int(2, 4) {
                    if k > 0 { heading += (rng.chance(0.5) ? 1 : -1) * rng.uniform(40, 140) * Double.pi / 180 }
                    let length = rng.uniform(0.9, 1.8), last = path[path.count - 1]
                    path.append(SynthPoint(last.x + length * cos(heading), last.y + length * sin(heading)))
                }
                let width = relativeWidth * feretDiameter(path)
                if strokeIsSimple(path, width: width) { return strokeOutline(path, width: width) }
            }
            return strokeOutline([SynthPoint(0, 0), SynthPoint(1.5, 0), SynthPoint(1.5, 1)], width: relativeWidth * 1.8)   // an L
        }
    }

    /// The outline of a stroke of `width` along `path` (mitred joins, square ends): the left
    /// offset forwards, then the right offset backwards.
    static func strokeOutline(_ path: [SynthPoint], width: Double) -> [SynthPoint] {
        func offsetSide(_ sign: Double) -> [SynthPoint] {
            let h = width / 2 * sign
            var points: [SynthPoint] = []
            for i in 0..<path.count {
                // Unit normals of the segments before and after vertex i.
                func normal(_ a: SynthPoint, _ b: SynthPoint) -> SynthPoint {
                    let dx = b.x - a.x, dy = b.y - a.y, l = (dx * dx + dy * dy).squareRoot()
                    return SynthPoint(-dy / l, dx / l)
                }
                let before = i > 0 ? normal(path[i - 1], path[i]) : nil
                let after = i < path.count - 1 ? normal(path[i], path[i + 1]) : nil
                let p = path[i]
                switch (before, after) {
                case let (b?, a?):
                    // Mitre: the offset lines meet at p + h (b + a) / (1 + b.a).
                    let d = 1 + b.x * a.x + b.y * a.y
                    points.append(SynthPoint(p.x + h * (b.x + a.x) / d, p.y + h * (b.y + a.y) / d))
                case let (n?, nil), let (nil, n?):
                    points.append(SynthPoint(p.x + h * n.x, p.y + h * n.y))
                case (nil, nil):
                    break
                }
            }
            return points
        }
        return offsetSide(1) + offsetSide(-1).reversed()
    }

    /// Whether no two non-adjacent segments of `path` come within 1.2 stroke widths, and no
    /// turn is so sharp that the mitre reaches past the next segment.
    static func strokeIsSimple(_ path: [SynthPoint], width: Double) -> Bool {
        func distance(_ p: SynthPoint, _ a: SynthPoint, _ b: SynthPoint) -> Double {
            let dx = b.x - a.x, dy = b.y - a.y
            let t = max(0, min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy)))
            let x = a.x + t * dx - p.x, y = a.y + t * dy - p.y
            return (x * x + y * y).squareRoot()
        }
        func segmentDistance(_ i: Int, _ j: Int) -> Double {
            let (a, b, c, d) = (path[i], path[i + 1], path[j], path[j + 1])
            return min(distance(a, c, d), distance(b, c, d), distance(c, a, b), distance(d, a, b))
        }
        let segments = path.count - 1
        for i in 0..<segments { for j in (i + 2)..<max(i + 2, segments) where segmentDistance(i, j) < 1.2 * width { return false } }
        // How far along its segments the inner mitre of vertex i reaches: h / tan(half the interior angle).
        func reach(_ i: Int) -> Double {
            guard i > 0, i < segments else { return 0 }
            let (a, p, b) = (path[i - 1], path[i], path[i + 1])
            let u = (a.x - p.x, a.y - p.y), v = (b.x - p.x, b.y - p.y)
            let interior = acos(max(-1, min(1, (u.0 * v.0 + u.1 * v.1) / ((u.0 * u.0 + u.1 * u.1) * (v.0 * v.0 + v.1 * v.1)).squareRoot())))
            return width / 2 / tan(interior / 2)
        }
        for i in 0..<segments {
            let dx = path[i + 1].x - path[i].x, dy = path[i + 1].y - path[i].y
            if reach(i) + reach(i + 1) > 0.8 * (dx * dx + dy * dy).squareRoot() { return false }
        }
        return true
    }

    /// A thick arc of `sweep` radians on the unit circle: outer edge forwards, inner backwards.
    static func arcOutline(sweep: Double, width: Double) -> [SynthPoint] {
        let n = 32
        let angles = (0...n).map { Double($0) / Double(n) * sweep }
        let outer = angles.map { SynthPoint((1 + width / 2) * cos($0), (1 + width / 2) * sin($0)) }
        let inner = angles.reversed().map { SynthPoint((1 - width / 2) * cos($0), (1 - width / 2) * sin($0)) }
        return outer + inner
    }

    // MARK: Polygon geometry (area, centroid, second moments by the shoelace formulas)

    private static func edges(_ p: [SynthPoint]) -> [(SynthPoint, SynthPoint, Double)] {
        (0..<p.count).map { i in
            let a = p[i], b = p[(i + 1) % p.count]
            return (a, b, a.x * b.y - b.x * a.y)
        }
    }

    /// Signed area and area centroid.
    static func areaAndCentroid(_ p: [SynthPoint]) -> (area: Double, centroid: SynthPoint) {
        var area = 0.0, cx = 0.0, cy = 0.0
        for (a, b, cross) in edges(p) {
            area += cross
            cx += (a.x + b.x) * cross
            cy += (a.y + b.y) * cross
        }
        area /= 2
        return (area, SynthPoint(cx / (6 * area), cy / (6 * area)))
    }

    /// Central second moments (mu20, mu02, mu11) of the filled polygon, divided by its area.
    static func secondMoments(_ p: [SynthPoint]) -> (xx: Double, yy: Double, xy: Double) {
        let (area, c) = areaAndCentroid(p)
        var xx = 0.0, yy = 0.0, xy = 0.0
        for (a0, b0, _) in edges(p) {
            let a = SynthPoint(a0.x - c.x, a0.y - c.y), b = SynthPoint(b0.x - c.x, b0.y - c.y)
            let cross = a.x * b.y - b.x * a.y
            xx += cross * (a.x * a.x + a.x * b.x + b.x * b.x)
            yy += cross * (a.y * a.y + a.y * b.y + b.y * b.y)
            xy += cross * (a.x * b.y + 2 * a.x * a.y + 2 * b.x * b.y + b.x * a.y)
        }
        return (xx / 12 / area, yy / 12 / area, xy / 24 / area)
    }

    static func elongation(_ p: [SynthPoint]) -> Double {
        let m = secondMoments(p)
        let mean = (m.xx + m.yy) / 2, diff = (((m.xx - m.yy) / 2) * ((m.xx - m.yy) / 2) + m.xy * m.xy).squareRoot()
        return (mean + diff) / max(mean - diff, 1e-12)
    }

    static func majorAxisAngle(_ p: [SynthPoint]) -> Double {
        let m = secondMoments(p)
        return 0.5 * atan2(2 * m.xy, m.xx - m.yy)
    }

    /// The largest distance between two of the points.
    static func feretDiameter(_ p: [SynthPoint]) -> Double {
        var diameter = 0.0
        for i in 0..<p.count { for j in (i + 1)..<p.count {
            diameter = max(diameter, ((p[i].x - p[j].x) * (p[i].x - p[j].x) + (p[i].y - p[j].y) * (p[i].y - p[j].y)).squareRoot())
        } }
        return diameter
    }

    /// Centroid moved to the origin, Feret diameter scaled to 1.
    static func normalised(_ p: [SynthPoint]) -> [SynthPoint] {
        let c = areaAndCentroid(p).centroid
        let diameter = feretDiameter(p)
        return p.map { SynthPoint(($0.x - c.x) / diameter, ($0.y - c.y) / diameter) }
    }
}
