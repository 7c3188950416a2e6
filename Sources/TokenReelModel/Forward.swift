import Foundation

// The forward pass, following Scenic's TokenLearnerViT / ViViT (token_learner/model.py,
// vivit/model.py, baselines/vit.py). Everything works on workspace buffers of a batch of B clips;
// token matrices are [B*N, D] row-major, clip-major then t-major (temporal slice, then H', W').

/// The workspace buffers of one forward pass, fetched once with their largest size.
struct Scratch {
    let x: UnsafeMutablePointer<Float>        // [B*N0, D] tokens (N0 = input tokens)
    let y: UnsafeMutablePointer<Float>        // [B*N0, D] LayerNorm outputs
    let qkv: UnsafeMutablePointer<Float>      // [B*N0, 3D]
    let attn: UnsafeMutablePointer<Float>     // [B*N0, D] attention outputs, heads side by side
    let scores: UnsafeMutablePointer<Float>   // [threads, scoresPerThread] attention scratch (the fused kernel's, or a block of probabilities then packed K^T and V)
    let hidden: UnsafeMutablePointer<Float>   // [B*N0, max(M, bottleneck)]
    let mask: UnsafeMutablePointer<Float>     // [G*P, S] TokenLearner / TokenFuser masks
    let maskT: UnsafeMutablePointer<Float>    // [G*P, S] (transposed masks; v1.0 conv ping-pong)
    let tokens: UnsafeMutablePointer<Float>   // [G*S, D] learned tokens
    let tokens2: UnsafeMutablePointer<Float>  // [G*S, D] TokenFuser temporaries
    let im2col: UnsafeMutablePointer<Float>   // [G*P, 9*max(D, S)] (TokenLearner v1.0 only)
    let pooled: UnsafeMutablePointer<Float>   // [B, max(D, R)]
    let pooled2: UnsafeMutablePointer<Float>  // [B, max(D, R)]
    let keepScores: UnsafeMutablePointer<Float> // [threads, B*N0] attention received (token keeping only)
    /// Floats of `scores` per thread (the fused kernel's scratch or a block of probabilities, for the largest layer).
    let scoresPerThread: Int
    /// Threads of this forward pass (`BLAS.threads` when it started).
    let threads: Int
    /// Weight products on the packed kernels (`VideoModel.usesPackedProducts` when it started).
    let packed: Bool
}

extension VideoModel {
    /// Fewest token rows worth a thread of their own (the 64-token layers after TokenLearner
    /// run faster on one thread at batch 1 than split).
    static let minimumRowsPerThread = 64
    /// Fewest temporal slices worth a thread of their own.
    static let minimumSlicesPerThread = 4
    /// Largest number of floats the fused attention kernel may pack (K and V, 2 x keys x head
    /// dim): they must fit in half of this CPU's L2, since every block of six queries reads all
    /// of them. Longer attention runs as two products per block of `attentionRowBlock` queries
    /// (ViViT-B, 3136 keys x 64 on a 512 KB L2: 0.46 clips/s that way through OpenBLAS, 0.33 fused;
    /// on a 1 MB L2 with AVX-512 the two are level, with the products on the packed kernels; M,
    /// 392 x 64, is faster fused). `TOKENREEL_ATTENTION=openblas` or `=fused` in the environment forces one
    /// path for every size (for benchmarks); tests set the limit to 0 for the OpenBLAS path.
    nonisolated(unsafe) static var fusedAttentionLimit: Int = {
        switch ProcessInfo.processInfo.environment["TOKENREEL_ATTENTION"] {
        case "openblas": return 0
        case "fused": return .max
        default: break
        }
        #if os(Linux)
        let l2 = sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))
        #else
        let l2 = -1
        #endif
        return (l2 > 0 ? l2 : 512 * 1024) / 2 / MemoryLayout<Float>.size
    }()
    /// Query rows per OpenBLAS attention block: keeps a block of probabilities ([rows, N]) in cache.
    static let attentionRowBlock = 256

    /// Where the products with weight matrices run (embedding, q|k|v, attention output, MLPs,
    /// TokenLearner MLPs, head): true, on TokenReel's own kernels against weights packed at load
    /// (models loaded while it is false are not packed and stay on OpenBLAS),
    /// with bias, GELU and residual fused into the store (`Kernels.gemmPacked`); false, on
    /// OpenBLAS. nil (the default): the packed kernels when their AVX-512 build runs, OpenBLAS
    /// otherwise. On AVX-512 they match OpenBLAS's own AVX-512 kernels on these shapes and keep
    /// that speed when OPENBLAS_CORETYPE holds OpenBLAS to AVX2 (1.6-1.9x its rate there); their
    /// AVX2 build only matches OpenBLAS's AVX2 kernels (Benchmarks/model/README.md). `TOKENREEL_GEMM=openblas`
    /// or `=packed` in the environment sets it; tests set it directly. Products of two
    /// activations (attention beyond the fused kernel's size, TokenLearner pooling, TokenFuser)
    /// always run on OpenBLAS.
    nonisolated(unsafe) static var packedProducts: Bool? = {
        switch ProcessInfo.processInfo.environment["TOKENREEL_GEMM"] {
        case "openblas": return false
        case "packed": return true
        default: return nil
        }
    }()
    /// `packedProducts`, with its default resolved for the kernel build in use.
    public static var usesPackedProducts: Bool { packedProducts ?? (Kernels.isa == "avx512") }

    func scratch(batch b: Int, _ ws: ModelWorkspace) -> Scratch {
        let c = config, d = c.hiddenSize
        let g = b * c.grid.t, pp = c.positionsPerSlice
        let s = c.tokenlearner?.numTokens ?? 0, bn = c.tokenlearner?.bottleneckDim ?? 0
        // Rows per clip of the largest layer: the input tokens, or the learned ones when a small
        // clip has fewer positions per slice than TokenLearner learns tokens (S > H'W').
        let n0 = max(c.inputTokens, c.grid.t * s)
        let v10 = c.tokenlearner?.version == "1.0"
        let dh = c.headDim
        let sp = max(Kernels.attentionScratch(keys: n0, headDim: dh),
                     min(n0, Self.attentionRowBlock) * n0 + Kernels.packedSize(rows: dh, cols: n0) + Kernels.packedSize(rows: n0, cols: dh))
        let r = max(d, c.representationSize ?? 0)
        let threads = BLAS.threads
        return Scratch(
            x: ws.buffer(.x, b * n0 * d), y: ws.buffer(.y, b * n0 * d), qkv: ws.buffer(.qkv, b * n0 * 3 * d),
            attn: ws.buffer(.attn, b * n0 * d), scores: ws.buffer(.scores, threads * sp),
            hidden: ws.buffer(.hidden, b * n0 * max(c.mlpDim, bn)),
            mask: ws.buffer(.mask, g * pp * s), maskT: ws.buffer(.maskT, g * pp * s),
            tokens: ws.buffer(.tokens, g * s * d), tokens2: ws.buffer(.tokens2, g * s * d),
            im2col: ws.buffer(.im2col, v10 ? g * pp * 9 * max(d, s) : 0),
            pooled: ws.buffer(.pooled, b * r), pooled2: ws.buffer(.pooled2, b * r),
            keepScores: ws.buffer(.keepScores, tokenKeeping == nil ? 0 : threads * b * n0), scoresPerThread: sp, threads: threads,
            packed: Self.usesPackedProducts)
    }

    // MARK: embedding

    /// Clips [B, T, H, W, 3] (normalised) -> s.x [B, N0, D]: tubelets as rows of a patch matrix
    /// [B*T'H'W', t*h*w*3] (the same (t, h, w, c) order as the kernel), one matrix product
    /// (into s.attn as a temporary), then bias + position embedding, and `cls` first for the
    /// `token` classifier. Split by patch rows, then by clips, over the threads.
    func embed(clips: UnsafePointer<Float>, batch b: Int, _ s: Scratch, _ ws: ModelWorkspace) {
        let c = config, d = c.hiddenSize
        let (tt, th, tw) = (c.tubelet[0], c.tubelet[1], c.tubelet[2])
        let (gh, gw) = (c.grid.h, c.grid.w)
        let (fh, fw) = (c.height, c.width)
        let k = c.patchSize, np = c.numPatches, n0 = c.inputTokens, off = n0 - np
        let clipSize = c.numFrames * fh * fw * 3
        let patches = ws.buffer(.patches, b * np * k)
        let embedded = s.attn
        BLAS.parallel(b * np, parts: s.threads, minimum: Self.minimumRowsPerThread) { _, r0, r1 in
            for row in r0 ..< r1 {
                let bi = row / np, ti = row % np / (gh * gw), hi = row % (gh * gw) / gw, wi = row % gw
                let clip = clips + bi * clipSize
                var dst = patches + row * k
                for dt in 0 ..< tt {
                    for dy in 0 ..< th {
                        dst.update(from: clip + (((ti * tt + dt) * fh + hi * th + dy) * fw + wi * tw) * 3, count: tw * 3)
                        dst += tw * 3
                    }
                }
            }
            if s.packed, let packed = params.embedPacked {
                Kernels.gemmPacked(patches + r0 * k, lda: k, rows: r1 - r0, k: k, packed, n: d, bias: nil, embedded + r0 * d, ldo: d, .set)
            } else {
                BLAS.gemm(r1 - r0, d, k, patches + r0 * k, lda: k, params.embedKernel, ldb: d, embedded + r0 * d, ldc: d)
            }
        }
        BLAS.parallel(b, parts: s.threads) { _, b0, b1 in
            for bi in b0 ..< b1 {
                let xb = s.x + bi * n0 * d
                xb.update(repeating: 0, count: off * d)
                (xb + off * d).update(from: embedded + bi * np * d, count: np * d)
                for i in 0 ..< n0 * d { xb[i] += params.tokenOffset[i] }
            }
        }
    }

    // MARK: encoder

    /// s.x [B, N0, D] -> logits [B, K] written to `out`. Before a TokenLearner (and as the
    /// TokenFuser residual) n = T' * P tokens per clip, P = H'W' positions per slice or fewer
    /// after per-slice token keeping.
    func encode(batch b: Int, _ s: Scratch, into out: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize
        var n = c.inputTokens
        let gt = c.grid.t, g = b * gt
        for l in 0 ..< c.numLayers {
            let block = params.blocks[l]
            if let tl = c.tokenlearner, l >= tl.loc {
                let st = tl.numTokens
                if tl.useTokenfuse {
                    // x [G, P, D] is the residual; tokens [G, S, D] go through the block, the fuser
                    // maps them back to [G, P, D] and adds them to x.
                    learnTokens(params.tokenLearners[l - tl.loc], x: s.x, groups: g, positions: n / gt, into: s.tokens, s)
                    transformerBlock(block, x: s.tokens, batch: b, tokens: gt * st, s)
                    fuse(params.fusers[l - tl.loc], tokens: s.tokens, into: s.x, groups: g, positions: n / gt, s)
                    continue
                } else if l == tl.loc {
                    learnTokens(params.tokenLearners[0], x: s.x, groups: g, positions: n / gt, into: s.tokens, s)
                    s.x.update(from: s.tokens, count: g * st * d)
                    n = gt * st
                }
            }
            if let keep = tokenKeeping, keep.layers.contains(l) {
                let cut = keep.cut(layer: l, tokens: n, config: c)
                keepingBlock(block, x: s.x, batch: b, tokens: n, keep: cut.kept, groups: cut.groups, s)
                n = cut.kept
            } else {
                transformerBlock(block, x: s.x, batch: b, tokens: n, s)
            }
        }
        head(batch: b, tokens: n, s, into: out)
    }

    /// Pre-LN block on x [B*n, D], in place: x += MHA(LN0(x)); x += MLP(LN1(x)).
    ///
    /// Two parallel phases over token rows: (1) LN0 and the q|k|v projection; (2) for the
    /// thread's query rows, attention over all keys of their clip (all heads), the output
    /// projection, LN1 and the MLP, all row-local.
    func transformerBlock(_ p: BlockParams, x: UnsafeMutablePointer<Float>, batch b: Int, tokens n: Int, _ s: Scratch) {
        projectQKV(p, x: x, rows: b * n, s)
        BLAS.parallel(b * n, parts: s.threads, minimum: Self.minimumRowsPerThread) { t, r0, r1 in
            attend(p, x: x, rows: r0, r1, tokens: n, thread: t, s)
            mlp(p, x: x, rows: r0, r1, s)
        }
    }

    /// `transformerBlock` with token keeping (`TokenKeeping`): x [B*n, D] -> x [B*k, D] (k tokens
    /// per clip, compacted in place). Phase 1 as there; phase 2 attention and the output projection
    /// residual, adding the attention probabilities each key receives (all heads; all query rows,
    /// or only the cls row) into a per-thread sum; then, per clip, the top keys (descending, ties
    /// to the lower index; cls always kept) in token order; phase 3 LN1 and the MLP on the kept rows.
    /// With `groups` > 1 (pooled models only) the n tokens of a clip are that many equal runs
    /// (temporal slices), each keeping k / groups of its own. Sums instead of means: the ranking
    /// is the same.
    func keepingBlock(_ p: BlockParams, x: UnsafeMutablePointer<Float>, batch b: Int, tokens n: Int, keep k: Int, groups: Int, _ s: Scratch) {
        let d = config.hiddenSize, rows = b * n, cls = config.classifier == .token
        projectQKV(p, x: x, rows: rows, s)
        s.keepScores.update(repeating: 0, count: s.threads * rows)
        BLAS.parallel(rows, parts: s.threads, minimum: Self.minimumRowsPerThread) { t, r0, r1 in
            attend(p, x: x, rows: r0, r1, tokens: n, thread: t, received: s.keepScores + t * rows, s)
        }
        for t in 1 ..< max(s.threads, 1) {
            let other = s.keepScores + t * rows
            for i in 0 ..< rows { s.keepScores[i] += other[i] }
        }
        let first = cls ? 1 : 0, run = (n - first) / groups, keepPerRun = (k - first) / groups
        precondition(groups == 1 || (!cls && n % groups == 0 && k % groups == 0), "keepingBlock: \(n) tokens, \(k) kept, \(groups) groups")
        for bi in 0 ..< b {
            let score = s.keepScores + bi * n
            var kept = cls ? [0] : []
            for gi in 0 ..< groups {
                let start = first + gi * run
                let ranked = (start ..< start + run).sorted { score[$0] != score[$1] ? score[$0] > score[$1] : $0 < $1 }
                kept += ranked.prefix(keepPerRun).sorted()
            }
            for (i, j) in kept.enumerated() where bi * k + i != bi * n + j {
                (x + (bi * k + i) * d).update(from: x + (bi * n + j) * d, count: d)
            }
        }
        BLAS.parallel(b * k, parts: s.threads, minimum: Self.minimumRowsPerThread) { _, r0, r1 in
            mlp(p, x: x, rows: r0, r1, s)
        }
    }

    /// Phase 1 of a block over all rows of x [rows, D]: s.y = LN0(x), s.qkv = s.y @ W_qkv + b.
    private func projectQKV(_ p: BlockParams, x: UnsafeMutablePointer<Float>, rows: Int, _ s: Scratch) {
        let d = config.hiddenSize, ld = 3 * d, eps = config.layerNormEpsilon
        BLAS.parallel(rows, parts: s.threads, minimum: Self.minimumRowsPerThread) { _, r0, r1 in
            Kernels.layerNorm(x + r0 * d, s.y + r0 * d, rows: r1 - r0, cols: d, scale: p.ln0.scale, bias: p.ln0.bias, eps: eps)
            product(s.y + r0 * d, rows: r1 - r0, p.qkv, into: s.qkv + r0 * ld, .set, s)
        }
    }

    /// Attention for query rows r0..<r1 of x [B*n, D] on thread `thread` (its own scratch): every
    /// head over all n keys of the row's clip, heads side by side in s.attn; then
    /// x += s.attn @ W_out + b for those rows. With `received`, adds the probabilities each key
    /// gets (all queries, or the cls row only for `token` models) into received [B*n].
    /// Fused (`Kernels.attentionHead`) up to `fusedAttentionLimit`, else as two products per
    /// block of `attentionRowBlock` queries with a softmax between: on the packed kernels (K^T and
    /// V packed per clip and head into the thread's scratch, after the block of probabilities) or
    /// on OpenBLAS, as `s.packed` says.
    private func attend(
        _ p: BlockParams, x: UnsafeMutablePointer<Float>, rows r0: Int, _ r1: Int, tokens n: Int, thread: Int,
        received: UnsafeMutablePointer<Float>? = nil, _ s: Scratch
    ) {
        let c = config, d = c.hiddenSize, hd = c.numHeads, dh = c.headDim, ld = 3 * d
        let scratch = s.scores + thread * s.scoresPerThread
        let clsOnly = c.classifier == .token, fused = 2 * n * dh <= Self.fusedAttentionLimit   // K and V packed
        var r = r0
        while r < r1 {
            let bi = r / n, end = min(r1, (bi + 1) * n), q0 = r - bi * n
            let base = s.qkv + bi * n * ld, acc = received.map { $0 + bi * n }
            for h in 0 ..< hd {
                let q = base + q0 * ld + h * dh, k = base + d + h * dh, v = base + 2 * d + h * dh
                if fused {
                    let counted = acc == nil ? 0 : clsOnly ? (q0 == 0 ? 1 : 0) : end - r
                    Kernels.attentionHead(q: q, k: k, v: v, ld: ld, queries: end - r, keys: n, headDim: dh, out: s.attn + r * d + h * dh,
                                          ldo: d, scratch: scratch, received: acc, receivedRows: counted)
                    continue
                }
                let kt = scratch + min(n, Self.attentionRowBlock) * n, vp = kt + Kernels.packedSize(rows: dh, cols: n)
                if s.packed {
                    Kernels.packTransposed(k, rows: dh, cols: n, ld: ld, into: kt)
                    Kernels.pack(v, rows: n, cols: dh, ld: ld, into: vp)
                }
                var i = 0
                while i < end - r {
                    let mm = min(Self.attentionRowBlock, end - r - i)
                    if s.packed {
                        Kernels.gemmPacked(q + i * ld, lda: ld, rows: mm, k: dh, kt, n: n, bias: nil, scratch, ldo: n, .set)
                    } else {
                        BLAS.gemm(mm, n, dh, q + i * ld, lda: ld, k, ldb: ld, transB: true, scratch, ldc: n)
                    }
                    Kernels.softmaxRows(scratch, rows: mm, cols: n, ld: n)
                    if let acc {
                        if !clsOnly {
                            for a in 0 ..< mm { let row = scratch + a * n; for j in 0 ..< n { acc[j] += row[j] } }
                        } else if q0 + i == 0 {
                            for j in 0 ..< n { acc[j] += scratch[j] }
                        }
                    }
                    if s.packed {
                        Kernels.gemmPacked(scratch, lda: n, rows: mm, k: n, vp, n: dh, bias: nil, s.attn + (r + i) * d + h * dh, ldo: d, .set)
                    } else {
                        BLAS.gemm(mm, dh, n, scratch, lda: n, v, ldb: ld, s.attn + (r + i) * d + h * dh, ldc: d)
                    }
                    i += mm
                }
            }
            r = end
        }
        product(s.attn + r0 * d, rows: r1 - r0, p.out, into: x + r0 * d, .accumulate, s)
    }

    /// Rows r0..<r1 of x [rows, D], in place: x += fc2(GELU(fc1(LN1(x)))).
    private func mlp(_ p: BlockParams, x: UnsafeMutablePointer<Float>, rows r0: Int, _ r1: Int, _ s: Scratch) {
        let d = config.hiddenSize, m = config.mlpDim
        let nr = r1 - r0, xr = x + r0 * d, yr = s.y + r0 * d, hr = s.hidden + r0 * m
        Kernels.layerNorm(xr, yr, rows: nr, cols: d, scale: p.ln1.scale, bias: p.ln1.bias, eps: config.layerNormEpsilon)
        product(yr, rows: nr, p.fc1, into: hr, .gelu, s)
        product(hr, rows: nr, p.fc2, into: xr, .accumulate, s)
    }

    /// LayerNorm then a two-layer MLP (GELU between) on rows of x [rows, D] -> out [rows, outDim],
    /// split by rows. Uses s.y and s.hidden.
    func normMLP(_ x: UnsafePointer<Float>, rows: Int, _ ln: LayerNormParams, _ fc1: Dense, _ fc2: Dense, into out: UnsafeMutablePointer<Float>, _ s: Scratch) {
        let d = config.hiddenSize, eps = config.layerNormEpsilon
        BLAS.parallel(rows, parts: s.threads, minimum: Self.minimumRowsPerThread) { _, r0, r1 in
            Kernels.layerNorm(x + r0 * d, s.y + r0 * d, rows: r1 - r0, cols: d, scale: ln.scale, bias: ln.bias, eps: eps)
            product(s.y + r0 * d, rows: r1 - r0, fc1, into: s.hidden + r0 * fc1.outDim, .gelu, s)
            product(s.hidden + r0 * fc1.outDim, rows: r1 - r0, fc2, into: out + r0 * fc2.outDim, .set, s)
        }
    }

    // MARK: TokenLearner and TokenFuser

    /// x [G, P, D] -> out [G, S, D], one temporal slice per group; P = `positions` (H'W', or
    /// fewer after per-slice token keeping; always H'W' for v1.0, whose convolutions need the grid).
    func learnTokens(_ p: TokenLearnerParams, x: UnsafeMutablePointer<Float>, groups g: Int, positions pp: Int, into out: UnsafeMutablePointer<Float>, _ s: Scratch) {
        let c = config, d = c.hiddenSize, st = c.tokenlearner!.numTokens
        let rows = g * pp
        switch p {
        case let .v11(ln, fc1, fc2):
            normMLP(x, rows: rows, ln, fc1, fc2, into: s.mask, s)                           // [G*P, S]
            BLAS.parallel(g, parts: s.threads, minimum: Self.minimumSlicesPerThread) { _, g0, g1 in
                for gi in g0 ..< g1 {
                    let at = s.maskT + gi * st * pp
                    Kernels.transpose(s.mask + gi * pp * st, rows: pp, cols: st, ld: st, at)   // [S, P]
                    Kernels.softmaxRows(at, rows: st, cols: pp, ld: pp)                         // over positions
                    BLAS.gemm(st, d, pp, at, lda: pp, x + gi * pp * d, ldb: d, out + gi * st * d, ldc: d)
                }
            }
        case let .v10(ln, convs):
            assert(pp == c.positionsPerSlice, "TokenLearner v1.0 needs the full grid")
            Kernels.layerNorm(x, s.y, rows: rows, cols: d, scale: ln.scale, bias: ln.bias, eps: c.layerNormEpsilon)
            conv3x3(s.y, groups: g, cin: d, convs[0], cout: st, into: s.mask, s)
            Kernels.gelu(s.mask, rows * st)
            conv3x3(s.mask, groups: g, cin: st, convs[1], cout: st, into: s.maskT, s)
            Kernels.gelu(s.maskT, rows * st)
            conv3x3(s.maskT, groups: g, cin: st, convs[2], cout: st, into: s.mask, s)
            Kernels.gelu(s.mask, rows * st)
            conv3x3(s.mask, groups: g, cin: st, convs[3], cout: st, into: s.maskT, s)
            Kernels.sigmoid(s.maskT, rows * st)
            for gi in 0 ..< g {   // sum pooling: out_g [S, D] = mask_g^T [S, P] @ x_g [P, D]
                BLAS.gemm(st, d, pp, s.maskT + gi * pp * st, lda: st, transA: true, x + gi * pp * d, ldb: d, out + gi * st * d, ldc: d)
            }
        }
    }

    /// 3x3 convolution, stride 1, SAME (zero) padding, no bias, on [G, H', W', cin] -> [G, H', W', cout],
    /// as im2col [G*P, 9*cin] times the kernel [3, 3, cin, cout] read as [9*cin, cout].
    func conv3x3(_ src: UnsafePointer<Float>, groups g: Int, cin: Int, _ kernel: UnsafePointer<Float>, cout: Int, into dst: UnsafeMutablePointer<Float>, _ s: Scratch) {
        let gh = config.grid.h, gw = config.grid.w
        var row = s.im2col
        for gi in 0 ..< g {
            for yy in 0 ..< gh {
                for xx in 0 ..< gw {
                    for ky in 0 ..< 3 {
                        for kx in 0 ..< 3 {
                            let sy = yy + ky - 1, sx = xx + kx - 1
                            if sy >= 0, sy < gh, sx >= 0, sx < gw {
                                row.update(from: src + ((gi * gh + sy) * gw + sx) * cin, count: cin)
                            } else {
                                row.update(repeating: 0, count: cin)
                            }
                            row += cin
                        }
                    }
                }
            }
        }
        BLAS.gemm(g * gh * gw, cout, 9 * cin, s.im2col, lda: 9 * cin, kernel, ldb: cout, dst, ldc: cout)
    }

    /// TokenFuser: tokens [G, S, D] (after the block) and the residual x [G, P, D], P = `positions`;
    /// x += mix [P, S] @ LN2(Dense_0 over S (LN1(tokens))), mix = sigmoid(MLP(LN0(x))).
    func fuse(_ p: FuserParams, tokens: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, groups g: Int, positions pp: Int, _ s: Scratch) {
        let c = config, d = c.hiddenSize, st = c.tokenlearner!.numTokens, eps = c.layerNormEpsilon
        BLAS.parallel(g, parts: s.threads, minimum: Self.minimumSlicesPerThread) { _, g0, g1 in
            for gi in g0 ..< g1 {   // t'[s', :] = sum_s K[s, s'] t[s, :] + b[s']
                let src = tokens + gi * st * d, tmp = s.tokens2 + gi * st * d
                Kernels.layerNorm(src, tmp, rows: st, cols: d, scale: p.norm1.scale, bias: p.norm1.bias, eps: eps)
                BLAS.gemm(st, d, st, p.mix.kernel, lda: st, transA: true, tmp, ldb: d, src, ldc: d)
                for si in 0 ..< st {
                    let bias = p.mix.bias[si], r = src + si * d
                    for j in 0 ..< d { r[j] += bias }
                }
                Kernels.layerNorm(src, src, rows: st, cols: d, scale: p.norm2.scale, bias: p.norm2.bias, eps: eps)
            }
        }
        normMLP(x, rows: g * pp, p.ln0, p.fc1, p.fc2, into: s.mask, s)
        BLAS.parallel(g, parts: s.threads, minimum: Self.minimumSlicesPerThread) { _, g0, g1 in
            for gi in g0 ..< g1 {
                Kernels.sigmoid(s.mask + gi * pp * st, pp * st)
                BLAS.gemm(pp, d, st, s.mask + gi * pp * st, lda: st, tokens + gi * st * d, ldb: d, x + gi * pp * d, ldc: d, beta: 1)
            }
        }
    }

    // MARK: head

    /// encoder_norm, pooling over the n tokens of each clip (or `cls`), pre_logits, output_projection.
    func head(batch b: Int, tokens n: Int, _ s: Scratch, into out: UnsafeMutablePointer<Float>) {
        let c = config, d = c.hiddenSize
        Kernels.layerNorm(s.x, s.y, rows: b * n, cols: d, scale: params.encoderNorm.scale, bias: params.encoderNorm.bias, eps: c.layerNormEpsilon)
        for bi in 0 ..< b {
            let src = s.y + bi * n * d, dst = s.pooled + bi * d
            switch c.classifier {
            case .token:
                dst.update(from: src, count: d)
            case .gmp:
                dst.update(from: src, count: d)
                for r in 1 ..< max(n, 1) { for j in 0 ..< d { dst[j] = max(dst[j], src[r * d + j]) } }
            case .gap, .gsp:
                dst.update(repeating: 0, count: d)
                for r in 0 ..< n { for j in 0 ..< d { dst[j] += src[r * d + j] } }
                if c.classifier == .gap { for j in 0 ..< d { dst[j] /= Float(n) } }
            }
        }
        var features = s.pooled
        if let pre = params.preLogits {
            product(s.pooled, rows: b, pre, into: s.pooled2, .set, s)
            Kernels.tanh(s.pooled2, b * pre.outDim)
            features = s.pooled2
        }
        product(features, rows: b, params.head, into: out, .set, s)
    }

    /// out [rows, outDim] = x [rows, inDim] @ kernel + bias, then GELU, or added to out, as
    /// `output` says; on the packed kernels (`s.packed`, and the model loaded with packed
    /// weights) or OpenBLAS. On OpenBLAS the bias is pre-filled and the product accumulated onto
    /// it where the output is not a residual.
    func product(_ x: UnsafePointer<Float>, rows: Int, _ p: Dense, into out: UnsafeMutablePointer<Float>, _ output: Kernels.ProductOutput, _ s: Scratch) {
        let (k, n) = (p.inDim, p.outDim)
        if s.packed, let packed = p.packed {
            Kernels.gemmPacked(x, lda: k, rows: rows, k: k, packed, n: n, bias: p.bias, out, ldo: n, output)
            return
        }
        switch output {
        case .set, .gelu:
            Kernels.fillRows(out, rows: rows, cols: n, p.bias)
            BLAS.gemm(rows, n, k, x, lda: k, p.kernel, ldb: n, out, ldc: n, beta: 1)
            if output == .gelu { Kernels.addBiasGELU(out, rows: rows, cols: n, nil) }
        case .accumulate:
            BLAS.gemm(rows, n, k, x, lda: k, p.kernel, ldb: n, out, ldc: n, beta: 1)
            Kernels.addBias(out, rows: rows, cols: n, p.bias)
        }
    }
}
