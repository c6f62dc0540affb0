// CPU look-ahead true-peak limiter (DESIGN.md "Limiter"; gpu-design.md 4.2).
//
// One pass, for a ceiling c:
//   r[n]  = min(1, c / P[n]), P[n] = max over channels of dsp::true_peak_at (sample and the 4x
//           Annex 2 interpolation) at every position n in [0, N + 11);
//   h[m]  = min of r over [m, m + W + 10]: the 12-sample support of the interpolator (output
//           sample m feeds positions m .. m+11) and the look-ahead W, one sliding-window minimum;
//   g     = instant attack, exponential release on h (dsp::LimiterRelease, chunked, exact);
//   s[m]  = min(r-support min at m, mean of g[m-W+1 .. m]): each g[m-j] <= h[m-j] <= the support
//           minimum at m, so the ramp into a peak starts W samples early and ends on time;
//   y     = x * s.
// Then the output is measured with the same meter; any over (the gain varies inside the
// interpolator's support) is removed by another pass at c (1 - 1e-6), until none remains.
#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/loudness.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/dsp/dynamics.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

namespace {

constexpr int64_t kBlock = 1 << 15;
constexpr int64_t kReleaseChunk = 1 << 16;
constexpr int64_t kSupport = dsp::kTruePeakTapsPerPhase;  // 12
constexpr int kMaxPasses = 8;


// out[m] = min of in[m .. m + width - 1] (clipped to in's end), for m in [0, out_n).
// Each block runs its own monotone deque from its start, so the result is exact and
// independent of the blocking.
void sliding_min(const std::vector<double>& in, int64_t width, std::vector<double>& out, int64_t out_n,
                 ThreadPool& pool) {
  const int64_t in_n = static_cast<int64_t>(in.size());
  out.resize(static_cast<size_t>(out_n));
  parallel_for_blocks(pool, out_n, kBlock, [&](int64_t b, int64_t e) {
    std::deque<int64_t> q;  // indices with increasing values
    int64_t next = b;
    for (int64_t m = b; m < e; ++m) {
      const int64_t last = std::min(in_n - 1, m + width - 1);
      for (; next <= last; ++next) {
        while (!q.empty() && in[size_t(q.back())] >= in[size_t(next)]) q.pop_back();
        q.push_back(next);
      }
      while (q.front() < m) q.pop_front();
      out[size_t(m)] = in[size_t(q.front())];
    }
  });
}

// Required gain at every interpolator position: min(1, c / P[n]).
std::vector<double> required_gain(const AudioBuffer& a, double ceiling, ThreadPool& pool) {
  const int64_t n = a.frames();
  std::vector<double> r(static_cast<size_t>(n + kSupport - 1));
  parallel_for_blocks(pool, static_cast<int64_t>(r.size()), kBlock, [&](int64_t b, int64_t e) {
    std::vector<double> peak(static_cast<size_t>(e - b), 0.0), tp(static_cast<size_t>(e - b));
    for (const auto& ch : a.channels) {
      dsp::true_peak_range(ch.data(), n, b, e, tp.data());
      for (size_t j = 0; j < tp.size(); ++j) peak[j] = std::max(peak[j], tp[j]);
    }
    for (int64_t i = b; i < e; ++i) {
      const double p = peak[size_t(i - b)];
      r[size_t(i)] = p > ceiling ? ceiling / p : 1.0;
    }
  });
  return r;
}

// One limiter pass at `ceiling`; multiplies `total_gain` by the gain it applied.
void limiter_pass(AudioBuffer& a, double ceiling, int64_t lookahead, double alpha_release,
                  std::vector<double>& total_gain, ThreadPool& pool) {
  const int64_t n = a.frames();
  const std::vector<double> r = required_gain(a, ceiling, pool);
  std::vector<double> support, h;
  sliding_min(r, kSupport, support, n, pool);
  sliding_min(r, kSupport + lookahead - 1, h, n, pool);
  std::vector<double> g(static_cast<size_t>(n));
  run_chunked(pool, dsp::LimiterRelease{h.data(), alpha_release}, g.data(), n, kReleaseChunk);
  // Box average over the look-ahead, as a running sum in a fixed (sequential) order.
  std::vector<double> s(static_cast<size_t>(n));
  double sum = double(lookahead);  // g before the first frame is 1
  for (int64_t m = 0; m < n; ++m) {
    sum += g[size_t(m)] - (m >= lookahead ? g[size_t(m - lookahead)] : 1.0);
    s[size_t(m)] = std::min(sum / double(lookahead), support[size_t(m)]);
  }
  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    for (auto& ch : a.channels) {
      for (int64_t m = b; m < e; ++m) {
        if (s[size_t(m)] < 1.0) ch[size_t(m)] = static_cast<float>(double(ch[size_t(m)]) * s[size_t(m)]);
      }
    }
    for (int64_t m = b; m < e; ++m) total_gain[size_t(m)] *= s[size_t(m)];
  });
}

}  // namespace

LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& p, ThreadPool& pool) {
  LimiterStats stats;
  const int64_t n = audio.frames();
  const double ceiling = dsp::db_to_linear(p.ceiling_dbtp);
  double tp = true_peak_scan(audio, pool);
  if (n == 0 || tp <= ceiling) {
    stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
    return stats;
  }
  const int64_t lookahead = std::max<int64_t>(1, std::llround(p.lookahead_ms * 1e-3 * audio.sample_rate));
  const double alpha = dsp::one_pole_alpha(p.release_ms * 1e-3, audio.sample_rate);
  std::vector<double> total_gain(static_cast<size_t>(n), 1.0);
  double c = ceiling;
  while (tp > ceiling && stats.passes < kMaxPasses) {
    limiter_pass(audio, c, lookahead, alpha, total_gain, pool);
    ++stats.passes;
    tp = true_peak_scan(audio, pool);
    c *= 1.0 - 1e-6;
  }
  // Last resort (not reached on any test signal): scale everything down until no over remains.
  while (tp > ceiling) {
    const double k = ceiling / tp * (1.0 - 1e-6);
    for (auto& ch : audio.channels) {
      for (float& v : ch) v = static_cast<float>(double(v) * k);
    }
    for (double& g : total_gain) g *= k;
    ++stats.passes;
    tp = true_peak_scan(audio, pool);
  }
  double max_gr = 0.0, sum_gr = 0.0;
  for (double g : total_gain) {
    const double gr = g < 1.0 ? -dsp::linear_to_db(g) : 0.0;
    max_gr = std::max(max_gr, gr);
    sum_gr += gr;
  }
  stats.max_gain_reduction_db = max_gr;
  stats.mean_gain_reduction_db = sum_gr / double(n);
  stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
  return stats;
}

}  // namespace lq::cpu
