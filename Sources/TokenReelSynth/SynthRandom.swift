/// The generator's only source of randomness: SplitMix64 (Steele, Lea & Flood, "Fast splittable
/// pseudorandom number generators", OOPSLA 2014), with our own helpers on top.
///
/// Everything Motion10 renders is a pure function of a 64-bit seed, so the helpers below never
/// call into the standard library's random API (whose algorithms for `Double.random(in:using:)`
/// and friends are not promised to stay the same across Swift releases). Each draw consumes a
/// fixed number of `next()` calls, so a spec never depends on the values drawn before it in
/// another part of the program.
public struct SynthRandom: Sendable {
    /// The generator state; the output sequence is a function of it alone.
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SynthRandom.mix(state)
    }

    /// SplitMix64's finaliser: a bijective avalanche of 64 bits.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A seed for an independent stream, derived from a parent seed and a path of keys
    /// (e.g. class index, clip index). Changing any key changes the whole derived stream.
    public static func derive(_ seed: UInt64, _ keys: UInt64...) -> UInt64 {
        var h = mix(seed ^ 0x6A09_E667_F3BC_C908)
        for key in keys { h = mix(h &+ 0x9E37_79B9_7F4A_7C15 ^ mix(key &+ 0x3C6E_F372_FE94_F82B)) }
        return h
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    /// Uniform integer in lo...hi (inclusive). Modulo bias is below 2^-40 for the ranges we use.
    public mutating func int(_ lo: Int, _ hi: Int) -> Int {
        precondition(hi >= lo, "empty range \(lo)...\(hi)")
        let span = UInt64(hi - lo) + 1
        return lo + Int(next() % span)
    }

    /// True with probability p.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// One element of a non-empty array, uniformly.
    public mutating func pick<T>(_ items: [T]) -> T { items[int(0, items.count - 1)] }
}
