// Picks a build of the kernels once: AVX-512 (F, BW, DQ, VL) or AVX2 + FMA where the CPU and OS
// support it, else the baseline. TOKENREEL_KERNELS=generic|avx2 caps the choice.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "tokenreel_kernels.h"
#include "kernels_table.h"

static _Atomic(const struct trk_table *) current;

static int has_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

static int has_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/// The build named `isa` ("generic", "avx2+fma", "avx512") if this CPU runs it, else NULL.
static const struct trk_table *build(const char *isa) {
    if (strcmp(isa, "generic") == 0) return &trk_generic_table;
#if defined(__x86_64__)
    if (strcmp(isa, "avx2+fma") == 0 && has_avx2()) return &trk_avx2_table;
    if (strcmp(isa, "avx512") == 0 && has_avx512() && has_avx2()) return &trk_avx512_table;
#endif
    return NULL;
}

static const struct trk_table *best(void) {
    const char *force = getenv("TOKENREEL_KERNELS");
    if (force && strcmp(force, "generic") == 0) return &trk_generic_table;
    const int capped = force && strcmp(force, "avx2") == 0;
    const struct trk_table *t = capped ? NULL : build("avx512");
    if (!t) t = build("avx2+fma");
    return t ? t : &trk_generic_table;
}

static inline const struct trk_table *table(void) {
    const struct trk_table *t = atomic_load_explicit(&current, memory_order_acquire);
    if (!t) {
        t = best();
        atomic_store_explicit(&current, t, memory_order_release);
    }
    return t;
}

static const char *name(const struct trk_table *t) {
#if defined(__x86_64__)
    if (t == &trk_avx512_table) return "avx512";
    if (t == &trk_avx2_table) return "avx2+fma";
#endif
    return "generic";
}

const char *trk_kernels_isa(void) { return name(table()); }

int trk_kernels_use(const char *isa) {
    const struct trk_table *t = build(isa);
    if (t) atomic_store_explicit(&current, t, memory_order_release);
    return t != NULL;
}

const char *trk_kernels_use_best(void) {
    const struct trk_table *t = best();
    atomic_store_explicit(&current, t, memory_order_release);
    return name(t);
}

void trk_exp(float *x, long n) { table()->exp(x, n); }
void trk_sigmoid(float *x, long n) { table()->sigmoid(x, n); }
void trk_tanh(float *x, long n) { table()->tanh(x, n); }
void trk_gelu(float *x, long n) { table()->gelu(x, n); }
void trk_add_bias(float *x, long rows, long cols, const float *bias) { table()->add_bias(x, rows, cols, bias); }
void trk_add_bias_gelu(float *x, long rows, long cols, const float *bias) { table()->add_bias_gelu(x, rows, cols, bias); }
void trk_fill_rows(float *dst, long rows, long cols, const float *row) { table()->fill_rows(dst, rows, cols, row); }
void trk_layer_norm(const float *x, float *out, long rows, long cols, const float *scale, const float *bias, float eps) {
    table()->layer_norm(x, out, rows, cols, scale, bias, eps);
}
void trk_softmax_rows(float *x, long rows, long cols, long ld) { table()->softmax_rows(x, rows, cols, ld); }
void trk_attention_head(const float *q, const float *k, const float *v, long ld, long m, long n, long dh,
                        float *out, long ldo, float *scratch, float *received, long received_rows) {
    table()->attention_head(q, k, v, ld, m, n, dh, out, ldo, scratch, received, received_rows);
}
void trk_gemm_packed(long m, long n, long k, const float *a, long lda, const float *bp,
                     const float *bias, float *c, long ldc, int flags) {
    table()->gemm_packed(m, n, k, a, lda, bp, bias, c, ldc, flags);
}

void trk_pack_b(const float *b, long k, long n, long ldb, float *bp) {
    const long np = (n + 31) / 32 * 32;
    for (long j0 = 0; j0 < np; j0 += 16)
        for (long p = 0; p < k; p++)
            for (long j = j0; j < j0 + 16; j++) *bp++ = j < n ? b[p * ldb + j] : 0;
}

void trk_pack_bt(const float *bt, long k, long n, long ldbt, float *bp) {
    const long np = (n + 31) / 32 * 32;
    for (long j = 0; j < np; j++) {                    // row j of bt is column j of B: read in order
        float *col = bp + (j - j % 16) * k + j % 16;
        if (j < n) for (long p = 0; p < k; p++) col[p * 16] = bt[j * ldbt + p];
        else for (long p = 0; p < k; p++) col[p * 16] = 0;
    }
}
