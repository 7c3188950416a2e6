// The forward pass, following Scenic's TokenLearnerViT / ViViT (token_learner/model.py,
// vivit/model.py, baselines/vit.py). Everything works on workspace buffers of a batch of B clips;
// token matrices are [B*N, D] row-major, clip-major then t-major (temporal slice, then H', W').

/// The workspace buffers of one forward pass, fetched once with their largest size.
struct Scratch {
    let x: UnsafeMutablePointer<Float>        // [B*N0, D] tokens (N0 = input tokens)
    let y: UnsafeMutablePointer<Float>        // [B*N0, D] LayerNorm outputs
    let qkv: UnsafeMutablePointer<Float>      // [B*N0, 3D]
    let attn: UnsafeMutablePointer<Float>     // [B*N0, D] attention outputs, heads side by side
    let scores: UnsafeMutablePointer<Float>   // [rowBlock, N0] one block of attention probabilities
    let hidden: UnsafeMutablePointer<Float>   // [B*N0, max(M, bottleneck)]
    let mask: UnsafeMutablePointer<Float>     // [G*P, S] TokenLearner / TokenFuser masks
    let maskT: UnsafeMutablePointer<Float>    // [G*P, S] (transposed masks; v1.0 conv ping-pong)
    let tokens: UnsafeMutablePointer<Float>   // [G*S, D] learned tokens
    let tokens2: UnsafeMutablePointer<Float>  // [G*S, D] TokenFuser temporaries
    let im2col: UnsafeMutablePointer<Float>   // [G*P, 9*max(D, S)] (TokenLearner v1.0 only)
    let pooled: UnsafeMutablePointer<Float>   // [B, max(D, R)]
    let pooled2: UnsafeMutablePointer<Float>  // [B, max(D, R)]
    let rowBlock: Int
}

extension VideoModel {
    /// Query rows per attention block: keeps a block of probabilities ([rowBlock, N]) in cache.
    static let attentionRowBlock = 256

    func scratch(batch b: Int, _ ws: ModelWorkspace) -> Scratch {
        let c = config, d = c.hiddenSize, n0 = c.inputTokens
        let g = b * c.grid.t, pp = c.positionsPerSlice
        let s = c.tokenlearner?.numTokens ?? 0, bn = c.tokenlearner?.bottleneckDim ?? 0
        let v10 = c.tokenlearner?.version == "1.0"
        let rb = min(n0, Self.attentionRowBlock)
        let r = max(d, c.representationSize ?? 0)
        return Scratch(
            x: ws.buffer(.x, b * n0 * d), y: ws.buffer(.y, b * n0 * d), qkv: ws.buffer(.qkv, b * n0 * 3 * d),
            attn: ws.buffer(.attn, b * n0 * d), scores: ws.buffer(.scores, rb * n0),
            hidden: ws.buffer(.hidden, b * n0 * max(c.mlpDim, bn)),
            mask: ws.buffer(.mask, g * pp * s), maskT: ws.buffer(.maskT, g * pp * s),
            tokens: ws.buffer(.tokens, g * s * d), tokens2: ws.buffer(.tokens2, g * s * d),
            im2col: ws.buffer(.im2col, v10 ? g * pp * 9 * max(d, s) : 0),
            pooled: ws.buffer(.pooled, b * r), pooled2: ws.buffer(.pooled2, b * r), rowBlock: rb)
    }

    // MARK: embedding

    /// Clips [B, T, H, W, 3] (normalised) -> s.x [B, N0, D]: tubelets as rows of a patch matrix
    /// [B*T'H'W', t*h*w*3] (the same (t, h, w, c) order as the kernel), one matrix product,
    /// then bias + position embedding (and `cls` first for the `token` classifier).
    func embed(clips: UnsafePointer<Float>, batch b: Int, _ s: Scratch, _ ws: ModelWorkspace) {
        let c = config, d = c.hiddenSize
        let (tt, th, tw) = (c.tubelet[0], c.tubelet[1], c.tubelet[2])
        let (gt, gh, gw) = c.grid
        let (fh, fw) = (c.height, c.width)
        let k = c.patchSize, np = c.numPatches, n0 = c.inputTokens, off = n0 - np
        let clipSize = c.numFrames * fh * fw * 3
        let patches = ws.buffer(.patches, b * np * k)
        var row = 0
        for bi in 0 ..< b {
            let clip = clips + bi * clipSize
            for ti in 0 ..< gt {
                for hi in 0 ..< gh {
                    for wi in 0 ..< gw {
                        var dst = patches + row * k
                        for dt in 0 ..< tt {
                            for dy in 0 ..< th {
                                let src = clip + (((ti * tt + dt) * fh + hi * th + dy) * fw + wi * tw) * 3
                                dst.update(from: src, count: tw * 3)
                                dst += tw * 3
                            }
                        }
                        row += 1
                    }
                }
            }
        }
        if off == 0 {
            BLAS.gemm(b * np, d, k, patches, lda: k, params.embedKernel, ldb: d, s.x, ldc: d)
        } else {
            for bi in 0 ..< b {
                BLAS.gemm(np, d, k, patches + bi * np * k, lda: k, params.embedKernel, ldb: d, s.x + (bi * n0 + off) * d, ldc: d)
                s.x.advanced(by: bi * n0 * d).update(repeating: 0, count: off * d)
            }
        }
        for bi in 0 ..< b {
            let xb = s.x + bi * n0 * d
            for i in 0 ..< n0 * d { xb[i] += params.tokenOffset[i] }
        }
    }

    // MARK: encoder

    /// s.x [B, N0, D] -> logits [B, K] written to `out`.
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
                    learnTokens(params.tokenLearners[l - tl.loc], x: s.x, groups: g, into: s.tokens, s)
                    transformerBlock(block, x: s.tokens, batch: b, tokens: gt * st, s)
                    fuse(params.fusers[l - tl.loc], tokens: s.tokens, into: s.x, groups: g, s)
                    continue
                } else if l == tl.loc {
                    learnTokens(params.tokenLearners[0], x: s.x, groups: g, into: s.tokens, s)
                    s.x.update(from: s.tokens, count: g * st * d)
                    n = gt * st
                }
            }
            transformerBlock(block, x: s.x, batch: b, tokens: n, s)
        }
        head(batch: b, tokens: n, s, into: out)
    }

    /// Pre-LN block on x [B*n, D], in place: x += MHA(LN0(x)); x += MLP(LN1(x)).
    func transformerBlock(_ p: BlockParams, x: UnsafeMutablePointer<Float>, batch b: Int, tokens n: Int, _ s: Scratch) {
        let c = config, d = c.hiddenSize, rows = b * n, eps = c.layerNormEpsilon
        let hd = c.numHeads, dh = c.headDim, ld = 3 * d
        Kernels.layerNorm(x, s.y, rows: rows, cols: d, scale: p.ln0.scale, bias: p.ln0.bias, eps: eps)
        BLAS.gemm(rows, 3 * d, d, s.y, lda: d, p.qkv.kernel, ldb: 3 * d, s.qkv, ldc: 3 * d)
        Kernels.addBias(s.qkv, rows: rows, cols: 3 * d, p.qkv.bias)
        let rb = min(s.rowBlock, n)
        for bi in 0 ..< b {
            let base = s.qkv + bi * n * ld
            for h in 0 ..< hd {
                let q = base + h * dh, k = base + d + h * dh, v = base + 2 * d + h * dh
                var r0 = 0
                while r0 < n {
                    let m = min(rb, n - r0)
                    BLAS.gemm(m, n, dh, q + r0 * ld, lda: ld, k, ldb: ld, transB: true, s.scores, ldc: n)
                    Kernels.softmaxRows(s.scores, rows: m, cols: n, ld: n)
                    BLAS.gemm(m, dh, n, s.scores, lda: n, v, ldb: ld, s.attn + (bi * n + r0) * d + h * dh, ldc: d)
                    r0 += m
                }
            }
        }
        BLAS.gemm(rows, d, d, s.attn, lda: d, p.out.kernel, ldb: d, x, ldc: d, beta: 1)
        Kernels.addBias(x, rows: rows, cols: d, p.out.bias)
        Kernels.layerNorm(x, s.y, rows: rows, cols: d, scale: p.ln1.scale, bias: p.ln1.bias, eps: eps)
        let m = c.mlpDim
        BLAS.gemm(rows, m, d, s.y, lda: d, p.fc1.kernel, ldb: m, s.hidden, ldc: m)
        Kernels.addBiasGELU(s.hidden, rows: rows, cols: m, p.fc1.bias)
        BLAS.gemm(rows, d, m, s.hidden, lda: m, p.fc2.kernel, ldb: d, x, ldc: d, beta: 1)
        Kernels.addBias(x, rows: rows, cols: d, p.fc2.bias)
    }

    // MARK: TokenLearner and TokenFuser

    /// x [G, P, D] -> out [G, S, D], one temporal slice per group.
    func learnTokens(_ p: TokenLearnerParams, x: UnsafeMutablePointer<Float>, groups g: Int, into out: UnsafeMutablePointer<Float>, _ s: Scratch) {
        let c = config, d = c.hiddenSize, pp = c.positionsPerSlice, st = c.tokenlearner!.numTokens
        let rows = g * pp
        switch p {
        case let .v11(ln, fc1, fc2):
            Kernels.layerNorm(x, s.y, rows: rows, cols: d, scale: ln.scale, bias: ln.bias, eps: c.layerNormEpsilon)
            dense(s.y, rows: rows, fc1, into: s.hidden, gelu: true)
            dense(s.hidden, rows: rows, fc2, into: s.mask)
            for gi in 0 ..< g {
                let at = s.maskT + gi * st * pp
                Kernels.transpose(s.mask + gi * pp * st, rows: pp, cols: st, ld: st, at)   // [S, P]
                Kernels.softmaxRows(at, rows: st, cols: pp, ld: pp)                         // over positions
                BLAS.gemm(st, d, pp, at, lda: pp, x + gi * pp * d, ldb: d, out + gi * st * d, ldc: d)
            }
        case let .v10(ln, convs):
            Kernels.layerNorm(x, s.y, rows: rows, cols: d, scale: ln.scale, bias: ln.bias, eps: c.layerNormEpsilon)
            conv3x3(s.y, groups: g, cin: d, convs[0], cout: st, into: s.mask, s)
            Kernels.map(s.mask, rows * st, Kernels.gelu8)
            conv3x3(s.mask, groups: g, cin: st, convs[1], cout: st, into: s.maskT, s)
            Kernels.map(s.maskT, rows * st, Kernels.gelu8)
            conv3x3(s.maskT, groups: g, cin: st, convs[2], cout: st, into: s.mask, s)
            Kernels.map(s.mask, rows * st, Kernels.gelu8)
            conv3x3(s.mask, groups: g, cin: st, convs[3], cout: st, into: s.maskT, s)
            Kernels.map(s.maskT, rows * st, Kernels.sigmoid8)
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

    /// TokenFuser: tokens [G, S, D] (after the block) and the residual x [G, P, D];
    /// x += mix [P, S] @ LN2(Dense_0 over S (LN1(tokens))), mix = sigmoid(MLP(LN0(x))).
    func fuse(_ p: FuserParams, tokens: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, groups g: Int, _ s: Scratch) {
        let c = config, d = c.hiddenSize, pp = c.positionsPerSlice, st = c.tokenlearner!.numTokens, eps = c.layerNormEpsilon
        Kernels.layerNorm(tokens, s.tokens2, rows: g * st, cols: d, scale: p.norm1.scale, bias: p.norm1.bias, eps: eps)
        for gi in 0 ..< g {   // t'[s', :] = sum_s K[s, s'] t[s, :] + b[s']
            let dst = tokens + gi * st * d
            BLAS.gemm(st, d, st, p.mix.kernel, lda: st, transA: true, s.tokens2 + gi * st * d, ldb: d, dst, ldc: d)
            for si in 0 ..< st {
                let bias = p.mix.bias[si], r = dst + si * d
                for j in 0 ..< d { r[j] += bias }
            }
        }
        Kernels.layerNorm(tokens, tokens, rows: g * st, cols: d, scale: p.norm2.scale, bias: p.norm2.bias, eps: eps)
        let rows = g * pp
        Kernels.layerNorm(x, s.y, rows: rows, cols: d, scale: p.ln0.scale, bias: p.ln0.bias, eps: eps)
        dense(s.y, rows: rows, p.fc1, into: s.hidden, gelu: true)
        dense(s.hidden, rows: rows, p.fc2, into: s.mask)
        Kernels.map(s.mask, rows * st, Kernels.sigmoid8)
        for gi in 0 ..< g {
            BLAS.gemm(pp, d, st, s.mask + gi * pp * st, lda: st, tokens + gi * st * d, ldb: d, x + gi * pp * d, ldc: d, beta: 1)
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
            dense(s.pooled, rows: b, pre, into: s.pooled2)
            Kernels.map(s.pooled2, b * pre.outDim, Kernels.tanh8)
            features = s.pooled2
        }
        dense(features, rows: b, params.head, into: out)
    }

    /// out [rows, outDim] = x [rows, inDim] @ kernel + bias (then GELU).
    func dense(_ x: UnsafePointer<Float>, rows: Int, _ p: Dense, into out: UnsafeMutablePointer<Float>, gelu: Bool = false) {
        BLAS.gemm(rows, p.outDim, p.inDim, x, lda: p.inDim, p.kernel, ldb: p.outDim, out, ldc: p.outDim)
        if gelu { Kernels.addBiasGELU(out, rows: rows, cols: p.outDim, p.bias) } else { Kernels.addBias(out, rows: rows, cols: p.outDim, p.bias) }
    }
}
