// CPU look-ahead true-peak limiter (kernels/cpu/dynamics.hpp; DESIGN.md "Limiter";
// gpu-design.md 4.2). Math: kernels/dsp/dynamics.hpp, kernels/dsp/true_peak.hpp.
//
// One pass at ceiling c over N frames, look-ahead W (all channels share one gain):
//   P[n]  = limiter_detector_profile, n in [0, N + 127): per position the largest of the Annex 2
//           meter's reading and two 4x sincs' (kernels/dsp/true_peak.hpp: Annex 2 under-reads
//           content near Nyquist, and interpolators disagree there), max over channels, so the
//           ceiling holds on all three;
//   r[n]  = min(1, c / P[n]);
//   u[m]  = min r[m .. m + 127]: output sample m feeds readings m .. m + 127 (support minimum);
//   h[m]  = min u[m .. m + W - 1]: the look-ahead minimum;
//   g     = instant attack, exponential release on h (dsp::LimiterRelease, run_chunked: exact);
//   s[m]  = min(u[m], mean g[m - W + 1 .. m]) with g = 1 before the start. Each g[m - j] <= h[m - j]
//           <= u[m] for j < W, so the ramp into a peak starts W frames early and is complete on
//           time; the clamp only absorbs rounding of the mean (fixed-point sum, exact);
//   y[m]  = x[m] s[m] (frames with s = 1 keep their bits).
// Pass k (k = 1, 2, ...) runs at c = ceiling (1 - 1e-6)^k on the previous pass's output, until the
// detector reads no over, at most kMaxPasses times; remove_true_peak_overs then guarantees it.
// The gain varies inside the support, whose taps have both signs, so a pass can leave readings
// over (gpu-design.md 4.2 item 5: up to 0.3 dB on clipped noise bursts under 10 dB of reduction,
// tests/dsp/limiter_test.cpp). The 1e-6 margin already on pass 1 (DESIGN.md applies it from pass 2)
// keeps the loudest reading, which lands on c, from being over by float rounding alone; without it
// nearly every signal took a second pass.
//
// Decomposition: the meter, the sliding minima (van Herk / Gil-Werman per block), the box average
// and the application are parallel maps over fixed blocks of frames; the release is the chunked
// recurrence. Every step is exact or order-fixed, so the bits do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/convolver.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/dsp/dynamics.hpp"
#include "kernels/cpu/true_peak_range.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

namespace {

constexpr int64_t kBlock = 1 << 15;
constexpr int64_t kReleaseChunk = 1 << 16;  // speculation chunk (gpu-design.md 3.3): speed only
constexpr int64_t kSupport = dsp::kLimiterSupport;
constexpr int kMaxPasses = 4;
constexpr int kRegionRounds = 4;  // remove_true_peak_overs scales regions this often, then all
constexpr double kMargin = 1.0 - 1e-6;

int64_t blocks_of(int64_t n) { return (n + kBlock - 1) / kBlock; }

// Every sinc filter's phases in one bank (their spectra computed once per process).
const ConvolverBank& sinc_bank() {
  static const ConvolverBank bank = [] {
    static float h[dsp::kSincFilterCount][dsp::kSincPhases][dsp::kSincMaxTaps];
    dsp::sinc_taps(h);
    std::vector<std::span<const float>> filters;
    for (int f = 0; f < dsp::kSincFilterCount; ++f) {
      const auto taps = static_cast<size_t>(2 * dsp::sinc_filter(f).half_width);
      for (const auto& phase : h[f]) filters.emplace_back(phase, taps);
    }
    return ConvolverBank(filters, dsp::kSincMaxTaps);
  }();
  return bank;
}

}  // namespace

double limiter_detector_profile(const AudioBuffer& a, std::vector<double>& peak, ThreadPool& pool) {
  const int64_t len = a.frames();
  const int64_t positions = len + kSupport - 1;
  const int64_t annex_positions = len + dsp::kTruePeakTapsPerPhase - 1;
  peak.assign(size_t(positions), 0.0);
  // Annex 2, through the vectorised dsp::true_peak_range (the same bits as dsp::true_peak_at).
  parallel_for_blocks(pool, annex_positions, kBlock, [&](int64_t b, int64_t e) {
    std::vector<double> tp(size_t(e - b));
    for (const auto& ch : a.channels) {
      true_peak_range(ch.data(), len, b, e, tp.data());
      for (int64_t n = b; n < e; ++n) peak[size_t(n)] = std::max(peak[size_t(n)], tp[size_t(n - b)]);
    }
  });
  // The 4x sincs: |y_p[n]|, y_p[n] = sum_t h_p[t] x[n - t], for every phase of every filter (0 past
  // its own last position), one forward FFT per block for all of them.
  for (const auto& ch : a.channels) sinc_bank().max_abs(ch.data(), len, peak.data(), positions, pool);
  std::vector<double> block_max(size_t(blocks_of(positions)), 0.0);
  parallel_for_blocks(pool, positions, kBlock, [&](int64_t b, int64_t e) {
    double mx = 0.0;
    for (int64_t n = b; n < e; ++n) mx = std::max(mx, peak[size_t(n)]);
    block_max[size_t(b / kBlock)] = mx;
  });
  return *std::max_element(block_max.begin(), block_max.end());
}

// van Herk / Gil-Werman within each block: prefix and suffix minima over segments of w, three
// comparisons per sample whatever w; min is exact, so any blocking gives the same values.
void sliding_min(const double* in, int64_t in_n, int64_t w, double* out, int64_t out_n, ThreadPool& pool) {
  parallel_for_blocks(pool, out_n, kBlock, [&](int64_t b, int64_t e) {
    const int64_t span = (e - b) + w - 1;
    std::vector<double> pre(static_cast<size_t>(span)), suf(static_cast<size_t>(span));
    auto at = [&](int64_t j) { return b + j < in_n ? in[b + j] : 1.0; };
    for (int64_t s0 = 0; s0 < span; s0 += w) {
      const int64_t s1 = std::min(span, s0 + w);
      pre[size_t(s0)] = at(s0);
      for (int64_t j = s0 + 1; j < s1; ++j) pre[size_t(j)] = std::min(pre[size_t(j - 1)], at(j));
      suf[size_t(s1 - 1)] = at(s1 - 1);
      for (int64_t j = s1 - 2; j >= s0; --j) suf[size_t(j)] = std::min(suf[size_t(j + 1)], at(j));
    }
    for (int64_t i = 0; i < e - b; ++i) {
      out[b + i] = i % w == 0 ? suf[size_t(i)] : std::min(suf[size_t(i)], pre[size_t(i + w - 1)]);
    }
  });
}

void sliding_min(const std::vector<double>& in, int64_t in_n, int64_t w, std::vector<double>& out,
                 int64_t out_n, ThreadPool& pool) {
  out.resize(size_t(out_n));
  sliding_min(in.data(), in_n, w, out.data(), out_n, pool);
}

namespace {

// Multiplies frames [b0, b0 + len) by f[m - b0] (where f < 1) and folds f into the running total
// gain (if any).
void apply_gain(AudioBuffer& a, const double* f, int64_t b0, int64_t len, std::vector<float>* total,
                ThreadPool& pool) {
  parallel_for_blocks(pool, len, kBlock, [&](int64_t b, int64_t e) {
    for (auto& ch : a.channels) {
      float* x = ch.data() + b0;
      for (int64_t m = b; m < e; ++m) {
        if (f[m] < 1.0) x[m] = static_cast<float>(double(x[m]) * f[m]);
      }
    }
    if (total == nullptr) return;
    float* t = total->data() + b0;
    for (int64_t m = b; m < e; ++m) {
      if (f[m] < 1.0) t[m] = static_cast<float>(double(t[m]) * f[m]);
    }
  });
}

void apply_gain(AudioBuffer& a, const std::vector<double>& f, std::vector<float>* total, ThreadPool& pool) {
  apply_gain(a, f.data(), 0, a.frames(), total, pool);
}

// Frames per span of a pass: the pass runs span after span, so its scratch is a few spans long,
// not the song's length. The steps are exact or order-fixed, so the span changes no bit.
constexpr int64_t kSpan = 1 << 18;

struct Scratch {
  std::vector<double> support, h, g;
};

// One limiter pass at ceiling c. `peak` holds the meter's profile of `a` and is consumed. Spans of
// kSpan output frames in order: the minima read the whole profile (computed before any gain), the
// release carries its last gain into the next span, the box average the last W - 1 gains.
void limiter_pass(AudioBuffer& a, std::vector<double>& peak, double c, const dsp::LimiterCoefficients& k,
                  std::vector<float>& total, Scratch& s, ThreadPool& pool) {
  const int64_t n = a.frames(), positions = n + kSupport - 1, w = k.lookahead_frames;
  parallel_for_blocks(pool, positions, kBlock, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) peak[size_t(i)] = dsp::required_gain(peak[size_t(i)], c);
  });
  const int64_t span = std::min(n, kSpan);
  s.support.resize(size_t(span + w - 1));
  s.h.resize(size_t(span));
  s.g.assign(size_t(span + w - 1), 1.0);  // g[w - 1 + j]: frame b0 + j; before the start: 1
  const double scale = dsp::box_scale(w);
  double last = 1.0;  // the release's state: the gain of the frame before the span
  for (int64_t b0 = 0; b0 < n; b0 += span) {
    const int64_t len = std::min(span, n - b0);
    if (b0 > 0) std::copy(s.g.end() - (w - 1), s.g.end(), s.g.begin());  // the previous span's last W - 1
    sliding_min(peak.data() + b0, positions - b0, kSupport, s.support.data(), len + w - 1, pool);
    sliding_min(s.support.data(), len + w - 1, w, s.h.data(), len, pool);
    double* g = s.g.data() + (w - 1);
    run_chunked(pool, FromState<dsp::LimiterRelease>{{s.h.data(), k.alpha_release}, {last}}, g, len, kReleaseChunk);
    last = g[len - 1];
    // The smoothed gain replaces h (no longer needed).
    auto q = [&](int64_t m) { return dsp::gain_to_fixed(g[m], scale); };
    parallel_for_blocks(pool, len, kBlock, [&](int64_t b, int64_t e) {
      int64_t sum = 0;
      for (int64_t j = b - w + 1; j <= b; ++j) sum += q(j);
      for (int64_t m = b; m < e; ++m) {
        if (m > b) sum += q(m) - q(m - w);
        s.h[size_t(m)] = std::min(dsp::fixed_mean_to_gain(sum, w, scale), s.support[size_t(m)]);
      }
    });
    apply_gain(a, s.h.data(), b0, len, &total, pool);
  }
}

// remove_true_peak_overs on a known profile; updates peak and tp to the result.
int remove_overs(AudioBuffer& a, double ceiling, std::vector<double>& peak, double& tp,
                 std::vector<float>* total, ThreadPool& pool) {
  const int64_t n = a.frames(), positions = n + kSupport - 1;
  std::vector<double> f;
  int rounds = 0;
  while (tp > ceiling) {
    if (rounds < kRegionRounds) {
      // Every sample feeding an over is scaled by the smallest factor among the readings it feeds.
      for (int64_t i = 0; i < positions; ++i) {
        peak[size_t(i)] = peak[size_t(i)] > ceiling ? ceiling * kMargin / peak[size_t(i)] : 1.0;
      }
      sliding_min(peak, positions, kSupport, f, n, pool);
    } else {
      // Scaling everything by c (1 - 1e-6) / tp meets the ceiling in one round: each reading moves
      // by at most sum|h| 2^-24 max|x| <= 1.3e-7 tp through float rounding.
      f.assign(size_t(n), ceiling * kMargin / tp);
    }
    apply_gain(a, f, total, pool);
    tp = limiter_detector_profile(a, peak, pool);
    ++rounds;
  }
  return rounds;
}

}  // namespace

int remove_true_peak_overs(AudioBuffer& audio, double ceiling_linear, ThreadPool& pool) {
  if (audio.frames() == 0 || audio.channel_count() == 0) return 0;
  std::vector<double> peak;
  double tp = limiter_detector_profile(audio, peak, pool);
  return remove_overs(audio, ceiling_linear, peak, tp, nullptr, pool);
}

LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params, ThreadPool& pool) {
  LimiterStats stats;
  const int64_t n = audio.frames();
  if (n == 0 || audio.channel_count() == 0) {
    stats.output_true_peak_dbtp = -HUGE_VAL;
    return stats;
  }
  const dsp::LimiterCoefficients k = dsp::prepare_limiter(params, audio.sample_rate);
  std::vector<double> peak;
  double tp = limiter_detector_profile(audio, peak, pool);
  if (tp <= k.ceiling) {
    stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
    return stats;
  }
  std::vector<float> total(size_t(n), 1.0f);
  Scratch scratch;
  double c = k.ceiling * kMargin;
  while (stats.passes < kMaxPasses) {
    limiter_pass(audio, peak, c, k, total, scratch, pool);
    ++stats.passes;
    tp = limiter_detector_profile(audio, peak, pool);
    if (stats.passes == 1 && tp > k.ceiling)
      stats.over_after_first_pass_db = dsp::linear_to_db(tp / k.ceiling);
    if (tp <= k.ceiling) break;
    c *= kMargin;
  }
  stats.safety_rounds = remove_overs(audio, k.ceiling, peak, tp, &total, pool);

  std::vector<double> block_max(static_cast<size_t>(blocks_of(n))), block_sum(block_max.size());
  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    double mx = 0.0, sum = 0.0;
    for (int64_t m = b; m < e; ++m) {
      const float t = total[size_t(m)];
      const double gr = t < 1.0f ? -dsp::linear_to_db(double(t)) : 0.0;
      mx = std::max(mx, gr);
      sum += gr;
    }
    block_max[size_t(b / kBlock)] = mx;
    block_sum[size_t(b / kBlock)] = sum;
  });
  double sum = 0.0;
  for (size_t j = 0; j < block_sum.size(); ++j) {
    stats.max_gain_reduction_db = std::max(stats.max_gain_reduction_db, block_max[j]);
    sum += block_sum[j];
  }
  stats.mean_gain_reduction_db = sum / double(n);
  stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
  return stats;
}

}  // namespace lq::cpu
