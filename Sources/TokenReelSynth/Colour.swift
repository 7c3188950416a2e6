/// An RGB colour with components in 0...1 (gamma-encoded, as stored in an 8-bit frame).
public struct SynthColour: Codable, Equatable, Sendable {
    public var r: Double
    public var g: Double
    public var b: Double

    public init(r: Double, g: Double, b: Double) { self.r = r; self.g = g; self.b = b }

    /// Luma in 0...1 with the BT.601 weights the contract's "luminance" is measured with:
    /// `0.299 R + 0.587 G + 0.114 B` on the stored (gamma-encoded) values.
    public var luma: Double { 0.299 * r + 0.587 * g + 0.114 * b }

    /// The colour moved towards black or white until its luma is exactly `target`.
    /// Luma is linear in the components, so scaling towards 0 or mixing towards 1 hits it exactly
    /// and keeps the hue.
    public func withLuma(_ target: Double) -> SynthColour {
        let y = luma
        if target <= y {
            let k = y > 0 ? target / y : 0
            return SynthColour(r: r * k, g: g * k, b: b * k)
        }
        let k = y < 1 ? (target - y) / (1 - y) : 0
        return SynthColour(r: r + (1 - r) * k, g: g + (1 - g) * k, b: b + (1 - b) * k)
    }

    /// A random colour of the given luma: random hue, saturation 0.2...1.
    static func random(luma: Double, using rng: inout SynthRandom) -> SynthColour {
        let hue = rng.unit() * 6
        let saturation = rng.uniform(0.2, 1.0)
        let sector = Int(hue) % 6
        let f = hue - Double(Int(hue))
        let p = 1 - saturation, q = 1 - saturation * f, t = 1 - saturation * (1 - f)
        let (r, g, b): (Double, Double, Double)
        switch sector {
        case 0: (r, g, b) = (1, t, p)
        case 1: (r, g, b) = (q, 1, p)
        case 2: (r, g, b) = (p, 1, t)
        case 3: (r, g, b) = (p, q, 1)
        case 4: (r, g, b) = (t, p, 1)
        default: (r, g, b) = (1, p, q)
        }
        return SynthColour(r: r, g: g, b: b).withLuma(luma)
    }
}
