#include "host/mixing.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <cmath>
#include <numbers>

#include "host/bus_stream.hpp"
#include "host/errors.hpp"
#include "host/shared_cache.hpp"
#include "kernels/cpu/convolver.hpp"
#include "kernels/dsp/common.hpp"
#include "kernels/dsp/overlap_save.hpp"

namespace lq {

std::pair<float, float> stereo_gains(int channels, double pan, double gain_db) {
  const double g = dsp::db_to_linear(gain_db);
  if (channels == 1) {
    const double theta = (pan + 1.0) * std::numbers::pi / 4.0;
    return {static_cast<float>(g * std::cos(theta)), static_cast<float>(g * std::sin(theta))};
  }
  return {static_cast<float>(g * std::min(1.0, 1.0 - pan)), static_cast<float>(g * std::min(1.0, 1.0 + pan))};
}

void to_stereo_into(const AudioBuffer& in, int64_t frames, double pan, double gain_db, AudioBuffer& out, int64_t at) {
  const auto [fl, fr] = stereo_gains(in.channel_count(), pan, gain_db);
  const float* l_in = in.channels[0].data();
  const float* r_in = in.channels[in.channel_count() == 1 ? 0 : 1].data();
  float* l_out = out.channels[0].data() + at;
  float* r_out = out.channels[1].data() + at;
  for (int64_t i = 0; i < frames; ++i) {
    l_out[i] = fl * l_in[i];
    r_out[i] = fr * r_in[i];
  }
}

AudioBuffer to_stereo(const AudioBuffer& in, double pan, double gain_db) {
  AudioBuffer out(2, in.frames(), in.sample_rate);
  to_stereo_into(in, in.frames(), pan, gain_db, out, 0);
  return out;
}

void accumulate(float* d, const float* s, int64_t n, float gain) {
  if (gain == 1.0f) {
    for (int64_t i = 0; i < n; ++i) d[i] += s[i];
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] += gain * s[i];
  }
}

void add_into(AudioBuffer& dst, int64_t at, const AudioBuffer& src, int64_t frames, float gain) {
  if (dst.channels.empty()) {
    dst = AudioBuffer(src.channel_count(), 0, src.sample_rate);
  }
  if (dst.frames() < at + frames) dst.resize_frames(at + frames);
  for (int c = 0; c < src.channel_count(); ++c) {
    accumulate(dst.channels[static_cast<size_t>(c)].data() + at, src.channels[static_cast<size_t>(c)].data(), frames,
               gain);
  }
}

void add_into(AudioBuffer& dst, const AudioBuffer& src, float gain) { add_into(dst, 0, src, src.frames(), gain); }

void apply_gain(AudioBuffer& a, double gain_db) { apply_gain(a, gain_db, a.frames()); }

void apply_gain(AudioBuffer& a, double gain_db, int64_t frames) {
  if (gain_db == 0.0) return;
  const float g = static_cast<float>(dsp::db_to_linear(gain_db));
  for (auto& ch : a.channels) {
    for (int64_t i = 0; i < frames; ++i) ch[size_t(i)] *= g;
  }
}

void apply_width(AudioBuffer& a, double width) { apply_width(a, width, a.frames()); }

void apply_width(AudioBuffer& a, double width, int64_t frames) {
  if (width == 1.0 || a.channel_count() != 2) return;
  const float w = static_cast<float>(width);
  auto& l = a.channels[0];
  auto& r = a.channels[1];
  for (size_t i = 0; i < size_t(frames); ++i) {
    const float m = 0.5f * (l[i] + r[i]);
    const float s = w * (0.5f * (l[i] - r[i]));
    l[i] = m + s;
    r[i] = m - s;
  }
}

std::shared_ptr<const EqDesign> eq_design_for(const std::vector<EqBand>& bands, double rate) {
  if (eq_is_neutral(bands)) return nullptr;
  static SharedCache<std::string, EqDesign> cache(256);
  std::string key;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%a", rate);
  key += buf;
  for (const auto& b : bands) {
    std::snprintf(buf, sizeof buf, "|%d,%a,%a,%a,%d", static_cast<int>(b.type), b.freq_hz, b.gain_db, b.q,
                  b.slope_db_per_oct);
    key += buf;
    if (b.type == EqBandType::curve) {  // its points, exactly
      const uint64_t hz = XXH3_64bits(b.curve_hz.data(), b.curve_hz.size() * sizeof(double));
      const uint64_t db = XXH3_64bits(b.curve_db.data(), b.curve_db.size() * sizeof(double));
      std::snprintf(buf, sizeof buf, ",%zu,%016llx%016llx", b.curve_hz.size(), static_cast<unsigned long long>(hz),
                    static_cast<unsigned long long>(db));
      key += buf;
    }
  }
  return cache.get(key, [&] { return design_linear_phase_eq(bands, rate); });
}

nlohmann::json dynamics_json(const DynamicsStats& s) {
  return {{"max_gain_reduction_db", s.max_gain_reduction_db}, {"mean_gain_reduction_db", s.mean_gain_reduction_db}};
}

void require_realisable_eq(const std::vector<EqBand>& bands, double rate, const std::filesystem::path& file,
                           const std::string& where) {
  const auto design = eq_design_for(bands, rate);
  if (!design || design->max_error_db <= kEqToleranceDb) return;
  // The narrowest band decides (its width is about freq_hz / q).
  double narrowest = HUGE_VAL;
  for (const auto& b : bands) narrowest = std::min(narrowest, b.freq_hz / std::max(1.0, b.q));
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s: the linear-phase EQ cannot follow these bands within %.1f dB from 20 Hz to 20 kHz at %.0f Hz "
                "(%.2f dB off with the longest filter, %zu taps; its narrowest band is %.2f Hz wide, freq_hz / q): "
                "lower that band's q, raise its frequency, or process at a lower sample_rate",
                where.c_str(), kEqToleranceDb, rate, design->max_error_db, design->taps.size(), narrowest);
  throw UserError(file, buf);
}

nlohmann::json eq_report(const EqDesign& d) {
  return {{"taps", d.taps.size()},
          {"latency_frames", (static_cast<int64_t>(d.taps.size()) - 1) / 2},
          {"lowest_freq_hz", d.lowest_freq_hz},
          {"max_error_db", d.max_error_db}};
}

nlohmann::json apply_eq(AudioBuffer& a, const std::vector<EqBand>& bands, Backend& backend) {
  const std::shared_ptr<const EqDesign> design = eq_design_for(bands, a.sample_rate);
  if (!design) return nullptr;
  const EqDesign& d = *design;
  const int64_t n = a.frames();
  const int64_t delay = (static_cast<int64_t>(d.taps.size()) - 1) / 2;
  AudioBuffer out(a.channel_count(), n, a.sample_rate);
  std::vector<const float*> x;
  std::vector<float*> y;
  for (int c = 0; c < a.channel_count(); ++c) {
    x.push_back(a.channels[static_cast<size_t>(c)].data());
    y.push_back(out.channels[static_cast<size_t>(c)].data());
  }
  const std::vector<std::span<const float>> taps(x.size(), std::span<const float>(d.taps));
  backend.convolve(x, n, delay, taps, y, n);
  a.channels.swap(out.channels);
  return eq_report(d);
}

void add_reverb_return(AudioBuffer& dst, const AudioBuffer& bus, const AudioBuffer& ir, int64_t predelay_frames,
                       double wet_db, Backend& backend) {
  ReverbReturn ret(ir, bus.frames(), bus.channel_count(), wet_db, backend);
  if (dst.channels.empty()) dst = AudioBuffer(bus.channel_count(), 0, bus.sample_rate);
  if (dst.frames() < predelay_frames + ret.output_frames()) dst.resize_frames(predelay_frames + ret.output_frames());
  std::vector<const float*> x(size_t(bus.channel_count()));
  while (ret.done() < ret.output_frames()) {
    const int64_t t0 = ret.done(), len = ret.next_frames();
    for (int c = 0; c < bus.channel_count(); ++c) x[size_t(c)] = bus.channels[size_t(c)].data() + ret.input_from();
    add_into(dst, predelay_frames + t0, ret.next(x), len);
  }
}

int64_t trim_tail(AudioBuffer& a, int64_t song_frames, int64_t cap_frames) {
  const int64_t total = a.frames();
  if (total <= song_frames) {
    a.resize_frames(song_frames);
    return 0;
  }
  const float floor = static_cast<float>(dsp::db_to_linear(-90.0));
  int64_t last = song_frames;  // one past the last frame above the floor
  for (int64_t i = total - 1; i >= song_frames; --i) {
    bool above = false;
    for (const auto& ch : a.channels) above = above || std::fabs(ch[static_cast<size_t>(i)]) > floor;
    if (above) {
      last = i + 1;
      break;
    }
  }
  const int64_t keep = std::min(last - song_frames, cap_frames);
  a.resize_frames(song_frames + keep);
  const int64_t fade = std::min<int64_t>(keep, static_cast<int64_t>(std::lround(0.05 * a.sample_rate)));
  for (auto& ch : a.channels) {
    for (int64_t k = 0; k < fade; ++k) {
      // raised cosine from 1 down to (almost) 0 over the last `fade` frames
      const double w = 0.5 * (1.0 + std::cos(std::numbers::pi * double(k + 1) / double(fade)));
      ch[static_cast<size_t>(song_frames + keep - fade + k)] *= static_cast<float>(w);
    }
  }
  return keep;
}

}  // namespace lq
