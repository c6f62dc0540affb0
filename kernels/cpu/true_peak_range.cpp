// kernels/cpu/true_peak_range.hpp: the vectorised true-peak scan.
#include "kernels/cpu/true_peak_range.hpp"

#include <cmath>
#include <cstring>

#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

namespace {
typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
}  // namespace

// Eight positions at a time, their 4 phases x 8 sums held in registers (two 4-wide vectors per
// phase) while the 12 taps go by: each sum is still h[p][0] x[n] + h[p][1] x[n - 1] + ... in tap
// order, in double, as dsp::interpolated_peak adds it, and max is exact in any order.
LQ_CPU_CLONES void true_peak_range(const float* x, int64_t len, int64_t begin, int64_t end, double* out) {
  constexpr int P = dsp::kTruePeakPhases, T = dsp::kTruePeakTapsPerPhase;
  constexpr int64_t kHistory = T - 1, kStep = 8;
  const int64_t inner0 = begin < kHistory ? (end < kHistory ? end : kHistory) : begin;
  int64_t inner1 = end < len ? end : (len > inner0 ? len : inner0);
  inner1 = inner0 + (inner1 - inner0) / kStep * kStep;
  for (int64_t n = begin; n < inner0; ++n) out[n - begin] = dsp::true_peak_at(x, len, n);
  for (int64_t n0 = inner0; n0 < inner1; n0 += kStep) {
    v4d acc[P][2];
    for (int p = 0; p < P; ++p) acc[p][0] = acc[p][1] = v4d{0.0, 0.0, 0.0, 0.0};
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) {
      v4f f0, f1;
      std::memcpy(&f0, x + n0 - t, sizeof f0);
      std::memcpy(&f1, x + n0 - t + 4, sizeof f1);
      const v4d x0 = __builtin_convertvector(f0, v4d), x1 = __builtin_convertvector(f1, v4d);
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        const double h = dsp::kTruePeakTaps[p][t];
        acc[p][0] += h * x0;
        acc[p][1] += h * x1;
      }
    }
    v4d best[2];
    for (int q = 0; q < 2; ++q) {
      v4f f;
      std::memcpy(&f, x + n0 + 4 * q, sizeof f);
      v4d b = __builtin_convertvector(f, v4d);
      b = b < 0.0 ? -b : b;
      for (int p = 0; p < P; ++p) {
        const v4d a = acc[p][q] < 0.0 ? -acc[p][q] : acc[p][q];
        b = b < a ? a : b;
      }
      best[q] = b;
    }
    std::memcpy(out + (n0 - begin), best, sizeof best);
  }
  for (int64_t n = inner1 > begin ? inner1 : begin; n < end; ++n) out[n - begin] = dsp::true_peak_at(x, len, n);
}

// Lane k holds the maximum of the elements i = k mod kLanes: `a > m ? a : m` is one max
// instruction per vector (it passes over NaN, as std::max does).
LQ_CPU_CLONES float sample_peak(const float* x, int64_t n) {
  constexpr int kLanes = 16;
  float m[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) {
      const float a = std::fabs(x[i + k]);
      m[k] = a > m[k] ? a : m[k];
    }
  }
  for (; i < n; ++i) {
    const float a = std::fabs(x[i]);
    m[0] = a > m[0] ? a : m[0];
  }
  float peak = 0.0f;
  for (const float v : m) peak = v > peak ? v : peak;
  return peak;
}

LQ_CPU_CLONES double max_reading(const double* x, int64_t n) {
  constexpr int kLanes = 8;
  double m[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
  }
  for (; i < n; ++i) m[0] = x[i] > m[0] ? x[i] : m[0];
  double best = 0.0;
  for (const double v : m) best = v > best ? v : best;
  return best;
}

}  // namespace lq::cpu
