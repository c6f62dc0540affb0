// The subcommands of `lacquer`, each a function of its parsed arguments returning the exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lq::cli {

struct RenderArgs {
  std::vector<std::string> inputs;  // one song; several (or --album): -o is a folder
  std::string output;
  bool album = false;               // the inputs as one album (host/album.hpp)
  std::string format = "wav";       // the outputs' format in a folder
  std::string report;
  bool no_report = false;
  bool html = false;                // an HTML report beside each master (OUTPUT with .html)
  std::optional<double> target_lufs;
  std::optional<double> ceiling_dbtp;
  int threads = 0;
  std::string backend = "cpu";
  bool quiet = false;
};
int run_render(const RenderArgs& args);

struct MeasureArgs {
  std::vector<std::string> files;
  bool json = false;
  bool album = false;  // also the files' figures as one album (host/loudness.hpp album_loudness)
  int threads = 0;
};
int run_measure(const MeasureArgs& args);

struct QcArgs {
  std::vector<std::string> files;
  std::vector<std::string> codecs;     // host/codec.hpp names
  bool json = false;
  std::optional<double> target_lufs;   // fail a file more than tolerance_lu away
  double tolerance_lu = 0.5;
  std::optional<double> ceiling_dbtp;  // fail a file, or a codec's decoding, over it
  int threads = 0;
};
int run_qc(const QcArgs& args);

int run_devices();

struct BatchArgs {
  std::string catalog;
  std::string output;
  std::string preset;
  int jobs = 0;
  int threads = 0;
  std::string backend = "cpu";
  std::string format = "wav";
  bool force = false;
  bool export_groups = false;
  bool html = false;                // report.html per song and summary.html
  std::string shard;
  std::optional<int> shard_count;
  bool quiet = false;
  bool json_log = false;
  double max_inflight_gib = 0.0;
  double max_device_gib = 0.0;
  bool album_loudness = false;
};
int run_batch(const BatchArgs& args);

struct SummaryArgs {
  std::string out_dir;
  bool quiet = false;
};
int run_summary(const SummaryArgs& args);

}  // namespace lq::cli
