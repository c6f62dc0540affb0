// Per-stage CPU micro-benchmarks (Google Benchmark), in the field's units: samples per second of
// one channel (items/s), with the FFT-only floor beside the convolution figures.
//
//   build/benchmarks/stage_bench [--benchmark_filter=Convolve] [--benchmark_format=json]
//
// Every benchmark checks its output once before it is timed (a finite, non-trivial result), so a
// broken stage cannot post a fast time. Threads: the stage's own pool (2 = this project's CI size);
// the convolution and FFT figures are per core (1 thread) so that they compare with the floor.
#include <benchmark/benchmark.h>
#include <fftw3.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <vector>

#include "host/audio_io.hpp"
#include "host/backend.hpp"
#include "host/eq_design.hpp"
#include "host/loudness.hpp"
#include "kernels/cpu/convolver.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/reconstruction_peak.hpp"

namespace {

constexpr double kRate = 48000.0;
constexpr int64_t kFrames = 48000 * 30;  // 30 s per channel

std::vector<float> music_like(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = double(i) / kRate;
    const float hit = static_cast<float>(std::exp(-std::fmod(t, 0.5) * 12.0));
    x[size_t(i)] = 0.3f * hit * g(rng) + 0.2f * static_cast<float>(std::sin(2 * 3.14159265358979 * 110.0 * t));
  }
  return x;
}

lq::AudioBuffer stereo(int64_t n) {
  lq::AudioBuffer a(2, n, kRate);
  a.channels[0] = music_like(n, 1);
  a.channels[1] = music_like(n, 2);
  return a;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("stage_bench: output check failed: ") + what);
}

// Overlap-save convolution of one channel with a filter of `taps` taps (1 thread).
void Convolve(benchmark::State& state) {
  const int64_t taps = state.range(0);
  const auto h = music_like(taps, 3);
  const auto x = music_like(kFrames, 4);
  std::vector<float> y(static_cast<size_t>(kFrames));
  lq::cpu::ThreadPool pool(1);
  const lq::cpu::Convolver conv(h);
  conv.process(x.data(), kFrames, (taps - 1) / 2, y.data(), kFrames, pool);
  check(std::isfinite(y[size_t(kFrames / 2)]) && y[size_t(kFrames / 2)] != 0.0f, "convolution");
  for (auto _ : state) {
    conv.process(x.data(), kFrames, (taps - 1) / 2, y.data(), kFrames, pool);
    benchmark::DoNotOptimize(y.data());
  }
  const int64_t k = conv.fft_size();
  state.counters["fft_size"] = double(k);
  state.counters["hop"] = double(k - taps + 1);
  state.SetItemsProcessed(state.iterations() * kFrames);
}
BENCHMARK(Convolve)->Arg(2049)->Arg(8193)->Arg(65535)->Arg(144000)->Arg(288000)->Unit(benchmark::kMillisecond);

// The floor of Convolve: the same number of R2C + C2R transforms of the same size, nothing else.
// Planned like the convolver's (its shipped wisdom, FFTW_ESTIMATE where there is none).
void FftFloor(benchmark::State& state) {
  const int64_t taps = state.range(0);
  const int64_t k = lq::cpu::convolver_fft_size(taps), hop = k - taps + 1, blocks = (kFrames + hop - 1) / hop;
  float* r = fftwf_alloc_real(size_t(k));
  fftwf_complex* c = fftwf_alloc_complex(size_t(k / 2 + 1));
  state.counters["wisdom"] = lq::cpu::fft_plans_from_wisdom(k) ? 1 : 0;  // the convolver's plans, imported
  fftwf_plan f, b;
  {
    std::lock_guard lock(lq::cpu::fftw_planner_mutex());
    f = fftwf_plan_dft_r2c_1d(int(k), r, c, FFTW_ESTIMATE);
    b = fftwf_plan_dft_c2r_1d(int(k), c, r, FFTW_ESTIMATE);
  }
  for (int64_t i = 0; i < k; ++i) r[i] = float(i % 7) * 0.1f;
  for (auto _ : state) {
    for (int64_t j = 0; j < blocks; ++j) {
      fftwf_execute(f);
      fftwf_execute(b);
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["fft_size"] = double(k);
  state.SetItemsProcessed(state.iterations() * kFrames);
  std::lock_guard lock(lq::cpu::fftw_planner_mutex());
  fftwf_destroy_plan(f);
  fftwf_destroy_plan(b);
  fftwf_free(r);
  fftwf_free(c);
}
BENCHMARK(FftFloor)->Arg(2049)->Arg(8193)->Arg(65535)->Arg(144000)->Arg(288000)->Unit(benchmark::kMillisecond);

// The standard session's EQ (4 bands) designed from scratch.
void EqDesign(benchmark::State& state) {
  std::vector<lq::EqBand> bands(4);
  bands[0] = {lq::EqBandType::low_shelf, 100.0, 3.0};
  bands[1] = {lq::EqBandType::bell, 400.0, -2.0, 1.0};
  bands[2] = {lq::EqBandType::bell, 3000.0, 2.0, 1.0};
  bands[3] = {lq::EqBandType::high_shelf, 10000.0, 1.5};
  check(lq::design_linear_phase_eq(bands, kRate).max_error_db <= 0.1, "EQ design error");
  for (auto _ : state) benchmark::DoNotOptimize(lq::design_linear_phase_eq(bands, kRate));
}
BENCHMARK(EqDesign)->Unit(benchmark::kMillisecond);

void Compressor(benchmark::State& state) {
  const lq::AudioBuffer in = stereo(kFrames);
  lq::cpu::ThreadPool pool(int(state.range(0)));
  lq::dsp::CompressorParams p;  // the standard session's: -18 dB, 4:1, 10/100 ms
  {
    lq::AudioBuffer a = in;
    check(lq::cpu::compress(a, p, pool).max_gain_reduction_db > 1.0, "compressor reduces");
  }
  for (auto _ : state) {
    state.PauseTiming();
    lq::AudioBuffer a = in;
    state.ResumeTiming();
    benchmark::DoNotOptimize(lq::cpu::compress(a, p, pool));
  }
  state.SetItemsProcessed(state.iterations() * kFrames * 2);
}
BENCHMARK(Compressor)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void LimiterWithTruePeak(benchmark::State& state) {
  lq::AudioBuffer in = stereo(kFrames);
  for (auto& ch : in.channels) {
    for (float& v : ch) v *= 2.5f;  // about 4 dB over a -1 dBTP ceiling
  }
  lq::cpu::ThreadPool pool(int(state.range(0)));
  const lq::dsp::LimiterParams p;
  {
    lq::AudioBuffer a = in;
    check(lq::cpu::limit_true_peak(a, p, pool).max_gain_reduction_db > 1.0, "limiter reduces");
  }
  for (auto _ : state) {
    state.PauseTiming();
    lq::AudioBuffer a = in;
    state.ResumeTiming();
    benchmark::DoNotOptimize(lq::cpu::limit_true_peak(a, p, pool));
  }
  state.SetItemsProcessed(state.iterations() * kFrames * 2);
}
BENCHMARK(LimiterWithTruePeak)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// The whole meter: K-weighted energies, gating, range, momentary/short-term maxima, true peak.
void LoudnessMeterWithTruePeak(benchmark::State& state) {
  const lq::AudioBuffer in = stereo(kFrames);
  lq::cpu::ThreadPool pool(int(state.range(0)));
  check(std::isfinite(lq::measure_loudness(in, pool).integrated_lufs), "integrated loudness");
  for (auto _ : state) benchmark::DoNotOptimize(lq::measure_loudness(in, pool));
  state.SetItemsProcessed(state.iterations() * kFrames * 2);
}
BENCHMARK(LoudnessMeterWithTruePeak)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// The reconstruction bound (the verify's read of a limited master): the 4x grid by FFT and the
// 64x refinement of the intervals near the peak.
void ReconstructionBound(benchmark::State& state) {
  lq::AudioBuffer in = stereo(kFrames);
  lq::cpu::ThreadPool pool(int(state.range(0)));
  {
    lq::AudioBuffer a = in;
    lq::cpu::limit_true_peak(a, lq::dsp::LimiterParams{}, pool);
    in = std::move(a);
  }
  check(lq::cpu::reconstruction_peak(in, pool) > 0.5, "bound of a limited master");
  for (auto _ : state) benchmark::DoNotOptimize(lq::cpu::reconstruction_peak(in, pool));
  state.SetItemsProcessed(state.iterations() * kFrames * 2);
}
BENCHMARK(ReconstructionBound)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// Decode and encode of a 24-bit stereo WAV (30 s).
void EncodeDecode(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "lacquer-stage-bench";
  std::filesystem::create_directories(dir);
  const auto file = dir / "x.wav";
  lq::AudioBuffer in = stereo(kFrames);
  lq::EncodeSpec enc;
  enc.dither_seed = 1;
  lq::quantize_in_place(in, enc);
  const bool decode = state.range(0) == 1;
  lq::write_audio_atomic(file, in, enc);
  check(lq::read_audio(file).frames() == kFrames, "decode length");
  for (auto _ : state) {
    if (decode) {
      benchmark::DoNotOptimize(lq::read_audio(file));
    } else {
      lq::write_audio_atomic(file, in, enc);
    }
  }
  state.SetLabel(decode ? "decode" : "encode");
  state.SetItemsProcessed(state.iterations() * kFrames * 2);
  std::filesystem::remove_all(dir);
}
BENCHMARK(EncodeDecode)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
