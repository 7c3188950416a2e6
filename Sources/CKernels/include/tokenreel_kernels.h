// Element-wise and row-wise float32 kernels of the model that BLAS does not cover (GELU, softmax,
// LayerNorm, bias, sigmoid, tanh, exp), the fused attention head, and products against weight
// matrices packed once at load (bias, GELU and residual fused into the store; they keep the model
// at this CPU's full vector width whatever OPENBLAS_CORETYPE says), compiled three times from one source (kernels_impl.h):
// for baseline x86-64, for AVX2 + FMA (8-float vectors) and for AVX-512 (16-float vectors). The
// first call picks the widest build the CPU and the OS support (TOKENREEL_KERNELS=avx2 in the
// environment caps it at AVX2, TOKENREEL_KERNELS=generic forces the baseline build).
//
// Matrices are row-major: `rows` rows of `cols` values, consecutive rows `ld` floats apart where
// a leading dimension is given, else `cols`. Every function works in place unless it names an
// output; `out` may equal `x`.
#ifndef TOKENREEL_KERNELS_H
#define TOKENREEL_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// x[i] = e^x[i] (about 1 ulp for x in [-87, 88], saturating outside).
void trk_exp(float *x, long count);
/// x[i] = 1 / (1 + e^-x[i]).
void trk_sigmoid(float *x, long count);
/// x[i] = tanh(x[i]) (about 2e-7 absolute).
void trk_tanh(float *x, long count);
/// x[i] = GELU(x[i]), tanh approximation (jax.nn.gelu(approximate=True)).
void trk_gelu(float *x, long count);

/// Every row of x [rows, cols] += bias [cols].
void trk_add_bias(float *x, long rows, long cols, const float *bias);
/// Every row of x [rows, cols] = GELU(row + bias); bias may be NULL (GELU only).
void trk_add_bias_gelu(float *x, long rows, long cols, const float *bias);
/// Every row of dst [rows, cols] = row [cols] (a bias to accumulate a matrix product onto).
void trk_fill_rows(float *dst, long rows, long cols, const float *row);
/// LayerNorm over each row as Flax computes it: var = max(0, E[x^2] - E[x]^2),
/// out = (x - mean) * (rsqrt(var + eps) * scale) + bias.
void trk_layer_norm(const float *x, float *out, long rows, long cols,
                    const float *scale, const float *bias, float eps);
/// Softmax of every row (cols values, rows ld apart): exp(x - max) / sum, in place.
void trk_softmax_rows(float *x, long rows, long cols, long ld);

/// One attention head: out [m, dh] = softmax(Q K^T) V for m query rows q [m, dh] against n keys
/// k [n, dh] and values v [n, dh], all three with rows `ld` floats apart (they may be column
/// offsets into one q|k|v matrix; the 1/sqrt(dh) scale is expected in q already); out rows are
/// `ldo` apart. scratch: at least trk_attention_scratch(n, dh) floats. received (may be NULL):
/// each key's probability is added into received[j], summed over the first received_rows
/// query rows (SuperViT token keeping).
void trk_attention_head(const float *q, const float *k, const float *v, long ld, long m, long n, long dh,
                        float *out, long ldo, float *scratch, float *received, long received_rows);
/// Scratch floats trk_attention_head needs for n keys of width dh.
/// (K panels [dh, np], V panels [n, dp], scores for up to 12 query rows [12, np], and the query
/// block packed by column [dh, 12]; np, dp: n, dh rounded up to a whole tile, 32 at most. The
/// AVX-512 build takes 12 query rows at a time, the others 6.)
static inline long trk_attention_scratch(long n, long dh) {
    const long np = (n + 31) / 32 * 32, dp = (dh + 31) / 32 * 32;
    return dh * np + dp * n + 12 * np + 12 * dh;
}

/// Floats of a [k, n] matrix packed by trk_pack_b: k rows of n rounded up to a multiple of 32.
static inline long trk_packed_size(long k, long n) { return k * ((n + 31) / 32 * 32); }
/// Packs row-major b [k, n] (rows ldb apart) for trk_gemm_packed: panels of 16 columns, each
/// [k, 16] contiguous, bp[j / 16][p][j % 16] = b[p][j]; columns past n are zero up to a multiple
/// of 32. The layout is the same for every build.
void trk_pack_b(const float *b, long k, long n, long ldb, float *bp);
/// trk_pack_b of B = bt^T, for bt [n, k] row-major (rows ldbt apart): the keys of an attention
/// head, packed as the right-hand side of Q K^T.
void trk_pack_bt(const float *bt, long k, long n, long ldbt, float *bp);

enum {
    /// C += the result, instead of C = the result.
    TRK_GEMM_ACCUMULATE = 1,
    /// GELU (tanh approximation) of A B + bias; not with TRK_GEMM_ACCUMULATE.
    TRK_GEMM_GELU = 2,
};
/// C [m, n] (rows ldc apart) = A [m, k] (rows lda apart) times B [k, n] packed by trk_pack_b,
/// plus bias [n] (may be NULL), then GELU with TRK_GEMM_GELU; added to C with
/// TRK_GEMM_ACCUMULATE. Single-threaded (callers split rows); C must not overlap A.
void trk_gemm_packed(long m, long n, long k, const float *a, long lda, const float *bp,
                     const float *bias, float *c, long ldc, int flags);

/// The build in use: "avx512", "avx2+fma" or "generic".
const char *trk_kernels_isa(void);
/// Switches to the build named `isa` ("generic", "avx2+fma" or "avx512"); 0 (and no switch)
/// when this CPU cannot run it. For tests.
int trk_kernels_use(const char *isa);
/// Switches back to the build the first call picks (the widest the CPU supports, as capped by
/// TOKENREEL_KERNELS); returns its name. For tests.
const char *trk_kernels_use_best(void);

#ifdef __cplusplus
}
#endif

#endif
