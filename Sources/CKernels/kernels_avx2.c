// The AVX2 + FMA build of the kernels (x86-64 only), used when the CPU supports both.
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define KERNEL(name) trk_avx2_##name
#include "kernels_impl.h"
#pragma clang attribute pop
#endif
