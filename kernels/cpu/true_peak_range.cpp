// kernels/cpu/true_peak_range.hpp: the vectorised true-peak scan.
#include "kernels/cpu/true_peak_range.hpp"

#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

LQ_CPU_CLONES void true_peak_range(const float* x, int64_t len, int64_t begin, int64_t end, double* out) {
  constexpr int64_t kRun = 256;  // positions per run: the accumulators stay in L1
  constexpr int64_t kHistory = dsp::kTruePeakTapsPerPhase - 1;
  const int64_t inner0 = begin < kHistory ? (end < kHistory ? end : kHistory) : begin;
  const int64_t inner1 = end < len ? end : (len > inner0 ? len : inner0);
  for (int64_t n = begin; n < inner0; ++n) out[n - begin] = dsp::true_peak_at(x, len, n);
  for (int64_t n0 = inner0; n0 < inner1; n0 += kRun) {
    const int64_t m = inner1 - n0 < kRun ? inner1 - n0 : kRun;
    double best[kRun];
    for (int64_t j = 0; j < m; ++j) best[j] = 0.0;
    for (int p = 0; p < dsp::kTruePeakPhases; ++p) {
      double acc[kRun];
      for (int64_t j = 0; j < m; ++j) acc[j] = 0.0;
      for (int t = 0; t < dsp::kTruePeakTapsPerPhase; ++t) {
        const double h = dsp::kTruePeakTaps[p][t];
        const float* xs = x + n0 - t;
        for (int64_t j = 0; j < m; ++j) acc[j] += h * double(xs[j]);
      }
      for (int64_t j = 0; j < m; ++j) {
        const double a = acc[j] < 0.0 ? -acc[j] : acc[j];
        best[j] = best[j] < a ? a : best[j];
      }
    }
    for (int64_t j = 0; j < m; ++j) {
      const float v = x[n0 + j];
      const double sv = double(v < 0.0f ? -v : v);
      out[n0 + j - begin] = sv < best[j] ? best[j] : sv;
    }
  }
  for (int64_t n = inner1 > begin ? inner1 : begin; n < end; ++n) out[n - begin] = dsp::true_peak_at(x, len, n);
}

}  // namespace lq::cpu
