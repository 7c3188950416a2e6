// Element-wise and row-wise kernels that BLAS does not cover. All work in place on raw rows of
// workspace buffers; shapes are given as (rows, cols) of a row-major matrix.
//
// The transcendental functions use one vectorised exp (SIMD8, Cephes-style range reduction and
// a degree-6 polynomial, about 1 ulp), so softmax, sigmoid and the tanh of GELU all vectorise.

typealias F8 = SIMD8<Float>

enum Kernels {
    // MARK: exp and friends

    /// e^x per lane; accurate to about 1 ulp for x in [-87, 88], saturating outside.
    ///
    /// n = round(x / ln 2) comes from adding 1.5 * 2^23 (the float's low mantissa bits then hold
    /// n), and 2^n is built from those bits: no float-to-int conversion, which Swift's SIMD types
    /// do lane by lane.
    @inline(__always)
    static func exp8(_ x: F8) -> F8 {
        var x = x.replacing(with: -87.3, where: x .< -87.3)
        x.replace(with: 88.3, where: x .> 88.3)
        let magic: Float = 12_582_912                      // 1.5 * 2^23
        let t = x * 1.442_695_04 + magic
        let n = t - magic                                  // round-to-nearest(x / ln 2)
        var r = x - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4                         // ln 2 = 0.693359375 - 2.12194440e-4
        var p = F8(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        p = p * r * r + r + 1
        let bits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000   // = n
        let scale = (bits &+ 127) &* 8_388_608                               // (n + 127) << 23
        return p * unsafeBitCast(scale, to: F8.self)
    }

    @inline(__always)
    static func sigmoid8(_ x: F8) -> F8 { 1 / (1 + exp8(-x)) }

    /// tanh(x) = 1 - 2 / (e^{2x} + 1); exact enough (about 2e-7 absolute) for GELU and pre_logits.
    @inline(__always)
    static func tanh8(_ x: F8) -> F8 { 1 - 2 / (exp8(x + x) + 1) }

    /// GELU, tanh approximation (`jax.nn.gelu(approximate=True)`, Flax's `nn.gelu`).
    @inline(__always)
    static func gelu8(_ x: F8) -> F8 {
        let u = 0.797_884_56 * (x + 0.044_715 * x * x * x)
        return 0.5 * x * (1 + tanh8(u))
    }

    /// Applies `f8` to `count` values in place (tail through a zero-padded vector).
    @inline(__always)
    static func map(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ f8: (F8) -> F8) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeMutableRawPointer(p + i).loadUnaligned(as: F8.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: f8(v), as: F8.self)
            i += 8
        }
        if i < count {
            var v = F8()
            for j in 0 ..< count - i { v[j] = p[i + j] }
            let r = f8(v)
            for j in 0 ..< count - i { p[i + j] = r[j] }
        }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
    @inline(__always) static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self) }

    // MARK: row-wise

    /// x [rows, cols]: every row += bias [cols].
    static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ bias: UnsafePointer<Float>) {
        for r in 0 ..< rows {
            let row = x + r * cols
            var c = 0
            while c + 8 <= cols { store(load(row + c) + load(bias + c), row + c); c += 8 }
            while c < cols { row[c] += bias[c]; c += 1 }
        }
    }

    /// x [rows, cols]: every row += bias [cols], then GELU.
    static func addBiasGELU(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ bias: UnsafePointer<Float>) {
        for r in 0 ..< rows {
            let row = x + r * cols, full = cols - cols % 8
            var c = 0
            while c < full { store(gelu8(load(row + c) + load(bias + c)), row + c); c += 8 }
            if full < cols {
                for j in full ..< cols { row[j] += bias[j] }
                map(row + full, cols - full, gelu8)
            }
        }
    }

    /// LayerNorm over the last axis as Flax computes it (fast variance E[x^2] - E[x]^2, clipped
    /// at 0; y = (x - mean) * (rsqrt(var + eps) * scale) + bias). `out` may equal `x`.
    static func layerNorm(
        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        scale: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float
    ) {
        let inv = 1 / Float(cols)
        for r in 0 ..< rows {
            let xr = x + r * cols, yr = out + r * cols
            var s = F8(), s2 = F8()
            var c = 0
            while c + 8 <= cols {
                let v = load(xr + c)
                s += v; s2 += v * v
                c += 8
            }
            var sum = s.sum(), sum2 = s2.sum()
            while c < cols { sum += xr[c]; sum2 += xr[c] * xr[c]; c += 1 }
            let mean = sum * inv
            let variance = max(0, sum2 * inv - mean * mean)
            let rs = 1 / (variance + eps).squareRoot()
            c = 0
            while c + 8 <= cols {
                store((load(xr + c) - mean) * (rs * load(scale + c)) + load(bias + c), yr + c)
                c += 8
            }
            while c < cols { yr[c] = (xr[c] - mean) * (rs * scale[c]) + bias[c]; c += 1 }
        }
    }

    /// Softmax of every row (length `cols`, leading dimension `ld`), in place:
    /// exp(x - max) / sum, as `jax.nn.softmax`. Two passes: max, then exp with the sum, then scale.
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
        let full = cols - cols % 8
        for r in 0 ..< rows {
            let row = x + r * ld
            var mv = F8(repeating: -.infinity)
            var c = 0
            while c < full { let v = load(row + c); mv.replace(with: v, where: v .> mv); c += 8 }
            var m = mv.max()
            while c < cols { m = max(m, row[c]); c += 1 }
            var acc = F8()
            c = 0
            while c < full { let e = exp8(load(row + c) - m); acc += e; store(e, row + c); c += 8 }
            var total = acc.sum()
            if full < cols {
                map(row + full, cols - full) { exp8($0 - m) }
                for j in full ..< cols { total += row[j] }
            }
            let inv = F8(repeating: 1 / total)
            c = 0
            while c < full { store(load(row + c) * inv, row + c); c += 8 }
            while c < cols { row[c] *= inv[0]; c += 1 }
        }
    }

    /// rows x cols matrix `src` (leading dimension `ld`) written transposed into `dst` (cols x rows).
    static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, _ dst: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows {
            for c in 0 ..< cols { dst[c * rows + r] = src[r * ld + c] }
        }
    }
}
