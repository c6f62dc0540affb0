// The GPU convolver's decomposition (kernels/cuda/convolver.cu) run on the CPU: channels x segments
// frames in fixed batches through dsp::OverlapSave's frame_sample / output_index, each frame
// transformed with FFTW, equals the float64 direct convolution for EQ-like (offset (L-1)/2) and
// reverb-like (full tail) cases, with batches that end inside a channel and padding frames.
#include "kernels/dsp/overlap_save.hpp"

#include <gtest/gtest.h>

#include <fftw3.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "kernels/cpu/convolver.hpp"
#include "reference/direct_convolution.hpp"
#include "support/expect_close.hpp"

namespace {

std::vector<float> noise(int64_t n, unsigned seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& s : v) s = g(rng);
  return v;
}

// y (channel-major, C x n_out) from x (C x n_in) with filter h[c], batch frames at a time.
std::vector<float> batched(const std::vector<float>& x, int channels, int64_t n_in, int64_t offset,
                           const std::vector<std::vector<float>>& h, int64_t n_out, int batch) {
  const int64_t l = static_cast<int64_t>(h[0].size());
  const lq::dsp::OverlapSave os = lq::dsp::overlap_save_for(l);
  const int64_t segments = os.segments(n_out), frames = segments * channels, bins = os.k / 2 + 1;
  std::vector<std::vector<std::complex<float>>> spectra(h.size(), std::vector<std::complex<float>>(static_cast<size_t>(bins)));
  std::vector<float> frame(static_cast<size_t>(os.k));
  std::vector<std::complex<float>> spec(static_cast<size_t>(bins));
  auto* sp = reinterpret_cast<fftwf_complex*>(spec.data());
  std::lock_guard lock(lq::cpu::fftw_planner_mutex());
  fftwf_plan r2c = fftwf_plan_dft_r2c_1d(int(os.k), frame.data(), sp, FFTW_ESTIMATE);
  fftwf_plan c2r = fftwf_plan_dft_c2r_1d(int(os.k), sp, frame.data(), FFTW_ESTIMATE);
  for (size_t q = 0; q < h.size(); ++q) {
    std::fill(frame.begin(), frame.end(), 0.0f);
    std::copy(h[q].begin(), h[q].end(), frame.begin());
    fftwf_execute(r2c);
    for (int64_t k = 0; k < bins; ++k) {
      spectra[q][size_t(k)] = spec[size_t(k)] / float(os.k);
    }
  }
  std::vector<float> y(static_cast<size_t>(channels * n_out), std::nanf(""));
  int64_t written = 0;
  for (int64_t first = 0; first < frames; first += batch) {
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t f = first + b;
      for (int64_t i = 0; i < os.k; ++i) frame[size_t(i)] = os.frame_sample(x.data(), n_in, offset, segments, frames, f, i);
      fftwf_execute(r2c);
      const auto& hs = spectra[size_t(f < frames ? f / segments : 0)];
      for (int64_t k = 0; k < bins; ++k) {
        const float xr = spec[size_t(k)].real(), xi = spec[size_t(k)].imag();
        const float hr = hs[size_t(k)].real(), hi = hs[size_t(k)].imag();
        spec[size_t(k)] = {xr * hr - xi * hi, xr * hi + xi * hr};
      }
      fftwf_execute(c2r);
      for (int64_t j = 0; j < os.hop; ++j) {
        const int64_t out = os.output_index(n_out, segments, frames, f, j);
        if (out < 0) continue;
        EXPECT_TRUE(std::isnan(y[size_t(out)])) << "output " << out << " written twice";
        y[size_t(out)] = frame[size_t(os.l - 1 + j)];
        ++written;
      }
    }
  }
  fftwf_destroy_plan(r2c);
  fftwf_destroy_plan(c2r);
  EXPECT_EQ(written, channels * n_out) << "every output written exactly once";
  return y;
}

void expect_matches_direct(int64_t l, int64_t n_in, int64_t offset, int64_t n_out, int batch) {
  const int channels = 2;
  std::vector<std::vector<float>> h = {noise(l, 3, 0.05f), noise(l, 4, 0.05f)};
  std::vector<float> x = noise(channels * n_in, 5, 0.3f);
  const auto y = batched(x, channels, n_in, offset, h, n_out, batch);
  for (int c = 0; c < channels; ++c) {
    const std::span<const float> xc(x.data() + c * n_in, size_t(n_in));
    const auto want = lq::test::direct_convolution(xc, h[size_t(c)], offset, n_out);
    const std::span<const float> got(y.data() + c * n_out, size_t(n_out));
    EXPECT_LT(lq::test::relative_rms_error(got, want), 1e-6) << "L " << l << " channel " << c << " batch " << batch;
  }
}

TEST(OverlapSaveBatches, EqLikeLatencyCompensatedFirMatchesDirectConvolution) {
  const int64_t l = 301, n = 20'011;
  for (int batch : {1, 3, 7, 64}) expect_matches_direct(l, n, (l - 1) / 2, n, batch);
}

TEST(OverlapSaveBatches, ReverbLikeFullConvolutionWithItsTailMatchesDirectConvolution) {
  const int64_t l = 1500, n = 9'001;
  for (int batch : {2, 5, 1000}) expect_matches_direct(l, n, 0, n + l - 1, batch);
}

TEST(OverlapSaveBatches, FramesTileTheOutputWithTheCpuConvolversFftSizes) {
  for (int64_t l : {2, 100, 2881, 65535, 144000}) {
    const auto os = lq::dsp::overlap_save_for(l);
    EXPECT_EQ(os.k, lq::cpu::convolver_fft_size(l));
    EXPECT_EQ(os.hop, os.k - l + 1);
    EXPECT_GE(os.hop, 1);
    const int64_t n_out = 3 * os.hop + 1;
    EXPECT_EQ(os.segments(n_out), 4);
    EXPECT_EQ(os.output_index(n_out, 4, 8, 3, 0), 3 * os.hop);        // channel 0, last segment
    EXPECT_EQ(os.output_index(n_out, 4, 8, 3, 1), -1);                // past its channel's end
    EXPECT_EQ(os.output_index(n_out, 4, 8, 4, 0), n_out);             // channel 1, segment 0
    EXPECT_EQ(os.output_index(n_out, 4, 8, 8, 0), -1);                // a padding frame
  }
}

}  // namespace
