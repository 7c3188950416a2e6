// The kernels, written once with Clang/GCC vector extensions of VW floats (8, or 16 for the
// AVX-512 build) and included by kernels_generic.c, kernels_avx2.c and kernels_avx512.c, which
// define KERNEL(name) to give each build its own function names (and VW). Everything here is
// static; the .c files export the tables dispatch.c uses.
//
// exp uses Cephes-style range reduction and a degree-6 polynomial: n = round(x / ln 2) from adding
// 1.5 * 2^23 (the float's low mantissa bits then hold n) and 2^n built from those bits, so no lane
// ever leaves the vector registers.
#include <string.h>
#include "tokenreel_kernels.h"
#include "kernels_table.h"

// The helpers below take and return VW-float vectors; in the baseline build that is not the AVX
// calling convention, which only matters across a call boundary, and they are always inlined.
#pragma clang diagnostic ignored "-Wpsabi"

#ifndef VW
#define VW 8
#endif
#if VW != 8 && VW != 16
#error "VW is 8 or 16"
#endif
typedef float v8f __attribute__((vector_size(4 * VW)));   // VW floats (named for the first build)
typedef int v8i __attribute__((vector_size(4 * VW)));

#define INLINE static inline __attribute__((always_inline))

INLINE v8f ld8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
INLINE void st8(float *p, v8f v) { memcpy(p, &v, sizeof v); }
INLINE v8f splat(float x) {
#if VW == 16
    return (v8f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
#else
    return (v8f){x, x, x, x, x, x, x, x};
#endif
}
INLINE float hsum(v8f v) {
#if VW == 16
    return (((v[0] + v[8]) + (v[4] + v[12])) + ((v[1] + v[9]) + (v[5] + v[13])))
         + (((v[2] + v[10]) + (v[6] + v[14])) + ((v[3] + v[11]) + (v[7] + v[15])));
#else
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
#endif
}
INLINE float hmax(v8f v) {
    float m = v[0];
    for (int i = 1; i < VW; i++) m = v[i] > m ? v[i] : m;
    return m;
}
/// The first n (< VW) values of p in a vector, the rest `fill`.
INLINE v8f ld_part(const float *p, long n, float fill) {
    v8f v = splat(fill);
    for (long i = 0; i < n; i++) v[i] = p[i];
    return v;
}
INLINE void st_part(float *p, long n, v8f v) { for (long i = 0; i < n; i++) p[i] = v[i]; }

INLINE v8f vexp(v8f x) {
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, splat(-87.3f)), splat(88.3f));
    const float magic = 12582912.0f;                        // 1.5 * 2^23
    v8f t = x * 1.44269504f + magic;
    v8f n = t - magic;                                      // round-to-nearest(x / ln 2)
    v8f r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;                             // ln 2 = 0.693359375 - 2.12194440e-4
    v8f p = splat(1.98756915e-4f);
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.1665796e-2f;
    p = p * r + 1.66666655e-1f;
    p = p * r + 5.0000001e-1f;
    p = p * r * r + r + 1.0f;
    v8i bits = (v8i)t - 0x4B400000;                         // = n
    v8i scale = (bits + 127) << 23;                         // 2^n
    return p * (v8f)scale;
}
INLINE v8f vsigmoid(v8f x) { return 1.0f / (1.0f + vexp(-x)); }
INLINE v8f vtanh(v8f x) { return 1.0f - 2.0f / (vexp(x + x) + 1.0f); }
/// 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).
INLINE v8f vgelu(v8f x) {
    v8f u2 = x * (1.59576912f + 0.0713548162f * (x * x));
    return x / (1.0f + vexp(-u2));
}

#define MAP(fname, f)                                                 \
    static void KERNEL(fname)(float *x, long count) {                 \
        long i = 0;                                                   \
        for (; i + VW <= count; i += VW) st8(x + i, f(ld8(x + i)));  \
        if (i < count) st_part(x + i, count - i, f(ld_part(x + i, count - i, 0)));  \
    }
MAP(exp, vexp)
MAP(sigmoid, vsigmoid)
MAP(tanh, vtanh)
MAP(gelu, vgelu)

static void KERNEL(add_bias)(float *x, long rows, long cols, const float *bias) {
    for (long r = 0; r < rows; r++) {
        float *row = x + r * cols;
        long c = 0;
        for (; c + VW <= cols; c += VW) st8(row + c, ld8(row + c) + ld8(bias + c));
        for (; c < cols; c++) row[c] += bias[c];
    }
}

static void KERNEL(add_bias_gelu)(float *x, long rows, long cols, const float *bias) {
    for (long r = 0; r < rows; r++) {
        float *row = x + r * cols;
        long c = 0;
        if (bias) {
            for (; c + VW <= cols; c += VW) st8(row + c, vgelu(ld8(row + c) + ld8(bias + c)));
            if (c < cols) st_part(row + c, cols - c, vgelu(ld_part(row + c, cols - c, 0) + ld_part(bias + c, cols - c, 0)));
        } else {
            for (; c + VW <= cols; c += VW) st8(row + c, vgelu(ld8(row + c)));
            if (c < cols) st_part(row + c, cols - c, vgelu(ld_part(row + c, cols - c, 0)));
        }
    }
}

static void KERNEL(fill_rows)(float *dst, long rows, long cols, const float *row) {
    for (long r = 0; r < rows; r++) memcpy(dst + r * cols, row, (size_t)cols * sizeof(float));
}

static void KERNEL(layer_norm)(const float *x, float *out, long rows, long cols,
                               const float *scale, const float *bias, float eps) {
    const float inv = 1.0f / (float)cols;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = out + r * cols;
        v8f s = splat(0), s2 = splat(0);
        long c = 0;
        for (; c + VW <= cols; c += VW) { v8f v = ld8(xr + c); s += v; s2 += v * v; }
        float sum = hsum(s), sum2 = hsum(s2);
        for (; c < cols; c++) { sum += xr[c]; sum2 += xr[c] * xr[c]; }
        const float mean = sum * inv;
        float var = sum2 * inv - mean * mean;
        var = var > 0 ? var : 0;
        const float rs = 1.0f / __builtin_sqrtf(var + eps);
        for (c = 0; c + VW <= cols; c += VW)
            st8(yr + c, (ld8(xr + c) - mean) * (rs * ld8(scale + c)) + ld8(bias + c));
        for (; c < cols; c++) yr[c] = (xr[c] - mean) * (rs * scale[c]) + bias[c];
    }
}

/// Rows of x (ld apart) replaced by exp(x - row max); inv[r] = 1 / the row's sum, so that
/// softmax = x * inv[r] (the attention kernel folds that scale into its output instead).
INLINE void exp_rows(float *x, long rows, long cols, long ld, float *inv) {
    const long full = cols - cols % VW, tail = cols - full;
    for (long r = 0; r < rows; r++) {
        float *row = x + r * ld;
        v8f mv = splat(-__builtin_inff());
        for (long c = 0; c < full; c += VW) mv = __builtin_elementwise_max(mv, ld8(row + c));
        if (tail) mv = __builtin_elementwise_max(mv, ld_part(row + full, tail, -__builtin_inff()));
        const v8f m = splat(hmax(mv));
        v8f acc = splat(0);
        for (long c = 0; c < full; c += VW) { v8f e = vexp(ld8(row + c) - m); acc += e; st8(row + c, e); }
        if (tail) {
            v8f e = vexp(ld_part(row + full, tail, -__builtin_inff()) - m);   // padding: e^-inf = 0
            acc += e;
            st_part(row + full, tail, e);
        }
        inv[r] = 1.0f / hsum(acc);
    }
}

static void KERNEL(softmax_rows)(float *x, long rows, long cols, long ld) {
    const long full = cols - cols % VW, tail = cols - full;
    for (long r = 0; r < rows; r++) {
        float *row = x + r * ld, inv;
        exp_rows(row, 1, cols, ld, &inv);
        const v8f s = splat(inv);
        for (long c = 0; c < full; c += VW) st8(row + c, ld8(row + c) * s);
        if (tail) st_part(row + full, tail, ld_part(row + full, tail, 0) * s);
    }
}

// Attention for one head. K and V are first packed into 16-wide panels by trk_pack_bt and
// trk_pack_b, as the packed products pack their weights (K transposed: per block
// of 16 keys a [dh, 16] panel; V: per block of 16 head columns an [n, 16] panel, zero-padded), so
// every inner loop below reads contiguous streams, as a BLAS micro-kernel does. Queries are then
// processed AR rows at a time: their scores against all keys (an AR x TW register tile over the
// head dimension), exp(score - row max) with the row sums kept aside, and the AR x TW tiles of
// P V over the keys, scaled by 1 / row sum as they are stored (the softmax's normalisation,
// without a pass over P). Everything of a block stays in L1/L2; no C matrix is zeroed.
//
// A tile row is NV = 2 vectors: TW = 16 columns (one panel) in the 8-wide builds, 6 rows x 2 ymm;
// TW = 32 (two neighbouring panels) in the AVX-512 build, 12 rows x 2 zmm = 24 of its 32
// registers, so each step's 12 broadcasts feed 24 FMAs. Keys and head columns are padded with
// zeros to a whole tile.
#define NV 2
#define TW (NV * VW)
#define AR (VW == 16 ? 12 : 6)
#define PR 6                       // rows of a P V tile

/// acc rows 0..<rows of an AR x TW tile, each times scale[i], to dst (rows ld apart), the first
/// `cols` (<= TW) columns.
INLINE void store_tile(v8f acc[AR][NV], const float *scale, float *dst, long ld, long rows, long cols) {
    for (long i = 0; i < rows; i++)
        for (int h = 0; h < NV; h++) {
            const long c = cols - (long)VW * h;
            const v8f x = scale ? acc[i][h] * splat(scale[i]) : acc[i][h];
            if (c >= VW) st8(dst + i * ld + VW * h, x);
            else if (c > 0) st_part(dst + i * ld + VW * h, c, x);
        }
}

/// One step of a rank-1 update of a PR x TW tile: acc[i][h] += rows[i][index] * b[h * hstride ..< + VW]
/// (six row pointers fit in registers beside the loop's own).
INLINE void tile_step_rows(v8f acc[AR][NV], const float *const rows[PR], long index, const float *b, long hstride) {
    v8f bv[NV];
    for (int h = 0; h < NV; h++) bv[h] = ld8(b + h * hstride);
#pragma clang loop unroll(full)
    for (int i = 0; i < PR; i++) {
        const v8f x = splat(rows[i][index]);
        for (int h = 0; h < NV; h++) acc[i][h] += x * bv[h];
    }
}

/// One step of a rank-1 update of an AR x TW tile: acc[i][h] += a[i] * b[h * hstride ..< + VW].
/// `a` is one column of the row block, packed (AR consecutive floats), so the AR broadcasts are
/// constant offsets from one pointer and the row pointers need no registers.
INLINE void tile_step(v8f acc[AR][NV], const float *a, const float *b, long hstride) {
    v8f bv[NV];
    for (int h = 0; h < NV; h++) bv[h] = ld8(b + h * hstride);
#pragma clang loop unroll(full)
    for (int i = 0; i < AR; i++) {
        const v8f x = splat(a[i]);
        for (int h = 0; h < NV; h++) acc[i][h] += x * bv[h];
    }
}

/// tile_step with the AR values of A read in place, rows `lda` apart: a[i * lda].
INLINE void tile_step_strided(v8f acc[AR][NV], const float *a, long lda, const float *b, long hstride) {
    v8f bv[NV];
    for (int h = 0; h < NV; h++) bv[h] = ld8(b + h * hstride);
#pragma clang loop unroll(full)
    for (int i = 0; i < AR; i++) {
        const v8f x = splat(a[i * lda]);
        for (int h = 0; h < NV; h++) acc[i][h] += x * bv[h];
    }
}

INLINE void zero_tile(v8f acc[AR][NV]) {
    for (int i = 0; i < AR; i++)
        for (int h = 0; h < NV; h++) acc[i][h] = splat(0);
}

static void KERNEL(attention_head)(const float *q, const float *k, const float *v, long ld, long m, long n, long dh,
                                   float *out, long ldo, float *scratch, float *received, long received_rows) {
    const long np = (n + TW - 1) / TW * TW;
    // K^T [dh, n] and V [n, dh] in the packed layout of trk_gemm_packed's right-hand side
    // (16-column panels, zero-padded to 32): kp[j / 16][d][j % 16], vp[c / 16][j][c % 16].
    float *kp = scratch, *vp = kp + trk_packed_size(dh, n), *p = vp + trk_packed_size(n, dh), *at = p + AR * np;   // at: [dh, AR]
    trk_pack_bt(k, dh, n, ld, kp);
    trk_pack_b(v, n, dh, ld, vp);
    // A tile's second vector: the same panel's next 8 columns, or the next panel's first 16.
    const long kstride = VW == 16 ? 16 * dh : VW, vstride = VW == 16 ? 16 * n : VW;
    float inv[AR];
    for (long i0 = 0; i0 < m; i0 += AR) {
        const long mr = m - i0 < AR ? m - i0 : AR;
        // The block's queries packed by column: at[d][i] (spare rows repeat the last).
        for (int i = 0; i < AR; i++) {
            const float *row = q + (i0 + (i < mr ? i : mr - 1)) * ld;
            for (long d = 0; d < dh; d++) at[d * AR + i] = row[d];
        }
        // scores: p [AR, np] = Q_block K^T
        for (long j0 = 0; j0 < np; j0 += TW) {
            v8f acc[AR][NV];
            zero_tile(acc);
            const float *b = kp + j0 * dh;
            for (long d = 0; d < dh; d++, b += 16) tile_step(acc, at + d * AR, b, kstride);
            store_tile(acc, NULL, p + j0, np, mr, TW);
        }
        exp_rows(p, mr, n, np, inv);
        if (received)
            for (long i = 0; i < mr && i0 + i < received_rows; i++) {
                const float *row = p + i * np;
                for (long j = 0; j < n; j++) received[j] += row[j] * inv[i];
            }
        // out [mr, dh] = P V / row sums, PR rows and TW columns at a time (the last tile zero-padded).
        for (long r0 = 0; r0 < mr; r0 += PR) {
            const long rr = mr - r0 < PR ? mr - r0 : PR;
            const float *pr[PR];
            for (int i = 0; i < PR; i++) pr[i] = p + (r0 + (i < rr ? i : 0)) * np;
            for (long c0 = 0; c0 < dh; c0 += TW) {
                v8f acc[AR][NV];
                zero_tile(acc);
                const float *b = vp + c0 * n;
                for (long j = 0; j < n; j++, b += 16) tile_step_rows(acc, pr, j, b, vstride);
                store_tile(acc, inv + r0, out + (i0 + r0) * ldo + c0, ldo, rr, dh - c0 < TW ? dh - c0 : TW);
            }
        }
    }
}

// C = A B (+ bias, GELU, + C) against a B packed once by trk_pack_b (see tokenreel_kernels.h):
// the weight products of the model, where B is a parameter and its packing is paid at load.
// Blocked as a BLAS level-3 routine is: K in chunks of KC (a row block's AR x KC slice of A, read
// in place, stays in L1 across a whole band of tiles), N in bands of NC columns (the KC x NC slice of B, read once per
// row block, stays in L2), rows AR at a time, each band as AR x TW register tiles (the attention's
// tile_step: AR broadcasts feed AR x NV FMAs per step). The first chunk starts from zero (or from
// C when accumulating), later ones from the partial sums stored in C; the last adds the bias,
// applies GELU and stores.
#define KC 512
#define NC 256

static void KERNEL(gemm_packed)(long m, long n, long k, const float *a, long lda, const float *bp,
                                const float *bias, float *c, long ldc, int flags) {
    const int accumulate = (flags & TRK_GEMM_ACCUMULATE) != 0, gelu = (flags & TRK_GEMM_GELU) != 0;
    const long bstride = VW == 16 ? 16 * k : VW;          // a tile's second vector (as in attention)
    float at[KC * AR];                                     // a short row block's chunk of A, by column
    long k0 = 0;
    do {                                                   // at least once: k = 0 still stores the bias
        const long kc = k - k0 < KC ? k - k0 : KC;
        const int first = k0 == 0, last = k0 + kc == k;
        for (long n0 = 0; n0 < n; n0 += NC) {
            const long n1 = n - n0 < NC ? n : n0 + NC;
            for (long i0 = 0; i0 < m; i0 += AR) {
                const long mr = m - i0 < AR ? m - i0 : AR;
                const float *ab = a + i0 * lda + k0;        // a whole block is read in place
                if (mr < AR)
                    for (int i = 0; i < AR; i++) {         // a short one is packed, spare rows repeating the last
                        const float *row = a + (i0 + (i < mr ? i : mr - 1)) * lda + k0;
                        for (long p = 0; p < kc; p++) at[p * AR + i] = row[p];
                    }
                for (long j0 = n0; j0 < n1; j0 += TW) {
                    const long cols = n1 - j0 < TW ? n1 - j0 : TW;
                    float *ct = c + i0 * ldc + j0;
                    v8f acc[AR][NV];
                    if (first && !accumulate) zero_tile(acc);
                    else
                        for (long i = 0; i < AR; i++)
                            for (int h = 0; h < NV; h++) {
                                const long cc = cols - (long)VW * h;
                                acc[i][h] = i >= mr || cc <= 0 ? splat(0)
                                          : cc >= VW ? ld8(ct + i * ldc + VW * h) : ld_part(ct + i * ldc + VW * h, cc, 0);
                            }
                    const float *b = bp + (j0 - j0 % 16) * k + k0 * 16 + j0 % 16;
                    if (mr < AR) for (long p = 0; p < kc; p++, b += 16) tile_step(acc, at + p * AR, b, bstride);
                    else for (long p = 0; p < kc; p++, b += 16) tile_step_strided(acc, ab + p, lda, b, bstride);
                    if (last) {
                        for (int h = 0; h < NV; h++) {
                            const long cc = cols - (long)VW * h;
                            if (cc <= 0) continue;
                            const v8f bv = !bias ? splat(0) : cc >= VW ? ld8(bias + j0 + VW * h) : ld_part(bias + j0 + VW * h, cc, 0);
                            for (long i = 0; i < mr; i++) {
                                acc[i][h] += bv;
                                if (gelu) acc[i][h] = vgelu(acc[i][h]);
                            }
                        }
                    }
                    store_tile(acc, NULL, ct, ldc, mr, cols);
                }
            }
        }
        k0 += kc;
    } while (k0 < k);
}
#undef KC
#undef NC
#undef AR
#undef PR
#undef TW
#undef NV

const struct trk_table KERNEL(table) = {
    KERNEL(exp), KERNEL(sigmoid), KERNEL(tanh), KERNEL(gelu), KERNEL(add_bias), KERNEL(add_bias_gelu),
    KERNEL(fill_rows), KERNEL(layer_norm), KERNEL(softmax_rows), KERNEL(attention_head), KERNEL(gemm_packed),
};
