#include "cli/commands.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "host/album.hpp"
#include "host/audio_io.hpp"
#include "host/batch.hpp"
#include "host/catalog.hpp"
#include "host/codec.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "host/files.hpp"
#include "host/loudness.hpp"
#include "host/render.hpp"
#include "host/session.hpp"
#include "kernels/cpu/reconstruction_peak.hpp"
#include "kernels/dsp/common.hpp"

namespace lq::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Reads one of the files a command reports on; a file that cannot be read is reported (stderr and,
// with --json, an entry of its own) and counted, so that one bad file does not hide the others.
bool read_or_report(const std::string& f, AudioFileInfo& info, AudioBuffer& a, bool as_json, json& all, int& failed) {
  try {
    a = read_audio(f, &info);
    return true;
  } catch (const UserError& e) {
    ++failed;
    std::cerr << "lacquer: " << e.what() << "\n";
    if (as_json) all.push_back({{"file", f}, {"error", e.what()}});
    return false;
  }
}

std::string fmt(const json& v, const char* unit) {
  if (!v.is_number()) return std::string("-");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", v.get<double>(), unit);
  return buf;
}

}  // namespace

namespace {

// A session file, or a folder of stems with the default preset.
Session session_of(const fs::path& input) {
  struct stat st {};
  if (::stat(input.c_str(), &st) != 0) {
    const int e = errno;
    throw UserError(input, e == ENOENT ? std::string("no such file or folder") : std::string(std::strerror(e)));
  }
  return S_ISDIR(st.st_mode) ? session_from_stem_dir(input) : load_session(input);
}

// A song's name in an output folder: the session file's name without .toml (its folder's name
// for a session.toml, as in a batch's song folders), or the stem folder's.
std::string song_name(const fs::path& input) {
  fs::path p = fs::absolute(input).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "session.toml") return p.parent_path().filename().string();
  return p.extension() == ".toml" ? p.stem().string() : p.filename().string();
}

void print_album(const json& album, const std::vector<std::pair<std::string, LoudnessMeasurement>>& delivered) {
  std::vector<LoudnessMeasurement> ms;
  for (const auto& [name, m] : delivered) ms.push_back(m);
  const AlbumLoudness after = album_loudness(ms);
  std::cout << "album '" << album["name"].get<std::string>() << "' (" << delivered.size() << " songs)\n"
            << "  loudness  " << fmt(album["integrated_lufs_before"], "LUFS") << " -> "
            << fmt(after.integrated_defined ? json(after.integrated_lufs) : json(nullptr), "LUFS") << " (gain "
            << fmt(album.value("gain_db", json(nullptr)), "dB") << ")\n"
            << "  range     " << fmt(json(after.loudness_range_lu), "LU") << "\n";
  for (const auto& [name, m] : delivered) {
    std::cout << "  " << name << "  " << fmt(m.integrated_defined ? json(m.integrated_lufs) : json(nullptr), "LUFS") << ", "
              << fmt(json(m.true_peak_dbtp), "dBTP") << "\n";
  }
}

// Several sessions into a folder, or an album (both phases): every master and report is published
// together at the end, or none.
int run_render_folder(const RenderArgs& args) {
  const fs::path out_dir(args.output);
  std::vector<Session> sessions;
  std::vector<std::string> names;
  for (const auto& in : args.inputs) {
    sessions.push_back(session_of(in));
    names.push_back(song_name(in));
    for (size_t k = 0; k + 1 < names.size(); ++k) {
      if (names[k] == names.back()) {
        throw UsageError(in, "has the same name as '" + args.inputs[k] + "': their masters would be one file in " +
                                 out_dir.string());
      }
    }
  }
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) throw UsageError(out_dir, "no such folder (with several inputs or --album, -o names a folder)");
  std::string album_name = out_dir.filename().empty() ? fs::absolute(out_dir).parent_path().filename().string()
                                                      : fs::absolute(out_dir).filename().string();
  if (args.album) {
    const auto& first = sessions.front().album;
    const bool agree = first && std::all_of(sessions.begin(), sessions.end(), [&](const Session& s) { return s.album == first; });
    if (agree) album_name = *first;
    for (auto& s : sessions) set_loudness_mode(s, LoudnessMode::album);
  }
  // Every song's options; each reads the other songs' files too (none of them may be written).
  std::vector<RenderOptions> options(sessions.size());
  Publication publication;
  for (size_t i = 0; i < sessions.size(); ++i) {
    RenderOptions& o = options[i];
    o.output = out_dir / (names[i] + "." + args.format);
    if (!args.no_report) o.report = out_dir / (names[i] + ".json");
    if (args.html) o.html = out_dir / (names[i] + ".html");
    o.target_lufs = args.target_lufs;
    o.ceiling_dbtp = args.ceiling_dbtp;
    o.threads = args.threads;
    o.backend = args.backend;
    o.publication = &publication;
    for (size_t k = 0; k < sessions.size(); ++k) {
      if (k == i) continue;
      const std::string what = "an input of '" + names[k] + "'";
      o.other_inputs.emplace_back(sessions[k].source, what);
      for (const auto& st : sessions[k].stems) o.other_inputs.emplace_back(st.file, what);
      for (const auto& r : sessions[k].reverbs) o.other_inputs.emplace_back(r.ir, what);
      if (sessions[k].master.match) o.other_inputs.emplace_back(sessions[k].master.match->reference, what);
    }
    preflight_output(sessions[i], o);
  }
  if (args.album) {  // the first phase: every song's pre-gain master measured
    std::vector<AlbumSong> songs;
    for (size_t i = 0; i < sessions.size(); ++i) {
      if (!args.quiet) std::cout << "measuring " << names[i] << "\n";
      songs.push_back({names[i], measure_pre_gain(sessions[i], options[i])});
    }
    const AlbumContext album = album_context(album_name, songs);
    for (auto& o : options) o.album = album;
  }
  json album_report;
  for (size_t i = 0; i < sessions.size(); ++i) {
    const RenderResult r = render(sessions[i], options[i]);
    if (r.report.contains("album")) album_report = r.report["album"];
    if (!args.quiet) {
      const json& m = r.report["master"];
      std::cout << "rendered " << options[i].output.string() << ": " << fmt(m["before"]["integrated_lufs"], "LUFS") << " -> "
                << fmt(m["after"]["integrated_lufs"], "LUFS") << ", true peak " << fmt(m["after"]["true_peak_dbtp"], "dBTP")
                << ", gain " << fmt(m["gain_applied_db"], "dB") << "\n";
      for (const auto& w : r.report["warnings"]) std::cout << "  warning: " << w.get<std::string>() << "\n";
    }
  }
  publication.publish();
  if (args.album && !args.quiet) {
    // The album as delivered: the masters read back and their blocks gated together.
    cpu::ThreadPool pool(args.threads);
    std::vector<std::pair<std::string, LoudnessMeasurement>> delivered;
    for (size_t i = 0; i < sessions.size(); ++i) delivered.emplace_back(names[i], measure_loudness(read_audio(options[i].output), pool));
    print_album(album_report, delivered);
  }
  return 0;
}

}  // namespace

int run_render(const RenderArgs& args) {
  if (args.inputs.size() > 1 || args.album) return run_render_folder(args);
  const fs::path input(args.inputs.front());
  const Session session = session_of(input);
  RenderOptions opt;
  opt.output = args.output;
  if (!args.no_report) {
    opt.report = args.report.empty() ? fs::path(args.output).replace_extension(".json") : fs::path(args.report);
  }
  if (args.html) opt.html = fs::path(args.output).replace_extension(".html");
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
  if (m.contains("codecs")) {
    const json& c = m["codecs"];
    std::cout << "  codecs    decoded peaks";
    for (const auto& k : c["checks"]) std::cout << " " << k["codec"].get<std::string>() << " " << fmt(k["decoded_true_peak_dbtp"], "dBTP") << ",";
    std::cout << " under " << fmt(c["ceiling_dbtp"], "dBTP") << " with the limiter at " << fmt(c["limiter_ceiling_dbtp"], "dBTP")
              << " (" << c["rounds"].get<int>() << (c["rounds"].get<int>() == 1 ? " round)" : " rounds)") << "\n";
  }
  for (const auto& w : r.report["warnings"]) std::cout << "  warning: " << w.get<std::string>() << "\n";
  if (opt.report) std::cout << "  report    " << opt.report->string() << "\n";
  if (opt.html) std::cout << "  html      " << opt.html->string() << "\n";
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
    if (!read_or_report(f, info, a, args.json, all, failed)) continue;
    LoudnessMeasurement m = measure_loudness(a, pool);
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

namespace {

json db_or_null(double linear) { return linear > 0.0 ? json(dsp::linear_to_db(linear)) : json(nullptr); }

}  // namespace

int run_qc(const QcArgs& args) {
  std::vector<CodecSpec> codecs;
  for (const auto& name : args.codecs) {
    const auto spec = parse_codec(name);
    if (!spec) throw UsageError("--codecs " + name + ": not a codec check (" + codec_names_help() + ")");
    codecs.push_back(*spec);
  }
  // A check over its limit by this much fails (the master's own verify allows the bound 0.01 dB).
  const double bound_room_db = 0.01;
  cpu::ThreadPool pool(args.threads);
  json all = json::array();
  int failed = 0;
  for (const auto& f : args.files) {
    AudioFileInfo info;
    AudioBuffer a;
    if (!read_or_report(f, info, a, args.json, all, failed)) continue;
    const LoudnessMeasurement m = measure_loudness(a, pool);
    const double bound = reconstruction_bound(a, pool);
    json j = {{"file", f},
              {"sample_rate", info.sample_rate},
              {"channels", info.channels},
              {"duration_s", double(info.frames) / info.sample_rate},
              {"integrated_lufs", m.integrated_defined ? num(m.integrated_lufs) : json(nullptr)},
              {"loudness_range_lu", num(m.loudness_range_lu)},
              {"true_peak_dbtp", num(m.true_peak_dbtp)},
              {"true_peak_bound_dbtp", db_or_null(bound)}};
    std::vector<std::string> problems;
    if (args.target_lufs) {
      const bool ok = m.integrated_defined && std::fabs(m.integrated_lufs - *args.target_lufs) <= args.tolerance_lu;
      if (!ok) problems.push_back("loudness " + (m.integrated_defined ? std::to_string(m.integrated_lufs) : std::string("undefined")) +
                                  " LUFS is not within " + std::to_string(args.tolerance_lu) + " LU of " +
                                  std::to_string(*args.target_lufs));
    }
    const double ceiling = args.ceiling_dbtp ? dsp::db_to_linear(*args.ceiling_dbtp) : 0.0;
    if (args.ceiling_dbtp && (m.true_peak_linear > ceiling || bound > ceiling * dsp::db_to_linear(bound_room_db))) {
      problems.push_back("true peak " + std::to_string(m.true_peak_dbtp) + " dBTP (bound " + std::to_string(dsp::linear_to_db(bound)) +
                         ") is over the ceiling");
    }
    json cj = json::array();
    const std::vector<CodecFigures> figures = measure_codecs(a, m, codecs, pool);
    for (size_t k = 0; k < codecs.size(); ++k) {
      const CodecSpec& spec = codecs[k];
      const CodecFigures& cf = figures[k];
      const double dbound = cf.bound;
      json c = codec_json(cf);
      if (args.ceiling_dbtp) {
        // As the render's check: the bound, and Annex 2 and the outside meters' sincs.
        const bool holds = dbound <= ceiling * dsp::db_to_linear(bound_room_db) && cf.detector <= ceiling;
        c["holds"] = holds;
        if (!holds) {
          problems.push_back(spec.name + " decodes to a true peak of " + std::to_string(dsp::linear_to_db(std::max(dbound, cf.detector))) +
                             " dBTP");
        }
      }
      cj.push_back(c);
    }
    if (!codecs.empty()) j["codecs"] = cj;
    j["passed"] = problems.empty();
    if (!problems.empty()) {
      ++failed;
      j["problems"] = problems;
    }
    if (args.json) {
      all.push_back(j);
      continue;
    }
    std::cout << f << (problems.empty() ? "" : "  FAILED") << "\n"
              << "  integrated     " << fmt(j["integrated_lufs"], "LUFS") << "\n"
              << "  loudness range " << fmt(j["loudness_range_lu"], "LU") << "\n"
              << "  true peak      " << fmt(j["true_peak_dbtp"], "dBTP") << " (bound " << fmt(j["true_peak_bound_dbtp"], "dBTP") << ")\n";
    for (const auto& c : cj) {
      std::cout << "  " << c["codec"].get<std::string>() << "  decoded peak " << fmt(c["decoded_true_peak_dbtp"], "dBTP")
                << ", loudness " << fmt(c["loudness_change_lu"], "LU") << " change"
                << (c.contains("holds") ? (c["holds"].get<bool>() ? ", holds" : ", OVER") : "") << "\n";
    }
    for (const auto& p : problems) std::cout << "  problem: " << p << "\n";
  }
  if (args.json) std::cout << all.dump(2) << "\n";
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
  opt.html = args.html;
  const Shard shard = select_shard(args.shard, args.shard_count);
  opt.shard_index = shard.index;
  opt.shard_count = shard.count;
  opt.quiet = args.quiet;
  opt.json_log = args.json_log;
  opt.max_inflight_bytes = static_cast<int64_t>(args.max_inflight_gib * double(int64_t{1} << 30));
  opt.max_device_bytes = static_cast<int64_t>(args.max_device_gib * double(int64_t{1} << 30));
  opt.album_loudness = args.album_loudness;
  return lq::run_batch(args.catalog, opt);
}

int run_summary(const SummaryArgs& args) { return merge_summaries(args.out_dir, args.quiet); }

}  // namespace lq::cli
