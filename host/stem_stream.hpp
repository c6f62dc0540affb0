// One stem through its chain in spans (DESIGN.md "stems"): decoded as it is needed, pan and gain,
// linear-phase EQ, compressor, and each finished span handed to the caller, which sums it into the
// buses. A stem is never held whole: memory per stem is a few spans, whatever the song's length.
// (Exceptions: a stem at another rate is converted whole first, and on a backend without a
// compressor stream a compressed stem is gathered whole for Backend::compress.)
//
// Same bits as the whole-stem chain: spans are whole multiples of the EQ's overlap-save hop
// (kernels/dsp/overlap_save.hpp), so the EQ's transform frames are those of one call over the
// whole stem, and the compressor stream carries its state exactly (cpu::CompressorStream). With a
// compressor look-ahead W the EQ's last W frames of a span, the compressor's look-ahead, are
// computed from a shorter frame than in the next span: same values to rounding, same bits whatever
// the thread count.
#pragma once

#include <cstdint>
#include <functional>

#include <nlohmann/json.hpp>

#include "host/backend.hpp"
#include "host/session.hpp"
#include "kernels/cpu/audio_buffer.hpp"

namespace lq {

// What a stem contributes to the report.
struct StemReport {
  nlohmann::json input;                             // report["inputs"][i]
  nlohmann::json report;                            // report["stems"][i]
  nlohmann::json warnings = nlohmann::json::array();
  nlohmann::json timing = nlohmann::json::object();  // seconds by stage ("decode")
};

// sink(at, span, frames): the stem's stereo frames [at, at + frames) at the session rate are
// span's first `frames`; called in order of `at`, covering [0, song_frames) once.
using StemSink = std::function<void(int64_t at, const AudioBuffer& span, int64_t frames)>;

// Streams stem `spec` (its file at `file_rate`, from the header) through its chain at `rate`,
// padded with silence to song_frames. Throws the file's problem (UserError) when
// its decoding fails, which for a problem found at the end (truncated data, NaN/Inf) is after
// some spans were handed to the sink.
StemReport stream_stem(const StemSpec& spec, double file_rate, double rate, int64_t song_frames,
                       Backend& backend, const StemSink& sink);

}  // namespace lq
