// CPU compressor (kernels/cpu/dynamics.hpp). Math: kernels/dsp/dynamics.hpp.
//
// Decomposition: detector levels and the static curve are a parallel map over blocks of frames;
// the attack/release smoother is one chunked recurrence per detector (run_chunked: bit-identical
// to the sequential loop); the dB -> linear gain and its application are parallel maps again.
// Statistics are reduced per block in a fixed blocking, then in block order, so every output and
// figure is independent of the thread count.
//
// Detectors: with stereo_link = 1 one detector drives all channels, on the linked level
// level_db(max_c |x_c|); below 1 every channel has its own detector on
// linked_level_db(own, linked, link). With the RMS detector |x_c| is replaced by the RMS of channel c
// over the last rms_ms (RmsWindow; docs/algorithms.md "Compressor detectors").
// Look-ahead W: output frame i gets the gain the smoother computed at frame i + W (the last
// frame's gain is held for the final W frames), so the output stays aligned with the input.
#include <algorithm>
#include <atomic>
#include <memory>
#include <cmath>
#include <vector>

#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/dynamics.hpp"

namespace lq::cpu {

namespace {

constexpr int64_t kBlock = dsp::kCompressorStatsBlock;  // frames per parallel map job and statistics block
// The smoother's speculation chunk (docs/algorithms.md "Speculative chunks"): speed only.
constexpr int64_t kSmootherChunk = 1 << 19;

float max_magnitude(const AudioBuffer& a, int64_t i) {
  float m = 0.0f;
  for (const auto& ch : a.channels) m = std::max(m, std::fabs(ch[size_t(i)]));
  return m;
}

constexpr int64_t kRun = 64;  // frames per test for a run with nothing to compute

// The linked detector of one or two channels (l == r for one) over [b, e): the same values as the
// general loop in compress(), written without branches (every value computed, then selected) so
// that it vectorises. A run of kRun frames all under the knee (most of a quiet stem's) is 0 without
// its logarithms; NaN counts as loud, as in the per-frame test.
LQ_CPU_CLONES void linked_reduction(const float* l, const float* r, int64_t b, int64_t e,
                                    const dsp::CompressorCoefficients& k, float* gr) {
  // The coefficients in locals: stores to gr cannot change them, so the loops vectorise.
  const float quiet = k.quiet_magnitude, threshold = k.threshold_db, ratio = k.ratio, knee = k.knee_db;
  for (int64_t r0 = b; r0 < e; r0 += kRun) {
    const int64_t r1 = std::min(e, r0 + kRun);
    int loud = 0;
    for (int64_t i = r0; i < r1; ++i) loud |= !(std::fabs(l[i]) < quiet && std::fabs(r[i]) < quiet);
    if (loud == 0) {
      std::fill(gr + r0, gr + r1, 0.0f);
      continue;
    }
    for (int64_t i = r0; i < r1; ++i) {
      const float al = std::fabs(l[i]), ar = std::fabs(r[i]);
      const float peak = al < ar ? ar : al;
      const float g = dsp::gain_reduction_db(dsp::level_db(peak), threshold, ratio, knee);
      gr[i] = peak < quiet ? 0.0f : g;
    }
  }
}

// gain[i] = the linear gain of smoothed[min(n - 1, i + lookahead)] for i in [b, e); rest where that
// reduction is exactly 0 (a run of kRun such frames without its exponentials).
LQ_CPU_CLONES void reduction_to_gain(const float* smoothed, int64_t n, int64_t lookahead, int64_t b, int64_t e,
                                     double makeup_db, float rest, float* gain) {
  const int64_t direct = std::max(b, std::min(e, n - 1 - lookahead));
  for (int64_t r0 = b; r0 < direct; r0 += kRun) {
    const int64_t r1 = std::min(direct, r0 + kRun);
    int reduced = 0;
    for (int64_t i = r0; i < r1; ++i) reduced |= smoothed[i + lookahead] != 0.0f;
    if (reduced == 0) {
      std::fill(gain + r0, gain + r1, rest);
      continue;
    }
    for (int64_t i = r0; i < r1; ++i) {
      const float r = smoothed[i + lookahead];
      const float g = dsp::compressor_gain(r, makeup_db);
      gain[i] = r == 0.0f ? rest : g;
    }
  }
  const float r = smoothed[n - 1];
  const float held = r == 0.0f ? rest : dsp::compressor_gain(r, makeup_db);
  for (int64_t i = direct; i < e; ++i) gain[i] = held;
}

// The statistics of n smoothed reductions from first_frame on (dsp::ReductionStats's order),
// built for each vector width.
LQ_CPU_CLONES void add_stats(dsp::ReductionStats& st, const float* v, int64_t first_frame, int64_t n) {
  st.add(v, first_frame, n);
}

LQ_CPU_CLONES void multiply_by(float* x, const float* g, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) x[i] *= g[i];
}

}  // namespace

// The RMS detector's window sums: s[i] = sum of x[j]^2 over the W frames ending at frame i (zeros
// before the signal), per channel, in double. A running sum restarted exactly at every frame whose
// index in the signal is a multiple of W, so each value depends on the frame index alone (the same
// for any spans and any thread count) and the running sum's rounding never spans more than W frames.
struct RmsWindow {
  int64_t w = 1;
  std::vector<double> hist;  // x^2 of the 2W frames before the next span (oldest first)

  // mag[i] = sqrt(s[g0 + i] / W) for the span's frames x[0, n), which start at signal frame g0.
  void magnitudes(const float* x, int64_t n, int64_t g0, float* mag) const {
    const int64_t h = int64_t(hist.size());  // == 2W
    auto sq = [&](int64_t f) {  // x^2 at signal frame f (f < g0 + n)
      if (f < 0) return 0.0;
      if (f >= g0) return double(x[f - g0]) * double(x[f - g0]);
      return hist[size_t(h - (g0 - f))];
    };
    auto exact = [&](int64_t f) {
      double sum = 0.0;
      for (int64_t j = f - w + 1; j <= f; ++j) sum += sq(j);
      return sum;
    };
    // s[g0 - 1] by the chain from the last restart m at or before g0 (g0 - W < m <= g0: in the
    // history), so that each value is the one a run from the signal's start computes.
    const int64_t m = (g0 / w) * w;
    double sum = exact(m);
    for (int64_t f = m + 1; f < g0; ++f) sum += sq(f) - sq(f - w);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t f = g0 + i;
      if (f > m) sum = (f % w == 0) ? exact(f) : sum + sq(f) - sq(f - w);  // f == m: sum is s[m]
      mag[i] = static_cast<float>(std::sqrt(std::max(0.0, sum) / double(w)));
    }
  }
  // After a span of `frames` frames from g0: keep x^2 of the 2W frames before g0 + frames.
  void advance(const float* x, int64_t frames) {
    const int64_t h = int64_t(hist.size());
    std::vector<double> next(static_cast<size_t>(h));
    for (int64_t j = 0; j < h; ++j) {
      const int64_t back = h - j;  // frames before g0 + frames
      next[size_t(j)] = back <= frames ? double(x[frames - back]) * double(x[frames - back]) : hist[size_t(h - (back - frames))];
    }
    hist = std::move(next);
  }
};

struct CompressorStream::Impl {
  dsp::CompressorCoefficients k;
  bool rms = false;
  std::vector<RmsWindow> rms_window;  // [channel]
  std::vector<std::vector<float>> mag;  // [channel][frame of the span]: RMS magnitudes
  int channels = 0, detectors = 0;
  int64_t frames_done = 0;
  std::vector<std::vector<float>> gr;  // [detector][frame of the span]: reduction, then gain
  std::vector<float> smoothed;
  std::vector<float> state;             // [detector]: smoothed reduction of the last frame done
  std::vector<std::vector<double>> block_sums;  // [detector]: sums of the finished kBlock blocks
  std::vector<dsp::ReductionStats> open;         // [detector]: the block under way
  double max_reduction = 0.0;
  int64_t step = 0;                     // record_steps' step; 0: none
  std::vector<float> step_max;          // [step]: the largest smoothed reduction in it

  // gr[d][i] for i < n: the static curve's reduction of detector d (dB), from the RMS magnitudes
  // or the per-sample peaks.
  void rms_reductions(AudioBuffer& audio, int64_t n, int64_t frames, ThreadPool& pool);
  void peak_reductions(const AudioBuffer& audio, int64_t n, ThreadPool& pool);
  // Smooths each detector's reduction, tallies it over the span's frames and turns it into the
  // gain (gr then holds gains).
  void smooth_tally_and_gain(int64_t n, int64_t frames, ThreadPool& pool);
};

CompressorStream::CompressorStream(const dsp::CompressorParams& params, double sample_rate, int channels)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.k = dsp::prepare_compressor(params, sample_rate);
  s.channels = channels;
  s.detectors = (s.k.stereo_link >= 1.0f || channels == 1) ? 1 : channels;
  s.gr.resize(size_t(s.detectors));
  s.state.assign(size_t(s.detectors), 0.0f);
  s.block_sums.resize(size_t(s.detectors));
  s.open.assign(size_t(s.detectors), dsp::ReductionStats{});
  if (params.rms_detector) {
    s.rms = true;
    const int64_t w = std::max<int64_t>(1, std::llround(params.rms_ms * 1e-3 * sample_rate));
    s.rms_window.assign(size_t(channels), RmsWindow{w, std::vector<double>(size_t(2 * w), 0.0)});
    s.mag.resize(size_t(channels));
  }
}

CompressorStream::~CompressorStream() = default;

int64_t CompressorStream::lookahead_frames() const { return impl_->k.lookahead_frames; }

void CompressorStream::Impl::rms_reductions(AudioBuffer& audio, int64_t n, int64_t frames, ThreadPool& pool) {
  // The RMS magnitudes of each channel (sequential per channel: a running sum), then the static
  // curve on them as on the peak magnitudes.
  pool.parallel_for(channels, [&](int64_t c) {
    mag[size_t(c)].resize(size_t(n));
    rms_window[size_t(c)].magnitudes(audio.channels[size_t(c)].data(), n, frames_done, mag[size_t(c)].data());
  });
  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float peak = 0.0f;
      for (int c = 0; c < channels; ++c) peak = std::max(peak, mag[size_t(c)][size_t(i)]);
      dsp::curve_reductions(
          peak, detectors, k, [&](int d) { return mag[size_t(d)][size_t(i)]; },
          [&](int d, float r) { gr[size_t(d)][size_t(i)] = r; });
    }
  });
  for (int c = 0; c < channels; ++c) rms_window[size_t(c)].advance(audio.channels[size_t(c)].data(), frames);
}

void CompressorStream::Impl::peak_reductions(const AudioBuffer& audio, int64_t n, ThreadPool& pool) {
  const bool linked_stereo_or_mono = detectors == 1 && channels <= 2;
  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    if (linked_stereo_or_mono) {
      linked_reduction(audio.channels.front().data(), audio.channels.back().data(), b, e, k, gr[0].data());
      return;
    }
    for (int64_t i = b; i < e; ++i) {
      dsp::curve_reductions(
          max_magnitude(audio, i), detectors, k, [&](int d) { return audio.channels[size_t(d)][size_t(i)]; },
          [&](int d, float r) { gr[size_t(d)][size_t(i)] = r; });
    }
  });
}

// The statistics over the span's frames in blocks of kBlock counted from the signal's first
// frame, each block's in dsp::ReductionStats's fixed order (a block split between spans continues
// it), then the blocks in order: the same figures for any spans and any thread count.
void CompressorStream::Impl::smooth_tally_and_gain(int64_t n, int64_t frames, ThreadPool& pool) {
  const int64_t g0 = frames_done, g1 = g0 + frames;
  const int64_t first_block = g0 / kBlock, blocks = (g1 - 1) / kBlock - first_block + 1;
  std::vector<dsp::ReductionStats> span_stats(static_cast<size_t>(blocks));
  smoothed.resize(size_t(n));
  if (step > 0) step_max.resize(size_t((g1 + step - 1) / step), 0.0f);
  const float rest_gain = dsp::compressor_gain(0.0f, k.makeup_db);  // the gain where nothing is reduced
  for (int d = 0; d < detectors; ++d) {
    std::vector<float>& gain = gr[size_t(d)];
    const float* sm = smoothed.data();
    run_chunked(pool, FromState<dsp::GainSmoother>{{gain.data(), k.alpha_attack, k.alpha_release}, {state[size_t(d)]}},
                smoothed.data(), n, kSmootherChunk);
    pool.parallel_for(blocks, [&](int64_t j) {
      const int64_t b = std::max(g0, (first_block + j) * kBlock) - g0;
      const int64_t e = std::min(g1, (first_block + j + 1) * kBlock) - g0;
      dsp::ReductionStats st = j == 0 ? open[size_t(d)] : dsp::ReductionStats{};
      add_stats(st, sm + b, g0 + b, e - b);
      if (step > 0) {
        // Steps wholly or partly in [b, e): their maxima, combined with max (any order, same value).
        for (int64_t i = b; i < e;) {
          const int64_t s_k = (g0 + i) / step, end = std::min(e, (s_k + 1) * step - g0);
          float m = 0.0f;
          for (int64_t f = i; f < end; ++f) m = std::max(m, sm[f]);
          float* slot = &step_max[size_t(s_k)];
          // Two blocks may share a step: their maxima meet under the step's lock-free CAS loop.
          std::atomic_ref<float> a(*slot);
          float seen = a.load();
          while (m > seen && !a.compare_exchange_weak(seen, m)) {
          }
          i = end;
        }
      }
      reduction_to_gain(sm, n, k.lookahead_frames, b, e, k.makeup_db, rest_gain, gain.data());
      span_stats[size_t(j)] = st;
    });
    state[size_t(d)] = sm[frames - 1];
    for (int64_t j = 0; j < blocks; ++j) max_reduction = std::max(max_reduction, span_stats[size_t(j)].max);
    const bool is_open = g1 % kBlock != 0;
    for (int64_t j = 0; j < blocks - (is_open ? 1 : 0); ++j) block_sums[size_t(d)].push_back(span_stats[size_t(j)].sum());
    open[size_t(d)] = is_open ? span_stats[size_t(blocks - 1)] : dsp::ReductionStats{};
  }
}

void CompressorStream::process(AudioBuffer& audio, int64_t frames, ThreadPool& pool) {
  Impl& s = *impl_;
  // The span's frames and the look-ahead after them (frames past that are the caller's, unread).
  const int64_t n = std::min(audio.frames(), frames + s.k.lookahead_frames);
  if (frames <= 0 || s.channels == 0) return;
  for (auto& g : s.gr) g.resize(size_t(n));
  if (s.rms) {
    s.rms_reductions(audio, n, frames, pool);
  } else {
    s.peak_reductions(audio, n, pool);
  }
  s.smooth_tally_and_gain(n, frames, pool);
  parallel_for_blocks(pool, frames, kBlock, [&](int64_t b, int64_t e) {
    for (int c = 0; c < s.channels; ++c) {
      multiply_by(audio.channels[size_t(c)].data(), s.gr[size_t(s.detectors == 1 ? 0 : c)].data(), b, e);
    }
  });
  s.frames_done += frames;
}

DynamicsStats CompressorStream::stats() const {
  const Impl& s = *impl_;
  DynamicsStats stats;
  if (s.frames_done == 0) return stats;
  double sum = 0.0;
  for (int d = 0; d < s.detectors; ++d) {
    for (const double b : s.block_sums[size_t(d)]) sum += b;
    if (s.frames_done % kBlock != 0) sum += s.open[size_t(d)].sum();
  }
  stats.max_gain_reduction_db = s.max_reduction;
  stats.mean_gain_reduction_db = sum / (double(s.frames_done) * double(s.detectors));
  return stats;
}

void CompressorStream::record_steps(int64_t step_frames) {
  if (step_frames < 1 || impl_->frames_done > 0) throw std::invalid_argument("record_steps: a step of at least one frame, before process()");
  impl_->step = step_frames;
}

const std::vector<float>& CompressorStream::step_reductions() const { return impl_->step_max; }

DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& params, ThreadPool& pool) {
  CompressorStream stream(params, audio.sample_rate, audio.channel_count());
  stream.process(audio, audio.frames(), pool);
  return stream.stats();
}

}  // namespace lq::cpu
