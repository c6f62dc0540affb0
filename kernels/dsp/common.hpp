// Shared definitions for the math in kernels/dsp: one source for the CPU and CUDA backends.
//
// Rules for everything under kernels/dsp (DESIGN.md, "Bit-identity rules"):
//  - pure functions and small value types only: no STL containers, exceptions, allocation
//    or virtual calls; state is passed in and returned;
//  - no FMA contraction (the build sets -ffp-contract=off / --fmad=false), no fast-math;
//  - sums of many values accumulate in double, in a fixed order.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define LQ_HD __host__ __device__ inline
#else
#define LQ_HD inline
#endif

namespace lq::dsp {

LQ_HD double db_to_linear(double db) { return ::exp(db * 0.11512925464970229); }  // 10^(db/20)
LQ_HD double linear_to_db(double x) { return 20.0 * ::log10(x); }

template <class T>
LQ_HD T min_of(T a, T b) { return b < a ? b : a; }
template <class T>
LQ_HD T max_of(T a, T b) { return a < b ? b : a; }

}  // namespace lq::dsp
