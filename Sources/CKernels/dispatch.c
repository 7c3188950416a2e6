// Picks a build of the kernels once: AVX2 + FMA where the CPU and OS support it, else the baseline.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "tokenreel_kernels.h"
#include "kernels_table.h"

static _Atomic(const struct trk_table *) current;

static const struct trk_table *best(void) {
    const char *force = getenv("TOKENREEL_KERNELS");
    if (force && strcmp(force, "generic") == 0) return &trk_generic_table;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &trk_avx2_table;
#endif
    return &trk_generic_table;
}

static inline const struct trk_table *table(void) {
    const struct trk_table *t = atomic_load_explicit(&current, memory_order_acquire);
    if (!t) {
        t = best();
        atomic_store_explicit(&current, t, memory_order_release);
    }
    return t;
}

static const char *name(const struct trk_table *t) { return t == &trk_generic_table ? "generic" : "avx2+fma"; }

const char *trk_kernels_isa(void) { return name(table()); }

const char *trk_kernels_select(int generic) {
    const struct trk_table *t = generic ? &trk_generic_table : best();
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
