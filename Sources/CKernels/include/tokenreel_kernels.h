// Element-wise and row-wise float32 kernels of the model that BLAS does not cover (GELU, softmax,
// LayerNorm, bias, sigmoid, tanh, exp), compiled three times from one source (kernels_impl.h):
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
