// CPU compressor: detector and static curve as parallel maps over blocks, the attack/release
// smoother through the chunked recurrence executor, the gain applied as a parallel map.
// Math: kernels/dsp/dynamics.hpp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/dsp/dynamics.hpp"

namespace lq::cpu {

namespace {

constexpr int64_t kBlock = 1 << 16;            // frames per parallel map job
constexpr int64_t kSmootherChunk = 1 << 19;    // speculation chunk (a speed knob only)


}  // namespace

DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& p, ThreadPool& pool) {
  const int64_t n = audio.frames();
  const int channels = audio.channel_count();
  DynamicsStats stats;
  if (n == 0 || channels == 0) return stats;
  const float threshold = static_cast<float>(p.threshold_db);
  const float ratio = static_cast<float>(p.ratio);
  const float knee = static_cast<float>(p.knee_db);
  const float link = static_cast<float>(p.stereo_link);
  const int64_t lookahead = std::llround(p.lookahead_ms * 1e-3 * audio.sample_rate);
  const double makeup_db =
      p.auto_makeup ? 0.5 * double(dsp::gain_reduction_db(0.0f, threshold, ratio, knee)) : p.makeup_db;
  const float alpha_a = static_cast<float>(dsp::one_pole_alpha(p.attack_ms * 1e-3, audio.sample_rate));
  const float alpha_r = static_cast<float>(dsp::one_pole_alpha(p.release_ms * 1e-3, audio.sample_rate));

  // Detector channels: one shared gain when fully linked, else one per channel.
  const int detectors = link >= 1.0f ? 1 : channels;
  std::vector<std::vector<float>> gr(static_cast<size_t>(detectors), std::vector<float>(static_cast<size_t>(n)));
  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float linked = -200.0f;
      for (int c = 0; c < channels; ++c) linked = std::max(linked, dsp::level_db(audio.channels[size_t(c)][size_t(i)]));
      for (int d = 0; d < detectors; ++d) {
        float level = linked;
        if (detectors > 1) {
          const float own = dsp::level_db(audio.channels[size_t(d)][size_t(i)]);
          level = link * linked + (1.0f - link) * own;
        }
        gr[size_t(d)][size_t(i)] = dsp::gain_reduction_db(level, threshold, ratio, knee);
      }
    }
  });

  std::vector<float> smoothed(static_cast<size_t>(n));
  double max_gr = 0.0, sum_gr = 0.0;
  for (int d = 0; d < detectors; ++d) {
    const dsp::GainSmoother rec{gr[size_t(d)].data(), alpha_a, alpha_r};
    run_chunked(pool, rec, smoothed.data(), n, kSmootherChunk);
    // Statistics in a fixed order, whatever the thread count.
    for (int64_t i = 0; i < n; ++i) {
      const double v = smoothed[size_t(i)];
      max_gr = std::max(max_gr, v);
      sum_gr += v;
    }
    // gain[i] applies at output frame i - lookahead (the detector looks ahead).
    std::vector<float>& gain = gr[size_t(d)];
    parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t src = std::min(n - 1, i + lookahead);
        gain[size_t(i)] = static_cast<float>(dsp::db_to_linear(makeup_db - double(smoothed[size_t(src)])));
      }
    });
  }
  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    for (int c = 0; c < channels; ++c) {
      const std::vector<float>& gain = gr[size_t(detectors > 1 ? c : 0)];
      float* x = audio.channels[size_t(c)].data();
      for (int64_t i = b; i < e; ++i) x[i] *= gain[size_t(i)];
    }
  });
  stats.max_gain_reduction_db = max_gr;
  stats.mean_gain_reduction_db = sum_gr / (double(n) * detectors);
  return stats;
}

}  // namespace lq::cpu
