// What the streaming codecs do to a master (docs/algorithms.md "Codec round trips"): the master
// encoded and decoded again in memory with FFmpeg's libraries (the native AAC encoder, libmp3lame,
// libopus, libvorbis), so that its decoded peaks and loudness can be read. Names say the codec and
// the bit rate: "aac_256", "mp3_320", "opus_160", "vorbis_320".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/loudness.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

struct CodecSpec {
  std::string name;      // as given: "aac_256"
  std::string codec;     // aac | mp3 | opus | vorbis
  int kbps = 0;
};

// "aac_256" -> {aac, 256}; none for anything else. Rates: aac 32-512, mp3 32-320, opus 16-512
// (libopus's per-channel limit, 256 per channel), vorbis 48-480 kbit/s.
std::optional<CodecSpec> parse_codec(const std::string& name);
// The names parse_codec accepts, for messages: "aac_N, mp3_N, opus_N, vorbis_N".
std::string codec_names_help();

// The file an encoded master is written to (codec_export): "m4a" (AAC in MP4), "mp3", "opus"
// (Opus in Ogg), "ogg" (Vorbis in Ogg).
std::string codec_file_extension(const CodecSpec& spec);

// The master encoded with `spec` and decoded again, as floats at the rate the codec ran at (the
// master's, or 48 kHz where the codec does not take it: Opus always, MP3 above 48 kHz), the
// encoder's priming samples included. The work is done by the codec module
// (liblacquer-codec.so beside the executable, or LQ_CODEC_MODULE; host/codec/libav_codec.cpp),
// loaded on first use. Throws UserError when the module cannot be loaded or FFmpeg fails.
// `file`: also the encoded file (the same packets, in codec_file_extension's container).
AudioBuffer codec_round_trip(const AudioBuffer& master, const CodecSpec& spec, std::vector<uint8_t>* file = nullptr);

// The band-limited reconstruction's bound of a whole signal (linear; docs/algorithms.md "The
// reconstruction bound"): what a master's ceiling is verified on, and a decoded signal's peak.
double reconstruction_bound(const AudioBuffer& audio, cpu::ThreadPool& pool);

// What one codec does to a master: its decoded signal's reconstruction bound (the figure held
// against a ceiling), Annex 2 true peak and loudness, and the loudness change from the master's.
struct CodecFigures {
  std::string name;
  double decoded_rate = 0.0;
  double bound = 0.0;                        // linear
  // The largest of the readings the master's limiter holds (Annex 2 and the sincs standing for
  // ffmpeg's and libebur128's meters, cpu::limiter_detector_max), linear.
  double detector = 0.0;
  LoudnessMeasurement decoded;
  std::optional<double> loudness_change_lu;  // none where either loudness is undefined
};
// The figures of each of `specs`, in their order: the round trips (each encoder one thread)
// pool.size() at a time, each decoded signal measured on the pool as it comes. `files`: also
// each encoded file (files[i] for specs[i]).
std::vector<CodecFigures> measure_codecs(const AudioBuffer& master, const LoudnessMeasurement& master_loudness,
                                         const std::vector<CodecSpec>& specs, cpu::ThreadPool& pool,
                                         std::vector<std::vector<uint8_t>>* files = nullptr);
// Its report entry: codec, decoded_sample_rate, decoded_true_peak_dbtp (the bound),
// decoded_annex2_true_peak_dbtp, decoded_detector_peak_dbtp, integrated_lufs, loudness_change_lu
// (null where undefined).
nlohmann::json codec_json(const CodecFigures& f);

}  // namespace lq
