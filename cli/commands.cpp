#include "cli/commands.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "host/audio_io.hpp"
#include "host/batch.hpp"
#include "host/catalog.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "host/files.hpp"
#include "host/loudness.hpp"
#include "host/render.hpp"
#include "host/session.hpp"

namespace lq::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string fmt(const json& v, const char* unit) {
  if (!v.is_number()) return std::string("-");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", v.get<double>(), unit);
  return buf;
}

}  // namespace

int run_render(const RenderArgs& args) {
  const fs::path input(args.input);
  struct stat st {};
  if (::stat(input.c_str(), &st) != 0) {
    const int e = errno;
    throw UserError(input, e == ENOENT ? std::string("no such file or folder") : std::string(std::strerror(e)));
  }
  const Session session = S_ISDIR(st.st_mode) ? session_from_stem_dir(input) : load_session(input);
  RenderOptions opt;
  opt.output = args.output;
  if (!args.no_report) {
    opt.report = args.report.empty() ? fs::path(args.output).replace_extension(".json") : fs::path(args.report);
  }
  opt.target_lufs = args.target_lufs;
  opt.ceiling_dbtp = args.ceiling_dbtp;
  opt.threads = args.threads;
  opt.backend = args.backend;
  const TemporariesRemovedOnSignal on_signal;  // SIGINT/SIGTERM: nothing of this render is left
  const RenderResult r = render(session, opt);
  if (args.quiet) return 0;
  const json& m = r.report["master"];
  std::cout << "rendered " << r.output.string() << " (" << fmt(m["duration_s"], "s") << ", "
            << m["sample_rate"].get<double>() << " Hz, " << m["bit_depth"] << "-bit " << m["format"].get<std::string>()
            << ", backend " << r.report["lacquer"]["backend"].get<std::string>() << ")\n";
  std::cout << "  loudness  " << fmt(m["before"]["integrated_lufs"], "LUFS") << " -> "
            << fmt(m["after"]["integrated_lufs"], "LUFS") << " (gain " << fmt(m["gain_applied_db"], "dB") << ")\n";
  std::cout << "  true peak " << fmt(m["before"]["true_peak_dbtp"], "dBTP") << " -> "
            << fmt(m["after"]["true_peak_dbtp"], "dBTP") << " (ceiling " << fmt(m["ceiling_dbtp"], "dBTP") << ")\n";
  std::cout << "  limiter   max " << fmt(m["limiter"]["max_gain_reduction_db"], "dB") << ", mean "
            << fmt(m["limiter"]["mean_gain_reduction_db"], "dB") << " gain reduction\n";
  std::cout << "  range     " << fmt(m["after"]["loudness_range_lu"], "LU") << "\n";
  for (const auto& w : r.report["warnings"]) std::cout << "  warning: " << w.get<std::string>() << "\n";
  if (opt.report) std::cout << "  report    " << opt.report->string() << "\n";
  std::cout << "  time      " << fmt(r.report["timing_s"]["total"], "s") << "\n";
  return 0;
}

int run_measure(const MeasureArgs& args) {
  cpu::ThreadPool pool(args.threads);
  json all = json::array();
  std::vector<LoudnessMeasurement> measured;  // for --album
  int failed = 0;
  for (const auto& f : args.files) {
    AudioFileInfo info;
    AudioBuffer a;
    try {
      a = read_audio(f, &info);
    } catch (const UserError& e) {
      // One bad file does not hide the others' figures: it is reported, and the exit code says so.
      ++failed;
      std::cerr << "lacquer: " << e.what() << "\n";
      if (args.json) all.push_back({{"file", f}, {"error", e.what()}});
      continue;
    }
    LoudnessMeasurement m = measure_loudness(a, pool);
    auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    const json j = {{"file", f},
                    {"sample_rate", info.sample_rate},
                    {"channels", info.channels},
                    {"duration_s", double(info.frames) / info.sample_rate},
                    {"integrated_lufs", m.integrated_defined ? num(m.integrated_lufs) : json(nullptr)},
                    {"loudness_range_lu", num(m.loudness_range_lu)},
                    {"max_momentary_lufs", num(m.max_momentary_lufs)},
                    {"max_short_term_lufs", num(m.max_short_term_lufs)},
                    {"sample_peak_dbfs", num(m.sample_peak_dbfs)},
                    {"true_peak_dbtp", num(m.true_peak_dbtp)}};
    if (args.album) measured.push_back(std::move(m));
    if (args.json) {
      all.push_back(j);
      continue;
    }
    std::cout << f << "\n"
              << "  integrated     " << fmt(j["integrated_lufs"], "LUFS") << "\n"
              << "  loudness range " << fmt(j["loudness_range_lu"], "LU") << "\n"
              << "  max momentary  " << fmt(j["max_momentary_lufs"], "LUFS") << "\n"
              << "  max short-term " << fmt(j["max_short_term_lufs"], "LUFS") << "\n"
              << "  sample peak    " << fmt(j["sample_peak_dbfs"], "dBFS") << "\n"
              << "  true peak      " << fmt(j["true_peak_dbtp"], "dBTP") << "\n";
  }
  if (args.album) {
    // The album: the files' blocks gated together; each file's integrated loudness against it.
    const AlbumLoudness al = album_loudness(measured);
    auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    json album = {{"files", measured.size()},
                  {"integrated_lufs", al.integrated_defined ? num(al.integrated_lufs) : json(nullptr)},
                  {"loudness_range_lu", num(al.loudness_range_lu)}};
    if (args.json) {
      size_t k = 0;
      for (auto& j : all) {
        if (j.contains("error")) continue;
        const LoudnessMeasurement& m = measured[k++];
        j["relative_to_album_lu"] = m.integrated_defined && al.integrated_defined ? num(m.integrated_lufs - al.integrated_lufs)
                                                                                  : json(nullptr);
      }
      std::cout << json({{"files", all}, {"album", album}}).dump(2) << "\n";
    } else {
      std::cout << "album (" << measured.size() << " files)\n"
                << "  integrated     " << fmt(album["integrated_lufs"], "LUFS") << "\n"
                << "  loudness range " << fmt(album["loudness_range_lu"], "LU") << "\n";
    }
  } else if (args.json) {
    std::cout << all.dump(2) << "\n";
  }
  return failed > 0 ? 1 : 0;
}

int run_devices() {
  std::cout << describe_devices();
  return 0;
}

int run_batch(const BatchArgs& args) {
  BatchOptions opt;
  opt.out_dir = args.output;
  if (!args.preset.empty()) opt.preset = fs::path(args.preset);
  opt.jobs = args.jobs;
  opt.threads = args.threads;
  opt.backend = args.backend;
  opt.format = args.format;
  opt.force = args.force;
  opt.export_groups = args.export_groups;
  const Shard shard = select_shard(args.shard, args.shard_count);
  opt.shard_index = shard.index;
  opt.shard_count = shard.count;
  opt.quiet = args.quiet;
  opt.json_log = args.json_log;
  opt.max_inflight_bytes = static_cast<int64_t>(args.max_inflight_gib * double(int64_t{1} << 30));
  opt.max_device_bytes = static_cast<int64_t>(args.max_device_gib * double(int64_t{1} << 30));
  return lq::run_batch(args.catalog, opt);
}

int run_summary(const SummaryArgs& args) { return merge_summaries(args.out_dir, args.quiet); }

}  // namespace lq::cli
