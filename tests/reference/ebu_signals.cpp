#include "reference/ebu_signals.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lq::test {

namespace {

constexpr double kPi = 3.14159265358979323846;

int64_t frames_of(double seconds, double fs) { return std::llround(seconds * fs); }

// Raised-cosine fade in over the first `fade` samples and out over the last `fade`.
void apply_fades(std::vector<double>& x, int64_t fade) {
  const int64_t n = static_cast<int64_t>(x.size());
  for (int64_t i = 0; i < fade && i < n; ++i) {
    const double g = 0.5 * (1.0 - std::cos(kPi * static_cast<double>(i) / static_cast<double>(fade)));
    x[static_cast<size_t>(i)] *= g;
    x[static_cast<size_t>(n - 1 - i)] *= g;
  }
}

AudioBuffer from_mono(const std::vector<double>& x, double fs, int channels) {
  AudioBuffer a(channels, static_cast<int64_t>(x.size()), fs);
  for (auto& c : a.channels) {
    for (size_t i = 0; i < x.size(); ++i) c[i] = static_cast<float>(x[i]);
  }
  return a;
}

std::vector<ToneSegment> alternating(double s1, double l1, double s2, double l2, int times) {
  std::vector<ToneSegment> v;
  for (int i = 0; i < times; ++i) {
    v.push_back({s1, l1});
    v.push_back({s2, l2});
  }
  return v;
}

// Segments of the live cases: for i = 0..19, i * step silence, `tone` s at (-38 + i) dBFS, then
// (tone - i * step) s silence (Tech 3341 Table 1, cases 11 and 14).
std::vector<ToneSegment> live_segments(double step, double tone) {
  std::vector<ToneSegment> v;
  for (int i = 0; i < 20; ++i) {
    v.push_back({i * step, -HUGE_VAL});
    v.push_back({tone, -38.0 + i});
    v.push_back({tone - i * step, -HUGE_VAL});
  }
  return v;
}

// Blackman-Harris (4-term) windowed sinc low-pass, `taps` odd, cut-off fc (cycles per sample),
// unit DC gain.
std::vector<double> windowed_sinc(int taps, double fc) {
  std::vector<double> h(static_cast<size_t>(taps));
  const int mid = taps / 2;
  double sum = 0.0;
  for (int k = 0; k < taps; ++k) {
    const double t = static_cast<double>(k - mid);
    const double sinc = k == mid ? 2.0 * fc : std::sin(2.0 * kPi * fc * t) / (kPi * t);
    const double a = 2.0 * kPi * static_cast<double>(k) / static_cast<double>(taps - 1);
    const double w =
        0.35875 - 0.48829 * std::cos(a) + 0.14128 * std::cos(2.0 * a) - 0.01168 * std::cos(3.0 * a);
    h[static_cast<size_t>(k)] = sinc * w;
    sum += h[static_cast<size_t>(k)];
  }
  for (double& v : h) v /= sum;
  return h;
}

// Cases 20-23 (docs/verification.md "Synthesised test signals"): at 4 fs a 0.5 FFS sine of fs/6
// with one period of a 1.0 FFS fs/4 sine inserted at a positive-going zero crossing, fades,
// low-pass, keep y[4m + offset].
std::vector<double> burst_case(int offset, double fs) {
  const int64_t len = frames_of(3.2, fs), len4 = 4 * len;
  const int64_t m0 = 24 * (len4 / 2 / 24);
  std::vector<double> x4(static_cast<size_t>(len4));
  for (int64_t m = 0; m < len4; ++m) {
    double v;
    if (m < m0) {
      v = 0.5 * std::sin(2.0 * kPi * static_cast<double>(m) / 24.0);
    } else if (m < m0 + 16) {
      v = std::sin(2.0 * kPi * static_cast<double>(m - m0) / 16.0);
    } else {
      v = 0.5 * std::sin(2.0 * kPi * static_cast<double>(m - m0 - 16) / 24.0);
    }
    x4[static_cast<size_t>(m)] = v;
  }
  apply_fades(x4, 4 * frames_of(0.01, fs));

  const int taps = 2047, mid = taps / 2;
  const auto h = windowed_sinc(taps, 23500.0 * (fs / 48000.0) / (4.0 * fs));
  std::vector<double> padded(static_cast<size_t>(len4 + 2 * taps), 0.0);  // x4[m] at m + taps
  std::copy(x4.begin(), x4.end(), padded.begin() + taps);
  std::vector<double> y(static_cast<size_t>(len));
  constexpr int kLanes = 8;  // independent outputs per pass over the taps
  for (int64_t j0 = 0; j0 < len; j0 += kLanes) {
    double acc[kLanes] = {};
    const int lanes = static_cast<int>(std::min<int64_t>(kLanes, len - j0));
    for (int k = 0; k < taps; ++k) {
      const double hk = h[static_cast<size_t>(k)];
      const double* base = padded.data() + taps + 4 * j0 + offset + mid - k;
      for (int l = 0; l < kLanes; ++l) acc[l] += hk * base[4 * l];
    }
    for (int l = 0; l < lanes; ++l) y[static_cast<size_t>(j0 + l)] = acc[l];
  }
  return y;
}

}  // namespace

AudioBuffer tone_sequence(std::span<const ToneSegment> segments, double sample_rate, int channels,
                          double freq_hz) {
  std::vector<double> x;
  int64_t n = 0;
  for (const ToneSegment& s : segments) {
    const int64_t len = frames_of(s.seconds, sample_rate);
    const double a = std::isfinite(s.level_dbfs) ? std::pow(10.0, s.level_dbfs / 20.0) : 0.0;
    for (int64_t i = 0; i < len; ++i, ++n) {
      x.push_back(a == 0.0 ? 0.0 : a * std::sin(2.0 * kPi * freq_hz * static_cast<double>(n) / sample_rate));
    }
  }
  return from_mono(x, sample_rate, channels);
}

AudioBuffer tech3341_case(int number, double fs) {
  switch (number) {
    case 1:
      return tone_sequence(std::vector<ToneSegment>{{20.0, -23.0}}, fs);
    case 2:
      return tone_sequence(std::vector<ToneSegment>{{20.0, -33.0}}, fs);
    case 3:
      return tone_sequence(std::vector<ToneSegment>{{10.0, -36.0}, {60.0, -23.0}, {10.0, -36.0}}, fs);
    case 4:
      return tone_sequence(
          std::vector<ToneSegment>{{10.0, -72.0}, {10.0, -36.0}, {60.0, -23.0}, {10.0, -36.0}, {10.0, -72.0}},
          fs);
    case 5:
      return tone_sequence(std::vector<ToneSegment>{{20.0, -26.0}, {20.1, -20.0}, {20.0, -26.0}}, fs);
    case 6: {
      // 5.0: L, R at -28; C at -24; Ls, Rs at -30 dBFS, all in phase.
      const double levels[] = {-28.0, -28.0, -24.0, -30.0, -30.0};
      AudioBuffer a(5, frames_of(20.0, fs), fs);
      for (int c = 0; c < 5; ++c) {
        const auto one = tone_sequence(std::vector<ToneSegment>{{20.0, levels[c]}}, fs, 1);
        a.channels[static_cast<size_t>(c)] = one.channels[0];
      }
      return a;
    }
    case 9:
      return tone_sequence(alternating(1.34, -20.0, 1.66, -30.0, 5), fs);
    case 11:
      return tone_sequence(live_segments(0.15, 3.0), fs);
    case 12:
      return tone_sequence(alternating(0.18, -20.0, 0.22, -30.0, 25), fs);
    case 14:
      return tone_sequence(live_segments(0.02, 0.4), fs);
    default:
      throw std::invalid_argument("tech3341_case: no single-signal case " + std::to_string(number));
  }
}

AudioBuffer tech3341_case10_file(int i, double fs) {
  return tone_sequence(std::vector<ToneSegment>{{i * 0.15, -HUGE_VAL}, {3.0, -23.0}, {1.0, -HUGE_VAL}}, fs);
}

AudioBuffer tech3341_case13_file(int i, double fs) {
  return tone_sequence(std::vector<ToneSegment>{{i * 0.02, -HUGE_VAL}, {0.4, -23.0}, {1.0, -HUGE_VAL}}, fs);
}

std::vector<int64_t> tech3341_live_segment_starts(int number, double fs) {
  if (number != 11 && number != 14) throw std::invalid_argument("live cases are 11 and 14");
  const auto segs = number == 11 ? live_segments(0.15, 3.0) : live_segments(0.02, 0.4);
  std::vector<int64_t> starts{0};
  int64_t n = 0;
  for (size_t s = 0; s < segs.size(); ++s) {
    n += frames_of(segs[s].seconds, fs);
    if (s % 3 == 2) starts.push_back(n);
  }
  return starts;
}

AudioBuffer tech3341_true_peak_case(int number, double fs) {
  if (number >= 15 && number <= 19) {
    const double period[] = {4, 4, 6, 8, 4};
    const double amplitude[] = {0.50, 0.50, 0.50, 0.50, 1.41};
    const double phase_deg[] = {0.0, 45.0, 60.0, 67.5, 45.0};
    const int c = number - 15;
    std::vector<double> x(static_cast<size_t>(frames_of(3.2, fs)));
    for (size_t n = 0; n < x.size(); ++n) {
      x[n] = amplitude[c] *
             std::sin(2.0 * kPi * static_cast<double>(n) / period[c] + phase_deg[c] * kPi / 180.0);
    }
    apply_fades(x, frames_of(0.01, fs));
    return from_mono(x, fs, 2);
  }
  if (number >= 20 && number <= 23) return from_mono(burst_case(number - 20, fs), fs, 2);
  throw std::invalid_argument("tech3341_true_peak_case: cases are 15-23, got " + std::to_string(number));
}

AudioBuffer tech3342_case(int number, double fs) {
  switch (number) {
    case 1:
      return tone_sequence(std::vector<ToneSegment>{{20.0, -20.0}, {20.0, -30.0}}, fs);
    case 2:
      return tone_sequence(std::vector<ToneSegment>{{20.0, -20.0}, {20.0, -15.0}}, fs);
    case 3:
      return tone_sequence(std::vector<ToneSegment>{{20.0, -40.0}, {20.0, -20.0}}, fs);
    case 4:
      return tone_sequence(
          std::vector<ToneSegment>{{20.0, -50.0}, {20.0, -35.0}, {20.0, -20.0}, {20.0, -35.0}, {20.0, -50.0}},
          fs);
    default:
      throw std::invalid_argument("tech3342_case: cases are 1-4, got " + std::to_string(number));
  }
}

AudioBuffer repeat(const AudioBuffer& audio, int times) {
  AudioBuffer out(audio.channel_count(), audio.frames() * times, audio.sample_rate);
  for (int c = 0; c < audio.channel_count(); ++c) {
    const auto& src = audio.channels[static_cast<size_t>(c)];
    for (int t = 0; t < times; ++t) {
      std::copy(src.begin(), src.end(), out.channels[static_cast<size_t>(c)].begin() + t * audio.frames());
    }
  }
  return out;
}

}  // namespace lq::test
