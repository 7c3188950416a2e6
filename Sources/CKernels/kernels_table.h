// The function table each build of kernels_impl.h exports (internal to CKernels).
#ifndef TOKENREEL_KERNELS_TABLE_H
#define TOKENREEL_KERNELS_TABLE_H

struct trk_table {
    void (*exp)(float *, long);
    void (*sigmoid)(float *, long);
    void (*tanh)(float *, long);
    void (*gelu)(float *, long);
    void (*add_bias)(float *, long, long, const float *);
    void (*add_bias_gelu)(float *, long, long, const float *);
    void (*fill_rows)(float *, long, long, const float *);
    void (*layer_norm)(const float *, float *, long, long, const float *, const float *, float);
    void (*softmax_rows)(float *, long, long, long);
    void (*attention_head)(const float *, const float *, const float *, long, long, long, long,
                           float *, long, float *, float *, long);
    void (*gemm_packed)(long, long, long, const float *, long, const float *, const float *, float *, long, int);
};

extern const struct trk_table trk_generic_table;
#if defined(__x86_64__)
extern const struct trk_table trk_avx2_table;
extern const struct trk_table trk_avx512_table;
#endif

#endif
