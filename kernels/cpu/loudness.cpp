#include "kernels/cpu/loudness.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/dsp/k_weighting.hpp"
#include "kernels/dsp/recurrence.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

namespace {

// run_chunked (kernels/cpu/recurrence.hpp) over several independent signals at once: speculation
// over every (signal, chunk) pair, then each signal's fix-up in chunk order, signals in parallel.
// Same bits as run_sequential on each signal. Returns the samples re-run by the fix-up.
template <class R>
int64_t run_chunked_signals(ThreadPool& pool, const std::vector<R>& recs, const std::vector<double*>& ys,
                            int64_t n, int64_t chunk) {
  const int64_t signals = static_cast<int64_t>(recs.size());
  if (n <= 0 || signals == 0) return 0;
  const int64_t chunks = (n + chunk - 1) / chunk;
  pool.parallel_for(signals * chunks, [&](int64_t t) {
    const int64_t s = t / chunks, c = t % chunks;
    dsp::speculate_chunk(recs[s], ys[s], c * chunk, std::min(n, (c + 1) * chunk));
  });
  if (chunks == 1) return 0;
  std::vector<int64_t> rerun(static_cast<size_t>(signals), 0);
  pool.parallel_for(signals, [&](int64_t s) {
    for (int64_t c = 1; c < chunks; ++c) {
      rerun[s] += dsp::fixup_chunk(recs[s], ys[s], c * chunk, std::min(n, (c + 1) * chunk));
    }
  });
  int64_t total = 0;
  for (int64_t r : rerun) total += r;
  return total;
}

// The last two outputs {y[end-1], y[end-2]} after a window of `len` outputs, given those before it.
void carry_state(double* state, const double* y, int64_t len) {
  if (len >= 2) {
    state[0] = y[len - 1];
    state[1] = y[len - 2];
  } else if (len == 1) {
    state[1] = state[0];
    state[0] = y[0];
  }
}

}  // namespace

std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio,
                                                             std::span<const int> channels,
                                                             int64_t segment_frames, ThreadPool& pool,
                                                             const KWeightingSchedule& schedule,
                                                             KWeightingStats* stats) {
  if (segment_frames < 1) throw std::invalid_argument("k_weighted_segment_energies: segment_frames < 1");
  if (!(audio.sample_rate > 0.0)) throw std::invalid_argument("k_weighted_segment_energies: sample rate <= 0");
  for (int c : channels) {
    if (c < 0 || c >= audio.channel_count()) {
      throw std::invalid_argument("k_weighted_segment_energies: channel index out of range");
    }
  }
  const int64_t segments = audio.frames() / segment_frames;
  const int64_t frames = segments * segment_frames;  // samples past the last whole segment are never used
  const size_t nch = channels.size();
  std::vector<std::vector<double>> energies(nch, std::vector<double>(static_cast<size_t>(segments)));
  if (frames == 0 || nch == 0) return energies;

  const auto k = dsp::k_weighting_coefficients(audio.sample_rate);
  const int64_t chunk = std::max<int64_t>(schedule.chunk_frames, 1);
  const int64_t window =
      std::min(frames, std::max<int64_t>(schedule.window_frames / segment_frames, 1) * segment_frames);

  // stage1[j][0..1] hold the two stage-1 outputs before the window (stage 2 reads them as input).
  std::vector<std::vector<double>> stage1(nch, std::vector<double>(static_cast<size_t>(window + 2)));
  std::vector<std::vector<double>> stage2(nch, std::vector<double>(static_cast<size_t>(window)));
  std::vector<double> state1(2 * nch, 0.0), state2(2 * nch, 0.0);  // {y[w0-1], y[w0-2]} per channel
  std::vector<dsp::BiquadRecurrence<float>> rec1(nch);
  std::vector<dsp::BiquadRecurrence<double>> rec2(nch);
  std::vector<double*> y1(nch), y2(nch);
  int64_t rerun = 0;

  for (int64_t w0 = 0; w0 < frames; w0 += window) {
    const int64_t len = std::min(window, frames - w0);
    for (size_t j = 0; j < nch; ++j) {
      double* s1 = stage1[j].data();
      s1[1] = state1[2 * j];
      s1[0] = state1[2 * j + 1];
      rec1[j].x = audio.channels[static_cast<size_t>(channels[j])].data() + w0;
      rec1[j].history = std::min<int64_t>(w0, 2);
      rec1[j].c = k.shelf;
      rec1[j].y_init[0] = state1[2 * j];
      rec1[j].y_init[1] = state1[2 * j + 1];
      rec2[j].x = s1 + 2;
      rec2[j].history = w0 == 0 ? 0 : 2;
      rec2[j].c = k.highpass;
      rec2[j].y_init[0] = state2[2 * j];
      rec2[j].y_init[1] = state2[2 * j + 1];
      y1[j] = s1 + 2;
      y2[j] = stage2[j].data();
    }
    rerun += run_chunked_signals(pool, rec1, y1, len, chunk);
    rerun += run_chunked_signals(pool, rec2, y2, len, chunk);
    for (size_t j = 0; j < nch; ++j) {
      carry_state(&state1[2 * j], y1[j], len);
      carry_state(&state2[2 * j], y2[j], len);
    }

    // Segment sums: tasks of about 2^16 frames (whole segments), over every channel.
    const int64_t window_segments = len / segment_frames;
    const int64_t per_task = std::max<int64_t>(1, (int64_t{1} << 16) / segment_frames);
    const int64_t tasks_per_channel = (window_segments + per_task - 1) / per_task;
    const int64_t first_segment = w0 / segment_frames;
    pool.parallel_for(static_cast<int64_t>(nch) * tasks_per_channel, [&](int64_t t) {
      const size_t j = static_cast<size_t>(t / tasks_per_channel);
      const int64_t s0 = (t % tasks_per_channel) * per_task;
      const int64_t s1 = std::min(window_segments, s0 + per_task);
      const double* y = y2[j];
      double* out = energies[j].data() + first_segment;
      for (int64_t s = s0; s < s1; ++s) {
        double acc = 0.0;
        for (int64_t i = s * segment_frames; i < (s + 1) * segment_frames; ++i) acc += y[i] * y[i];
        out[s] = acc;
      }
    });
  }
  if (stats != nullptr) {
    stats->frames_filtered = frames * static_cast<int64_t>(nch);
    stats->frames_rerun = rerun;
  }
  return energies;
}

double true_peak_scan(const AudioBuffer& audio, ThreadPool& pool) {
  const int64_t len = audio.frames();
  if (len == 0 || audio.channel_count() == 0) return 0.0;
  const int64_t positions = len + dsp::kTruePeakTapsPerPhase - 1;
  const int64_t block = int64_t{1} << 16;
  const int64_t blocks = (positions + block - 1) / block;
  std::vector<double> peaks(static_cast<size_t>(audio.channel_count() * blocks), 0.0);
  pool.parallel_for(static_cast<int64_t>(peaks.size()), [&](int64_t t) {
    const float* x = audio.channels[static_cast<size_t>(t / blocks)].data();
    const int64_t n0 = (t % blocks) * block, n1 = std::min(positions, n0 + block);
    double peak = 0.0;
    for (int64_t n = n0; n < n1; ++n) peak = std::max(peak, dsp::true_peak_at(x, len, n));
    peaks[static_cast<size_t>(t)] = peak;
  });
  return *std::max_element(peaks.begin(), peaks.end());
}

double sample_peak_scan(const AudioBuffer& audio, ThreadPool& pool) {
  const int64_t len = audio.frames();
  if (len == 0 || audio.channel_count() == 0) return 0.0;
  const int64_t block = int64_t{1} << 18;
  const int64_t blocks = (len + block - 1) / block;
  std::vector<float> peaks(static_cast<size_t>(audio.channel_count() * blocks), 0.0f);
  pool.parallel_for(static_cast<int64_t>(peaks.size()), [&](int64_t t) {
    const float* x = audio.channels[static_cast<size_t>(t / blocks)].data();
    const int64_t i0 = (t % blocks) * block, i1 = std::min(len, i0 + block);
    float peak = 0.0f;
    for (int64_t i = i0; i < i1; ++i) peak = std::max(peak, std::fabs(x[i]));
    peaks[static_cast<size_t>(t)] = peak;
  });
  return double(*std::max_element(peaks.begin(), peaks.end()));
}

}  // namespace lq::cpu
