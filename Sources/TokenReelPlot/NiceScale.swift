import Foundation

/// A labelled tick on an axis.
public struct Tick: Equatable, Sendable {
    public var value: Double
    public var label: String

    public init(value: Double, label: String) {
        self.value = value
        self.label = label
    }
}

/// An axis scale with "nice" ticks: the data range it shows and where its ticks are.
///
/// Linear scales step by 1, 2 or 5 times a power of ten and widen the range to whole steps
/// (0.13...0.87 becomes 0...1 with ticks 0, 0.2, ... 1). Logarithmic scales keep the range and
/// tick the decades (1, 10, 100), or 1-2-5 (1, 2, 5, 10, ...) or every digit (1, 2, ... 9, 10)
/// when fewer than three decades fit, or plain linear steps for a range inside one decade.
/// A range of one value is widened around it. Tick values are exact decimal numbers (computed
/// as integer times or over a power of ten), and labels print them with as many decimals as
/// the step needs, without Foundation's locale-dependent formatting.
public struct NiceScale: Equatable, Sendable {
    /// The values the axis spans, low to high (positive for a logarithmic scale).
    public let range: ClosedRange<Double>
    /// Ticks inside `range`, ascending.
    public let ticks: [Tick]
    /// Positions are proportional to log10(value) rather than the value.
    public let logarithmic: Bool

    /// Where `value` falls along the axis: 0 at the low end of `range`, 1 at the high end
    /// (outside 0...1 for values outside the range).
    public func fraction(_ value: Double) -> Double {
        let t = logarithmic ? log10(value) : value
        let a = logarithmic ? log10(range.lowerBound) : range.lowerBound
        let b = logarithmic ? log10(range.upperBound) : range.upperBound
        return (t - a) / (b - a)
    }

    /// A linear scale covering `lo...hi` with about `count` steps, widened to whole steps.
    /// `lo == hi` is widened by 5% of |lo| (1 for 0) on each side first.
    ///
    /// - Precondition: `lo` and `hi` are finite, `lo <= hi`, `count >= 1`.
    public static func linear(covering lo: Double, _ hi: Double, count: Int = 5) -> NiceScale {
        precondition(lo.isFinite && hi.isFinite && lo <= hi && count >= 1, "NiceScale.linear(\(lo), \(hi), count: \(count))")
        var lo = lo, hi = hi
        if lo == hi {
            let pad = lo == 0 ? 1 : abs(lo) * 0.05
            lo -= pad; hi += pad
        }
        let step = niceStep((hi - lo) / Double(count))
        let first = step.index(lo, .down), last = step.index(hi, .up)
        let ticks = (first ... last).map { step.tick($0) }
        return NiceScale(range: ticks.first!.value ... ticks.last!.value, ticks: ticks, logarithmic: false)
    }

    /// A logarithmic scale showing exactly `lo...hi` (a single value v shows v/2 ... 2v).
    ///
    /// - Precondition: `0 < lo <= hi`, both finite.
    public static func logarithmic(covering lo: Double, _ hi: Double) -> NiceScale {
        precondition(lo > 0 && lo <= hi && hi.isFinite, "NiceScale.logarithmic(\(lo), \(hi))")
        let (lo, hi) = lo == hi ? (lo / 2, hi * 2) : (lo, hi)
        let e0 = Int(log10(lo).rounded(.down)), e1 = Int(log10(hi).rounded(.up))
        for mantissas in [[1], [1, 2, 5], Array(1 ... 9)] {
            var ticks = [Tick]()
            for e in e0 ... e1 {
                for m in mantissas {
                    let t = Step(mantissa: m, exponent: e).tick(1)
                    if t.value >= lo && t.value <= hi { ticks.append(t) }
                }
            }
            if ticks.count >= 3 { return NiceScale(range: lo ... hi, ticks: ticks, logarithmic: true) }
        }
        // Less than about half a decade: linear steps inside the range.
        return NiceScale(range: lo ... hi, ticks: ticksInside(lo, hi, count: 4), logarithmic: true)
    }

    /// A linear scale showing exactly `lo...hi`, with about `count` nice steps inside it.
    ///
    /// - Precondition: `lo < hi`, both finite, `count >= 1`.
    public static func linear(exactly lo: Double, _ hi: Double, count: Int = 5) -> NiceScale {
        precondition(lo.isFinite && hi.isFinite && lo < hi && count >= 1, "NiceScale.linear(exactly: \(lo), \(hi), count: \(count))")
        return NiceScale(range: lo ... hi, ticks: ticksInside(lo, hi, count: count), logarithmic: false)
    }

    /// Multiples of a nice step of about (hi - lo) / count that lie in lo...hi.
    private static func ticksInside(_ lo: Double, _ hi: Double, count: Int) -> [Tick] {
        let step = niceStep((hi - lo) / Double(count))
        let first = step.index(lo, .up), last = step.index(hi, .down)
        return first <= last ? (first ... last).map { step.tick($0) } : []
    }

    /// A step of mantissa x 10^exponent.
    struct Step: Equatable {
        var mantissa: Int
        var exponent: Int

        var value: Double { scaled(1) }

        /// i x mantissa x 10^exponent, dividing by an exact power of ten for negative exponents
        /// so 3 x 0.1 is the double nearest 0.3.
        func scaled(_ i: Int) -> Double {
            let p = pow10(abs(exponent))
            return exponent >= 0 ? Double(i * mantissa) * p : Double(i * mantissa) / p
        }

        /// value / step rounded `down` or `up` to a whole number, treating a quotient within
        /// 1e-9 of a whole number as that number (0.7 / 0.1 is 6.999999999999999).
        func index(_ value: Double, _ rule: FloatingPointRoundingRule) -> Int {
            let q = value / self.value, whole = q.rounded()
            return Int(abs(q - whole) < 1e-9 ? whole : q.rounded(rule))
        }

        /// The i-th multiple of the step, labelled with the decimals the step needs.
        func tick(_ i: Int) -> Tick {
            let v = scaled(i)
            return Tick(value: v, label: NiceScale.label(v, decimals: max(0, -exponent)))
        }
    }

    /// The smallest step 1, 2 or 5 x 10^k that is at least `raw` (> 0).
    static func niceStep(_ raw: Double) -> Step {
        let e = Int(log10(raw).rounded(.down))
        let f = raw / Step(mantissa: 1, exponent: e).value
        let slack = 1 + 1e-9                              // 0.2 / 0.1 is 2.0000000000000004
        if f <= 1 * slack { return Step(mantissa: 1, exponent: e) }
        if f <= 2 * slack { return Step(mantissa: 2, exponent: e) }
        if f <= 5 * slack { return Step(mantissa: 5, exponent: e) }
        return Step(mantissa: 1, exponent: e + 1)
    }

    /// `value` with exactly `decimals` digits after the point ("-0" printed as "0").
    static func label(_ value: Double, decimals: Int) -> String {
        let scaled = (abs(value) * pow10(decimals)).rounded()
        guard scaled < 1e15 else { return "\(value)" }
        let n = Int(scaled), unit = Int(pow10(decimals))
        var s = String(n / unit)
        if decimals > 0 {
            let frac = String(n % unit)
            s += "." + String(repeating: "0", count: decimals - frac.count) + frac
        }
        return value < 0 && n != 0 ? "-" + s : s
    }
}

/// 10^k for k >= 0, exact for k <= 22.
private func pow10(_ k: Int) -> Double { (0 ..< k).reduce(1.0) { p, _ in p * 10 } }
