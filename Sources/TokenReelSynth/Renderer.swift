import Foundation

/// Renders the frames of one Motion10 clip: background, anti-aliased object, per-pixel noise.
///
/// Frames are RGB24, `[H, W, 3]` row-major, `H = spec.height`, `W = spec.width`. Rendering is a
/// pure function of the spec (our own PRNG, no global state), so a renderer may be used from any
/// thread and frame `i` is the same whenever and however often it is rendered.
public struct Motion10Renderer: Sendable {
    public let spec: Motion10ClipSpec
    /// The background, `[H, W, 3]` in 0...1, computed once per clip.
    private let background: [Float]

    /// Sub-scanlines per pixel row used for vertical anti-aliasing (horizontal coverage is exact).
    public static let subScanlines = 8

    public init(spec: Motion10ClipSpec) {
        self.spec = spec
        let (w, h) = (spec.width, spec.height)
        let bg = spec.background
        var pixels = [Float](repeating: 0, count: w * h * 3)
        let a = bg.colourA, b = bg.colourB
        for y in 0..<h {
            for x in 0..<w {
                let t = bg.kind == .solid ? 0 : bg.weight(x: x, y: y, width: w, height: h)
                let i = (y * w + x) * 3
                pixels[i] = Float(a.r + (b.r - a.r) * t)
                pixels[i + 1] = Float(a.g + (b.g - a.g) * t)
                pixels[i + 2] = Float(a.b + (b.b - a.b) * t)
            }
        }
        background = pixels
    }

    /// Frame `index` (0-based) as RGB24 `[H, W, 3]`.
    public func frame(_ index: Int) -> [UInt8] {
        precondition(index >= 0 && index < spec.frameCount, "frame \(index) outside 0..<\(spec.frameCount)")
        let (w, h) = (spec.width, spec.height)
        var image = background
        let state = spec.state(at: index)
        if state.visible {
            let cover = PolygonCoverage(polygon: spec.outline(state), width: w, height: h, subScanlines: Motion10Renderer.subScanlines)
            let c = spec.objectColour
            let colour: [Float] = [Float(c.r), Float(c.g), Float(c.b)]
            for row in 0..<cover.height {
                for col in 0..<cover.width {
                    let alpha = cover.coverage[row * cover.width + col]
                    if alpha <= 0 { continue }
                    let i = ((cover.y0 + row) * w + cover.x0 + col) * 3
                    for k in 0..<3 { image[i + k] += (colour[k] - image[i + k]) * min(alpha, 1) }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let amplitude = Float(spec.noiseAmplitude)
        var rng = SynthRandom(seed: SynthRandom.derive(spec.seed, 0x4E01_5E, UInt64(index)))
        for i in 0..<(w * h * 3) {
            var v = image[i]
            if amplitude > 0 {
                // Triangular noise from two 32-bit uniforms: mean 0, range +-amplitude.
                let bits = rng.next()
                let u1 = Float(bits & 0xFFFF_FFFF) * 0x1.0p-32, u2 = Float(bits >> 32) * 0x1.0p-32
                v += (u1 + u2 - 1) * amplitude
            }
            out[i] = UInt8(min(max(v * 255 + 0.5, 0), 255))
        }
        return out
    }
}

/// Exact-in-x, sub-sampled-in-y coverage of a polygon (even-odd fill) over its pixel bounding box.
///
/// Pixel (i, j) covers [i, i+1) x [j, j+1). Each pixel row is cut by `subScanlines` horizontal
/// lines at y = j + (k + 0.5) / subScanlines; on each line the polygon's spans are added to the
/// pixels with their exact horizontal overlap. `coverage` is `[height, width]` of the box
/// starting at (x0, y0), values in 0...1.
struct PolygonCoverage {
    let x0: Int, y0: Int, width: Int, height: Int
    private(set) var coverage: [Float]

    init(polygon: [SynthPoint], width frameWidth: Int, height frameHeight: Int, subScanlines: Int) {
        let xs = polygon.map(\.x), ys = polygon.map(\.y)
        let bx0 = max(0, Int(floor(xs.min()!))), bx1 = min(frameWidth, Int(ceil(xs.max()!)))
        let by0 = max(0, Int(floor(ys.min()!))), by1 = min(frameHeight, Int(ceil(ys.max()!)))
        x0 = bx0; y0 = by0; width = max(0, bx1 - bx0); height = max(0, by1 - by0)
        coverage = [Float](repeating: 0, count: width * height)
        guard width > 0, height > 0 else { return }

        let weight = 1 / Double(subScanlines)
        var crossings: [Double] = []
        for row in 0..<height {
            for k in 0..<subScanlines {
                let sy = Double(by0 + row) + (Double(k) + 0.5) * weight
                crossings.removeAll(keepingCapacity: true)
                for i in 0..<polygon.count {
                    let a = polygon[i], b = polygon[(i + 1) % polygon.count]
                    if (a.y <= sy) != (b.y <= sy) {
                        crossings.append(a.x + (sy - a.y) * (b.x - a.x) / (b.y - a.y))
                    }
                }
                crossings.sort()
                var j = 0
                while j + 1 < crossings.count {
                    addSpan(row: row, from: crossings[j], to: crossings[j + 1], weight: weight)
                    j += 2
                }
            }
        }
    }

    /// Adds `weight` times the overlap of [from, to) with each pixel of the row.
    private mutating func addSpan(row: Int, from: Double, to: Double, weight: Double) {
        let lo = max(from, Double(x0)), hi = min(to, Double(x0 + width))
        guard hi > lo else { return }
        let first = Int(floor(lo)), last = Int(floor(hi))
        let base = row * width - x0
        if first == last {
            coverage[base + first] += Float((hi - lo) * weight)
            return
        }
        coverage[base + first] += Float((Double(first + 1) - lo) * weight)
        if first + 1 < last { for p in (first + 1)..<last { coverage[base + p] += Float(weight) } }
        if last < x0 + width { coverage[base + last] += Float((hi - Double(last)) * weight) }
    }
}
