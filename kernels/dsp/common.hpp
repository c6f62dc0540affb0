// Shared definitions for the math in kernels/dsp: one source for the CPU and CUDA backends.
//
// Rules for everything under kernels/dsp (docs/algorithms.md "Bit-identity rules"):
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

// ---- exp and log for the per-sample paths -----------------------------------------------------
// The compressor takes a logarithm and an exponential per sample. libm's are calls the compiler
// cannot vectorise and differ between the host's libm and CUDA's; these are straight-line double
// arithmetic (no table, no branch), the same code on both, within 1e-9 relative (exp) and 1e-10
// absolute (log) of the exact values: far below the float samples they serve.

LQ_HD uint64_t double_bits(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(x));
#else
  uint64_t u;
  __builtin_memcpy(&u, &x, sizeof u);
  return u;
#endif
}
LQ_HD double bits_double(uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(u));
#else
  double x;
  __builtin_memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// c[0] x^(N-1) + ... + c[N-1] by Horner's rule, highest power first.
template <int N>
LQ_HD double horner(const double (&c)[N], double x) {
  double p = c[0];
  for (int i = 1; i < N; ++i) p = p * x + c[i];
  return p;
}

// 2^t for |t| <= 1000 (clamped beyond): 2^n, n = round(t) by the 1.5 * 2^52 rounding trick,
// times e^(f ln 2) for f = t - n in [-1/2, 1/2] by its Taylor series to degree 9 (error < 2e-11).
LQ_HD double exp2_poly(double t) {
  t = t < -1000.0 ? -1000.0 : (t > 1000.0 ? 1000.0 : t);
  constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52
  const double shifted = t + kRound;
  const double r = shifted - kRound;
  const double x = (t - r) * 0.6931471805599453;
  constexpr double kTaylor[] = {1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
                                1.0 / 24.0,      1.0 / 6.0,     0.5,          1.0,         1.0};
  const double p = horner(kTaylor, x);
  // shifted's mantissa is 2^51 + round(t), so its low 12 bits plus 1023 are the biased exponent of
  // 2^round(t) (in [23, 2023]): integer arithmetic only, which vectorises on any x86-64.
  return p * bits_double((double_bits(shifted) + 1023u) << 52);
}

// log2(x) for a positive, finite, normal x: exponent e and mantissa m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^13 (error < 2e-12).
LQ_HD double log2_poly(double x) {
  const uint64_t u = double_bits(x);
  const uint64_t mant = u & 0x000fffffffffffffull;
  // Mantissas from sqrt(2) up take the next exponent: m / 2 in [sqrt(1/2), 1).
  const uint64_t up = mant >= 0x6a09e667f3bcdull ? 1u : 0u;
  const double m = bits_double(mant | ((0x3ffull - up) << 52));
  // The exponent as a double without an int64 conversion (AVX-512DQ only): 2^52 + biased exponent.
  const double e = bits_double(0x4330000000000000ull | (((u >> 52) & 0x7ffu) + up)) - (4503599627370496.0 + 1023.0);
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  constexpr double kAtanh[] = {1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0};
  const double p = horner(kAtanh, s2);
  return e + 2.8853900817779268 * s * p;  // 2 / ln 2
}

// The gain reduction -20 log10 g (dB) of a gain 0 < g <= 1 through log2_poly (error under 1e-11
// dB), for per-frame statistics that vectorise; gains under DBL_MIN read as DBL_MIN.
LQ_HD double reduction_db_of_gain(double g) {
  g = g < 2.2250738585072014e-308 ? 2.2250738585072014e-308 : g;
  return -6.020599913279624 * log2_poly(g);
}

template <class T>
LQ_HD T min_of(T a, T b) { return b < a ? b : a; }
template <class T>
LQ_HD T max_of(T a, T b) { return a < b ? b : a; }

}  // namespace lq::dsp
