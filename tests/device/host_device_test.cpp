// The device interface (kernels/device/device.hpp) on its host executor: the GPU's semantics that
// it enforces (a download is NaN until the next sync; fresh memory is NaN), cuFFT's layout and
// scaling of its transforms (against a float64 DFT we write here), the counters each call adds, and
// the device backend's bits whatever the thread count, with the counts one convolution costs.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "host/backend.hpp"
#include "host/device_backend.hpp"
#include "kernels/device/device.hpp"
#include "kernels/device/host_device.hpp"
#include "support/expect_close.hpp"

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> noise(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  std::vector<float> x(n);
  for (float& v : x) v = g(rng);
  return x;
}

}  // namespace

TEST(HostDevice, ADownloadHoldsItsDataOnlyAfterTheNextSync) {
  lq::cpu::ThreadPool pool(2);
  auto d = lq::dev::make_host_device(pool);
  const std::vector<float> x = noise(1000, 1);
  std::vector<float> back(1000, 0.0f);
  {
    lq::dev::Buffer<float> b(*d, x.size());
    b.upload(x.data(), x.size());
    b.download(back.data(), back.size());
    for (float v : back) ASSERT_TRUE(std::isnan(v)) << "a download read before sync() must not look valid";
    d->sync();
    EXPECT_TRUE(lq::test::bit_equal(back, x));
    EXPECT_EQ(d->counters().device_bytes, 4000);
  }
  const auto& c = d->counters();
  EXPECT_EQ(c.h2d_bytes, 4000);
  EXPECT_EQ(c.d2h_bytes, 4000);
  EXPECT_EQ(c.syncs, 1);
  EXPECT_EQ(c.device_bytes, 0) << "the buffer went back";
  EXPECT_EQ(c.peak_device_bytes, 4000);
}

TEST(HostDevice, FreshDeviceMemoryIsNotZero) {
  lq::cpu::ThreadPool pool(1);
  auto d = lq::dev::make_host_device(pool);
  lq::dev::Buffer<double> b(*d, 16);
  std::vector<double> back(16, 0.0);
  b.download(back.data(), back.size());
  d->sync();
  for (double v : back) EXPECT_TRUE(std::isnan(v)) << "an orchestration must write what it reads";
}

// rfft: k/2 + 1 bins per frame, X[m] = sum_n x[n] e^{-2 pi i m n / k} (no scaling), frames
// contiguous; irfft(rfft(x)) = k x. Against a float64 DFT for three frames of k = 4096.
TEST(HostDevice, TransformsHaveCufftsLayoutAndScaling) {
  lq::cpu::ThreadPool pool(2);
  auto d = lq::dev::make_host_device(pool);
  const int k = 4096, batch = 3, bins = k / 2 + 1;
  const std::vector<float> x = noise(size_t(k * batch), 2);
  lq::dev::Buffer<float> in(*d, x.size()), out(*d, x.size());
  lq::dev::Buffer<lq::dev::Complex> spec(*d, size_t(bins * batch));
  in.upload(x.data(), x.size());
  d->rfft(in.get(), spec.get(), k, batch);
  std::vector<lq::dev::Complex> s(size_t(bins * batch));
  spec.download(s.data(), s.size());
  d->irfft(spec.get(), out.get(), k, batch);
  std::vector<float> y(x.size());
  out.download(y.data(), y.size());
  d->sync();
  for (int f = 0; f < batch; ++f) {
    for (int m : {0, 1, 7, 1000, k / 2}) {
      std::complex<double> ref = 0.0;
      for (int n = 0; n < k; ++n) ref += double(x[size_t(f * k + n)]) * std::polar(1.0, -2.0 * kPi * m * n / k);
      const auto got = s[size_t(f * bins + m)];
      EXPECT_NEAR(got.re, ref.real(), 1e-3) << "frame " << f << " bin " << m;
      EXPECT_NEAR(got.im, ref.imag(), 1e-3) << "frame " << f << " bin " << m;
    }
  }
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], double(k) * x[i], 2e-3) << i;
  EXPECT_EQ(d->counters().ffts, 2);
  EXPECT_EQ(d->counters().fft_samples, 2 * k * batch);
}

// The device backend gives the same bits with one thread and with three, and one convolution call
// costs one sync, its input and output across the bus once and the filter taps (as float64, padded
// to the FFT size) once.
TEST(DeviceBackend, SameBitsWhateverTheThreadsAndOneSyncPerConvolution) {
  const int64_t n = 100003, taps = 2001;
  const std::vector<float> l = noise(size_t(n), 3), r = noise(size_t(n), 4), h = noise(size_t(taps), 5);
  auto run = [&](int threads, lq::dev::Counters* counters) {
    lq::cpu::ThreadPool pool(threads);
    lq::DeviceBackendOptions options;
    options.batch_samples = 1 << 15;  // several batches
    auto b = lq::make_cuda_host_backend(pool, options);
    std::vector<std::vector<float>> y(2, std::vector<float>(size_t(n)));
    const float* xp[] = {l.data(), r.data()};
    float* yp[] = {y[0].data(), y[1].data()};
    const std::span<const float> hs[] = {h, h};
    b->convolve(xp, n, (taps - 1) / 2, hs, yp, n);
    *counters = *b->device_counters();
    return y;
  };
  lq::dev::Counters one, three;
  const auto a = run(1, &one), b = run(3, &three);
  EXPECT_TRUE(lq::test::bit_equal(a[0], b[0]));
  EXPECT_TRUE(lq::test::bit_equal(a[1], b[1]));
  EXPECT_EQ(one.syncs, 1);
  EXPECT_EQ(one.h2d_bytes, 2 * n * 4 + taps * 4 + 2 * 4);  // the input, the taps, each channel's filter
  EXPECT_EQ(one.d2h_bytes, 2 * n * 4);
  // 7 segments of k - taps + 1 outputs per channel, 14 frames in batches of 2: gather, multiply and
  // scatter per batch, and the spectrum's widening and scaling once.
  EXPECT_EQ(one.launches, 3 * 7 + 2);
  EXPECT_EQ(one.ffts, 2 * 7 + 1);
  EXPECT_EQ(one.launches, three.launches);
  EXPECT_EQ(one.peak_device_bytes, three.peak_device_bytes);
}

// The compressor costs one sync; the limiter one for its first reading, one a pass and one a
// safety round, and one at the end: never one a recurrence round (the chunks' fix-up walks on the
// device) nor one a span.
TEST(DeviceBackend, TheDynamicsSyncOnceACallAndTheLimiterOnceAPass) {
  lq::cpu::ThreadPool pool(2);
  auto b = lq::make_cuda_host_backend(pool);
  lq::AudioBuffer a(2, 200003, 48000.0);
  a.channels[0] = noise(200003, 6);
  a.channels[1] = noise(200003, 7);
  for (auto& c : a.channels)
    for (float& v : c) v *= 4.0f;  // about 12 dB over full scale at its peaks
  lq::dsp::CompressorParams cp;
  cp.threshold_db = -20.0, cp.ratio = 4.0, cp.stereo_link = 0.5;
  const int64_t before = b->device_counters()->syncs;
  const auto cs = b->compress(a, cp);
  EXPECT_GT(cs.max_gain_reduction_db, 1.0);
  EXPECT_EQ(b->device_counters()->syncs - before, 1);
  const int64_t mid = b->device_counters()->syncs;
  const auto ls = b->limit_true_peak(a, {});
  ASSERT_GE(ls.passes, 1);
  EXPECT_EQ(b->device_counters()->syncs - mid, 1 + ls.passes + ls.safety_rounds + 1);
}
