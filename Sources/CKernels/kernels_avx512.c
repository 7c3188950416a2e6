// The AVX-512 build of the kernels (x86-64 only): 16-float vectors, used when the CPU and the OS
// support AVX-512 F, BW, DQ and VL.
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#define KERNEL(name) trk_avx512_##name
#define VW 16
#include "kernels_impl.h"
#pragma clang attribute pop
#endif
