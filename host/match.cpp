#include "host/match.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "host/audio_io.hpp"
#include "host/errors.hpp"
#include "host/loudness.hpp"
#include "host/real_fft.hpp"

namespace lq {

using nlohmann::json;

namespace {

constexpr double kAbsoluteGate = 1e-7;   // -70 dBFS mean square
constexpr double kRelativeGate = 0.01;   // -20 dB under the mean of the frames above the absolute gate
constexpr double kMinDetailHz = 40.0;    // the finest detail of a curve (no_finer_than)

// The FFT size: the power of two nearest 170 ms (8192 at 44.1 and 48 kHz).
int64_t frame_for(double rate) {
  int64_t n = 256;
  while (double(n) * 1.41 < 0.17 * rate) n *= 2;
  return n;
}

// The ISO 1/3-octave centres from 25 Hz to 20 kHz (the report's points).
const double kThirdOctaves[] = {25,   31.5, 40,   50,   63,   80,   100,  125,  160,   200,   250,   315,   400,   500,
                                630,  800,  1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500,
                                16000, 20000};

// The curve smoothed once more where the spectra's smoothing is narrower than kMinDetailHz (below
// about 200 Hz at 1/3 octave): a Hann window in frequency, `octaves` wide or kMinDetailHz, whichever
// is wider, over the grid's points. A curve with no detail finer than that is one the designer
// meets within its 0.1 dB from 20 Hz at a few tens of thousands of taps; the clamp's corners are
// rounded too, never beyond the limit (an average of values within it).
std::vector<double> no_finer_than(const std::vector<double>& hz, const std::vector<double>& db, double octaves) {
  std::vector<double> out(db.size());
  const double ratio = std::exp2(octaves / 2.0) - std::exp2(-octaves / 2.0);
  for (size_t i = 0; i < hz.size(); ++i) {
    const double width = std::max(hz[i] * ratio, kMinDetailHz);
    double sum = 0.0, weights = 0.0;
    for (size_t j = 0; j < hz.size(); ++j) {
      const double x = (hz[j] - hz[i]) / width;
      if (std::fabs(x) >= 0.5) continue;
      const double w = std::cos(std::numbers::pi * x) * std::cos(std::numbers::pi * x);
      sum += w * db[j];
      weights += w;
    }
    out[i] = sum / weights;
  }
  return out;
}

}  // namespace

LongTermSpectrum long_term_spectrum(const AudioBuffer& audio, cpu::ThreadPool& pool) {
  LongTermSpectrum s;
  s.sample_rate = audio.sample_rate;
  s.frame = frame_for(audio.sample_rate);
  const int64_t n = s.frame, hop = n / 2, bins = n / 2 + 1;
  s.power.assign(static_cast<size_t>(bins), 0.0);
  if (audio.frames() < n) return s;
  std::vector<double> window(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) window[size_t(i)] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * double(i) / double(n));
  // The frames' mean squares first: the relative gate needs their mean.
  const int64_t count = (audio.frames() - n) / hop + 1;
  std::vector<double> ms(static_cast<size_t>(count), 0.0);
  pool.parallel_for(count, [&](int64_t f) {
    double e = 0.0;
    for (const auto& c : audio.channels) {
      for (int64_t i = f * hop; i < f * hop + n; ++i) e += double(c[size_t(i)]) * double(c[size_t(i)]);
    }
    ms[size_t(f)] = e / double(n * audio.channel_count());
  });
  double sum = 0.0;
  int64_t above = 0;
  for (double e : ms) {
    if (e > kAbsoluteGate) {
      sum += e;
      ++above;
    }
  }
  if (above == 0) return s;
  const double gate = std::max(kAbsoluteGate, kRelativeGate * sum / double(above));
  // Blocks of frames in parallel, each summing its own powers; the blocks' sums added in order:
  // the same bits for any thread count.
  constexpr int64_t kBlock = 32;
  const int64_t blocks = (count + kBlock - 1) / kBlock;
  std::vector<std::vector<double>> partial(static_cast<size_t>(blocks));
  pool.parallel_for(blocks, [&](int64_t b) {
    std::vector<double>& p = partial[size_t(b)];
    p.assign(static_cast<size_t>(bins), 0.0);
    RealFft fft(n, false);
    for (int64_t f = b * kBlock; f < std::min(count, (b + 1) * kBlock); ++f) {
      if (!(ms[size_t(f)] > gate)) continue;
      for (const auto& c : audio.channels) {
        for (int64_t i = 0; i < n; ++i) fft.real[i] = double(c[size_t(f * hop + i)]) * window[size_t(i)];
        fftw_execute(fft.plan);
        for (int64_t k = 0; k < bins; ++k) p[size_t(k)] += fft.bins[k][0] * fft.bins[k][0] + fft.bins[k][1] * fft.bins[k][1];
      }
    }
  });
  for (double e : ms) s.frames_counted += e > gate ? 1 : 0;
  for (const auto& p : partial) {
    for (int64_t k = 0; k < bins; ++k) s.power[size_t(k)] += p[size_t(k)];
  }
  for (double& p : s.power) p /= double(s.frames_counted);
  s.seconds_counted = double(s.frames_counted * hop) / s.sample_rate;
  return s;
}

std::vector<double> smoothed_db(const LongTermSpectrum& s, const std::vector<double>& freqs_hz, double octaves) {
  std::vector<double> out;
  out.reserve(freqs_hz.size());
  const double df = s.sample_rate / double(s.frame);
  const int64_t last = int64_t(s.power.size()) - 1;
  for (double f : freqs_hz) {
    const double lo = f * std::exp2(-octaves / 2.0), hi = f * std::exp2(octaves / 2.0);
    const int64_t k0 = std::clamp<int64_t>(int64_t(std::ceil(lo / df)), 1, last);
    const int64_t k1 = std::clamp<int64_t>(int64_t(std::floor(hi / df)), 1, last);
    double p = 0.0;
    if (k1 >= k0) {
      for (int64_t k = k0; k <= k1; ++k) p += s.power[size_t(k)];
      p /= double(k1 - k0 + 1);
    } else {  // a band narrower than a bin: the power interpolated at f
      const double x = f / df;
      const int64_t k = std::clamp<int64_t>(int64_t(std::floor(x)), 1, last - 1);
      const double t = std::clamp(x - double(k), 0.0, 1.0);
      p = (1.0 - t) * s.power[size_t(k)] + t * s.power[size_t(k + 1)];
    }
    out.push_back(10.0 * std::log10(std::max(p, 1e-30)));
  }
  return out;
}

std::vector<double> match_grid(double sample_rate) {
  std::vector<double> g;
  const double top = std::min(20000.0, 0.45 * sample_rate);
  for (int i = 0;; ++i) {
    const double f = 20.0 * std::exp2(double(i) / 24.0);
    if (f > top) break;
    g.push_back(f);
  }
  return g;
}

MatchResult match_reference(const MatchSpec& spec, const AudioBuffer& mix, cpu::ThreadPool& pool, json& warnings) {
  AudioBuffer ref = read_audio(spec.reference);
  if (ref.sample_rate != mix.sample_rate) ref = resample(ref, mix.sample_rate);
  const LongTermSpectrum rs = long_term_spectrum(ref, pool);
  if (rs.frames_counted == 0) {
    throw UserError(spec.reference, "the match reference is silent (nothing above -70 dBFS): there is no balance to match");
  }
  if (rs.seconds_counted < kMinMatchSeconds) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "the match reference has %.1f s above its gates: at least %.0f s are needed to match its balance",
                  rs.seconds_counted, kMinMatchSeconds);
    throw UserError(spec.reference, buf);
  }
  MatchResult r;
  r.reference_lufs = integrated_loudness(ref, pool);  // -inf when undefined
  const std::vector<double> grid = match_grid(mix.sample_rate);
  const LongTermSpectrum ms = long_term_spectrum(mix, pool);
  r.band.type = EqBandType::curve;
  r.band.freq_hz = grid.front();
  r.band.q = 1.0;
  r.band.curve_hz = grid;
  r.band.curve_db.assign(grid.size(), 0.0);
  const bool mix_ok = ms.seconds_counted >= kMinMatchSeconds;
  if (!mix_ok) {
    warnings.push_back("master.match: the mix has " + std::to_string(ms.seconds_counted) +
                       " s above the gates (at least 3 s are needed): no match EQ applied");
  } else if (spec.amount > 0.0) {
    const std::vector<double> a = smoothed_db(rs, grid, spec.smoothing_oct), b = smoothed_db(ms, grid, spec.smoothing_oct);
    std::vector<double> d(grid.size());
    double mean = 0.0;
    for (size_t i = 0; i < grid.size(); ++i) mean += (d[i] = a[i] - b[i]);
    mean /= double(grid.size());
    std::vector<double> limited(grid.size());
    for (size_t i = 0; i < grid.size(); ++i) limited[i] = std::clamp(d[i] - mean, -spec.max_db, spec.max_db);
    const std::vector<double> smooth = no_finer_than(grid, limited, spec.smoothing_oct);
    for (size_t i = 0; i < grid.size(); ++i) r.band.curve_db[i] = spec.amount * smooth[i];
  }
  json curve = json::array();
  for (double f : kThirdOctaves) {
    if (f > grid.back() * 1.0001) break;
    curve.push_back({{"hz", f}, {"db", eq_target_db(std::span<const EqBand>(&r.band, 1), f)}});
  }
  r.report = {{"reference", spec.reference.string()},
              {"amount", spec.amount},
              {"max_db", spec.max_db},
              {"smoothing_oct", spec.smoothing_oct},
              {"spectrum", "plain power, Hann frames of " + std::to_string(rs.frame) +
                               " samples, half overlapping, gated at -70 dBFS and 20 dB under the mean"},
              {"reference_seconds_counted", rs.seconds_counted},
              {"mix_seconds_counted", ms.seconds_counted},
              {"reference_integrated_lufs", std::isfinite(r.reference_lufs) ? json(r.reference_lufs) : json(nullptr)},
              {"applied", mix_ok && spec.amount > 0.0},
              {"curve_db", curve}};
  return r;
}

}  // namespace lq
