// The device backends against the CPU backend (host/backend.hpp), stage by stage, on seeded random
// 2-channel input of a few seconds whose lengths are not powers of two: every sample within 1e-5
// of full scale, the stages' statistics within 0.01 dB, the meter's energies within 1e-6 relative
// and its figures within 0.01 LU, the peak scans equal; and every stage gives the same bits twice.
// Each test runs on four backends: `cuda` on a GPU (skipped without one, a failure under
// LQ_REQUIRE_GPU=1) and the host executor of the same orchestration (`cuda-host`, on every
// machine), each with the default convolution batch and with batches of 2^16 samples (so a few
// seconds of audio runs through many batches). Parity only shows that the executors agree:
// tests/dsp and tests/reference show the math is right.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numbers>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "host/backend.hpp"
#include "host/device_backend.hpp"
#include "host/devices.hpp"
#include "host/loudness.hpp"
#include "kernels/dsp/common.hpp"
#include "support/expect_close.hpp"
#include "support/test_files.hpp"

namespace {

using Channels = std::vector<std::vector<float>>;

const lq::test::Tolerance kSampleTol{1e-5, 0.0, "cuFFT vs FFTW rounding / device libm"};
constexpr double kStatTolDb = 0.01;  // DynamicsStats, LimiterStats, loudness figures (dB or LU)

// A few seconds plus 1..1000 frames: between 2^17 and 2^18 frames at 48 kHz for 3.5 s.
int64_t odd_length(double seconds, double fs, std::mt19937& rng) {
  return static_cast<int64_t>(seconds * fs) + 1 + static_cast<int64_t>(rng() % 1000);
}

// Gaussian noise under a slow random envelope (0.05..1 of `level`), independent per channel.
Channels music_like_noise(int64_t n, double fs, float level, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<double> u(0.05, 1.0);
  Channels x(2, std::vector<float>(static_cast<size_t>(n)));
  const double segment = 0.25 * fs;
  double env[2] = {u(rng), u(rng)};
  for (int64_t i = 0; i < n; ++i) {
    if (i % static_cast<int64_t>(segment) == 0) env[0] = u(rng), env[1] = u(rng);
    for (int c = 0; c < 2; ++c) x[size_t(c)][size_t(i)] = level * static_cast<float>(env[c]) * g(rng);
  }
  return x;
}

// Gaussian noise in bursts (loud for a random 3000..9000 frames, then 0.02 as loud), the right
// channel at a random 0.3..1 of the left's level: the compressor's and limiter's test material.
lq::AudioBuffer noise_bursts(int64_t n, double fs, float level, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> len(3000, 9000);
  const float right = std::uniform_real_distribution<float>(0.3f, 1.0f)(rng);
  lq::AudioBuffer b(2, n, fs);
  bool loud = true;
  for (int64_t i = 0, next = len(rng); i < n; ++i) {
    if (i == next) loud = !loud, next += len(rng);
    const float env = loud ? level : 0.02f * level;
    b.channels[0][size_t(i)] = env * g(rng);
    b.channels[1][size_t(i)] = right * env * g(rng);
  }
  return b;
}

// An EQ-like linear-phase FIR: a unit impulse at the centre plus three Blackman-windowed band-pass
// sincs with random gains in [-0.5, 0.5] (boosts and cuts); symmetric, odd length.
std::vector<float> eq_like_fir(int64_t taps, double fs, std::mt19937& rng) {
  std::uniform_real_distribution<double> gain(-0.5, 0.5), edge(40.0, 16000.0);
  const int64_t mid = (taps - 1) / 2;
  std::vector<double> h(static_cast<size_t>(taps), 0.0);
  h[size_t(mid)] = 1.0;
  auto lowpass = [&](double fc, int64_t k) {  // ideal low-pass impulse response, cutoff fc Hz
    const double w = 2.0 * fc / fs;
    return k == 0 ? w : std::sin(std::numbers::pi * w * double(k)) / (std::numbers::pi * double(k));
  };
  for (int band = 0; band < 3; ++band) {
    double lo = edge(rng), hi = edge(rng);
    if (lo > hi) std::swap(lo, hi);
    const double g = gain(rng);
    for (int64_t i = 0; i < taps; ++i) {
      const double t = 2.0 * std::numbers::pi * double(i) / double(taps - 1);
      const double blackman = 0.42 - 0.5 * std::cos(t) + 0.08 * std::cos(2.0 * t);
      h[size_t(i)] += g * blackman * (lowpass(hi, i - mid) - lowpass(lo, i - mid));
    }
  }
  return std::vector<float>(h.begin(), h.end());
}

// A reverb-like IR: noise decaying with a random 0.2..0.4 s time constant, scaled to an L2 norm of
// 0.25 (a wet return of about -20 dB on full-scale noise).
std::vector<float> decaying_noise_ir(int64_t taps, double fs, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  const double tau = std::uniform_real_distribution<double>(0.2, 0.4)(rng) * fs;
  std::vector<double> h(static_cast<size_t>(taps));
  double norm = 0.0;
  for (int64_t i = 0; i < taps; ++i) {
    h[size_t(i)] = std::exp(-double(i) / tau) * g(rng);
    norm += h[size_t(i)] * h[size_t(i)];
  }
  std::vector<float> out(h.size());
  for (size_t i = 0; i < h.size(); ++i) out[i] = static_cast<float>(0.25 * h[i] / std::sqrt(norm));
  return out;
}

// backend.convolve over planar channels; the outputs start as NaN so an unwritten sample fails.
Channels convolve(lq::Backend& b, const Channels& x, int64_t offset, const std::vector<std::span<const float>>& taps,
                  int64_t n_out) {
  std::vector<const float*> xp;
  for (const auto& c : x) xp.push_back(c.data());
  Channels y(x.size(), std::vector<float>(static_cast<size_t>(n_out), std::numeric_limits<float>::quiet_NaN()));
  std::vector<float*> yp;
  for (auto& c : y) yp.push_back(c.data());
  b.convolve(xp, static_cast<int64_t>(x[0].size()), offset, taps, yp, n_out);
  return y;
}

double max_abs(const Channels& x) {
  double m = 0.0;
  for (const auto& c : x)
    for (float v : c) m = std::max(m, std::fabs(double(v)));
  return m;
}

lq::AudioBuffer buffer_of(Channels x, double fs) {
  lq::AudioBuffer b;
  b.sample_rate = fs;
  b.channels = std::move(x);
  return b;
}

void expect_channels_close(const Channels& cuda, const Channels& cpu, const std::string& what) {
  ASSERT_EQ(cuda.size(), cpu.size()) << what;
  for (size_t c = 0; c < cpu.size(); ++c) {
    EXPECT_TRUE(lq::test::all_close(cuda[c], cpu[c], kSampleTol)) << what << ", channel " << c;
  }
}

void expect_channels_bit_equal(const Channels& a, const Channels& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t c = 0; c < a.size(); ++c) EXPECT_TRUE(lq::test::bit_equal(a[c], b[c])) << what << ", channel " << c;
}

// The compressor settings compared: full link with a hard knee, unlinked, partly linked with auto
// makeup, and a soft knee with look-ahead.
std::vector<std::pair<std::string, lq::dsp::CompressorParams>> compressor_settings() {
  lq::dsp::CompressorParams linked;
  linked.threshold_db = -20.0, linked.ratio = 4.0, linked.knee_db = 0.0;
  linked.attack_ms = 5.0, linked.release_ms = 80.0, linked.stereo_link = 1.0;
  lq::dsp::CompressorParams unlinked = linked;
  unlinked.stereo_link = 0.0, unlinked.knee_db = 6.0, unlinked.makeup_db = 2.0;
  lq::dsp::CompressorParams partial = linked;
  partial.stereo_link = 0.5, partial.knee_db = 6.0, partial.ratio = 3.0, partial.auto_makeup = true;
  lq::dsp::CompressorParams soft_lookahead = linked;
  soft_lookahead.knee_db = 12.0, soft_lookahead.lookahead_ms = 5.0, soft_lookahead.ratio = 8.0;
  soft_lookahead.attack_ms = 1.0, soft_lookahead.release_ms = 200.0;
  return {{"linked, hard knee", linked},
          {"unlinked (stereo_link 0)", unlinked},
          {"stereo_link 0.5, auto makeup", partial},
          {"look-ahead 5 ms, 12 dB soft knee", soft_lookahead}};
}

enum LimiterSignal { kClippedBursts, kNearFullScaleSine, kSquare, kDrumHits, kUnderCeiling, kLimiterSignals };
const char* const kLimiterSignalNames[] = {"clipped noise bursts", "sine near full scale", "square wave",
                                           "drum-like hits", "already under the ceiling"};

// One limiter test signal, 3 s plus a few frames at 48 kHz. All but kUnderCeiling have true peaks
// at or above full scale (over -0.1 dBTP by 0.1 dB for the sine, by about 3 dB for the rest);
// kUnderCeiling's true peak (as `meter` reads it) is 1..3 dB below `ceiling_dbtp`.
lq::AudioBuffer limiter_signal(LimiterSignal kind, double ceiling_dbtp, lq::Backend& meter, std::mt19937& rng) {
  const double fs = 48000.0;
  const int64_t n = odd_length(3.0, fs, rng);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 1.0);
  lq::AudioBuffer b(2, n, fs);
  const double f0 = 9000.0 + 3000.0 * u(rng), phase = 2.0 * std::numbers::pi * u(rng);
  const double fsq = 50.0 + 500.0 * u(rng);
  if (kind == kClippedBursts) b = noise_bursts(n, fs, 1.0f, rng);
  for (int64_t i = 0; i < n; ++i) {
    const double t = double(i) / fs;
    float* s[2] = {&b.channels[0][size_t(i)], &b.channels[1][size_t(i)]};
    switch (kind) {
      case kClippedBursts:  // bursts of unit-sigma noise hard-clipped at 1.4 (3 dB over full scale)
        for (float* v : s) *v = std::clamp(*v, -1.4f, 1.4f);
        break;
      case kNearFullScaleSine:  // 0.999 FS, 9-12 kHz: inter-sample peaks above the sample peak
        *s[0] = static_cast<float>(0.999 * std::sin(2.0 * std::numbers::pi * f0 * t + phase));
        *s[1] = static_cast<float>(0.999 * std::sin(2.0 * std::numbers::pi * f0 * t + phase + 1.0));
        break;
      case kSquare:
        *s[0] = std::fmod(t * fsq, 1.0) < 0.5 ? 1.0f : -1.0f;
        *s[1] = std::fmod(t * fsq * 1.5, 1.0) < 0.5 ? 1.0f : -1.0f;
        break;
      case kDrumHits: {  // decaying noise hits every 125 ms, peaks up to about 1.5
        const double env = 0.4 * std::exp(-std::fmod(t, 0.125) * 40.0);
        *s[0] = static_cast<float>(env * g(rng));
        *s[1] = static_cast<float>(env * g(rng));
        break;
      }
      default:
        *s[0] = static_cast<float>(0.2 * g(rng));
        *s[1] = static_cast<float>(0.2 * g(rng));
    }
  }
  if (kind == kUnderCeiling) {
    const double want = lq::dsp::db_to_linear(ceiling_dbtp - 1.0 - 2.0 * u(rng));
    const auto scale = static_cast<float>(want / meter.true_peak_scan(b));
    for (auto& c : b.channels)
      for (float& v : c) v *= scale;
  }
  return b;
}

struct BackendUnderTest {
  std::string name;       // "cuda" or "cuda-host"
  int64_t batch_samples;  // the convolution batch (DeviceBackendOptions)
};

void PrintTo(const BackendUnderTest& b, std::ostream* os) { *os << b.name << ", batches of " << b.batch_samples << " samples"; }

class CudaBackendParity : public ::testing::TestWithParam<BackendUnderTest> {
 protected:
  void SetUp() override {
    lq::DeviceBackendOptions options;
    options.batch_samples = GetParam().batch_samples;
    if (GetParam().name == "cuda-host") {
      cuda_ = lq::make_cuda_host_backend(pool_, options);
      return;
    }
    std::string why;
    if (!lq::cuda_usable(&why)) {
      // On a machine that has a GPU (LQ_REQUIRE_GPU=1) a skip would read as a pass: fail instead.
      const char* required = std::getenv("LQ_REQUIRE_GPU");
      if (required && std::string(required) == "1") FAIL() << "LQ_REQUIRE_GPU=1 but no usable GPU: " << why;
      GTEST_SKIP() << "no usable GPU: " << why;
    }
    cuda_ = lq::make_cuda_device_backend(0, options);
  }

  lq::cpu::ThreadPool pool_{0};
  lq::CpuBackend cpu_{pool_};
  std::unique_ptr<lq::Backend> cuda_;
};

}  // namespace

TEST_P(CudaBackendParity, TheCudaBackendNamesItselfAndItsDevice) {
  EXPECT_EQ(cuda_->name(), GetParam().name);
  EXPECT_FALSE(cuda_->device().empty());
  std::printf("cuda backend: %s\n", cuda_->device().c_str());
}

TEST_P(CudaBackendParity, LinearPhaseEqFirSharedByBothChannelsAgrees) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const double fs = 48000.0;
  const int64_t n = odd_length(3.5, fs, rng), taps = 2881;
  const Channels x = music_like_noise(n, fs, 0.25f, rng);
  const std::vector<float> h = eq_like_fir(taps, fs, rng);
  const std::vector<std::span<const float>> both{h, h};  // the same span: one spectrum
  const Channels cpu = convolve(cpu_, x, (taps - 1) / 2, both, n);
  const Channels cuda = convolve(*cuda_, x, (taps - 1) / 2, both, n);
  expect_channels_close(cuda, cpu, "EQ FIR, 2881 taps");
}

TEST_P(CudaBackendParity, ReverbIrsPerChannelWithTheirTailsAgree) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const double fs = 48000.0;
  const int64_t n = odd_length(4.0, fs, rng), taps = static_cast<int64_t>(1.5 * fs);
  const Channels x = music_like_noise(n, fs, 0.5f, rng);
  const std::vector<float> hl = decaying_noise_ir(taps, fs, rng), hr = decaying_noise_ir(taps, fs, rng);
  const std::vector<std::span<const float>> irs{hl, hr};
  const Channels cpu = convolve(cpu_, x, 0, irs, n + taps - 1);
  ASSERT_LT(max_abs(cpu), 1.0) << "the test's IR scaling should keep the wet signal under full scale";
  const Channels cuda = convolve(*cuda_, x, 0, irs, n + taps - 1);
  expect_channels_close(cuda, cpu, "1.5 s IRs, full convolution with tail");
}

TEST_P(CudaBackendParity, ReverbOnAMinuteOfAudioLongerThanOneFftBatchAgrees) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const double fs = 48000.0;
  const int64_t n = odd_length(60.0, fs, rng), taps = static_cast<int64_t>(1.5 * fs);
  const Channels x = music_like_noise(n, fs, 0.5f, rng);
  const std::vector<float> hl = decaying_noise_ir(taps, fs, rng), hr = decaying_noise_ir(taps, fs, rng);
  const std::vector<std::span<const float>> irs{hl, hr};
  const Channels cpu = convolve(cpu_, x, 0, irs, n + taps - 1);
  ASSERT_LT(max_abs(cpu), 1.0);
  const Channels cuda = convolve(*cuda_, x, 0, irs, n + taps - 1);
  expect_channels_close(cuda, cpu, "60 s through 1.5 s IRs");
}

TEST_P(CudaBackendParity, SingleTapFilterAgrees) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const double fs = 48000.0;
  const int64_t n = odd_length(3.0, fs, rng);
  const Channels x = music_like_noise(n, fs, 0.5f, rng);
  const std::vector<float> h{0.7f};
  const std::vector<std::span<const float>> both{h, h};
  const Channels cpu = convolve(cpu_, x, 0, both, n);
  const Channels cuda = convolve(*cuda_, x, 0, both, n);
  expect_channels_close(cuda, cpu, "L = 1");
}

// Paths the stereo tests above do not take: three channels with three filter lengths in one call
// (three FFT sizes, two channels sharing a filter by value but not by span), a mono call, 44.1 and
// 96 kHz, and the meter over channel selections other than {0, 1}.
TEST_P(CudaBackendParity, MixedFilterLengthsMonoAndOtherChannelSelectionsAgree) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const double fs : {44100.0, 96000.0}) {
    SCOPED_TRACE(std::to_string(int(fs)) + " Hz");
    const int64_t n = odd_length(2.0, fs, rng);
    Channels x = music_like_noise(n, fs, 0.3f, rng);
    x.push_back(music_like_noise(n, fs, 0.3f, rng)[0]);
    const std::vector<float> a = eq_like_fir(1001, fs, rng), b = eq_like_fir(8193, fs, rng), c = decaying_noise_ir(20000, fs, rng);
    const std::vector<float> a_copy = a;
    const std::vector<std::span<const float>> mixed{b, c, a};
    expect_channels_close(convolve(*cuda_, x, 0, mixed, n + 19999), convolve(cpu_, x, 0, mixed, n + 19999),
                          "three lengths, full convolution");
    const std::vector<std::span<const float>> shared_by_value{a, a_copy, b};
    expect_channels_close(convolve(*cuda_, x, 500, shared_by_value, n), convolve(cpu_, x, 500, shared_by_value, n),
                          "equal taps in two spans");
    const Channels mono{x[2]};
    const std::vector<std::span<const float>> one{b};
    expect_channels_close(convolve(*cuda_, mono, 4096, one, n), convolve(cpu_, mono, 4096, one, n), "mono");

    const lq::AudioBuffer audio = buffer_of(x, fs);
    const int64_t segment = std::llround(fs / 100.0);
    for (const std::vector<int>& channels : {std::vector<int>{2, 0}, std::vector<int>{1}, std::vector<int>{}}) {
      const auto e_cpu = cpu_.k_weighted_segment_energies(audio, channels, segment);
      const auto e_cuda = cuda_->k_weighted_segment_energies(audio, channels, segment);
      ASSERT_EQ(e_cuda.size(), channels.size());
      for (size_t j = 0; j < e_cpu.size(); ++j) {
        EXPECT_TRUE(lq::test::all_close(e_cuda[j], e_cpu[j], {1e-12, 1e-6, "float64 biquads"})) << "selection entry " << j;
      }
    }
    const lq::AudioBuffer mono_audio = buffer_of(mono, fs);
    EXPECT_EQ(cuda_->sample_peak_scan(mono_audio), cpu_.sample_peak_scan(mono_audio));
    EXPECT_NEAR(cuda_->true_peak_scan(audio), cpu_.true_peak_scan(audio), 1e-9);
  }
}

TEST_P(CudaBackendParity, CompressorAgreesInSamplesAndGainReductionForEachSetting) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const double fs = 48000.0;
  const lq::AudioBuffer input = noise_bursts(odd_length(4.0, fs, rng), fs, 0.3f, rng);
  for (const auto& [what, params] : compressor_settings()) {
    SCOPED_TRACE(what);
    lq::AudioBuffer cpu = input, cuda = input;
    const auto s_cpu = cpu_.compress(cpu, params);
    const auto s_cuda = cuda_->compress(cuda, params);
    ASSERT_GT(s_cpu.max_gain_reduction_db, 1.0) << "the material should drive the compressor";
    expect_channels_close(cuda.channels, cpu.channels, what);
    EXPECT_NEAR(s_cuda.max_gain_reduction_db, s_cpu.max_gain_reduction_db, kStatTolDb);
    EXPECT_NEAR(s_cuda.mean_gain_reduction_db, s_cpu.mean_gain_reduction_db, kStatTolDb);
  }
}

TEST_P(CudaBackendParity, LimiterAgreesAndKeepsTheCeilingOnFiveSignalsAtTwoCeilings) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const double ceiling : {-1.0, -0.1}) {
    for (int k = 0; k < kLimiterSignals; ++k) {
      const auto kind = static_cast<LimiterSignal>(k);
      const std::string what = std::string(kLimiterSignalNames[k]) + ", ceiling " + std::to_string(ceiling) + " dBTP";
      SCOPED_TRACE(what);
      const lq::AudioBuffer input = limiter_signal(kind, ceiling, cpu_, rng);
      lq::dsp::LimiterParams params;
      params.ceiling_dbtp = ceiling;
      lq::AudioBuffer cpu = input, cuda = input;
      const auto s_cpu = cpu_.limit_true_peak(cpu, params);
      const auto s_cuda = cuda_->limit_true_peak(cuda, params);
      if (kind == kUnderCeiling) {
        ASSERT_LE(cpu_.true_peak_scan(input), lq::dsp::db_to_linear(ceiling));
        expect_channels_bit_equal(cpu.channels, input.channels, "CPU, under the ceiling");
        expect_channels_bit_equal(cuda.channels, input.channels, "CUDA, under the ceiling");
        EXPECT_EQ(s_cuda.max_gain_reduction_db, 0.0);
      } else {
        ASSERT_GT(s_cpu.max_gain_reduction_db, 0.0) << "the signal should drive the limiter";
        expect_channels_close(cuda.channels, cpu.channels, what);
      }
      EXPECT_LE(cpu_.true_peak_scan(cuda), lq::dsp::db_to_linear(ceiling)) << "CUDA output over the ceiling";
      // With more than one pass the CPU's largest reduction is an upper bound (kernels/cpu/dynamics.hpp)
      // and CUDA's the exact maximum of its total gain: they may differ by what the later passes trimmed.
      const double later = s_cpu.passes > 1 || s_cpu.safety_rounds > 0 ? s_cpu.over_after_first_pass_db : 0.0;
      EXPECT_GE(s_cpu.max_gain_reduction_db, s_cuda.max_gain_reduction_db - kStatTolDb);
      EXPECT_LE(s_cpu.max_gain_reduction_db, s_cuda.max_gain_reduction_db + kStatTolDb + later);
      EXPECT_NEAR(s_cuda.mean_gain_reduction_db, s_cpu.mean_gain_reduction_db, kStatTolDb);
      EXPECT_NEAR(s_cuda.output_true_peak_dbtp, s_cpu.output_true_peak_dbtp, kStatTolDb);
    }
  }
}

TEST_P(CudaBackendParity, KWeightedSegmentEnergiesAndLoudnessAgreeAtThreeRates) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const double fs : {44100.0, 48000.0, 96000.0}) {
    SCOPED_TRACE(std::to_string(int(fs)) + " Hz");
    // 12 s of level-varying noise, with 0.5 s of digital silence and 0.5 s at -80 dBFS in it.
    lq::AudioBuffer audio = buffer_of(music_like_noise(odd_length(12.0, fs, rng), fs, 0.3f, rng), fs);
    const auto quiet_from = static_cast<size_t>(5.0 * fs), len = static_cast<size_t>(0.5 * fs);
    for (auto& c : audio.channels) {
      std::fill_n(c.begin() + static_cast<std::ptrdiff_t>(quiet_from), len, 0.0f);
      for (size_t i = quiet_from + len; i < quiet_from + 2 * len; ++i) c[i] *= 1e-4f / 0.3f;
    }
    const int64_t segment = std::llround(fs / 100.0);
    const std::vector<int> channels{0, 1};
    const auto e_cpu = cpu_.k_weighted_segment_energies(audio, channels, segment);
    const auto e_cuda = cuda_->k_weighted_segment_energies(audio, channels, segment);
    ASSERT_EQ(e_cuda.size(), e_cpu.size());
    for (size_t j = 0; j < e_cpu.size(); ++j) {
      ASSERT_EQ(e_cuda[j].size(), e_cpu[j].size());
      ASSERT_EQ(static_cast<int64_t>(e_cpu[j].size()), audio.frames() / segment);
      // Relative 1e-6 where the energy is above 1e-12; absolute 1e-12 below (the silent stretch).
      std::vector<double> loud_cpu, loud_cuda, quiet_cpu, quiet_cuda;
      for (size_t k = 0; k < e_cpu[j].size(); ++k) {
        const bool loud = e_cpu[j][k] > 1e-12;
        (loud ? loud_cpu : quiet_cpu).push_back(e_cpu[j][k]);
        (loud ? loud_cuda : quiet_cuda).push_back(e_cuda[j][k]);
      }
      ASSERT_FALSE(quiet_cpu.empty()) << "the silent stretch should give segments without energy";
      // (Plus 1e-15 absolute, -150 dB: segments just over the floor carry the chunk states'
      // rounding, about 1e-10 of full scale, relative to their own tiny energy.)
      EXPECT_TRUE(lq::test::all_close(loud_cuda, loud_cpu, {1e-15, 1e-6, "float64 biquads, carried chunk states"}))
          << "channel " << j;
      EXPECT_TRUE(lq::test::all_close(quiet_cuda, quiet_cpu, {1e-12, 0.0, "below the relative comparison's floor"}))
          << "channel " << j;
    }
    // The meter's figures with the sample passes on each backend (the gating is the host's).
    const auto m_cpu = lq::measure_loudness(audio, cpu_);
    const auto m_cuda = lq::measure_loudness(audio, *cuda_);
    ASSERT_TRUE(m_cpu.integrated_defined);
    EXPECT_TRUE(m_cuda.integrated_defined);
    EXPECT_NEAR(m_cuda.integrated_lufs, m_cpu.integrated_lufs, kStatTolDb);
    EXPECT_NEAR(m_cuda.loudness_range_lu, m_cpu.loudness_range_lu, kStatTolDb);
    EXPECT_NEAR(m_cuda.max_momentary_lufs, m_cpu.max_momentary_lufs, kStatTolDb);
    EXPECT_NEAR(m_cuda.max_short_term_lufs, m_cpu.max_short_term_lufs, kStatTolDb);
    EXPECT_NEAR(m_cuda.true_peak_dbtp, m_cpu.true_peak_dbtp, kStatTolDb);
    EXPECT_EQ(m_cuda.sample_peak_dbfs, m_cpu.sample_peak_dbfs);
    EXPECT_NEAR(lq::integrated_loudness(audio, *cuda_), lq::integrated_loudness(audio, pool_), kStatTolDb);
  }
}

TEST_P(CudaBackendParity, PeakScansAgreeAndTheSamplePeakExactly) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<std::pair<std::string, lq::AudioBuffer>> signals;
  for (const double fs : {44100.0, 48000.0, 96000.0}) {
    signals.emplace_back("noise at " + std::to_string(int(fs)), buffer_of(music_like_noise(odd_length(3.0, fs, rng), fs, 0.4f, rng), fs));
  }
  for (int k = 0; k < kLimiterSignals; ++k) signals.emplace_back(kLimiterSignalNames[k], limiter_signal(LimiterSignal(k), -1.0, cpu_, rng));
  for (const auto& [what, audio] : signals) {
    SCOPED_TRACE(what);
    const double tp_cpu = cpu_.true_peak_scan(audio), tp_cuda = cuda_->true_peak_scan(audio);
    ASSERT_GT(tp_cpu, 0.0);
    EXPECT_LE(std::fabs(tp_cuda - tp_cpu), 1e-9 * tp_cpu) << "true peak " << tp_cuda << " vs " << tp_cpu;
    EXPECT_EQ(cuda_->sample_peak_scan(audio), cpu_.sample_peak_scan(audio));
  }
}

TEST_P(CudaBackendParity, EveryCudaStageGivesTheSameBitsTwice) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const double fs = 48000.0;
  const int64_t n = odd_length(4.0, fs, rng);
  const Channels x = music_like_noise(n, fs, 0.5f, rng);

  const std::vector<float> eq = eq_like_fir(2881, fs, rng);
  const std::vector<std::span<const float>> eq_both{eq, eq};
  expect_channels_bit_equal(convolve(*cuda_, x, 1440, eq_both, n), convolve(*cuda_, x, 1440, eq_both, n), "EQ FIR");

  const auto taps = static_cast<int64_t>(1.5 * fs);
  const std::vector<float> hl = decaying_noise_ir(taps, fs, rng), hr = decaying_noise_ir(taps, fs, rng);
  const std::vector<std::span<const float>> irs{hl, hr};
  expect_channels_bit_equal(convolve(*cuda_, x, 0, irs, n + taps - 1), convolve(*cuda_, x, 0, irs, n + taps - 1),
                            "reverb IRs");

  const lq::AudioBuffer bursts = noise_bursts(n, fs, 0.3f, rng);
  for (const auto& [what, params] : compressor_settings()) {
    lq::AudioBuffer a = bursts, b = bursts;
    const auto sa = cuda_->compress(a, params);
    const auto sb = cuda_->compress(b, params);
    expect_channels_bit_equal(a.channels, b.channels, "compressor, " + what);
    EXPECT_EQ(sa.max_gain_reduction_db, sb.max_gain_reduction_db) << what;
    EXPECT_EQ(sa.mean_gain_reduction_db, sb.mean_gain_reduction_db) << what;
  }

  for (int k = 0; k < kLimiterSignals; ++k) {
    const lq::AudioBuffer input = limiter_signal(LimiterSignal(k), -1.0, cpu_, rng);
    lq::AudioBuffer a = input, b = input;
    const auto sa = cuda_->limit_true_peak(a, {});
    const auto sb = cuda_->limit_true_peak(b, {});
    expect_channels_bit_equal(a.channels, b.channels, std::string("limiter, ") + kLimiterSignalNames[k]);
    EXPECT_EQ(sa.max_gain_reduction_db, sb.max_gain_reduction_db) << kLimiterSignalNames[k];
    EXPECT_EQ(sa.output_true_peak_dbtp, sb.output_true_peak_dbtp) << kLimiterSignalNames[k];
  }

  const lq::AudioBuffer audio = buffer_of(x, fs);
  const std::vector<int> channels{0, 1};
  const auto ea = cuda_->k_weighted_segment_energies(audio, channels, 480);
  const auto eb = cuda_->k_weighted_segment_energies(audio, channels, 480);
  ASSERT_EQ(ea.size(), eb.size());
  for (size_t j = 0; j < ea.size(); ++j) EXPECT_TRUE(lq::test::bit_equal(ea[j], eb[j])) << "energies, channel " << j;
  EXPECT_EQ(cuda_->true_peak_scan(audio), cuda_->true_peak_scan(audio));
  EXPECT_EQ(cuda_->sample_peak_scan(audio), cuda_->sample_peak_scan(audio));
}

INSTANTIATE_TEST_SUITE_P(Backends, CudaBackendParity,
                         ::testing::Values(BackendUnderTest{"cuda", int64_t{1} << 25},
                                           BackendUnderTest{"cuda", int64_t{1} << 16},
                                           BackendUnderTest{"cuda-host", int64_t{1} << 25},
                                           BackendUnderTest{"cuda-host", int64_t{1} << 16}),
                         [](const auto& p) {
                           std::string n = p.param.name == "cuda" ? "Cuda" : "CudaHost";
                           return n + (p.param.batch_samples == (int64_t{1} << 25) ? "" : "SmallBatches");
                         });
