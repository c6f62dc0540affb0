// One stem through its chain in spans (docs/architecture.md "Stems"): decoded as it is needed, pan and gain,
// linear-phase EQ, compressor (host/bus_stream.hpp, ChainStream), each span read by the caller,
// which sums it into the buses. A stem is never held whole: memory per stem is about a span and an
// EQ hop, whatever the song's length (a stem at another rate is converted whole first).
//
// The same bits as the whole-stem chain (to_stereo, apply_eq, Backend::compress over the whole
// stem), for any span lengths.
#pragma once

#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "host/backend.hpp"
#include "host/bus_stream.hpp"
#include "host/session.hpp"
#include "kernels/cpu/audio_buffer.hpp"

namespace lq {

// What a stem contributes to the report.
struct StemReport {
  nlohmann::json input;                             // report["inputs"][i]
  nlohmann::json report;                            // report["stems"][i]
  nlohmann::json warnings = nlohmann::json::array();
  nlohmann::json timing = nlohmann::json::object();  // seconds by stage ("decode")
  std::vector<float> gain_reduction_steps;          // the compressor's, per 100 ms (ChainStream)
};

// The stem's report entries (input, report, the resampling warning) into `out`, from its file's
// facts (info), its EQ design and its compressor's figures (null: none).
struct AudioFileInfo;
void stem_report(const StemSpec& spec, const AudioFileInfo& info, double rate, const EqDesign* design,
                 const DynamicsStats* comp, StemReport& out);

class StemSource;

// Stem `spec` (its file at `file_rate`, from the header) through its chain at `rate`, padded with
// silence to song_frames, in consecutive spans. Throws the file's problem (UserError) when its
// decoding fails, which for a problem found at the end (truncated data, NaN/Inf) is in a late
// next() or in finish().
class StemStream {
 public:
  StemStream(const StemSpec& spec, double file_rate, double rate, int64_t song_frames, Backend& backend);
  ~StemStream();
  StemStream(const StemStream&) = delete;
  StemStream& operator=(const StemStream&) = delete;

  const StemSpec& spec() const { return spec_; }
  int64_t done() const { return chain_.done(); }
  // The stem's next n stereo frames at the session rate: the result's first n, valid until the
  // next call.
  const AudioBuffer& next(int64_t n);
  // After the last frame: the end-of-file checks and the stem's report.
  StemReport finish();

 private:
  const StemSpec& spec_;
  double rate_;
  StemReport out_;
  std::unique_ptr<StemSource> source_;
  ChainStream chain_;
};

}  // namespace lq
