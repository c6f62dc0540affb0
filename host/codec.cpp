#include "host/codec.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <stdexcept>

#include "host/audio_io.hpp"
#include "host/codec/codec_api.h"
#include "host/errors.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/reconstruction_peak.hpp"
#include "kernels/dsp/true_peak.hpp"
#include "kernels/dsp/common.hpp"

namespace lq {

namespace {

struct Known {
  const char* codec;
  const char* encoder;  // FFmpeg's encoder name
  int min_kbps, max_kbps;
  const char* container;  // FFmpeg's muxer for codec_export
  const char* extension;
};
constexpr Known kKnown[] = {{"aac", "aac", 32, 512, "ipod", "m4a"},
                            {"mp3", "libmp3lame", 32, 320, "mp3", "mp3"},
                            {"opus", "libopus", 16, 512, "opus", "opus"},
                            {"vorbis", "libvorbis", 48, 480, "ogg", "ogg"}};

// The module beside the running executable (or LQ_CODEC_MODULE), loaded once.
const LqCodecApi* codec_api() {
  static std::once_flag once;
  static const LqCodecApi* api = nullptr;
  static std::string why;
  std::call_once(once, [] {
    std::filesystem::path module;
    if (const char* env = std::getenv("LQ_CODEC_MODULE")) {
      module = env;
    } else {
      std::error_code ec;
      module = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "liblacquer-codec.so";
    }
    void* handle = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = ::dlerror();
      why = module.string() + ": " + (e ? e : "cannot be loaded");
      return;
    }
    using Entry = const LqCodecApi* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, "lq_codec_api"));
    const LqCodecApi* a = entry ? entry() : nullptr;
    if (!a || a->version != LQ_CODEC_API_VERSION) {
      why = module.string() + ": not this lacquer's codec module";
      return;
    }
    api = a;
  });
  if (!api) throw UserError("codec checks need Lacquer's codec module (built with FFmpeg's libraries): " + why);
  return api;
}

const Known& known(const CodecSpec& spec) {
  for (const Known& k : kKnown) {
    if (spec.codec == k.codec) return k;
  }
  throw std::invalid_argument("unknown codec " + spec.codec);
}

void append_bytes(void* ctx, const uint8_t* data, size_t n) {
  static_cast<std::vector<uint8_t>*>(ctx)->assign(data, data + n);
}

void append_rows(void* ctx, int channels, int n, const float* const* rows) {
  auto* out = static_cast<AudioBuffer*>(ctx);
  for (int c = 0; c < channels; ++c) {
    auto& ch = out->channels[size_t(c)];
    ch.insert(ch.end(), rows[c], rows[c] + n);
  }
}

}  // namespace

std::optional<CodecSpec> parse_codec(const std::string& name) {
  const auto us = name.find('_');
  if (us == std::string::npos || us + 1 >= name.size()) return std::nullopt;
  const std::string codec = name.substr(0, us), rate = name.substr(us + 1);
  if (rate.size() > 4 || !std::all_of(rate.begin(), rate.end(), [](unsigned char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int kbps = std::stoi(rate);
  for (const Known& k : kKnown) {
    if (codec == k.codec && kbps >= k.min_kbps && kbps <= k.max_kbps) return CodecSpec{name, codec, kbps};
  }
  return std::nullopt;
}

std::string codec_names_help() {
  return "aac_N (N 32-512), mp3_N (32-320), opus_N (16-512), vorbis_N (48-480), N in kbit/s";
}

std::string codec_file_extension(const CodecSpec& spec) { return known(spec).extension; }

AudioBuffer codec_round_trip(const AudioBuffer& master, const CodecSpec& spec, std::vector<uint8_t>* file) {
  const LqCodecApi* api = codec_api();
  const Known& k = known(spec);
  char err[512] = {};
  const int rate = api->encoder_rate(k.encoder, static_cast<int>(master.sample_rate), err, sizeof err);
  if (rate < 0) throw UserError(spec.name + ": " + err);
  const AudioBuffer converted = rate == static_cast<int>(master.sample_rate) ? AudioBuffer() : resample(master, rate);
  const AudioBuffer& in = rate == static_cast<int>(master.sample_rate) ? master : converted;
  std::vector<const float*> rows;
  for (const auto& c : in.channels) rows.push_back(c.data());
  AudioBuffer out(in.channel_count(), 0, rate);
  if (file) file->clear();
  if (api->round_trip(k.encoder, spec.kbps, in.channel_count(), in.frames(), rate, rows.data(), &out, append_rows,
                      file ? k.container : nullptr, file, file ? append_bytes : nullptr, err, sizeof err) != 0) {
    throw UserError(spec.name + ": " + err);
  }
  return out;
}

double reconstruction_bound(const AudioBuffer& audio, cpu::ThreadPool& pool) {
  cpu::ReconstructionPeak rp(audio.channel_count());
  rp.add(audio, 0, audio.frames(), pool);
  return rp.finish(pool);
}

namespace {

CodecFigures measure_decoded(const AudioBuffer& decoded, const LoudnessMeasurement& master_loudness, const CodecSpec& spec,
                             cpu::ThreadPool& pool) {
  CodecFigures f;
  f.name = spec.name;
  f.decoded_rate = decoded.sample_rate;
  f.decoded = measure_loudness(decoded, pool);
  f.bound = reconstruction_bound(decoded, pool);
  f.detector = decoded.frames() > 0 ? cpu::limiter_detector_max(decoded, 0, decoded.frames() + dsp::kLimiterSupport - 1, pool) : 0.0;
  if (f.decoded.integrated_defined && master_loudness.integrated_defined) {
    f.loudness_change_lu = f.decoded.integrated_lufs - master_loudness.integrated_lufs;
  }
  return f;
}

}  // namespace

std::vector<CodecFigures> measure_codecs(const AudioBuffer& master, const LoudnessMeasurement& master_loudness,
                                         const std::vector<CodecSpec>& specs, cpu::ThreadPool& pool,
                                         std::vector<std::vector<uint8_t>>* files) {
  std::vector<CodecFigures> out;
  if (files) files->assign(specs.size(), {});
  const size_t at_once = std::max<size_t>(1, size_t(pool.size()));
  for (size_t b = 0; b < specs.size(); b += at_once) {
    const size_t e = std::min(specs.size(), b + at_once);
    std::vector<std::future<AudioBuffer>> trips;
    for (size_t i = b; i < e; ++i) {
      trips.push_back(std::async(std::launch::async, [&, i] { return codec_round_trip(master, specs[i], files ? &(*files)[i] : nullptr); }));
    }
    for (size_t i = b; i < e; ++i) {
      const AudioBuffer decoded = trips[i - b].get();  // rethrows the round trip's error (the others finish first)
      out.push_back(measure_decoded(decoded, master_loudness, specs[i], pool));
    }
  }
  return out;
}

nlohmann::json codec_json(const CodecFigures& f) {
  using nlohmann::json;
  auto finite = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  return {{"codec", f.name},
          {"decoded_sample_rate", f.decoded_rate},
          {"decoded_true_peak_dbtp", f.bound > 0.0 ? json(dsp::linear_to_db(f.bound)) : json(nullptr)},
          {"decoded_annex2_true_peak_dbtp", finite(f.decoded.true_peak_dbtp)},
          {"decoded_detector_peak_dbtp", f.detector > 0.0 ? json(dsp::linear_to_db(f.detector)) : json(nullptr)},
          {"integrated_lufs", f.decoded.integrated_defined ? finite(f.decoded.integrated_lufs) : json(nullptr)},
          {"loudness_change_lu", f.loudness_change_lu ? json(*f.loudness_change_lu) : json(nullptr)}};
}

}  // namespace lq
