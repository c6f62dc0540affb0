// LQ_CPU_CLONES: a function built for AVX-512, AVX2 and baseline x86-64, the version chosen at run
// time (GCC target_clones). For straight-line loops the compiler vectorises across samples. With FMA
// contraction off (the build's -ffp-contract=off) every version computes the same IEEE operations
// in the same order: the same bits on every machine. Not under AddressSanitizer (its checks and
// ifunc resolvers do not mix).
#pragma once

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define LQ_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LQ_CPU_CLONES
#endif
