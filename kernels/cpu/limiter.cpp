// CPU look-ahead true-peak limiter (kernels/cpu/dynamics.hpp; docs/algorithms.md "The limiter").
// Math: kernels/dsp/dynamics.hpp, kernels/dsp/true_peak.hpp.
//
// One pass at target c (a little under the ceiling C) over N frames, look-ahead W (all channels
// share one gain):
//   P[n]  = limiter_detector_profile, n in [0, N + 127): per position the largest of the Annex 2
//           meter's reading and four 4x sincs' (kernels/dsp/true_peak.hpp: Annex 2 under-reads
//           content near Nyquist, and interpolators disagree there), max over channels, so the
//           ceiling holds on all of them;
//   r[n]  = c / P[n] where P[n] > C, else 1 (dsp::required_gain): a reading at or under the
//           ceiling asks for nothing, so input under it keeps its bits and a later pass touches only
//           what an earlier one left over;
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
// over (docs/algorithms.md "The limiter": up to 0.3 dB on clipped noise bursts under 10 dB of
// reduction, tests/dsp/limiter_test.cpp). The 1e-6 margin already on pass 1 (not only from pass 2)
// keeps the loudest reading, which lands on c, from being over by float rounding alone; without it
// nearly every signal took a second pass.
//
// Decomposition: the meter, the sliding minima (doubling per block, window_min_block), the box average
// and the application are parallel maps over fixed blocks of frames; the release is the chunked
// recurrence. Every step is exact or order-fixed, so the bits do not depend on the thread count.
//
// Memory: a pass runs in spans of kSpan frames (rescale_pass). P is computed just ahead of the
// span it rescales, in whole blocks of the sinc bank's grid whose transform windows hold no frame
// rescaled yet, so it has the bits of one profile computed before the pass; the pass's output is
// read back as soon as a block's window is final (the verify), so the next pass or the end needs
// no second scan. The gain-reduction figures are tallied per block and cell, not per frame. Nothing
// the size of the song is allocated beside the audio (at 600 s: 605 -> 367 MB peak for the render).
#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/convolver.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/dynamics.hpp"
#include "kernels/cpu/true_peak_range.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

namespace {

constexpr int64_t kBlock = dsp::kLimiterStatsBlock;
// The release's speculation chunk (docs/algorithms.md "Speculative chunks"): speed only.
constexpr int64_t kReleaseChunk = 1 << 16;
constexpr int64_t kSupport = dsp::kLimiterSupport;
constexpr int kMaxPasses = dsp::kLimiterMaxPasses;
constexpr int kRegionRounds = dsp::kLimiterRegionRounds;  // remove_true_peak_overs: regions, then all
constexpr double kMargin = dsp::kLimiterMargin;

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

namespace {

// The detector's readings at positions [p0, p1) of `a` as it is now, into out[0, p1 - p0): the
// largest over channels of Annex 2's (dsp::true_peak_range, the same bits as dsp::true_peak_at; 0
// past N + 10) and the 4x sincs' |y_p[n]|, y_p[n] = sum_t h_p[t] x[n - t], every phase of every
// filter, one forward FFT per block for all of them. Position n reads frames n - 127 .. n only.
// Returns the largest of Annex 2's readings there (true_peak_scan's value over those positions).
double detector_readings(const AudioBuffer& a, int64_t p0, int64_t p1, double* out, ThreadPool& pool) {
  const int64_t len = a.frames();
  const int64_t annex_end = std::min(p1, len + dsp::kTruePeakTapsPerPhase - 1);
  std::fill(out, out + (p1 - p0), 0.0);
  double annex_max = 0.0;
  if (annex_end > p0) {
    std::vector<double> block_max(size_t((annex_end - p0 + kBlock - 1) / kBlock), 0.0);
    parallel_for_blocks(pool, annex_end - p0, kBlock, [&](int64_t b, int64_t e) {
      std::vector<double> tp(size_t(e - b));
      for (const auto& ch : a.channels) {
        true_peak_range(ch.data(), len, p0 + b, p0 + e, tp.data());
        for (int64_t i = b; i < e; ++i) out[i] = std::max(out[i], tp[size_t(i - b)]);
      }
      block_max[size_t(b / kBlock)] = max_reading(out + b, e - b);
    });
    annex_max = *std::max_element(block_max.begin(), block_max.end());
  }
  for (const auto& ch : a.channels) sinc_bank().max_abs(ch.data(), len, out, p0, p1, pool);
  return annex_max;
}

}  // namespace

double limiter_detector_max(const AudioBuffer& a, int64_t begin, int64_t end, ThreadPool& pool) {
  begin = std::max<int64_t>(begin, 0);
  end = std::min(end, a.frames() + kSupport - 1);
  if (end <= begin) return 0.0;
  std::vector<double> readings(size_t(end - begin));
  detector_readings(a, begin, end, readings.data(), pool);
  return max_reading(readings.data(), end - begin);
}

double limiter_detector_error_gain() {
  static const double gain = [] {
    double g = 1.0;
    for (const auto& phase : dsp::kTruePeakTaps) {
      double sum = 0.0;
      for (const double h : phase) sum += std::fabs(h);
      g = std::max(g, sum);
    }
    static float h[dsp::kSincFilterCount][dsp::kSincPhases][dsp::kSincMaxTaps];
    dsp::sinc_taps(h);
    for (const auto& filter : h) {
      for (const auto& phase : filter) {
        double sum = 0.0;
        for (const float v : phase) sum += std::fabs(double(v));
        g = std::max(g, sum);
      }
    }
    return g;
  }();
  return gain;
}

double limiter_detector_profile(const AudioBuffer& a, std::vector<double>& peak, ThreadPool& pool) {
  const int64_t positions = a.frames() + kSupport - 1;
  peak.resize(size_t(positions));
  detector_readings(a, 0, positions, peak.data(), pool);
  return max_reading(peak.data(), positions);
}

namespace {

// out[i - b] = min of in[i .. i + w - 1] (1.0 from in_n on) for i in [b, e), by doubling: after
// pass k, t[j] is the minimum of the 2^k values from j on; the window is then two overlapping runs
// of the largest 2^k <= w. About log2(w) vectorised passes over the block where the running minima
// of van Herk / Gil-Werman are two latency-bound chains per sample; min is exact, so both (and any
// blocking) give the same values. s0 and s1 hold (e - b) + w - 1 values each.
LQ_CPU_CLONES void window_min_block(const double* in, int64_t in_n, int64_t b, int64_t e, int64_t w, double* out,
                                    double* __restrict s0, double* __restrict s1) {
  const int64_t span = (e - b) + w - 1;
  const int64_t have = std::clamp<int64_t>(in_n - b, 0, span);
  std::copy(in + b, in + b + have, s0);
  std::fill(s0 + have, s0 + span, 1.0);
  int64_t run = 1;
  for (; 2 * run <= w; run *= 2) {
    for (int64_t j = 0; j + run < span; ++j) s1[j] = std::min(s0[j], s0[j + run]);
    std::swap(s0, s1);  // the last `run` values stay stale: no window read below reaches them
  }
  for (int64_t i = 0; i < e - b; ++i) out[i] = std::min(s0[i], s0[i + w - run]);
}

}  // namespace

void sliding_min(const double* in, int64_t in_n, int64_t w, double* out, int64_t out_n, ThreadPool& pool) {
  parallel_for_blocks(pool, out_n, kBlock, [&](int64_t b, int64_t e) {
    thread_local std::vector<double> s0, s1;
    const auto span = static_cast<size_t>((e - b) + w - 1);
    if (s0.size() < span) s0.resize(span), s1.resize(span);
    window_min_block(in, in_n, b, e, w, out + b, s0.data(), s1.data());
  });
}

void sliding_min(const std::vector<double>& in, int64_t in_n, int64_t w, std::vector<double>& out,
                 int64_t out_n, ThreadPool& pool) {
  out.resize(size_t(out_n));
  sliding_min(in.data(), in_n, w, out.data(), out_n, pool);
}

namespace {

// Frames per span of a pass: a pass runs span after span, so its scratch is a few spans long, not
// the song's length. Every step is exact or order-fixed, so the span changes no bit.
constexpr int64_t kSpan = 1 << 18;
constexpr int64_t kCell = 1 << 10;  // frames per cell of the largest-reduction tally

// The detector's readings of `a` from position begin() on, computed ahead of a pass that rescales
// `a`'s frames span by span. They are computed in whole blocks of the sinc bank's grid, each block
// before any frame of its transform's window is rescaled (extend_to(frame end + history())), so
// they have the bits of one profile of `a` computed before the pass.
class Readings {
 public:
  Readings(const AudioBuffer& a, ThreadPool& pool) : a_(a), pool_(pool), positions_(a.frames() + kSupport - 1) {}
  static int64_t grid() { return sinc_bank().hop(); }
  static int64_t history() { return std::max<int64_t>(sinc_bank().length(), kSupport) - 1; }
  int64_t positions() const { return positions_; }
  int64_t end() const { return end_; }
  double max() const { return max_; }  // over every position computed so far
  double annex_max() const { return annex_max_; }  // Annex 2's alone, likewise
  const double* at(int64_t p) const { return buf_.data() + (p - begin_); }
  void extend_to(int64_t end) {
    end = std::min((end + grid() - 1) / grid() * grid(), positions_);
    if (end <= end_) return;
    buf_.resize(size_t(end - begin_));
    double* fresh = buf_.data() + (end_ - begin_);
    annex_max_ = std::max(annex_max_, detector_readings(a_, end_, end, fresh, pool_));
    max_ = std::max(max_, max_reading(fresh, end - end_));
    end_ = end;
  }
  void drop_before(int64_t p) {
    buf_.erase(buf_.begin(), buf_.begin() + (p - begin_));
    begin_ = p;
  }

 private:
  const AudioBuffer& a_;
  ThreadPool& pool_;
  int64_t positions_, begin_ = 0, end_ = 0;
  double max_ = 0.0, annex_max_ = 0.0;
  std::vector<double> buf_;
};

// What a pass applied, over every pass: per block of kBlock frames the sum of the reductions in dB
// (frame order, then pass order), per cell of kCell frames the sum of each pass's largest. With one
// pass the largest cell is the largest reduction; with more it is an upper bound, exact to the
// later passes' reductions, which only trim what earlier ones left over (docs/algorithms.md "The
// limiter"). No gain is kept per frame, so the limiter's memory does not grow with the song.
struct GainTally {
  explicit GainTally(int64_t n) : block_sum(size_t(blocks_of(n)), 0.0), cell_max(size_t((n + kCell - 1) / kCell), 0.0) {}
  std::vector<double> block_sum, cell_max;
};

struct Scratch {
  std::vector<double> gain_in, support, h, g, readings;
};

// The outcome of a pass: whether it rescaled any frame, the largest reading of its output, and
// the largest of Annex 2's readings of its input.
struct PassOutcome {
  bool applied = false;
  double after = 0.0;
  double input_annex_max = 0.0;
};

// x[m] * f[m] in double, rounded to float, where f[m] < 1, for m in [b, e); whether a bit changed.
LQ_CPU_CLONES bool scale_frames(float* x, const double* f, int64_t b, int64_t e) {
  int moved = 0;
  for (int64_t m = b; m < e; ++m) {
    const float y = f[m] < 1.0 ? static_cast<float>(double(x[m]) * f[m]) : x[m];
    moved |= y != x[m];
    x[m] = y;
  }
  return moved != 0;
}

// gr[m - b] = the gain reduction (dB) of f[m] for m in [b, e), 0 where f[m] >= 1.
LQ_CPU_CLONES void frame_reductions(const double* f, int64_t b, int64_t e, double* gr) {
  for (int64_t m = b; m < e; ++m) gr[m - b] = f[m] < 1.0 ? dsp::reduction_db_of_gain(f[m]) : 0.0;
}

// One pass over `a` in spans of kSpan frames: gains(b0, len, r, r_n, f) writes the gains f[0, len) of
// frames [b0, b0 + len) from the readings r[0, r_n) of positions b0 .. (of `a` before the pass; at
// most `reach` positions past the span's end are read). Frames with f = 1 keep their bits. The
// output's readings are measured in whole grid blocks as soon as every frame of their windows is
// final, and taken from the input's where neither this span nor the previous one changed a frame.
// before_write (may be empty): dynamics.hpp, limit_true_peak.
template <class Gains>
PassOutcome rescale_pass(AudioBuffer& a, int64_t reach, Gains&& gains, GainTally* tally, Scratch& s, ThreadPool& pool,
                         const std::function<void(int64_t)>& before_write = {}) {
  const int64_t n = a.frames(), span = std::min(n, kSpan);
  Readings in(a, pool);
  PassOutcome o;
  // Per block of kBlock frames: a gain under 1 in this pass (scaled), a sample's bits changed
  // (changed). A release tail asks for gains a hair under 1 for seconds after a peak, which round
  // every sample back to its own bits; such a block leaves every reading's bits as they were.
  std::vector<char> scaled(size_t(blocks_of(n)), 0), changed(size_t(blocks_of(n)), 0);
  int64_t verified = 0;  // output readings measured: positions [0, verified)
  // Whether a grid block's window [q0 - history, q1) holds a frame whose bits this pass changed.
  auto window_changed = [&](int64_t q0, int64_t q1) {
    const int64_t f0 = std::max<int64_t>(0, q0 - Readings::history()), f1 = std::min(n, q1);
    for (int64_t k = f0 / kBlock; f0 < f1 && k <= (f1 - 1) / kBlock; ++k) {
      if (changed[size_t(k)]) return true;
    }
    return false;
  };
  s.h.resize(size_t(span));
  for (int64_t b0 = 0; b0 < n; b0 += span) {
    const int64_t len = std::min(span, n - b0);
    // The readings this span's gains read, and every block whose window holds one of its frames.
    in.extend_to(b0 + len + std::max(reach, Readings::history()));
    gains(b0, len, in.at(b0), in.end() - b0, s.h.data());
    if (before_write) before_write(b0 + len);
    parallel_for_blocks(pool, len, kBlock, [&](int64_t b, int64_t e) {
      const double* f = s.h.data();
      bool any = false;
      for (int64_t m = b; m < e; ++m) any |= f[m] < 1.0;
      if (!any) return;
      scaled[size_t((b0 + b) / kBlock)] = 1;
      bool moved = false;
      for (auto& ch : a.channels) moved |= scale_frames(ch.data() + b0, f, b, e);
      changed[size_t((b0 + b) / kBlock)] = moved;
      if (tally == nullptr) return;
      double sum = 0.0, gr[kCell];
      for (int64_t c0 = b; c0 < e; c0 += kCell) {
        const int64_t c1 = std::min(e, c0 + kCell);
        frame_reductions(f, c0, c1, gr);
        double mx = 0.0;
        for (int64_t m = 0; m < c1 - c0; ++m) {
          mx = std::max(mx, gr[m]);
          sum += gr[m];
        }
        tally->cell_max[size_t((b0 + c0) / kCell)] += mx;
      }
      tally->block_sum[size_t((b0 + b) / kBlock)] += sum;
    });
    o.applied |= std::find(scaled.begin() + b0 / kBlock, scaled.end(), 1) != scaled.end();
    // The blocks whose windows end before b0 + len hold final frames only (all of them at the end):
    // computed again where their window holds a frame whose bits changed, else the input's.
    const int64_t v1 = b0 + len == n ? in.positions() : (b0 + len) / Readings::grid() * Readings::grid();
    for (int64_t q0 = verified; q0 < v1;) {
      const bool again = window_changed(q0, std::min(v1, q0 + Readings::grid()));
      int64_t q1 = q0;
      while (q1 < v1 && window_changed(q1, std::min(v1, q1 + Readings::grid())) == again) {
        q1 = std::min(v1, q1 + Readings::grid());
      }
      if (again) {
        s.readings.resize(size_t(q1 - q0));
        detector_readings(a, q0, q1, s.readings.data(), pool);
        o.after = std::max(o.after, max_reading(s.readings.data(), q1 - q0));
      } else {
        o.after = std::max(o.after, max_reading(in.at(q0), q1 - q0));
      }
      q0 = q1;
    }
    verified = std::max(verified, v1);
    in.drop_before(std::min(verified, b0 + len));
  }
  o.input_annex_max = in.annex_max();
  return o;
}

// One limiter pass at target c: readings over `ceiling` ask for c / reading (dsp::required_gain),
// the minima read them ahead of the span, the release carries its last gain into the next span, the
// box average the last W - 1 gains.
PassOutcome limiter_pass(AudioBuffer& a, double ceiling, double c, const dsp::LimiterCoefficients& k, GainTally& tally,
                         Scratch& s, ThreadPool& pool, const std::function<void(int64_t)>& before_write) {
  const int64_t w = k.lookahead_frames, span = std::min(a.frames(), kSpan);
  s.gain_in.resize(size_t(span + w - 1 + kSupport - 1));
  s.support.resize(size_t(span + w - 1));
  s.g.assign(size_t(span + w - 1), 1.0);  // g[w - 1 + j]: frame b0 + j; before the start: 1
  const double scale = dsp::box_scale(w);
  double last = 1.0;  // the release's state: the gain of the frame before the span
  auto gains = [&](int64_t b0, int64_t len, const double* r, int64_t r_n, double* out) {
    const int64_t rn = std::min(r_n, len + w - 1 + kSupport - 1);
    for (int64_t i = 0; i < rn; ++i) s.gain_in[size_t(i)] = dsp::required_gain(r[i], ceiling, c);
    if (b0 > 0) std::copy(s.g.end() - (w - 1), s.g.end(), s.g.begin());  // the previous span's last W - 1
    sliding_min(s.gain_in.data(), rn, kSupport, s.support.data(), len + w - 1, pool);
    sliding_min(s.support.data(), len + w - 1, w, out, len, pool);
    double* g = s.g.data() + (w - 1);
    run_chunked(pool, FromState<dsp::LimiterRelease>{{out, k.alpha_release}, {last}}, g, len, kReleaseChunk);
    last = g[len - 1];
    // The smoothed gain replaces h (no longer needed).
    auto q = [&](int64_t m) { return dsp::gain_to_fixed(g[m], scale); };
    parallel_for_blocks(pool, len, kBlock, [&](int64_t b, int64_t e) {
      int64_t sum = 0;
      for (int64_t j = b - w + 1; j <= b; ++j) sum += q(j);
      for (int64_t m = b; m < e; ++m) {
        if (m > b) sum += q(m) - q(m - w);
        out[m] = std::min(dsp::fixed_mean_to_gain(sum, w, scale), s.support[size_t(m)]);
      }
    });
  };
  return rescale_pass(a, w - 1 + kSupport - 1, gains, &tally, s, pool, before_write);
}

// remove_true_peak_overs from a known largest reading `tp`; returns the rounds and updates tp.
int remove_overs(AudioBuffer& a, double ceiling, double& tp, GainTally* tally, Scratch& s, ThreadPool& pool) {
  int rounds = 0;
  while (tp > ceiling) {
    const double all = ceiling * kMargin / tp;
    auto gains = [&](int64_t, int64_t len, const double* r, int64_t r_n, double* out) {
      if (rounds >= kRegionRounds) {
        // Scaling everything by c (1 - 1e-6) / tp meets the ceiling in one round: each reading
        // moves by at most sum|h| 2^-24 max|x| <= 1.3e-7 tp through float rounding.
        std::fill(out, out + len, all);
        return;
      }
      // Every sample feeding an over is scaled by the smallest factor among the readings it feeds.
      const int64_t rn = std::min(r_n, len + kSupport - 1);
      s.gain_in.resize(size_t(rn));
      for (int64_t i = 0; i < rn; ++i) s.gain_in[size_t(i)] = r[i] > ceiling ? ceiling * kMargin / r[i] : 1.0;
      sliding_min(s.gain_in.data(), rn, kSupport, out, len, pool);
    };
    tp = rescale_pass(a, kSupport - 1, gains, tally, s, pool).after;
    ++rounds;
    // The round that scales everything meets the ceiling (above): a reading still over after it is
    // a bug, reported at once rather than looped on.
    if (tp > ceiling && rounds > kRegionRounds) {
      throw std::logic_error("limiter: a reading is " + std::to_string(20.0 * std::log10(tp / ceiling)) +
                             " dB over the ceiling after scaling the whole signal (internal error)");
    }
  }
  return rounds;
}

double largest_cell(const GainTally& t) { return t.cell_max.empty() ? 0.0 : *std::max_element(t.cell_max.begin(), t.cell_max.end()); }

}  // namespace

int remove_true_peak_overs(AudioBuffer& audio, double ceiling_linear, ThreadPool& pool) {
  if (audio.frames() == 0 || audio.channel_count() == 0) return 0;
  Readings r(audio, pool);  // the largest reading, span by span
  while (r.end() < r.positions()) {
    r.extend_to(r.end() + kSpan);
    r.drop_before(r.end());
  }
  double tp = r.max();
  Scratch s;
  return remove_overs(audio, ceiling_linear, tp, nullptr, s, pool);
}

LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params, ThreadPool& pool,
                             const std::function<void(int64_t)>& before_write) {
  LimiterStats stats;
  const int64_t n = audio.frames();
  if (n == 0 || audio.channel_count() == 0) {
    stats.output_true_peak_dbtp = -HUGE_VAL;
    return stats;
  }
  const dsp::LimiterCoefficients k = dsp::prepare_limiter(params, audio.sample_rate);
  GainTally tally(n);
  Scratch scratch;
  double c = k.ceiling * kMargin, tp = 0.0;
  for (;;) {
    // Only pass 1 can write a frame the caller has not read yet: it ends after the last span.
    const PassOutcome o = limiter_pass(audio, k.ceiling, c, k, tally, scratch, pool,
                                       stats.passes == 0 ? before_write : std::function<void(int64_t)>{});
    if (stats.passes == 0) stats.input_true_peak_linear = o.input_annex_max;
    tp = o.after;
    if (!o.applied) break;  // no reading over the ceiling (only possible on pass 1): the input's bits
    ++stats.passes;
    if (stats.passes == 1 && tp > k.ceiling) stats.over_after_first_pass_db = dsp::linear_to_db(tp / k.ceiling);
    if (tp <= k.ceiling || stats.passes == kMaxPasses) break;
    c *= kMargin;
  }
  stats.safety_rounds = remove_overs(audio, k.ceiling, tp, &tally, scratch, pool);
  double sum = 0.0;
  for (double b : tally.block_sum) sum += b;
  stats.max_gain_reduction_db = largest_cell(tally);
  stats.mean_gain_reduction_db = sum / double(n);
  stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
  return stats;
}

}  // namespace lq::cpu
