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
// linked_level_db(own, linked, link).
// Look-ahead W: output frame i gets the gain the smoother computed at frame i + W (the last
// frame's gain is held for the final W frames), so the output stays aligned with the input.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/dynamics.hpp"

namespace lq::cpu {

namespace {

constexpr int64_t kBlock = 1 << 16;          // frames per parallel map job
constexpr int64_t kSmootherChunk = 1 << 19;  // speculation chunk (gpu-design.md 3.3): speed only

float max_magnitude(const AudioBuffer& a, int64_t i) {
  float m = 0.0f;
  for (const auto& ch : a.channels) m = std::max(m, std::fabs(ch[size_t(i)]));
  return m;
}

// The linked detector of one or two channels (l == r for one) over [b, e): the same values as the
// general loop in compress(), written without branches (every value computed, then selected) so
// that it vectorises.
LQ_CPU_CLONES void linked_reduction(const float* l, const float* r, int64_t b, int64_t e,
                                    const dsp::CompressorCoefficients& k, float* gr) {
  for (int64_t i = b; i < e; ++i) {
    const float al = std::fabs(l[i]), ar = std::fabs(r[i]);
    const float peak = al < ar ? ar : al;
    const float g = dsp::gain_reduction_db(dsp::level_db(peak), k.threshold_db, k.ratio, k.knee_db);
    gr[i] = peak < k.quiet_magnitude ? 0.0f : g;
  }
}

// gain[i] = the linear gain of smoothed[min(n - 1, i + lookahead)] for i in [b, e); rest where that
// reduction is exactly 0.
LQ_CPU_CLONES void reduction_to_gain(const float* smoothed, int64_t n, int64_t lookahead, int64_t b, int64_t e,
                                     double makeup_db, float rest, float* gain) {
  const int64_t direct = std::max(b, std::min(e, n - 1 - lookahead));
  for (int64_t i = b; i < direct; ++i) {
    const float r = smoothed[i + lookahead];
    const float g = dsp::compressor_gain(r, makeup_db);
    gain[i] = r == 0.0f ? rest : g;
  }
  const float r = smoothed[n - 1];
  const float held = r == 0.0f ? rest : dsp::compressor_gain(r, makeup_db);
  for (int64_t i = direct; i < e; ++i) gain[i] = held;
}

}  // namespace

DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& params, ThreadPool& pool) {
  const int64_t n = audio.frames();
  const int channels = audio.channel_count();
  DynamicsStats stats;
  if (n == 0 || channels == 0) return stats;
  const dsp::CompressorCoefficients k = dsp::prepare_compressor(params, audio.sample_rate);
  const int detectors = (k.stereo_link >= 1.0f || channels == 1) ? 1 : channels;

  // gr[d][i]: static-curve reduction of detector d at frame i (dB).
  std::vector<std::vector<float>> gr(static_cast<size_t>(detectors),
                                     std::vector<float>(static_cast<size_t>(n)));
  const bool linked_stereo_or_mono = detectors == 1 && channels <= 2;
  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    if (linked_stereo_or_mono) {
      linked_reduction(audio.channels.front().data(), audio.channels.back().data(), b, e, k, gr[0].data());
      return;
    }
    for (int64_t i = b; i < e; ++i) {
      const float peak = max_magnitude(audio, i);
      if (peak < k.quiet_magnitude) {  // under the knee: exactly no reduction, no logarithm needed
        for (int d = 0; d < detectors; ++d) gr[size_t(d)][size_t(i)] = 0.0f;
        continue;
      }
      const float linked = dsp::level_db(peak);
      for (int d = 0; d < detectors; ++d) {
        const float level = detectors == 1
                                ? linked
                                : dsp::linked_level_db(dsp::level_db(audio.channels[size_t(d)][size_t(i)]),
                                                       linked, k.stereo_link);
        gr[size_t(d)][size_t(i)] = dsp::gain_reduction_db(level, k.threshold_db, k.ratio, k.knee_db);
      }
    }
  });

  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> block_max(static_cast<size_t>(blocks * detectors)), block_sum(block_max.size());
  std::vector<float> smoothed(static_cast<size_t>(n));
  const float rest_gain = dsp::compressor_gain(0.0f, k.makeup_db);  // the gain where nothing is reduced
  for (int d = 0; d < detectors; ++d) {
    std::vector<float>& gain = gr[size_t(d)];
    run_chunked(pool, dsp::GainSmoother{gain.data(), k.alpha_attack, k.alpha_release}, smoothed.data(), n,
                kSmootherChunk);
    parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
      double mx = 0.0, sum = 0.0;
      for (int64_t i = b; i < e; ++i) {
        const float v = smoothed[size_t(i)];
        mx = std::max(mx, double(v));
        sum += double(v);
      }
      reduction_to_gain(smoothed.data(), n, k.lookahead_frames, b, e, k.makeup_db, rest_gain, gain.data());
      block_max[size_t(d * blocks + b / kBlock)] = mx;
      block_sum[size_t(d * blocks + b / kBlock)] = sum;
    });
  }

  parallel_for_blocks(pool, n, kBlock, [&](int64_t b, int64_t e) {
    for (int c = 0; c < channels; ++c) {
      const float* g = gr[size_t(detectors == 1 ? 0 : c)].data();
      float* x = audio.channels[size_t(c)].data();
      for (int64_t i = b; i < e; ++i) x[i] *= g[i];
    }
  });

  double sum = 0.0;
  for (size_t j = 0; j < block_sum.size(); ++j) {
    stats.max_gain_reduction_db = std::max(stats.max_gain_reduction_db, block_max[j]);
    sum += block_sum[j];
  }
  stats.mean_gain_reduction_db = sum / (double(n) * double(detectors));
  return stats;
}

}  // namespace lq::cpu
