import Foundation

/// The background families. Every background is a per-pixel mix `A + (B - A) * w(x, y)` of two
/// colours with a weight `w` in 0...1, so its luma always lies between the lumas of A and B;
/// that is what lets the generator promise a luma gap between object and background everywhere.
public enum BackgroundKind: String, CaseIterable, Codable, Sendable {
    case solid, gradient, noise, stripes
}

/// One background, fully described (rendering it needs nothing else).
public struct BackgroundSpec: Codable, Equatable, Sendable {
    public var kind: BackgroundKind
    public var colourA: SynthColour
    public var colourB: SynthColour
    /// Direction of the gradient or of the stripes' normal, radians (image axes, y down).
    public var angle: Double
    /// Stripe period in pixels.
    public var stripePeriod: Double
    /// Stripe edge softness as a fraction of the period (0 = hard edges).
    public var stripeSoftness: Double
    /// Value-noise lattice cell in pixels (coarse octave; a second octave has half the cell).
    public var noiseCell: Double
    /// Seed of the value-noise lattice.
    public var noiseSeed: UInt64

    /// The smaller and larger luma any background pixel can have (before per-pixel noise).
    public var lumaRange: ClosedRange<Double> { min(colourA.luma, colourB.luma)...max(colourA.luma, colourB.luma) }

    /// The mix weight at pixel centre (x + 0.5, y + 0.5) of a width x height frame.
    func weight(x: Int, y: Int, width: Int, height: Int) -> Double {
        let px = Double(x) + 0.5, py = Double(y) + 0.5
        switch kind {
        case .solid:
            return 0
        case .gradient:
            let (c, s) = (cos(angle), sin(angle))
            let corners = [(0.0, 0.0), (Double(width), 0.0), (0.0, Double(height)), (Double(width), Double(height))].map { $0.0 * c + $0.1 * s }
            let lo = corners.min()!, hi = corners.max()!
            return (px * c + py * s - lo) / (hi - lo)
        case .stripes:
            let u = (px * cos(angle) + py * sin(angle)) / stripePeriod
            let tri = abs(2 * (u - floor(u)) - 1)                        // 0...1 triangle wave
            let e = max(stripeSoftness, 1e-6)
            let t = min(max((tri - (0.5 - e)) / (2 * e), 0), 1)
            return t * t * (3 - 2 * t)                                    // smoothstep
        case .noise:
            return 0.65 * valueNoise(px / noiseCell, py / noiseCell, salt: 1)
                 + 0.35 * valueNoise(2 * px / noiseCell, 2 * py / noiseCell, salt: 2)
        }
    }

    /// Smoothly interpolated lattice noise in 0...1.
    private func valueNoise(_ x: Double, _ y: Double, salt: UInt64) -> Double {
        let x0 = floor(x), y0 = floor(y)
        let fx = x - x0, fy = y - y0
        let sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy)
        func lattice(_ i: Double, _ j: Double) -> Double {
            let h = SynthRandom.derive(noiseSeed, salt, UInt64(bitPattern: Int64(i)), UInt64(bitPattern: Int64(j)))
            return Double(h >> 11) * 0x1.0p-53
        }
        let top = lattice(x0, y0) + (lattice(x0 + 1, y0) - lattice(x0, y0)) * sx
        let bottom = lattice(x0, y0 + 1) + (lattice(x0 + 1, y0 + 1) - lattice(x0, y0 + 1)) * sx
        return top + (bottom - top) * sy
    }
}
