import CKernels

// Element-wise and row-wise kernels that BLAS does not cover, in place on raw rows of workspace
// buffers, the fused attention head, and products against weights packed at load (`gemmPacked`);
// shapes are (rows, cols) of a row-major matrix. They live in C (Sources/CKernels), built
// for baseline x86-64, for AVX2 + FMA and for AVX-512, and chosen at run time: Swift's SIMD types compile for
// the baseline only, which made GELU and softmax about a sixth of a forward pass.
//
// The transcendental functions share one vectorised exp (Cephes-style range reduction and a
// degree-6 polynomial, about 1 ulp), so softmax, sigmoid, tanh and GELU all vectorise.
enum Kernels {
    /// The kernel build in use: "avx512", "avx2+fma" or "generic".
    static var isa: String { String(cString: trk_kernels_isa()) }

    /// Switches to the build named `isa`; false (and no switch) when this CPU cannot run it. For tests.
    @discardableResult
    static func use(_ isa: String) -> Bool { trk_kernels_use(isa) != 0 }

    /// Switches back to the build chosen at start (the widest supported); its name. For tests.
    @discardableResult
    static func useBest() -> String { String(cString: trk_kernels_use_best()) }

    /// x[i] = e^x[i], about 1 ulp for x in [-87, 88], saturating outside.
    static func exp(_ x: UnsafeMutablePointer<Float>, _ count: Int) { trk_exp(x, count) }
    static func sigmoid(_ x: UnsafeMutablePointer<Float>, _ count: Int) { trk_sigmoid(x, count) }
    /// tanh, about 2e-7 absolute (GELU, pre_logits).
    static func tanh(_ x: UnsafeMutablePointer<Float>, _ count: Int) { trk_tanh(x, count) }
    /// GELU, tanh approximation (`jax.nn.gelu(approximate=True)`, Flax's `nn.gelu`), computed as
    /// x * sigmoid(2u), which equals 0.5 x (1 + tanh(u)).
    static func gelu(_ x: UnsafeMutablePointer<Float>, _ count: Int) { trk_gelu(x, count) }

    /// x [rows, cols]: every row += bias [cols].
    static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ bias: UnsafePointer<Float>) {
        trk_add_bias(x, rows, cols, bias)
    }

    /// x [rows, cols]: every row += bias [cols] (when given), then GELU.
    static func addBiasGELU(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ bias: UnsafePointer<Float>?) {
        trk_add_bias_gelu(x, rows, cols, bias)
    }

    /// dst [rows, cols]: every row = `row` [cols]; a bias for a product accumulated with beta = 1,
    /// which spares OpenBLAS's zeroing pass over C and the bias pass after it.
    static func fillRows(_ dst: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ row: UnsafePointer<Float>) {
        trk_fill_rows(dst, rows, cols, row)
    }

    /// LayerNorm over the last axis as Flax computes it (fast variance E[x^2] - E[x]^2, clipped
    /// at 0; y = (x - mean) * (rsqrt(var + eps) * scale) + bias). `out` may equal `x`.
    static func layerNorm(
        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        scale: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float
    ) {
        trk_layer_norm(x, out, rows, cols, scale, bias, eps)
    }

    /// Softmax of every row (length `cols`, leading dimension `ld`), in place:
    /// exp(x - max) / sum, as `jax.nn.softmax`.
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
        trk_softmax_rows(x, rows, cols, ld)
    }

    /// One attention head, fused: out [queries, headDim] = softmax(Q K^T) V, with q, k, v rows
    /// `ld` floats apart (column offsets into the q|k|v matrix; the query already scaled) and
    /// out rows `ldo` apart. `scratch` holds `attentionScratch(keys:headDim:)` floats. With
    /// `received`, each key's probability summed over the first `receivedRows` queries is added
    /// into received [keys].
    static func attentionHead(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
        queries: Int, keys: Int, headDim: Int, out: UnsafeMutablePointer<Float>, ldo: Int,
        scratch: UnsafeMutablePointer<Float>, received: UnsafeMutablePointer<Float>?, receivedRows: Int
    ) {
        trk_attention_head(q, k, v, ld, queries, keys, headDim, out, ldo, scratch, received, receivedRows)
    }

    static func attentionScratch(keys: Int, headDim: Int) -> Int { trk_attention_scratch(keys, headDim) }

    /// A weight matrix w [rows, cols] packed for `gemmPacked` into a buffer from `alloc`
    /// (panels of 16 columns, zero-padded to a multiple of 32; the same layout for every build).
    static func pack(_ w: UnsafePointer<Float>, rows: Int, cols: Int, alloc: (Int) -> UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let p = alloc(trk_packed_size(rows, cols))
        trk_pack_b(w, rows, cols, cols, p)
        return UnsafePointer(p)
    }

    /// `pack` into a given buffer (`trk_packed_size(rows, cols)` floats), from rows `ld` apart.
    static func pack(_ w: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, into p: UnsafeMutablePointer<Float>) {
        trk_pack_b(w, rows, cols, ld, p)
    }

    /// `pack` of the transpose of bt [cols, rows] (rows `ld` apart): B = bt^T [rows, cols].
    static func packTransposed(_ bt: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, into p: UnsafeMutablePointer<Float>) {
        trk_pack_bt(bt, rows, cols, ld, p)
    }

    static func packedSize(rows: Int, cols: Int) -> Int { trk_packed_size(rows, cols) }

    /// What `gemmPacked` does with its result.
    enum ProductOutput {
        /// out = x W + b
        case set
        /// out = GELU(x W + b)
        case gelu
        /// out += x W + b (a residual)
        case accumulate
    }

    /// out [rows, n] (rows `ldo` apart) = x [rows, k] (rows `lda` apart) times a weight matrix
    /// [k, n] packed by `pack`, plus bias (may be nil), as `output` says. Single-threaded; `out`
    /// must not overlap `x`.
    static func gemmPacked(
        _ x: UnsafePointer<Float>, lda: Int, rows: Int, k: Int, _ packed: UnsafePointer<Float>, n: Int,
        bias: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>, ldo: Int, _ output: ProductOutput
    ) {
        let flags: Int32 = switch output {
        case .set: 0
        case .gelu: Int32(TRK_GEMM_GELU)
        case .accumulate: Int32(TRK_GEMM_ACCUMULATE)
        }
        trk_gemm_packed(rows, n, k, x, lda, packed, bias, out, ldo, flags)
    }

    /// rows x cols matrix `src` (leading dimension `ld`) written transposed into `dst` (cols x rows).
    static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, _ dst: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows {
            for c in 0 ..< cols { dst[c * rows + r] = src[r * ld + c] }
        }
    }
}

/// TokenReel's own product kernels against packed weights (`Kernels.gemmPacked`), as the
/// benchmarks see them.
public enum PackedGEMM {
    /// The kernel build in use: "avx512", "avx2+fma" or "generic".
    public static var isa: String { Kernels.isa }

    /// Where the model's weight products run in this process: "packed kernels (avx512)" and the
    /// like, or "OpenBLAS (Haswell kernels)" (see `VideoModel.packedProducts`).
    public static var path: String {
        VideoModel.usesPackedProducts ? "packed kernels (\(Kernels.isa))" : "OpenBLAS (\(BLAS.coreName) kernels)"
    }

    /// Times `C = A B` for A [m, k] and B [k, n] packed beforehand, rows split over `threads`
    /// threads as the model splits them, and returns the best rate over `repeats` runs, in
    /// GFLOP/s (2mnk per product): the counterpart of `BLAS.sgemmRate` for these kernels.
    public static func rate(m: Int, n: Int, k: Int, threads: Int, repeats: Int = 5) -> Double {
        let (a, b, c) = BLAS.rateOperands(m: m, n: n, k: k)
        let bp = FloatBuffer(count: Kernels.packedSize(rows: k, cols: n))
        Kernels.pack(b.pointer, rows: k, cols: n, ld: n, into: bp.pointer)
        return BLAS.bestRate(m: m, n: n, k: k, repeats: repeats) {
            BLAS.parallel(m, parts: threads) { _, r0, r1 in
                Kernels.gemmPacked(a.pointer + r0 * k, lda: k, rows: r1 - r0, k: k, bp.pointer, n: n, bias: nil, c.pointer + r0 * n, ldo: n, .set)
            }
        }
    }
}
