// What the streaming codecs do to a master (docs/algorithms.md "Codec round trips"): the master
// encoded and decoded again in memory with FFmpeg's libraries (the native AAC encoder, libmp3lame,
// libopus, libvorbis), so that its decoded peaks and loudness can be read. Names say the codec and
// the bit rate: "aac_256", "mp3_320", "opus_160", "vorbis_320".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"

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

// The master encoded with `spec` and decoded again, as floats at the rate the codec ran at (the
// master's, or 48 kHz where the codec does not take it: Opus always, MP3 above 48 kHz), the
// encoder's priming samples included. The work is done by the codec module
// (liblacquer-codec.so beside the executable, or LQ_CODEC_MODULE; host/codec/libav_codec.cpp),
// loaded on first use. Throws UserError when the module cannot be loaded or FFmpeg fails.
AudioBuffer codec_round_trip(const AudioBuffer& master, const CodecSpec& spec);

}  // namespace lq
