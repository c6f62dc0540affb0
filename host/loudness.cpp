// BS.1770-4 / EBU R128 gating, momentary and short-term series and loudness range, in float64 on
// the host, from the K-weighted energies of kernels/cpu/loudness.hpp.
//
// Grid: the 100 ms gating step is s100 = round(fs / 10) frames (libebur128's samples_in_100ms);
// blocks are 4 * s100 frames (400 ms "to the nearest sample"), starting at frame 0, every s100,
// the incomplete last block discarded (BS.1770-4 Annex 1; Tech 3341 2.3). Energies are summed per
// hop of s100 / d frames, d the smallest divisor of s100 with d >= 10 (10 ms at the usual rates),
// so that every block, momentary and short-term window is a whole number of hops.
#include "host/loudness.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include "kernels/cpu/loudness.hpp"

namespace lq {

namespace {

constexpr double kLoudnessOffset = -0.691;      // BS.1770-4 Annex 1, eq. 2
constexpr double kAbsoluteGateLufs = -70.0;     // BS.1770-4 Annex 1; Tech 3342 3.1
constexpr double kRelativeGateLu = -10.0;       // BS.1770-4 Annex 1 (integrated)
constexpr double kRangeRelativeGateLu = -20.0;  // Tech 3342 3.1 (loudness range)
constexpr int kMomentary100ms = 4;              // 400 ms
constexpr int kShortTerm100ms = 30;             // 3 s

double energy_to_lufs(double energy) {
  return energy > 0.0 ? kLoudnessOffset + 10.0 * std::log10(energy) : -HUGE_VAL;
}
double lufs_to_energy(double lufs) { return std::pow(10.0, (lufs - kLoudnessOffset) / 10.0); }
double lu_to_energy_ratio(double lu) { return std::pow(10.0, lu / 10.0); }

// BS.1770-4 Table 3 as the header states it: L, R, C = 1; Ls, Rs = 1.41; LFE excluded (0).
std::vector<double> channel_weights(int count) {
  if (count == 5) return {1.0, 1.0, 1.0, 1.41, 1.41};
  if (count == 6) return {1.0, 1.0, 1.0, 0.0, 1.41, 1.41};
  return std::vector<double>(static_cast<size_t>(count), 1.0);
}

// The channels' weighted K-energies per hop, sum_c G_c E_c[k] (channels in index order).
struct HopEnergies {
  int64_t frames_100ms = 0;
  int64_t hops_per_100ms = 0;  // d
  int64_t hop_frames = 0;
  std::vector<double> energy;  // one per whole hop
};

void check_buffer(const AudioBuffer& audio, bool need_rate) {
  if (need_rate && (!(audio.sample_rate > 0.0) || !std::isfinite(audio.sample_rate))) {
    throw std::invalid_argument("loudness: sample rate must be positive, got " +
                                std::to_string(audio.sample_rate));
  }
  for (const auto& c : audio.channels) {
    if (static_cast<int64_t>(c.size()) != audio.frames()) {
      throw std::invalid_argument("loudness: channels of different lengths");
    }
  }
}

// The hop grid at `rate`, without energies.
HopEnergies hop_grid(double rate) {
  HopEnergies h;
  h.frames_100ms = std::max<int64_t>(1, std::llround(rate / 10.0));
  h.hops_per_100ms = h.frames_100ms;
  for (int64_t d = 10; d < h.frames_100ms; ++d) {
    if (h.frames_100ms % d == 0) {
      h.hops_per_100ms = d;
      break;
    }
  }
  h.hop_frames = h.frames_100ms / h.hops_per_100ms;
  return h;
}

// The channels that count (weight > 0) and their weights.
void used_channels(int count, std::vector<int>& used, std::vector<double>& used_weights) {
  const auto weights = channel_weights(count);
  for (int c = 0; c < count; ++c) {
    if (weights[static_cast<size_t>(c)] > 0.0) {
      used.push_back(c);
      used_weights.push_back(weights[static_cast<size_t>(c)]);
    }
  }
}

// sum_j G_j E_j[k] over the used channels' hop energies, for the hops all of them have.
void weigh(const std::vector<const std::vector<double>*>& per_channel, const std::vector<double>& used_weights,
           int64_t hops, HopEnergies& h) {
  h.energy.assign(static_cast<size_t>(hops), 0.0);
  for (size_t k = 0; k < h.energy.size(); ++k) {
    double e = 0.0;
    for (size_t j = 0; j < used_weights.size(); ++j) e += used_weights[j] * (*per_channel[j])[k];
    h.energy[k] = e;
  }
}

// The hop energies of a signal of `channels` x `frames` at `rate` from energies(used,
// hop_frames): the used channels' K-weighted hop sums.
template <class Energies>
HopEnergies hop_energies_of(int channels, int64_t frames, double rate, Energies&& energies) {
  if (!(rate > 0.0) || !std::isfinite(rate)) {
    throw std::invalid_argument("loudness: sample rate must be positive, got " + std::to_string(rate));
  }
  HopEnergies h = hop_grid(rate);
  std::vector<int> used;
  std::vector<double> used_weights;
  used_channels(channels, used, used_weights);
  const std::vector<std::vector<double>>& per_channel = energies(used, h.hop_frames);
  std::vector<const std::vector<double>*> ptrs;
  for (const auto& e : per_channel) ptrs.push_back(&e);
  weigh(ptrs, used_weights, frames / h.hop_frames, h);
  return h;
}

template <class Energies>
HopEnergies hop_energies_of(const AudioBuffer& audio, Energies&& energies) {
  check_buffer(audio, true);
  return hop_energies_of(audio.channel_count(), audio.frames(), audio.sample_rate, std::forward<Energies>(energies));
}

HopEnergies hop_energies(const AudioBuffer& audio, Backend& backend) {
  std::vector<std::vector<double>> e;
  return hop_energies_of(audio, [&](const std::vector<int>& used, int64_t hop) -> const auto& {
    return e = backend.k_weighted_segment_energies(audio, used, hop);
  });
}

// Mean square of the window of `len_100ms` * 100 ms ending at hop `end` (exclusive), summed hop by
// hop in index order; hops before 0 are silence. For gating blocks and loudness-range values
// (every 100 ms: 4 and 30 sums of d hops each).
double window_energy(const HopEnergies& h, int64_t end, int len_100ms) {
  const int64_t len = len_100ms * h.hops_per_100ms;
  double sum = 0.0;
  for (int64_t k = std::max<int64_t>(0, end - len); k < end; ++k) sum += h.energy[static_cast<size_t>(k)];
  return sum / static_cast<double>(len_100ms * h.frames_100ms);
}

// The mean squares of the 400 ms gating blocks (every 100 ms from frame 0, the incomplete last
// block discarded).
std::vector<double> block_energies(const HopEnergies& h) {
  const int64_t hops = static_cast<int64_t>(h.energy.size());
  const int64_t block_hops = kMomentary100ms * h.hops_per_100ms;
  if (hops < block_hops) return {};
  const int64_t blocks = (hops - block_hops) / h.hops_per_100ms + 1;
  std::vector<double> z(static_cast<size_t>(blocks));
  for (int64_t j = 0; j < blocks; ++j) {
    z[static_cast<size_t>(j)] = window_energy(h, j * h.hops_per_100ms + block_hops, kMomentary100ms);
  }
  return z;
}

// Gated integrated loudness (BS.1770-4 Annex 1, eqs. 3-7) of the blocks' mean squares z, in the
// energy domain; -inf when no block passes the absolute gate. Gates keep blocks strictly above
// them, as the text says.
double gated_loudness(const std::vector<double>& z) {
  const double absolute = lufs_to_energy(kAbsoluteGateLufs);
  double sum = 0.0;
  int64_t count = 0;
  for (double e : z) {
    if (e > absolute) {
      sum += e;
      ++count;
    }
  }
  if (count == 0) return -HUGE_VAL;
  const double relative = sum / static_cast<double>(count) * lu_to_energy_ratio(kRelativeGateLu);
  sum = 0.0;
  count = 0;
  for (double e : z) {
    if (e > absolute && e > relative) {
      sum += e;
      ++count;
    }
  }
  return count == 0 ? -HUGE_VAL : energy_to_lufs(sum / static_cast<double>(count));
}

double gated_loudness(const HopEnergies& h) { return gated_loudness(block_energies(h)); }

// The short-term values the loudness range reads: complete 3 s windows every 100 ms (10 Hz) at or
// above the absolute gate (EBU Tech 3342 3.1), their mean squares.
std::vector<double> range_energies(const HopEnergies& h) {
  const int64_t hops = static_cast<int64_t>(h.energy.size());
  const int64_t window_hops = kShortTerm100ms * h.hops_per_100ms;
  std::vector<double> st;
  const double absolute = lufs_to_energy(kAbsoluteGateLufs);
  for (int64_t end = window_hops; end <= hops; end += h.hops_per_100ms) {
    const double e = window_energy(h, end, kShortTerm100ms);
    if (e >= absolute) st.push_back(e);
  }
  return st;
}

// Loudness range, EBU Tech 3342 3.1 and its MATLAB listing, of the short-term values st (already
// through the absolute gate): kept when >= (their power mean - 20 LU), then P95 - P10 by nearest
// rank, sorted(round((n - 1) * p / 100 + 1)) 1-based. No silence is appended after the end. 0 when
// nothing passes the gates.
double loudness_range(const std::vector<double>& st) {
  if (st.empty()) return 0.0;
  double sum = 0.0;
  for (double e : st) sum += e;
  const double relative = sum / static_cast<double>(st.size()) * lu_to_energy_ratio(kRangeRelativeGateLu);
  std::vector<double> gated;
  for (double e : st) {
    if (e >= relative) gated.push_back(e);
  }
  if (gated.empty()) return 0.0;
  std::sort(gated.begin(), gated.end());
  const int64_t n = static_cast<int64_t>(gated.size());
  auto rank = [&](int64_t percent) {  // 0-based nearest rank; (n - 1) * percent / 100 exact in double
    return static_cast<size_t>(std::floor(static_cast<double>((n - 1) * percent) / 100.0 + 0.5));
  };
  return energy_to_lufs(gated[rank(95)]) - energy_to_lufs(gated[rank(10)]);
}

// Mean squares of the windows of `len_100ms` * 100 ms ending at every hop (hops before 0 are
// silence), from prefix sums of the hop energies: O(1) per window whatever the hop length (1 frame
// where round(fs / 10) is prime). The prefix sums never decrease, so a window's energy is >= 0,
// and exactly 0 over silence; its rounding error is about 1e-16 of the running total, far below
// anything the meter reports.
std::vector<double> sliding_window_energies(const HopEnergies& h, int len_100ms) {
  const size_t hops = h.energy.size(), len = static_cast<size_t>(len_100ms * h.hops_per_100ms);
  const double frames = static_cast<double>(len_100ms * h.frames_100ms);
  std::vector<double> prefix(hops + 1, 0.0), out(hops);
  for (size_t k = 0; k < hops; ++k) prefix[k + 1] = prefix[k] + h.energy[k];
  for (size_t end = 1; end <= hops; ++end)
    out[end - 1] = (prefix[end] - prefix[end < len ? 0 : end - len]) / frames;
  return out;
}

double max_window_loudness(const HopEnergies& h, int len_100ms) {
  const auto e = sliding_window_energies(h, len_100ms);
  return energy_to_lufs(e.empty() ? 0.0 : *std::max_element(e.begin(), e.end()));
}

double linear_to_db_or_inf(double x) { return x > 0.0 ? 20.0 * std::log10(x) : -HUGE_VAL; }

}  // namespace

namespace {

// The figures from the hop energies and the peaks (linear).
LoudnessMeasurement measurement(const HopEnergies& h, double rate, int64_t frames, double sample_peak, double true_peak) {
  LoudnessMeasurement m;
  m.sample_rate = rate;
  m.frames = frames;
  m.block_energies = block_energies(h);
  m.range_energies = range_energies(h);
  m.integrated_lufs = gated_loudness(m.block_energies);
  m.integrated_defined = std::isfinite(m.integrated_lufs);
  m.loudness_range_lu = loudness_range(m.range_energies);
  m.max_momentary_lufs = max_window_loudness(h, kMomentary100ms);
  m.max_short_term_lufs = max_window_loudness(h, kShortTerm100ms);
  const int64_t steps = int64_t(h.energy.size()) / h.hops_per_100ms;
  m.momentary_100ms.resize(size_t(steps));
  m.short_term_100ms.resize(size_t(steps));
  m.energy_100ms.resize(size_t(steps));
  for (int64_t k = 0; k < steps; ++k) {
    const int64_t end = (k + 1) * h.hops_per_100ms;
    m.momentary_100ms[size_t(k)] = energy_to_lufs(window_energy(h, end, kMomentary100ms));
    m.short_term_100ms[size_t(k)] = energy_to_lufs(window_energy(h, end, kShortTerm100ms));
    m.energy_100ms[size_t(k)] = window_energy(h, end, 1);
  }
  m.sample_peak_dbfs = linear_to_db_or_inf(sample_peak);
  m.true_peak_linear = true_peak;
  m.true_peak_dbtp = linear_to_db_or_inf(m.true_peak_linear);
  return m;
}

}  // namespace

AlbumLoudness album_loudness(std::span<const LoudnessMeasurement> songs) {
  std::vector<double> z, st;
  for (const auto& m : songs) {
    z.insert(z.end(), m.block_energies.begin(), m.block_energies.end());
    st.insert(st.end(), m.range_energies.begin(), m.range_energies.end());
  }
  AlbumLoudness a;
  a.integrated_lufs = gated_loudness(z);
  a.integrated_defined = std::isfinite(a.integrated_lufs);
  a.loudness_range_lu = loudness_range(st);
  return a;
}

void set_true_peak(LoudnessMeasurement& m, double true_peak_linear) {
  m.true_peak_linear = true_peak_linear;
  m.true_peak_dbtp = linear_to_db_or_inf(true_peak_linear);
}

LoudnessMeasurement measure_loudness(const AudioBuffer& audio, Backend& backend) {
  Backend::MeterPasses p;
  const HopEnergies h = hop_energies_of(audio, [&](const std::vector<int>& used, int64_t hop) -> const auto& {
    p = backend.meter_passes(audio, used, hop);
    return p.energies;
  });
  return measurement(h, audio.sample_rate, audio.frames(), p.sample_peak, p.true_peak);
}

struct LoudnessMeter::Impl {
  Impl(const std::vector<int>& used, const std::vector<double>& weights, int channels, double sample_rate, bool true_peak,
       bool record_peaks)
      : used_weights(weights), rate(sample_rate),
        passes(used, channels, sample_rate, hop_grid(sample_rate).hop_frames, true_peak) {
    if (record_peaks && true_peak) passes.record_block_peaks(hop_grid(sample_rate).frames_100ms);
  }
  std::vector<double> used_weights;
  double rate;
  cpu::MeterStream passes;
};

LoudnessMeter::LoudnessMeter(int channels, double sample_rate, cpu::ThreadPool& pool, bool true_peak, bool record_peaks)
    : pool_(pool) {
  if (!(sample_rate > 0.0) || !std::isfinite(sample_rate)) {
    throw std::invalid_argument("loudness: sample rate must be positive, got " + std::to_string(sample_rate));
  }
  std::vector<int> used;
  std::vector<double> used_weights;
  used_channels(channels, used, used_weights);
  impl_ = std::make_unique<Impl>(used, used_weights, channels, sample_rate, true_peak, record_peaks);
}

LoudnessMeter::~LoudnessMeter() = default;

void LoudnessMeter::add(const AudioBuffer& audio, int64_t begin, int64_t end) {
  impl_->passes.add(audio, begin, end, pool_);
}

LoudnessMeasurement LoudnessMeter::finish() {
  Impl& m = *impl_;
  m.passes.finish();
  HopEnergies h = hop_grid(m.rate);
  std::vector<const std::vector<double>*> ptrs;
  for (size_t j = 0; j < m.used_weights.size(); ++j) ptrs.push_back(&m.passes.energies(j));
  weigh(ptrs, m.used_weights, m.passes.frames() / h.hop_frames, h);
  LoudnessMeasurement r = measurement(h, m.rate, m.passes.frames(), m.passes.sample_peak(), m.passes.true_peak());
  auto peaks = m.passes.block_peaks();
  std::stable_sort(peaks.begin(), peaks.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (size_t i = 0; i < peaks.size() && i < 10 && peaks[i].second > 0.0; ++i) r.top_true_peaks.push_back(peaks[i]);
  return r;
}

LoudnessMeasurement measure_loudness(const AudioBuffer& audio, cpu::ThreadPool& pool) {
  CpuBackend backend(pool);
  return measure_loudness(audio, backend);
}

double integrated_loudness(const AudioBuffer& audio, Backend& backend) {
  return gated_loudness(hop_energies(audio, backend));
}

LoudnessMeasurement measure_loudness(int channels, int64_t frames, double rate, const MeterPassesFn& passes) {
  Backend::MeterPasses p;
  const HopEnergies h = hop_energies_of(channels, frames, rate, [&](const std::vector<int>& used, int64_t hop) -> const auto& {
    p = passes(used, hop);
    return p.energies;
  });
  return measurement(h, rate, frames, p.sample_peak, p.true_peak);
}

double integrated_loudness(int channels, int64_t frames, double rate, const MeterPassesFn& energies) {
  Backend::MeterPasses p;
  return gated_loudness(hop_energies_of(channels, frames, rate, [&](const std::vector<int>& used, int64_t hop) -> const auto& {
    p = energies(used, hop);
    return p.energies;
  }));
}

double integrated_loudness(const AudioBuffer& audio, cpu::ThreadPool& pool) {
  CpuBackend backend(pool);
  return integrated_loudness(audio, backend);
}

double true_peak_linear(const AudioBuffer& audio, cpu::ThreadPool& pool) {
  check_buffer(audio, false);
  return cpu::true_peak_scan(audio, pool);
}

LoudnessSeries loudness_series(const AudioBuffer& audio, cpu::ThreadPool& pool) {
  CpuBackend backend(pool);
  const HopEnergies h = hop_energies(audio, backend);
  LoudnessSeries s;
  s.sample_rate = audio.sample_rate;
  s.hop_frames = h.hop_frames;
  s.momentary_lufs = sliding_window_energies(h, kMomentary100ms);
  s.short_term_lufs = sliding_window_energies(h, kShortTerm100ms);
  for (double& v : s.momentary_lufs) v = energy_to_lufs(v);
  for (double& v : s.short_term_lufs) v = energy_to_lufs(v);
  return s;
}

}  // namespace lq
