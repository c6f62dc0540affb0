// Rendering one song: the whole chain of docs/architecture.md "Data flow of a render", on the
// backend chosen (the master's verify reads on the CPU either way).
//
//   stems: decode -> SRC to the session rate -> gain/pan -> EQ -> compressor -> group bus,
//          sends -> reverb buses
//   reverbs: sum of sends -> pre-delay -> convolution -> wet -> return (a group or the master)
//   groups: sum -> EQ -> compressor -> width -> gain -> master bus (group sends -> reverbs)
//   master: sum -> EQ -> glue compressor -> tail trim -> SRC to the output rate
//           -> loudness gain (closed loop) -> true-peak limiter -> dither -> encode
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/album.hpp"
#include "host/files.hpp"
#include "host/session.hpp"

namespace lq {

// Admission of device memory among renders that share a device (a batch's songs in flight): a
// render on the device takes acquire(bytes) before its device buffers (it returns once they fit),
// and release(bytes) when they are gone.
class DeviceMemoryGate {
 public:
  virtual ~DeviceMemoryGate() = default;
  virtual void acquire(int64_t bytes) = 0;
  virtual void release(int64_t bytes) = 0;
};

struct RenderOptions {
  std::filesystem::path output;                 // .wav or .flac
  std::optional<std::filesystem::path> report;  // JSON report path; none: no report file
  std::optional<double> target_lufs;            // overrides the session's
  std::optional<double> ceiling_dbtp;           // overrides the session's
  int threads = 0;                              // 0: all cores
  std::string backend = "cpu";                  // cpu | cuda | auto | cuda-host
  // The device backends' convolution batch and memory budget (host/device_backend.hpp
  // DeviceBackendOptions): tests lower them to run several batches, or the span path, on short
  // material. Unset: the defaults.
  std::optional<int64_t> device_batch_samples, device_memory_budget_bytes;
  DeviceMemoryGate* device_gate = nullptr;      // none: the render takes what it needs
  // Where to write each processed group bus (the stem-master deliverables), or none: GROUP.<ext>
  // of the output's format, each bus as it enters the master bus (after its EQ, compressor, width
  // and gain), at the output's rate, bit depth and length, sample-aligned with the master.
  std::optional<std::filesystem::path> export_groups_dir;
  nlohmann::json report_extra;                  // merged into the report's top level (e.g. "batch")
  // The album the song is finished in (its second phase), for masters with loudness = "album";
  // none: the song is an album of one (its own pre-gain loudness).
  std::optional<AlbumContext> album;
  // Where the render's files are published: none, at its end; given, they join it and the caller
  // publishes them (the songs of `render --album` are published together, or none).
  Publication* publication = nullptr;
  // Where to write the HTML report (host/html_report.hpp), or none; with it the report gets the
  // series the page draws (master.series, host/report_series.hpp).
  std::optional<std::filesystem::path> html;
  // Other files the command reads (a batch's manifest), for the check of written against read paths.
  std::vector<std::pair<std::filesystem::path, std::string>> other_inputs;
};

struct RenderResult {
  nlohmann::json report;                        // every figure; also written to options.report
  std::filesystem::path output;
};

// Renders the session to options.output. Before any work, every path it writes (master,
// deliverables, group exports, report) is checked against every path it reads and each other
// (PathPlan, host/files.hpp); all of them are published together at the end, or none: nothing is
// left behind on failure. Throws UserError for anything the user can fix (bad files, bad paths,
// unsupported settings), UsageError for a conflict between paths named on the command line.
RenderResult render(const Session& session, const RenderOptions& options);

// An album's first phase (host/album.hpp): the song's pre-gain master (the mix, the master's EQ,
// compressor and tail, at the processing rate) rendered and measured; nothing is written. The same
// checks as render() before it starts.
LoudnessMeasurement measure_pre_gain(const Session& session, const RenderOptions& options);

// Checks that the render's outputs can be written (folders exist and are writable, the output's
// extension is known, nothing to replace is a special file) and that none of them is one of the
// session's inputs or another output (PathPlan, host/files.hpp). Throws UsageError/UserError.
void preflight_output(const Session& session, const RenderOptions& options);

// Hash of the settings, the inputs' sizes and modification times, and Lacquer's version
// (hex XXH3-128): equal hashes mean a re-render would produce the same master.
std::string session_hash(const Session& session);


}  // namespace lq
