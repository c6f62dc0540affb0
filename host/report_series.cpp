#include "host/report_series.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "host/real_fft.hpp"

namespace lq {

namespace {

using nlohmann::json;

constexpr int64_t kFrame = 4096;
constexpr int64_t kHop = 8 * kFrame;  // an eighth of the song read
constexpr int kChunks = 16;           // fixed partition of the frames: the same sums for any thread count
constexpr double kSilenceLufs = -70.0;

// The series are drawn, not computed with: 0.001 dB (LU) keeps every figure and a third of the text.
double milli(double x) { return std::round(x * 1000.0) / 1000.0; }

json lufs_or_null(double lufs) { return std::isfinite(lufs) && lufs >= kSilenceLufs ? json(milli(lufs)) : json(nullptr); }

json lufs_series(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(lufs_or_null(x));
  return a;
}

}  // namespace

json third_octave_spectrum(const AudioBuffer& audio, cpu::ThreadPool& pool) {
  const double fs = audio.sample_rate;
  std::vector<double> centres;
  for (int k = 14; k <= 43; ++k) {  // 25 Hz .. 20 kHz
    const double fc = std::pow(10.0, k / 10.0);
    if (fc > 0.45 * fs) break;
    centres.push_back(fc);
  }
  const int64_t frames = audio.frames() >= kFrame ? (audio.frames() - kFrame) / kHop + 1 : 0;
  std::vector<double> window(kFrame);
  double w2 = 0.0;
  for (int64_t i = 0; i < kFrame; ++i) {
    window[size_t(i)] = 0.5 - 0.5 * std::cos(2.0 * M_PI * double(i) / double(kFrame));
    w2 += window[size_t(i)] * window[size_t(i)];
  }
  const int64_t bins = kFrame / 2 + 1;
  std::vector<std::vector<double>> partial(kChunks, std::vector<double>(size_t(bins), 0.0));
  pool.parallel_for(kChunks, [&](int64_t chunk) {
    const int64_t f0 = frames * chunk / kChunks, f1 = frames * (chunk + 1) / kChunks;
    if (f0 >= f1) return;
    RealFft fft(kFrame, false);
    std::vector<double>& acc = partial[size_t(chunk)];
    for (int64_t f = f0; f < f1; ++f) {
      for (const auto& ch : audio.channels) {
        const float* x = ch.data() + f * kHop;
        for (int64_t i = 0; i < kFrame; ++i) fft.real[i] = double(x[i]) * window[size_t(i)];
        fftw_execute(fft.plan);
        for (int64_t k = 0; k < bins; ++k) acc[size_t(k)] += fft.bins[k][0] * fft.bins[k][0] + fft.bins[k][1] * fft.bins[k][1];
      }
    }
  });
  std::vector<double> power(size_t(bins), 0.0);
  for (const auto& p : partial) {
    for (int64_t k = 0; k < bins; ++k) power[size_t(k)] += p[size_t(k)];
  }
  // Mean square of a band: 2 * (its one-sided bins' power) / (N * sum w^2), per frame and channel.
  const double norm = frames > 0 ? 2.0 / (double(kFrame) * w2 * double(frames) * double(audio.channel_count())) : 0.0;
  json hz = json::array(), db = json::array();
  for (double fc : centres) {
    const double lo = fc * std::pow(2.0, -1.0 / 6.0), hi = fc * std::pow(2.0, 1.0 / 6.0);
    double sum = 0.0;
    for (int64_t k = 1; k < bins; ++k) {
      const double f = double(k) * fs / double(kFrame);
      if (f >= lo && f < hi) sum += power[size_t(k)];
    }
    hz.push_back(fc);
    db.push_back(sum > 0.0 ? json(milli(10.0 * std::log10(sum * norm))) : json(nullptr));
  }
  return {{"hz", hz}, {"db", db}};
}

json master_series(const LoudnessMeasurement& before, const LoudnessMeasurement& after, double gain_db, json spectrum_before,
                   json spectrum_after) {
  json gr = json::array();
  const double silence = std::pow(10.0, (kSilenceLufs + 0.691) / 10.0);  // a step's energy at -70 LUFS
  const double gain = std::pow(10.0, gain_db / 10.0);
  const size_t steps = std::min(before.energy_100ms.size(), after.energy_100ms.size());
  for (size_t k = 0; k < steps; ++k) {
    const double in = before.energy_100ms[k] * gain, out = after.energy_100ms[k];
    gr.push_back(in > silence && out > 0.0 ? milli(std::max(0.0, 10.0 * std::log10(in / out))) : 0.0);
  }
  json peaks = json::array();
  for (const auto& [frame, value] : after.top_true_peaks) {
    peaks.push_back({{"frame", frame}, {"time_s", double(frame) / after.sample_rate}, {"dbtp", 20.0 * std::log10(value)}});
  }
  return {{"step_s", 0.1},
          {"before", {{"momentary_lufs", lufs_series(before.momentary_100ms)},
                      {"short_term_lufs", lufs_series(before.short_term_100ms)}}},
          {"after", {{"momentary_lufs", lufs_series(after.momentary_100ms)},
                     {"short_term_lufs", lufs_series(after.short_term_100ms)}}},
          {"limiter_gain_reduction_db", gr},
          {"spectrum", {{"hz", spectrum_before.at("hz")}, {"before_db", spectrum_before.at("db")}, {"after_db", spectrum_after.at("db")}}},
          {"top_true_peaks", peaks}};
}

}  // namespace lq
