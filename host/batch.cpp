#include "host/batch.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <iostream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "host/album.hpp"
#include "host/audio_io.hpp"
#include "host/catalog.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "host/files.hpp"
#include "host/html_report.hpp"
#include "host/loudness.hpp"
#include "host/render.hpp"
#include "host/session.hpp"

namespace lq {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

int default_batch_jobs() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::min(8, std::max(2, cores / 2));
}

int64_t default_inflight_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const int64_t half = pages > 0 && page > 0 ? int64_t(pages) * int64_t(page) / 2 : 0;
  return std::max<int64_t>(half, int64_t{1} << 30);
}

int64_t default_device_bytes(const std::string& backend) {
  // A GPU: 90 % of what is free on it now (the CUDA context and cuFFT's work areas take the rest).
  // The host executor's "device" is host memory: the host default.
  const int64_t gpu = backend == "cuda" || backend == "auto" ? cuda_free_memory_bytes() : 0;
  return gpu > 0 ? gpu / 10 * 9 : default_inflight_bytes();
}

namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_stop_announced{false};
// The first SIGINT/SIGTERM asks the batch to stop after the songs in flight; a second one ends the
// process at once (unnamed temporaries vanish with it, named ones are removed; host/files.hpp).
extern "C" void on_stop_signal(int sig) {
  if (g_signal.exchange(sig) != 0) terminate_on_signal(sig);  // named temporaries removed first
}

// SIGINT/SIGTERM stop the batch from taking new songs while it runs; restored afterwards.
class StopSignals {
 public:
  StopSignals() {
    g_signal.store(0);
    g_stop_announced.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

bool stop_requested() { return g_signal.load() != 0; }

// An exclusive lock on a song folder (flock: released when the process dies, however it dies).
class FolderLock {
 public:
  explicit FolderLock(const fs::path& dir) {
    fd_ = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
    if (fd_ < 0) throw UserError(dir / ".lock", std::string("cannot create the lock file: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      fd_ = -1;
      throw UserError(dir / ".lock", "the lock file is not a regular file");
    }
    held_ = ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

// Removes what a run killed while publishing left: named temporaries of Lacquer's own
// (is_lacquer_temporary: ".lacquer-PID-16HEX.tmp", regular files only), in a song folder of the
// output, which is never a source folder (run_batch refuses an overlap). Nothing else is touched.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (is_lacquer_temporary(it->path().filename().string()) && it->is_regular_file(fec) && !it->is_symlink(fec)) {
      fs::remove(it->path(), fec);
    }
  }
}

struct SongResult {
  std::string id;
  std::string status;   // rendered | skipped | failed | locked | interrupted
  std::string error;
  json figures = json::object();
};

json figures_from(const json& report) {
  const json& m = report.at("master");
  auto get = [](const json& j, const char* k) { return j.contains(k) ? j[k] : json(nullptr); };
  return {{"integrated_lufs_before", get(m.at("before"), "integrated_lufs")},
          {"integrated_lufs_after", get(m.at("after"), "integrated_lufs")},
          {"true_peak_dbtp", get(m.at("after"), "true_peak_dbtp")},
          {"limiter_max_gain_reduction_db", get(m.at("limiter"), "max_gain_reduction_db")},
          {"duration_s", get(m, "duration_s")},
          {"render_s", report.at("timing_s").at("total")},
          {"backend", report.at("lacquer").at("backend")},
          {"master_xxh3_128", report.at("output").at("xxh3_128")},
          {"album_gain_db", report.contains("album") ? get(report["album"], "gain_db") : json(nullptr)}};
}

// `album`: the album the song is finished in (its hash: the measurements of its songs).
std::string song_hash(const Session& session, const CatalogSong& song, const BatchOptions& opt,
                      const AlbumContext* album = nullptr) {
  std::string text = session_hash(session) + "\n" + opt.format + "\n" + (opt.export_groups ? "groups" : "-") + "\n";
  if (opt.html) text += "html\n";  // a report with its series
  if (song.target_lufs) text += "target_lufs=" + std::to_string(*song.target_lufs) + "\n";
  if (album) text += "album=" + album->hash + "\n";
  return text_xxh128(text);
}

// The song's session, in album mode when the batch says so and the song is in an album.
Session song_session(const CatalogSong& song, const BatchOptions& opt) {
  Session s = song.is_session_file ? load_session(song.source) : session_from_stem_dir(song.source, opt.preset);
  if (opt.album_loudness && song.album) set_loudness_mode(s, LoudnessMode::album);
  return s;
}

// A folder of the output the song writes into, created: never a symlink to somewhere else.
void real_folder(const fs::path& dir, const char* what) {
  std::error_code dec;
  fs::create_directory(dir, dec);
  if (fs::is_symlink(dir, dec) || !fs::is_directory(fs::symlink_status(dir, dec))) {
    throw UserError(dir, std::string("is not a folder (a symbolic link or a file): ") + what);
  }
}

// The song's folder OUT_DIR/<id> (and an album folder's OUT_DIR/<album folder> above it).
fs::path song_folder(const CatalogSong& song, const BatchOptions& opt) {
  const fs::path dir = opt.out_dir / song.id;
  if (dir.parent_path() != opt.out_dir) real_folder(dir.parent_path(), "outputs are written only into real folders");
  real_folder(dir, "outputs are written only into real folders");
  return dir;
}

// The summary figures of a complete render of exactly this song and these settings, or null.
json complete_figures(const fs::path& report_path, const fs::path& master, const std::string& hash) {
  std::error_code ec;
  if (!fs::exists(report_path, ec) || !fs::exists(master, ec)) return nullptr;
  try {
    json r = json::parse(read_text_file(report_path));
    if (r.at("batch").at("song_hash").get<std::string>() != hash) return nullptr;
    if (r.at("output").at("xxh3_128").get<std::string>() != file_xxh128(master)) return nullptr;
    // Every file the report names must be there with its checksum: deliverables and group exports.
    for (const char* key : {"deliverables", "exported_groups"}) {
      if (!r.contains(key)) continue;
      const fs::path folder = std::string(key) == "deliverables" ? master.parent_path() : master.parent_path() / "groups";
      for (const auto& d : r[key]) {
        const fs::path file = folder / fs::path(d.at("path").get<std::string>()).filename();
        if (!fs::exists(file, ec) || d.at("xxh3_128").get<std::string>() != file_xxh128(file)) return nullptr;
      }
    }
    // And every encoded file a codec check exported.
    std::vector<const json*> masters{&r.at("master")};
    if (r.contains("deliverables")) for (const auto& d : r["deliverables"]) masters.push_back(&d);
    for (const json* m : masters) {
      if (!m->contains("codecs") || !m->at("codecs").contains("exported")) continue;
      for (const auto& e : m->at("codecs").at("exported")) {
        const fs::path file = master.parent_path() / fs::path(e.at("path").get<std::string>()).filename();
        if (!fs::exists(file, ec) || e.at("xxh3_128").get<std::string>() != file_xxh128(file)) return nullptr;
      }
    }
    return figures_from(r);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// Working-set estimate of a song (BatchOptions' header): from the stems' headers. Stems, groups
// and reverbs stream in spans (host/mix_stream.hpp) and so does the finishing (limiter, quantise,
// meter, encode), so what grows with the song is the master's stereo float buffer, twice: the
// loudness loop limits a gained copy of it; a stem at another rate is converted whole (its own
// channels, in and out); 8 MiB per stem for its spans and 64 MiB for the buses' spans, transforms
// and filters.
int64_t estimate_bytes(const Session& s) {
  int64_t frames_max = 0, converted = 0;
  double rate = s.sample_rate.value_or(0.0);  // the processing rate: the session's, else the first stem's
  for (const auto& st : s.stems) {
    int64_t n = 0;
    int fs_hz = 0, channels = 0;
    if (!probe_audio_header(st.file, &n, &fs_hz, &channels) || fs_hz <= 0) continue;  // the render says why
    if (rate <= 0.0) rate = fs_hz;
    const auto frames = static_cast<int64_t>(double(n) * rate / double(fs_hz));
    frames_max = std::max(frames_max, frames);
    if (rate != double(fs_hz)) converted = std::max(converted, (n + frames) * std::max(1, channels) * 4);
  }
  // The longest reverb tail beyond the stems.
  frames_max += static_cast<int64_t>(s.master.tail_s * std::max(rate, 0.0));
  const int64_t stereo = frames_max * 2 * 4;
  // The master and the loop's gained copy; a deliverable finishes its own copy; a master at another
  // output rate is converted beside the bus (both rates' buffers live at once).
  int64_t held = 2 * stereo + (s.deliverables.empty() ? 0 : stereo);
  auto converted_master = [&](const std::optional<double>& out_rate) {
    return out_rate && rate > 0.0 && *out_rate != rate ? int64_t(double(stereo) * (1.0 + *out_rate / rate)) : int64_t{0};
  };
  int64_t conversion = converted_master(s.master.sample_rate);
  for (const auto& d : s.deliverables) conversion = std::max(conversion, converted_master(d.master.sample_rate));
  const int64_t total = held + conversion + converted + int64_t(s.stems.size()) * (int64_t{8} << 20) + (int64_t{64} << 20);
  return total + total / 10;  // 10 % for the allocator and what the spans hold beside these
}

// Admission by bytes in flight: a song waits until its estimate fits beside the songs in flight,
// or until nothing else is in flight (a song larger than the budget still runs, alone). Host
// memory (estimate_bytes, before a song starts) and device memory (the render's device estimate,
// before its device buffers: DeviceMemoryGate) each have one; a song takes host memory first.
class MemoryBudget final : public DeviceMemoryGate {
 public:
  explicit MemoryBudget(int64_t limit) : limit_(limit) {}
  void acquire(int64_t bytes) override {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return in_flight_ == 0 || in_flight_ + bytes <= limit_; });
    in_flight_ += bytes;
    peak_ = std::max(peak_, in_flight_);
  }
  void release(int64_t bytes) override {
    {
      std::lock_guard lock(m_);
      in_flight_ -= bytes;
    }
    cv_.notify_all();
  }
  int64_t peak() const {
    std::lock_guard lock(m_);
    return peak_;
  }

 private:
  mutable std::mutex m_;
  std::condition_variable cv_;
  int64_t limit_;
  int64_t in_flight_ = 0;
  int64_t peak_ = 0;
};

// The first phase of an album's song: its pre-gain master's measurement, kept in
// album-measure.json (read back when the song's hash matches) or made and kept.
struct Measured {
  bool ok = false;
  bool kept = false;         // read from an earlier run
  std::string error;
  LoudnessMeasurement pre_gain;
};

// The render options a batch gives a song (the album and the report aside).
RenderOptions song_options(const CatalogSong& song, const BatchOptions& opt, const fs::path& dir, int threads,
                           MemoryBudget& device_budget) {
  RenderOptions ro;
  ro.output = dir / ("master." + opt.format);
  ro.target_lufs = song.target_lufs;
  ro.threads = threads;
  ro.backend = opt.backend;
  ro.device_gate = &device_budget;
  if (song.manifest) ro.other_inputs.emplace_back(*song.manifest, "manifest");
  return ro;
}

Measured measure_song(const CatalogSong& song, const BatchOptions& opt, int threads, MemoryBudget& budget,
                      MemoryBudget& device_budget) {
  Measured r;
  try {
    if (!song.error.empty()) throw UserError(song.error);
    const fs::path dir = song_folder(song, opt);
    FolderLock lock(dir);
    if (!lock.held()) throw UserError(dir / ".lock", "another lacquer batch is rendering this song");
    remove_stale_temporaries(dir);
    const Session session = song_session(song, opt);
    const std::string hash = song_hash(session, song, opt);
    const fs::path kept = dir / "album-measure.json";
    std::error_code ec;
    if (!opt.force && fs::exists(kept, ec)) {
      try {
        const json j = json::parse(read_text_file(kept));
        if (j.at("song_hash").get<std::string>() == hash) {
          r.pre_gain = measurement_from_json(j.at("pre_gain"));
          r.ok = r.kept = true;
          return r;
        }
      } catch (const std::exception&) {
        // not one this batch wrote, or from other settings: measured again
      }
    }
    check_replaceable(kept);
    const int64_t bytes = estimate_bytes(session);
    budget.acquire(bytes);
    try {
      r.pre_gain = measure_pre_gain(session, song_options(song, opt, dir, threads, device_budget));
    } catch (...) {
      budget.release(bytes);
      throw;
    }
    budget.release(bytes);
    write_text_atomic(kept, json({{"song_id", song.id}, {"song_hash", hash}, {"pre_gain", measurement_json(r.pre_gain)}}).dump() + "\n");
    r.ok = true;
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

// `album`: the album the song is finished in (its second phase), or none.
SongResult render_song(const CatalogSong& song, const BatchOptions& opt, int threads, MemoryBudget& budget,
                       MemoryBudget& device_budget, const AlbumContext* album) {
  SongResult r;
  r.id = song.id;
  try {
    if (!song.error.empty()) throw UserError(song.error);
    const fs::path dir = song_folder(song, opt);
    FolderLock lock(dir);
    if (!lock.held()) {
      r.status = "locked";
      r.error = (dir / ".lock").string() + ": another lacquer batch is rendering this song";
      return r;
    }
    remove_stale_temporaries(dir);
    remove_stale_temporaries(dir / "groups");
    const Session session = song_session(song, opt);
    if (!uses_album_loudness(session)) album = nullptr;
    const std::string hash = song_hash(session, song, opt, album);
    const fs::path master = dir / ("master." + opt.format), report = dir / "report.json";
    const fs::path page = dir / "report.html";
    if (!opt.force) {
      json done = complete_figures(report, master, hash);
      if (!done.is_null() && opt.html && !fs::exists(page)) {
        // The page is built from the report alone: written again without rendering.
        check_replaceable(page);
        write_text_atomic(page, song_page(json::parse(read_text_file(report)), song.id));
      }
      if (!done.is_null()) {
        r.status = "skipped";
        r.figures = std::move(done);
        return r;
      }
    }
    std::error_code ec;
    check_replaceable(master);  // only regular files of the song's folder are replaced or removed
    check_replaceable(report);
    fs::remove(report, ec);  // a report only ever describes the master beside it
    if (opt.html) {
      check_replaceable(page);
      fs::remove(page, ec);
    }
    RenderOptions ro = song_options(song, opt, dir, threads, device_budget);
    ro.report = report;
    if (opt.html) ro.html = page;
    if (album) ro.album = *album;
    if (opt.export_groups) {
      real_folder(dir / "groups", "group exports are written only into a real folder");
      ro.export_groups_dir = dir / "groups";
    }
    ro.report_extra = {{"batch", {{"song_id", song.id}, {"song_hash", hash}}}};
    if (song.album) ro.report_extra["batch"]["album"] = *song.album;
    const int64_t bytes = estimate_bytes(session);
    budget.acquire(bytes);
    RenderResult out;
    try {
      out = render(session, ro);
    } catch (...) {
      budget.release(bytes);
      throw;
    }
    budget.release(bytes);
    r.status = "rendered";
    r.figures = figures_from(out.report);
  } catch (const std::exception& e) {
    r.status = "failed";
    r.error = e.what();
  }
  return r;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hms(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--:--";
  const long t = std::lround(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

// Progress: a status line on a terminal, timestamped lines otherwise, JSON lines with --json-log.
class Progress {
 public:
  Progress(size_t total, const BatchOptions& opt) : total_(total), opt_(opt), tty_(::isatty(STDERR_FILENO) == 1) {}

  void song_done(const SongResult& r) {
    std::lock_guard lock(m_);
    ++done_;
    if (r.status == "failed" || r.status == "locked") ++failed_;
    if (r.figures.contains("duration_s") && r.figures["duration_s"].is_number() && r.status == "rendered") {
      audio_s_ += r.figures["duration_s"].get<double>();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double per_hour = elapsed > 0 ? double(done_) / elapsed * 3600.0 : 0.0;
    const double eta = done_ > 0 ? elapsed / double(done_) * double(total_ - done_) : std::nan("");
    if (opt_.json_log) {
      json j = {{"event", "song"}, {"time", utc_now()}, {"id", r.id}, {"status", r.status},
                {"done", done_}, {"total", total_}, {"failed", failed_}, {"songs_per_hour", per_hour},
                {"x_realtime", elapsed > 0 ? audio_s_ / elapsed : 0.0}, {"eta_s", std::isfinite(eta) ? json(eta) : json(nullptr)}};
      if (!r.error.empty()) j["error"] = r.error;
      std::cout << j.dump() << std::endl;
      return;
    }
    if (opt_.quiet) {
      if (!r.error.empty()) std::cerr << "lacquer: " << r.id << ": " << r.error << "\n";
      return;
    }
    char line[256];
    std::snprintf(line, sizeof line, "[%zu/%zu] %zu failed, %.0f songs/h, %.1fx realtime, ETA %s", done_, total_,
                  failed_, per_hour, elapsed > 0 ? audio_s_ / elapsed : 0.0, hms(eta).c_str());
    if (tty_) {
      if (!r.error.empty()) std::cerr << "\r\033[K" << r.id << ": " << r.status << ": " << r.error << "\n";
      std::cerr << "\r\033[K" << line << std::flush;
    } else {
      std::cerr << utc_now() << " " << r.id << " " << r.status << (r.error.empty() ? "" : ": " + r.error) << "  "
                << line << "\n";
    }
  }

  void finish() {
    if (tty_ && !opt_.quiet && !opt_.json_log && done_ > 0) std::cerr << "\n";
  }
  double audio_s() const { return audio_s_; }

 private:
  std::mutex m_;
  size_t total_;
  const BatchOptions& opt_;
  bool tty_;
  size_t done_ = 0, failed_ = 0;
  double audio_s_ = 0.0;
  Clock::time_point start_ = Clock::now();
};

const char* kCsvColumns[] = {"integrated_lufs_before", "integrated_lufs_after", "true_peak_dbtp",
                             "limiter_max_gain_reduction_db", "duration_s", "render_s"};

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}

std::string summary_csv(const json& songs) {
  std::ostringstream out;
  out << "id,status";
  for (const char* c : kCsvColumns) out << "," << c;
  out << ",error\n";
  for (const auto& s : songs) {
    out << csv_quote(s.at("id").get<std::string>()) << "," << s.at("status").get<std::string>();
    for (const char* c : kCsvColumns) {
      out << ",";
      if (s.contains(c) && s[c].is_number()) out << s[c].get<double>();
    }
    out << "," << csv_quote(s.value("error", std::string())) << "\n";
  }
  return out.str();
}

const char* kAlbumCsvColumns[] = {"integrated_lufs_before", "loudness_range_lu_before", "integrated_lufs_after",
                                  "loudness_range_lu_after", "true_peak_max_dbtp"};

std::string albums_csv(const json& albums) {
  std::ostringstream out;
  out << "album,status,songs";
  for (const char* c : kAlbumCsvColumns) out << "," << c;
  out << ",loudest,loudest_relative_lu,quietest,quietest_relative_lu,error\n";
  for (const auto& a : albums) {
    out << csv_quote(a.at("album").get<std::string>()) << "," << a.at("status").get<std::string>() << "," << a.at("songs");
    for (const char* c : kAlbumCsvColumns) {
      out << ",";
      if (a.contains(c) && a[c].is_number()) out << a[c].get<double>();
    }
    for (const char* k : {"loudest", "quietest"}) {
      if (a.contains(k) && a[k].is_object()) {
        out << "," << csv_quote(a[k].at("id").get<std::string>()) << "," << a[k].at("relative_lu").get<double>();
      } else {
        out << ",,";
      }
    }
    out << "," << csv_quote(a.value("error", std::string())) << "\n";
  }
  return out.str();
}

// Each summary file replaces only a regular file of its own name (check_replaceable), as the
// batch's preflight checked; the merge of shard summaries writes through here too.
// With `html` (or a summary that says so: summaries merged from shards rendered with --html) also
// STEM.html, each song linked to its page where there is one.
void write_summary(const fs::path& out_dir, const std::string& stem, const json& summary) {
  const bool html = summary.value("html", false);
  for (const char* ext : {".json", ".csv", "-albums.csv", ".html"}) check_replaceable(out_dir / (stem + ext));
  if (html) {
    write_text_atomic(out_dir / (stem + ".html"), summary_page(summary, [&](const std::string& id) {
                        std::error_code ec;
                        return fs::exists(out_dir / id / "report.html", ec) ? id + "/report.html" : std::string();
                      }));
  }
  write_text_atomic(out_dir / (stem + ".json"), summary.dump(2) + "\n");
  write_text_atomic(out_dir / (stem + ".csv"), summary_csv(summary.at("songs")));
  if (summary.contains("albums") && !summary["albums"].empty()) {
    write_text_atomic(out_dir / (stem + "-albums.csv"), albums_csv(summary["albums"]));
  }
}

json counts_of(const json& songs) {
  json c = {{"rendered", 0}, {"skipped", 0}, {"failed", 0}, {"locked", 0}, {"interrupted", 0}};
  for (const auto& s : songs) c[s.at("status").get<std::string>()] = c[s.at("status").get<std::string>()].get<int>() + 1;
  return c;
}

// The batch's preflight, before any song: the options, the catalog, and an output folder that
// overlaps nothing the batch reads (not the catalog folder, not a song's source folder, not inside
// or around either: its song folders, locks and temporaries would land among the user's files,
// and its cleanup would look there), created and writable, with summaries that may be replaced.
// Returns this shard's songs; `stem` is the summaries' file name without extension.
std::vector<CatalogSong> batch_preflight(const fs::path& catalog, const BatchOptions& opt, std::string& stem) {
  if (opt.format != "wav" && opt.format != "flac") throw UsageError("--format " + opt.format + ": use wav or flac");
  std::vector<CatalogSong> songs = load_catalog(catalog);
  std::error_code ec;
  if (opt.preset && !fs::is_regular_file(*opt.preset, ec)) throw UsageError(*opt.preset, "no such preset file");
  const fs::path out_abs = resolved(opt.out_dir);
  auto refuse_overlap = [&](const fs::path& source, const std::string& what) {
    if (path_within(out_abs, source) || path_within(source, out_abs)) {
      throw UsageError(opt.out_dir, "the output folder overlaps " + what + " '" + source.string() +
                                        "' (it must be neither inside it nor contain it)");
    }
  };
  if (fs::is_directory(catalog, ec)) refuse_overlap(catalog, "the catalog");
  if (path_within(catalog, out_abs)) refuse_overlap(catalog, "the manifest");
  if (opt.preset && path_within(*opt.preset, out_abs)) refuse_overlap(*opt.preset, "the preset");
  std::vector<CatalogSong> mine;
  for (auto& s : songs) {
    if (s.error.empty()) refuse_overlap(s.is_session_file ? s.source.parent_path() : s.source, "the source of song '" + s.id + "'");
    if (!s.album && s.error.empty() && s.is_session_file) {  // the session's own album = "NAME"
      try {
        s.album = load_session(s.source).album;
      } catch (const std::exception&) {
        // the song fails when it is rendered, saying why
      }
    }
    if (shard_of(s, opt.shard_count) == opt.shard_index) mine.push_back(std::move(s));
  }
  fs::create_directories(opt.out_dir, ec);
  if (!fs::is_directory(opt.out_dir, ec)) throw UsageError(opt.out_dir, "cannot create the output folder");
  if (::access(opt.out_dir.c_str(), W_OK) != 0) {
    throw UsageError(opt.out_dir, std::string("the output folder is not writable: ") + std::strerror(errno));
  }
  stem = opt.shard_count == 1 ? std::string("summary")
                              : "summary-shard-" + std::to_string(opt.shard_index) + "-of-" + std::to_string(opt.shard_count);
  for (const char* ext : {".json", ".csv", "-albums.csv"}) {
    try {
      check_replaceable(opt.out_dir / (stem + ext));
    } catch (const UserError& e) {
      throw UsageError(e.what());
    }
  }
  return mine;
}

// work(i) for i in [0, n) on `jobs` workers, in order of starting; after a first signal no new
// one starts.
void on_workers(size_t n, int jobs, const BatchOptions& opt, const std::function<void(size_t)>& work) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (;;) {
      if (stop_requested()) {
        if (!g_stop_announced.exchange(true) && !opt.json_log) {
          std::cerr << "\nlacquer: stopping: the songs in flight finish, no new song starts (signal again to stop now)\n";
        }
        return;
      }
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      work(i);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < std::max(1, std::min<int>(jobs, int(std::max<size_t>(n, 1)))); ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
}

// An album of the shard: its songs (indices into the shard's songs) and, once its first phase is
// done, what its songs are finished with.
struct BatchAlbum {
  std::vector<size_t> songs;
  bool takes_gain = false;              // a song's master takes the album's gain
  std::optional<AlbumContext> context;  // none: no song takes the album's gain, or one failed
  std::string failure;                  // a song that could not be measured
};

// The first phase (host/album.hpp): every album song whose master takes the album's gain is
// measured (or its kept measurement read), then each album's context is made from them.
std::map<std::string, BatchAlbum> measure_albums(const std::vector<CatalogSong>& mine, const BatchOptions& opt, int jobs,
                                                 int threads_per_song, MemoryBudget& budget, MemoryBudget& device_budget) {
  std::map<std::string, BatchAlbum> albums;
  std::vector<size_t> todo;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (!mine[i].album) continue;
    albums[*mine[i].album].songs.push_back(i);
    bool takes_gain = false;
    try {
      takes_gain = mine[i].error.empty() && uses_album_loudness(song_session(mine[i], opt));
    } catch (const std::exception&) {
      takes_gain = true;  // the measurement says what is wrong with it, and the album waits for it
    }
    if (takes_gain || !mine[i].error.empty()) todo.push_back(i);
    albums[*mine[i].album].takes_gain |= takes_gain && mine[i].error.empty();
  }
  if (todo.empty()) return albums;
  if (!opt.quiet && !opt.json_log) {
    std::cerr << "albums: measuring " << todo.size() << " songs of " << albums.size() << " albums before finishing them\n";
  }
  std::vector<Measured> measured(todo.size());
  on_workers(todo.size(), jobs, opt, [&](size_t k) {
    measured[k] = measure_song(mine[todo[k]], opt, threads_per_song, budget, device_budget);
  });
  std::map<size_t, const Measured*> by_song;
  for (size_t k = 0; k < todo.size(); ++k) by_song[todo[k]] = &measured[k];
  for (auto& [name, album] : albums) {
    if (!album.takes_gain) continue;  // its songs are finished on their own
    std::vector<AlbumSong> songs;
    for (size_t i : album.songs) {
      const auto it = by_song.find(i);
      if (it == by_song.end()) continue;  // finished on its own
      if (!it->second->ok) {
        if (album.failure.empty()) {
          album.failure = "album '" + name + "' is not finished: its song '" + mine[i].id + "' could not be " +
                          (it->second->error.empty() ? "measured (interrupted)" : "measured: " + it->second->error);
        }
        continue;
      }
      songs.push_back({mine[i].id, it->second->pre_gain});
    }
    if (album.failure.empty() && !songs.empty()) album.context = album_context(name, songs);
  }
  return albums;
}

// The second phase: the songs rendered by `jobs` workers, each song with `threads_per_song`
// threads, in catalog order of starting (an album's songs with its context; none of an album
// that could not be measured); after a first signal no new song starts (their results stay empty).
std::vector<SongResult> render_songs(const std::vector<CatalogSong>& mine, const BatchOptions& opt, int jobs,
                                     int threads_per_song, MemoryBudget& budget, MemoryBudget& device_budget,
                                     Progress& progress, const std::map<std::string, BatchAlbum>& albums) {
  std::vector<SongResult> results(mine.size());
  on_workers(mine.size(), jobs, opt, [&](size_t i) {
    const BatchAlbum* album = mine[i].album ? &albums.at(*mine[i].album) : nullptr;
    if (album && !album->failure.empty()) {
      results[i] = {mine[i].id, "failed", album->failure, json::object()};
    } else {
      results[i] = render_song(mine[i], opt, threads_per_song, budget, device_budget,
                               album && album->context ? &*album->context : nullptr);
    }
    progress.song_done(results[i]);
  });
  return results;
}

// The summary's album rows: the first phase's figures, and the album as delivered: its songs'
// masters read back and their blocks gated together (when every song is there).
json album_rows(const std::map<std::string, BatchAlbum>& albums, const std::vector<CatalogSong>& mine,
                const std::vector<SongResult>& results, const BatchOptions& opt, int threads) {
  json rows = json::array();
  cpu::ThreadPool pool(threads);
  for (const auto& [name, album] : albums) {
    json row = {{"album", name}, {"songs", album.songs.size()}};
    std::vector<LoudnessMeasurement> delivered;
    bool complete = true;
    double peak = -HUGE_VAL;
    std::set<double> gains;  // the album gain each song's report gives
    for (size_t i : album.songs) {
      const SongResult& r = results[i];
      if (r.status != "rendered" && r.status != "skipped") {
        complete = false;
        continue;
      }
      if (r.figures.contains("album_gain_db") && r.figures["album_gain_db"].is_number()) {
        gains.insert(r.figures["album_gain_db"].get<double>());
      }
      try {
        delivered.push_back(measure_loudness(read_audio(opt.out_dir / mine[i].id / ("master." + opt.format)), pool));
        peak = std::max(peak, delivered.back().true_peak_dbtp);
      } catch (const std::exception&) {
        complete = false;
      }
    }
    row["status"] = complete ? "complete" : "incomplete";
    if (!album.failure.empty()) row["error"] = album.failure;
    if (album.context) {
      const json& c = album.context->report;
      for (const char* k : {"integrated_lufs_before", "loudness_range_lu_before", "loudest", "quietest"}) row[k] = c[k];
      row["album_gain"] = true;
    } else {
      row["album_gain"] = false;
    }
    if (complete && !delivered.empty()) {
      const AlbumLoudness after = album_loudness(delivered);
      row["integrated_lufs_after"] = after.integrated_defined ? json(after.integrated_lufs) : json(nullptr);
      row["loudness_range_lu_after"] = after.loudness_range_lu;
      row["true_peak_max_dbtp"] = std::isfinite(peak) ? json(peak) : json(nullptr);
    }
    if (gains.size() == 1) row["gain_db"] = *gains.begin();
    if (gains.size() > 1) {
      row["warning"] = "the album's songs have different loudness targets: their gains differ by " +
                       std::to_string(*gains.rbegin() - *gains.begin()) + " dB";
    }
    rows.push_back(row);
  }
  return rows;
}

// The summary's song list (a song never started is "interrupted"); all_good: every song rendered
// or skipped.
json song_list(std::vector<SongResult>& results, const std::vector<CatalogSong>& mine, bool& all_good) {
  json list = json::array();
  all_good = true;
  for (size_t i = 0; i < mine.size(); ++i) {
    SongResult& r = results[i];
    if (r.status.empty()) {
      r.id = mine[i].id;
      r.status = "interrupted";
      r.error = "not rendered: the batch was stopped by a signal";
    }
    all_good = all_good && (r.status == "rendered" || r.status == "skipped");
    json j = {{"id", r.id}, {"status", r.status}};
    for (const auto& [k, v] : r.figures.items()) j[k] = v;
    if (!r.error.empty()) j["error"] = r.error;
    list.push_back(j);
  }
  return list;
}

// The last line: the summary's counts (one JSON event with --json-log).
void print_batch_end(const json& summary, size_t songs, const BatchOptions& opt, const fs::path& file, double wall) {
  if (opt.json_log) {
    std::cout << json({{"event", "summary"}, {"file", file.string()}, {"counts", summary["counts"]}, {"wall_s", wall}}).dump()
              << std::endl;
  } else if (!opt.quiet) {
    const json& c = summary["counts"];
    std::cout << "batch: " << songs << " songs (shard " << opt.shard_index << "/" << opt.shard_count << "): "
              << c["rendered"] << " rendered, " << c["skipped"] << " skipped, " << c["failed"] << " failed";
    if (c["locked"].get<int>() > 0) std::cout << ", " << c["locked"] << " locked by another batch";
    if (c["interrupted"].get<int>() > 0) std::cout << ", " << c["interrupted"] << " not started (interrupted)";
    std::cout << "; " << hms(wall) << " wall; summary " << file.string() << "\n";
  }
}

}  // namespace

// preflight -> the songs, `jobs` at a time -> the summary (JSON and CSV) -> its last line.
int run_batch(const fs::path& catalog, const BatchOptions& opt) {
  std::string stem;
  const std::vector<CatalogSong> mine = batch_preflight(catalog, opt, stem);
  const int jobs = std::max(1, std::min<int>(opt.jobs > 0 ? opt.jobs : default_batch_jobs(), int(std::max<size_t>(1, mine.size()))));
  const int cores = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads_per_song = std::max(1, cores / jobs);
  MemoryBudget budget(opt.max_inflight_bytes > 0 ? opt.max_inflight_bytes : default_inflight_bytes());
  MemoryBudget device_budget(opt.max_device_bytes > 0 ? opt.max_device_bytes : default_device_bytes(opt.backend));
  Progress progress(mine.size(), opt);
  const StopSignals signals;
  const std::string started = utc_now();
  const auto t0 = Clock::now();
  const auto albums = measure_albums(mine, opt, jobs, threads_per_song, budget, device_budget);
  std::vector<SongResult> results = render_songs(mine, opt, jobs, threads_per_song, budget, device_budget, progress, albums);
  progress.finish();

  bool all_good = true;
  json list = song_list(results, mine, all_good);
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i].album) list[i]["album"] = *mine[i].album;
  }
  const json album_list = album_rows(albums, mine, results, opt, cores);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  json summary = {{"lacquer", LQ_VERSION},
                  {"catalog", fs::absolute(catalog).string()},
                  {"shard", {{"index", opt.shard_index}, {"count", opt.shard_count}}},
                  {"backend", opt.backend},
                  {"jobs", jobs},
                  {"threads_per_song", threads_per_song},
                  {"started", started},
                  {"finished", utc_now()},
                  {"wall_s", wall},
                  {"rendered_audio_s", progress.audio_s()},
                  {"songs_per_hour", wall > 0 ? double(mine.size()) / wall * 3600.0 : 0.0},
                  {"x_realtime", wall > 0 ? progress.audio_s() / wall : 0.0},
                  {"peak_inflight_estimate_bytes", budget.peak()},
                  {"peak_device_inflight_estimate_bytes", device_budget.peak()},
                  {"counts", counts_of(list)},
                  {"songs", list}};
  if (!album_list.empty()) summary["albums"] = album_list;
  if (opt.html) summary["html"] = true;
  if (stop_requested()) summary["interrupted_by_signal"] = g_signal.load();
  write_summary(opt.out_dir, stem, summary);
  print_batch_end(summary, mine.size(), opt, opt.out_dir / (stem + ".json"), wall);
  return all_good ? 0 : 1;
}

int merge_summaries(const fs::path& out_dir, bool quiet) {
  const std::regex name("summary-shard-([0-9]+)-of-([0-9]+)\\.json");
  std::map<int, std::map<int, fs::path>> by_count;
  std::error_code ec;
  for (fs::directory_iterator it(out_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::smatch m;
    const std::string f = it->path().filename().string();
    if (!std::regex_match(f, m, name)) continue;
    // Only names a batch writes: 0 <= I < N <= 1000000 (select_shard's bounds), no leading zeros.
    const std::string i_text = m[1], n_text = m[2];
    if (i_text.size() > 7 || n_text.size() > 7 || (i_text.size() > 1 && i_text[0] == '0') || n_text[0] == '0') {
      throw UsageError(it->path(), "not a shard summary name a batch writes (shard index or count out of range)");
    }
    const int i = std::stoi(i_text), n = std::stoi(n_text);
    if (n < 1 || n > 1000000 || i >= n) {
      throw UsageError(it->path(), "not a shard summary name a batch writes (shard index or count out of range)");
    }
    by_count[n][i] = it->path();
  }
  if (ec) throw UsageError(out_dir, "cannot list the folder: " + ec.message());
  if (by_count.empty()) throw UsageError(out_dir, "no shard summaries (summary-shard-I-of-N.json) in this folder");
  if (by_count.size() > 1) {
    std::string counts;
    for (const auto& [n, files] : by_count) counts += (counts.empty() ? "" : ", ") + std::to_string(n);
    throw UsageError(out_dir, "shard summaries of different shard counts (" + counts + "): remove the stale ones");
  }
  const int count = by_count.begin()->first;
  const auto& files = by_count.begin()->second;
  json songs = json::array(), albums = json::array();
  bool html = false;  // a shard rendered with --html: the merged summary gets its page too
  std::map<std::string, int> seen;
  std::vector<int> missing;
  double wall_max = 0.0, audio = 0.0;
  for (int i = 0; i < count; ++i) {
    if (!files.count(i)) {
      missing.push_back(i);
      continue;
    }
    try {
      const json s = json::parse(read_text_file(files.at(i)));
      wall_max = std::max(wall_max, s.value("wall_s", 0.0));
      audio += s.value("rendered_audio_s", 0.0);
      for (const auto& song : s.at("songs")) {
        const std::string id = song.at("id").get<std::string>();
        const std::string status = song.at("status").get<std::string>();
        static const std::set<std::string> statuses = {"rendered", "skipped", "failed", "locked", "interrupted"};
        if (!statuses.count(status)) throw UserError("song '" + id + "' has an unknown status '" + status + "'");
        if (seen.count(id)) {
          throw UserError(files.at(i), "song '" + id + "' is also in shard " + std::to_string(seen[id]));
        }
        seen[id] = i;
        songs.push_back(song);
      }
      if (s.contains("albums")) {
        for (const auto& a : s.at("albums")) albums.push_back(a);
      }
      html = html || s.value("html", false);
    } catch (const UserError& e) {
      const std::string what = e.what();
      if (what.rfind(files.at(i).string(), 0) == 0) throw;
      throw UserError(files.at(i), "not a shard summary: " + what);
    } catch (const std::exception& e) {
      // JSON that does not parse, or keys missing or of the wrong type.
      throw UserError(files.at(i), std::string("not a shard summary: ") + e.what());
    }
  }
  std::sort(songs.begin(), songs.end(), [](const json& a, const json& b) { return a["id"] < b["id"]; });
  json summary = {{"lacquer", LQ_VERSION}, {"shards", count}, {"missing_shards", missing},
                  {"wall_s_longest_shard", wall_max}, {"rendered_audio_s", audio},
                  {"counts", counts_of(songs)}, {"songs", songs}};
  if (!albums.empty()) {
    std::sort(albums.begin(), albums.end(), [](const json& a, const json& b) { return a["album"] < b["album"]; });
    summary["albums"] = albums;
  }
  if (html) summary["html"] = true;
  write_summary(out_dir, "summary", summary);
  const json& c = summary["counts"];
  const bool ok = missing.empty() && c["rendered"].get<int>() + c["skipped"].get<int>() == int(songs.size());
  if (!quiet) {
    std::cout << "summary: " << songs.size() << " songs from " << (count - int(missing.size())) << " of " << count
              << " shards: " << c["rendered"] << " rendered, " << c["skipped"] << " skipped, " << c["failed"]
              << " failed";
    if (!missing.empty()) {
      std::cout << "; missing shards:";
      for (int m : missing) std::cout << " " << m;
    }
    std::cout << "\n";
  }
  return ok ? 0 : 1;
}

}  // namespace lq
