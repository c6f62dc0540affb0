#include "host/render.hpp"

#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <mutex>

#include <xxhash.h>

#include "host/album.hpp"
#include "host/codec.hpp"
#include "host/html_report.hpp"
#include "host/report_series.hpp"
#include "host/backend.hpp"
#include "host/device_backend.hpp"
#include "host/device_render.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "host/loudness.hpp"
#include "host/match.hpp"
#include "host/mixing.hpp"
#include "host/shared_cache.hpp"
#include "host/stage_timer.hpp"
#include "host/mix_stream.hpp"
#include "kernels/cpu/convolver.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/reconstruction_peak.hpp"
#include "kernels/device/device.hpp"
#include "kernels/dsp/common.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string lower_extension(const fs::path& p) { return lower(p.extension().string()); }

// A stage's output must be finite: a stem, a gain or a filter that overflows the float range
// fails the song here, naming the stage, instead of reaching the quantiser (which writes NaN as 0).
UserError not_finite(const fs::path& file, const std::string& stage) {
  return UserError(file, "the mix is not finite after " + stage +
                             " (a level beyond the float range: check the stems' levels and gains)");
}

void require_finite(const AudioBuffer& a, const fs::path& file, const std::string& stage) {
  for (const auto& ch : a.channels) {
    float acc = 0.0f;
    for (const float x : ch) acc += x * 0.0f;  // NaN when any x is NaN or infinite
    if (acc != acc) throw not_finite(file, stage);
  }
}

const char* const kMixStage = "the stems, groups and reverb returns are summed into the master bus";
const char* const kMasterChainStage = "the master's EQ and compressor";


}  // namespace

namespace {

json loudness_json(const LoudnessMeasurement& m) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return {{"integrated_lufs", m.integrated_defined ? num(m.integrated_lufs) : json(nullptr)},
          {"loudness_range_lu", num(m.loudness_range_lu)},
          {"max_momentary_lufs", num(m.max_momentary_lufs)},
          {"max_short_term_lufs", num(m.max_short_term_lufs)},
          {"sample_peak_dbfs", num(m.sample_peak_dbfs)},
          {"true_peak_dbtp", num(m.true_peak_dbtp)}};
}

OutputFormat format_for(const fs::path& out) {
  const std::string e = lower_extension(out);
  if (e == ".wav") return OutputFormat::wav;
  if (e == ".flac") return OutputFormat::flac;
  throw UsageError(out, "unknown output format '" + e + "' (use .wav or .flac)");
}

// Processes one bus in place: EQ, compressor; returns the report entry.
json process_bus(AudioBuffer& bus, const std::string& what, const std::vector<EqBand>& eq,
                 const std::optional<dsp::CompressorParams>& comp, Backend& backend, json& warnings) {
  json r;
  r["eq"] = apply_eq(bus, eq, backend);
  if (comp) r["compressor"] = dynamics_json(backend.compress(bus, *comp));
  return r;
}

}  // namespace

fs::path deliverable_path(const fs::path& output, const std::string& name, OutputFormat format) {
  return output.parent_path() /
         (output.stem().string() + "-" + name + (format == OutputFormat::wav ? ".wav" : ".flac"));
}

// Where codec_export writes `spec`'s encoded file for the master `out`: OUT_STEM.NAME.EXT beside it.
fs::path codec_export_path(const fs::path& out, const CodecSpec& spec) {
  return out.parent_path() / (out.stem().string() + "." + spec.name + "." + codec_file_extension(spec));
}

std::vector<std::pair<std::string, std::string>> group_export_names(const Session& session) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> taken;  // lower case: unique on case-insensitive file systems too
  for (const auto& g : session.groups) {
    std::string base = g.name;  // group names are TOML keys: keep them inside the folder
    for (char& ch : base) {
      if (ch == '/' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '_';
    }
    if (base.empty() || base[0] == '.') base = "_" + base;  // never hidden, never "." or ".."
    if (base.size() > 200) base.resize(200);
    std::string name = base;
    for (int k = 2; taken.count(lower(name)); ++k) name = base + "-" + std::to_string(k);
    taken.insert(lower(name));
    out.emplace_back(g.name, name);
  }
  return out;
}

void plan_render_paths(const Session& session, const RenderOptions& options) {
  PathPlan plan;
  std::error_code ec;
  plan.read(session.source, fs::is_directory(session.source, ec) ? "stem folder" : "session file");
  if (session.preset) plan.read(*session.preset, "preset");
  for (const auto& s : session.stems) plan.read(s.file, "stem '" + s.name + "'");
  for (const auto& r : session.reverbs) plan.read(r.ir, "impulse response of '" + r.name + "'");
  if (session.master.match) plan.read(session.master.match->reference, "match reference");
  for (const auto& [p, what] : options.other_inputs) plan.read(p, what);
  const OutputFormat format = format_for(options.output);
  plan.write(options.output, "master", true);
  auto exports = [&](const fs::path& master, const MasterSpec& m, const std::string& what) {
    if (!m.codec_export) return;
    for (const auto& c : m.codec_check) plan.write(codec_export_path(master, c), c.name + " file of the " + what, false);
  };
  exports(options.output, session.master, "master");
  for (const auto& d : session.deliverables) {
    const fs::path file = deliverable_path(options.output, d.name, d.format.value_or(format));
    plan.write(file, "deliverable '" + d.name + "'", false);
    exports(file, d.master, "deliverable '" + d.name + "'");
  }
  if (options.export_groups_dir) {
    for (const auto& [group, name] : group_export_names(session)) {
      plan.write(*options.export_groups_dir / (name + lower_extension(options.output)), "export of group '" + group + "'",
                 false);
    }
  }
  if (options.report) plan.write(*options.report, "report", true);
  if (options.html) plan.write(*options.html, "HTML report", true);
  plan.check();
}

// A folder a render writes into: it exists and is writable.
void check_folder(const fs::path& file, const char* what) {
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw UserError(folder, std::string(what) + " folder does not exist");
  if (::access(folder.c_str(), W_OK) != 0) {
    throw UserError(folder, std::string(what) + " folder is not writable: " + std::strerror(errno));
  }
}

void preflight_output(const Session& session, const RenderOptions& options) {
  const fs::path& output = options.output;
  format_for(output);
  if (output.filename().empty() || output.filename() == "." || output.filename() == "..") {
    throw UsageError(output, "not a file name");
  }
  check_folder(output, "output");
  if (options.report) check_folder(*options.report, "report");
  if (options.html) check_folder(*options.html, "HTML report");
  if (options.export_groups_dir && !fs::is_directory(*options.export_groups_dir)) {
    throw UserError(*options.export_groups_dir, "the group export folder does not exist");
  }
  // Every file this render writes, against every file it reads and each other (host/files.hpp).
  plan_render_paths(session, options);
}

std::string session_hash(const Session& session) {
  // Each piece with its terminating NUL, hashed as one text (the bytes the streaming hash read).
  std::string text;
  auto add = [&](const std::string& s) { text.append(s.c_str(), s.size() + 1); };
  add(LQ_VERSION);
  add(session.canonical_text);
  if (const std::string codecs = codec_settings_text(session); !codecs.empty()) add(codecs);
  auto add_file = [&](const fs::path& p) {
    struct stat sb{};
    add(p.string());
    if (::stat(p.c_str(), &sb) == 0) {
      add(std::to_string(sb.st_size) + ":" + std::to_string(sb.st_mtim.tv_sec) + "." +
          std::to_string(sb.st_mtim.tv_nsec));
    }
  };
  for (const auto& s : session.stems) add_file(s.file);
  for (const auto& r : session.reverbs) add_file(r.ir);
  if (session.master.match) add_file(session.master.match->reference);
  return text_xxh128(text);
}

namespace {

// Impulse responses decoded and converted to the session rate, shared across the songs of a batch:
// keyed by the file's path, size and modification time and the rate.
struct DecodedIr {
  AudioBuffer audio;
  AudioFileInfo info;
};

std::shared_ptr<const DecodedIr> load_ir(const fs::path& file, double rate) {
  static SharedCache<std::string, DecodedIr> cache(16);
  struct stat sb {};
  if (::stat(file.c_str(), &sb) != 0) throw UserError(file, std::strerror(errno));
  char key[64];
  std::snprintf(key, sizeof key, "|%lld|%lld.%ld|%a", static_cast<long long>(sb.st_size),
                static_cast<long long>(sb.st_mtim.tv_sec), static_cast<long>(sb.st_mtim.tv_nsec), rate);
  return cache.get(fs::absolute(file).string() + key, [&] {
    DecodedIr d;
    d.audio = read_audio(file, &d.info, 60.0, "impulse response");  // the limit from the header
    if (d.info.sample_rate != rate) d.audio = resample(d.audio, rate);
    return d;
  });
}

// Normalisation to a target (docs/algorithms.md "Loudness normalisation"): the first gain
// step is analytic, then secant steps on (gain -> loudness after the limiter), to within 0.05 LU.
struct LoudnessLoop {
  AudioBuffer output;
  cpu::LimiterStats limiter;
  double gain_db = 0.0;
  int iterations = 0;
  json steps = json::array();
  const char* mode = "none";  // none | song (the closed loop to the target) | album (the album's gain)
};

// The loop's gain steps: run(g) limits the mix at gain g, keeps it as the latest and returns its
// integrated loudness; the last step's is the one kept.
struct GainSearch {
  double gain_db = 0.0;
  int iterations = 0;
  json steps = json::array();
};
GainSearch search_gain(double target, double measured_lufs, const std::function<double(double)>& run) {
  double g = target - measured_lufs;
  double l = run(g);
  json steps = json::array({{{"gain_db", g}, {"lufs", l}}});
  double g_prev = 0.0, l_prev = measured_lufs;
  int it = 1;
  for (; it < 8 && std::isfinite(l) && std::fabs(l - target) > 0.05; ++it) {
    const double slope = (l - l_prev) / (g - g_prev);
    double next = (std::isfinite(slope) && slope > 0.05) ? g + (target - l) / slope : g + (target - l);
    next = std::min(next, g + 24.0);
    g_prev = g;
    l_prev = l;
    g = next;
    l = run(g);
    steps.push_back({{"gain_db", g}, {"lufs", l}});
  }
  return {g, it, steps};
}

// `album_gain`: the album's gain (host/album.hpp), applied once instead of the loop.
LoudnessLoop normalise_and_limit(AudioBuffer master, bool normalise, double target,
                                 double measured_lufs, const dsp::LimiterParams& limiter,
                                 Backend& backend, const std::optional<double>& album_gain) {
  auto limit = [&](AudioBuffer mix, double gain_db) {
    LoudnessLoop r;
    r.output = std::move(mix);
    apply_gain(r.output, gain_db);
    r.limiter = backend.limit_true_peak(r.output, limiter);
    r.gain_db = gain_db;
    return r;
  };
  // Without normalisation one run at 0 dB limits the mix itself; the loop's steps each limit a copy.
  if (album_gain) {
    LoudnessLoop r = limit(std::move(master), *album_gain);
    r.mode = "album";
    return r;
  }
  if (!normalise) return limit(std::move(master), 0.0);
  LoudnessLoop best;
  best.mode = "song";
  const GainSearch s = search_gain(target, measured_lufs, [&](double g) {
    best.output = AudioBuffer();  // the step's output is not kept: one copy of the mix at a time
    best = limit(master, g);
    return integrated_loudness(best.output, backend);
  });
  best.iterations = s.iterations;
  best.steps = s.steps;
  return best;
}

// Lowers the gain around every interval whose reconstruction bound is over `target`: a dip to
// target (1 - 1e-4) / peak, flat over kDipFlat frames each side of the interval with raised-cosine
// ramps of kDipRamp frames, all channels alike; where dips overlap the smaller gain wins. The flat
// part spans the sinc's nearest taps, so the reconstruction there scales by the dip (the ramps'
// far taps move it by a few thousandths of a dB; the verify reads it again). Adds the frames it
// changed to `changed` (one range per cluster of touching dips, by frame) and returns the deepest
// dip in dB (docs/algorithms.md "The reconstruction bound").
struct FrameRange {
  int64_t begin, end;
};
double dip_overs(AudioBuffer& a, const std::vector<cpu::ReconstructionPeak::Over>& overs, double target,
                 std::vector<FrameRange>& changed) {
  constexpr int64_t kDipFlat = 48, kDipRamp = 96;
  constexpr double kPi = 3.14159265358979323846;
  double deepest = 0.0;
  size_t i = 0;
  while (i < overs.size()) {
    // A cluster of dips whose regions touch.
    const int64_t b = overs[i].frame - kDipFlat - kDipRamp;
    int64_t e = overs[i].frame + 1 + kDipFlat + kDipRamp;
    size_t j = i + 1;
    while (j < overs.size() && overs[j].frame - kDipFlat - kDipRamp <= e) e = std::max(e, overs[j++].frame + 1 + kDipFlat + kDipRamp);
    std::vector<double> gain(size_t(e - b), 1.0);
    for (size_t o = i; o < j; ++o) {
      const double g = target * (1.0 - 1e-4) / overs[o].peak;
      deepest = std::max(deepest, -dsp::linear_to_db(g));
      const int64_t f0 = overs[o].frame - kDipFlat, f1 = overs[o].frame + 1 + kDipFlat;  // flat [f0, f1)
      for (int64_t f = f0 - kDipRamp; f < f1 + kDipRamp; ++f) {
        const int64_t d = f < f0 ? f0 - f : f >= f1 ? f - f1 + 1 : 0;  // frames into the ramp
        const double w = d == 0 ? 1.0 : 0.5 + 0.5 * std::cos(kPi * double(d) / double(kDipRamp + 1));
        gain[size_t(f - b)] = std::min(gain[size_t(f - b)], 1.0 - (1.0 - g) * w);
      }
    }
    const int64_t f0 = std::max<int64_t>(b, 0), f1 = std::min<int64_t>(e, a.frames());
    for (auto& ch : a.channels) {
      for (int64_t f = f0; f < f1; ++f) ch[size_t(f)] = static_cast<float>(double(ch[size_t(f)]) * gain[size_t(f - b)]);
    }
    if (f1 > f0) changed.push_back({f0, f1});
    i = j;
  }
  return deepest;
}

// Ranges widened by `reach` each side and merged where they then are at most `join` apart (input
// by begin).
std::vector<FrameRange> widened(const std::vector<FrameRange>& ranges, int64_t reach, int64_t join = 0) {
  std::vector<FrameRange> out;
  for (const auto& r : ranges) {
    if (!out.empty() && r.begin - reach <= out.back().end + join) {
      out.back().end = std::max(out.back().end, r.end + reach);
    } else {
      out.push_back({r.begin - reach, r.end + reach});
    }
  }
  return out;
}

// The largest change quantisation makes to a sample: TPDF dither of +-1 LSB and rounding of 1/2
// (none for 32-bit float).
double quantisation_error(const EncodeSpec& enc) {
  const int bits = enc.bit_depth == 32 ? 0 : enc.bit_depth;
  return (enc.dither ? 1.5 : 0.5) * (bits ? std::ldexp(1.0, 1 - bits) : 0.0);
}

// Stage "loudness_and_limiter" without a target: no gain to find, so the limiter starts on the mix
// at once, while the loudness before is measured on another thread just ahead of it (the limiter
// waits at each span until the meter has read it), and the true peak before comes from the
// limiter's own first readings of the same mix. With one thread (--threads 1) the meter runs
// first, then the limiter: the same figures.
LoudnessLoop limit_beside_meter(AudioBuffer bus, const dsp::LimiterParams& lp, Backend& backend, cpu::ThreadPool& pool,
                                LoudnessMeasurement& before) {
  std::mutex mutex;
  std::condition_variable advanced;
  int64_t read = 0;  // frames [0, read) measured
  auto publish = [&](int64_t f) {
    {
      std::lock_guard lock(mutex);
      read = f;
    }
    advanced.notify_all();
  };
  const bool alongside = pool.size() > 1;
  std::future<LoudnessMeasurement> measuring = std::async(alongside ? std::launch::async : std::launch::deferred, [&] {
    try {
      cpu::ThreadPool alone(1);
      LoudnessMeter meter(bus.channel_count(), bus.sample_rate, alone, /*true_peak=*/false);
      constexpr int64_t kSpan = int64_t{1} << 17;
      for (int64_t b = 0; b < bus.frames(); b += kSpan) {
        const int64_t e = std::min(bus.frames(), b + kSpan);
        meter.add(bus, b, e);
        publish(e);
      }
      LoudnessMeasurement r = meter.finish();
      publish(std::numeric_limits<int64_t>::max());
      return r;
    } catch (...) {
      publish(std::numeric_limits<int64_t>::max());  // the limiter must not wait for a meter that stopped
      throw;
    }
  });
  if (!alongside) measuring.wait();
  LoudnessLoop loop;
  loop.limiter = backend.limit_true_peak_while_read(bus, lp, [&](int64_t f) {
    std::unique_lock lock(mutex);
    advanced.wait(lock, [&] { return read >= f; });
  });
  before = measuring.get();
  set_true_peak(before, loop.limiter.input_true_peak_linear);
  loop.output = std::move(bus);
  return loop;
}

// The loudness before a normalisation: a level the meter cannot measure stops the render; a mix
// too quiet or short for a loudness gets none of its own (a warning; an album's gain needs none).
void check_before(const LoudnessMeasurement& before, const fs::path& out, json& warnings, const std::string& what,
                  bool album_gain = false) {
  if (!before.integrated_defined && !(before.integrated_lufs == -HUGE_VAL)) {
    throw UserError(out, "the mix's level (sample peak " + std::to_string(before.sample_peak_dbfs) +
                             " dBFS) is beyond what the loudness meter can measure: check the stems' levels and gains");
  }
  if (!before.integrated_defined && !album_gain) {
    warnings.push_back(what + "the mix is silent or shorter than 400 ms: its loudness is undefined, no normalisation gain applied");
  }
}

// Stages "loudness" and "loudness_and_limiter" with a target: the loudness before, then the closed
// loop of gain and limiter (normalise_and_limit).
LoudnessLoop normalise_to_target(AudioBuffer bus, double target_lufs, const dsp::LimiterParams& lp, Backend& backend,
                                 const fs::path& out, json& timing, json& warnings, const std::string& what,
                                 LoudnessMeasurement& before, const std::optional<double>& album_gain) {
  {
    StageTimer t(timing, "loudness");
    before = measure_loudness(bus, backend);
  }
  check_before(before, out, warnings, what, album_gain.has_value());
  StageTimer t(timing, "loudness_and_limiter");
  return normalise_and_limit(std::move(bus), before.integrated_defined, target_lufs, before.integrated_lufs, lp, backend,
                             album_gain);
}

// The same stages on the device render's master (host/device_render.hpp): the meter, the loop's
// steps and the limiter on the device; the limited master comes down once.
LoudnessLoop loudness_on_device(DeviceSong& song, const std::optional<double>& target_lufs, const dsp::LimiterParams& lp,
                                const fs::path& out, json& timing, json& warnings, const std::string& what,
                                LoudnessMeasurement& before, const std::optional<double>& album_gain) {
  {
    StageTimer t(timing, "loudness");
    before = song.measure();
  }
  if (target_lufs) check_before(before, out, warnings, what, album_gain.has_value());
  StageTimer t(timing, "loudness_and_limiter");
  LoudnessLoop loop;
  if (album_gain) {
    loop.output = AudioBuffer(2, song.frames(), song.rate());
    loop.limiter = song.limit(*album_gain, lp, &loop.output);
    loop.gain_db = *album_gain;
    loop.mode = "album";
    return loop;
  }
  if (!target_lufs || !before.integrated_defined) {
    loop.output = AudioBuffer(2, song.frames(), song.rate());
    loop.limiter = song.limit(0.0, lp, &loop.output);
    return loop;
  }
  const GainSearch s = search_gain(*target_lufs, before.integrated_lufs, [&](double g) {
    loop.limiter = song.limit(g, lp);
    return song.latest_loudness();
  });
  loop.gain_db = s.gain_db;
  loop.iterations = s.iterations;
  loop.steps = s.steps;
  loop.mode = "song";
  loop.output = song.download_latest();
  return loop;
}

// What the verify found and did (the report's master.after.true_peak_bound_dbtp and
// master.limiter figures).
struct VerifyFigures {
  double bound = 0.0;        // the reconstruction bound of what is delivered (linear)
  int64_t refined = 0;       // intervals refined to 64x by the full read
  int64_t dips = 0;          // intervals dipped
  double max_dip_db = 0.0;
  double detector = 0.0;     // the largest of the limiter's readings before quantisation (linear)
};

// Stage "reconstruction_bound": the bound of the limited master before quantisation, read once
// over the song with every interval over dip_level recorded; peaks between the limiter's 4x
// readings that are over get gain dips (dip_overs), and only the intervals the dips can have moved
// are read again, until none is over (at most 4 rounds); the limiter's readings are read again
// where a dip changed a frame. `detector`: the limiter's own reading of its output.
// docs/algorithms.md "The verify".
VerifyFigures bound_with_dips(AudioBuffer& master, double dip_level, double detector, cpu::ThreadPool& pool) {
  constexpr int64_t kSpan = int64_t{1} << 16;
  const int64_t frames = master.frames();
  VerifyFigures v;
  v.detector = detector;
  cpu::ReconstructionPeak reconstruction(master.channel_count());
  reconstruction.record_overs(dip_level);
  for (int64_t b0 = 0; b0 < frames; b0 += kSpan) reconstruction.add(master, b0, std::min(frames, b0 + kSpan), pool);
  v.bound = reconstruction.finish(pool);
  v.refined = reconstruction.refined_intervals();
  auto overs = reconstruction.overs();
  std::vector<FrameRange> changed_all;
  for (int r = 0; !overs.empty() && r < 4; ++r) {
    std::vector<FrameRange> changed;
    v.dips += int64_t(overs.size());
    v.max_dip_db = std::max(v.max_dip_db, dip_overs(master, overs, dip_level, changed));
    overs.clear();
    // Regions closer than kJoin are read as one: each read costs at least one transform of its
    // filter's length, whatever its width.
    constexpr int64_t kJoin = int64_t{1} << 16;
    for (const auto& region : widened(changed, cpu::ReconstructionPeak::kReach, kJoin)) {
      const auto o = cpu::ReconstructionPeak::overs_in(master, region.begin, region.end, dip_level, pool);
      overs.insert(overs.end(), o.begin(), o.end());
    }
    changed_all.insert(changed_all.end(), changed.begin(), changed.end());
  }
  if (!changed_all.empty()) {
    // Every interval the last reads did not find over peaks at or under dip_level: the full read
    // and each region's read refine every interval that could exceed it, and an interval outside
    // the last regions has not changed since it was read.
    v.bound = dip_level;
    for (const auto& o : overs) v.bound = std::max(v.bound, o.peak);
    // A frame feeds the limiter's readings at positions frame .. frame + 127.
    std::sort(changed_all.begin(), changed_all.end(), [](const FrameRange& x, const FrameRange& y) { return x.begin < y.begin; });
    for (const auto& region : widened(changed_all, 0)) {
      v.detector = std::max(v.detector, cpu::limiter_detector_max(master, region.begin, region.end + dsp::kLimiterSupport - 1, pool));
    }
  }
  return v;
}

// Quantises the master span by span into `writer`, metering what is delivered (the report's
// "after"): the delivered samples are never held whole beside the limited master. Two spans: one
// is encoded (libsndfile, one thread) while the next is quantised and measured.
LoudnessMeasurement quantise_meter_encode(const AudioBuffer& master, const EncodeSpec& enc, AudioWriter& writer,
                                          const fs::path& out, cpu::ThreadPool& pool, bool record_peaks) {
  constexpr int64_t kSpan = int64_t{1} << 16;
  const int64_t frames = master.frames();
  AudioBuffer spans[2];
  for (auto& b : spans) b = AudioBuffer(master.channel_count(), std::min(frames, kSpan), master.sample_rate);
  LoudnessMeter meter(master.channel_count(), master.sample_rate, pool, true, record_peaks);
  std::future<void> writing;  // the previous span's encoding
  for (int64_t b0 = 0, k = 0; b0 < frames; b0 += kSpan, ++k) {
    const int64_t len = std::min(kSpan, frames - b0);
    AudioBuffer& span = spans[k % 2];
    span.resize_frames(len);
    for (size_t c = 0; c < span.channels.size(); ++c) std::copy_n(master.channels[c].begin() + b0, len, span.channels[c].begin());
    require_finite(span, out, "the loudness gain and the limiter");
    quantize_in_place(span, enc, &pool, b0);
    meter.add(span, 0, len);
    if (writing.valid()) writing.get();  // rethrows the writer's error
    writing = std::async(std::launch::async, [&writer, &span, len] { writer.write(span, 0, len); });
  }
  if (writing.valid()) writing.get();
  return meter.finish();
}

// The master's report entry (docs/architecture.md "The master"), and its warnings.
json master_report(const MasterSpec& spec, const EncodeSpec& enc, const fs::path& out, const LoudnessMeasurement& before,
                   const LoudnessMeasurement& after, const LoudnessLoop& loop, const VerifyFigures& v, int verify_rounds,
                   double effective_ceiling_dbtp, int64_t frames, double out_rate, json& warnings, const std::string& what) {
  json m;
  m["before"] = loudness_json(before);
  m["after"] = loudness_json(after);
  m["after"]["true_peak_bound_dbtp"] = v.bound > 0.0 ? json(dsp::linear_to_db(v.bound)) : json(nullptr);
  m["target_lufs"] = spec.target_lufs ? json(*spec.target_lufs) : json(nullptr);
  m["ceiling_dbtp"] = spec.limiter.ceiling_dbtp;
  m["gain_applied_db"] = loop.gain_db;
  m["normalisation"] = {{"mode", loop.mode}, {"iterations", loop.iterations}, {"steps", loop.steps}};
  m["limiter"] = {{"max_gain_reduction_db", loop.limiter.max_gain_reduction_db},
                  {"mean_gain_reduction_db", loop.limiter.mean_gain_reduction_db},
                  {"passes", loop.limiter.passes},
                  {"requantise_rounds", verify_rounds},
                  {"bound_refined_intervals", v.refined},
                  {"reconstruction_dips", v.dips},
                  {"reconstruction_max_dip_db", v.max_dip_db},
                  {"effective_ceiling_dbtp", effective_ceiling_dbtp},
                  // The largest of the limiter's 4x readings (Annex 2 and four sincs) of its output
                  // before the verify's dips and quantisation; after.true_peak_dbtp is Annex 2's on
                  // what is delivered.
                  {"detector_peak_dbtp", loop.limiter.output_true_peak_dbtp}};
  if (spec.target_lufs && after.integrated_defined) {
    const double miss = after.integrated_lufs - *spec.target_lufs;
    // An album's song is meant to miss the target by its place in the album: the album's figures
    // (the batch summary, `render --album`) say whether the album meets it.
    if (std::fabs(miss) > 0.1 && std::string(loop.mode) != "album") {
      warnings.push_back(what + "target " + std::to_string(*spec.target_lufs) + " LUFS not reached: the master measures " +
                         std::to_string(after.integrated_lufs) + " LUFS with the ceiling at " +
                         std::to_string(spec.limiter.ceiling_dbtp) + " dBTP");
    }
    if (loop.limiter.max_gain_reduction_db > spec.max_limiting_db) {
      warnings.push_back(what + "reaching the target takes " + std::to_string(loop.limiter.max_gain_reduction_db) +
                         " dB of limiting (more than max_limiting_db = " + std::to_string(spec.max_limiting_db) + ")");
    }
  }
  m["sample_rate"] = out_rate;
  m["frames"] = frames;
  m["duration_s"] = double(frames) / out_rate;
  m["bit_depth"] = enc.bit_depth;
  m["format"] = enc.format == OutputFormat::wav ? "wav" : "flac";
  m["dither"] = enc.dither && enc.bit_depth != 32 ? "tpdf" : "none";
  m["path"] = fs::absolute(out).string();
  return m;
}

// A master finished and encoded into its temporary file, not yet published (finish_once).
struct Finished {
  json report;
  std::unique_ptr<AudioWriter> writer;
  AudioBuffer limited;  // what was quantised into the file, before quantisation
  LoudnessMeasurement after;
};

// The loudness before and the limiter (with the loudness loop when there is a target); the
// ceiling verified on what is delivered and the encoding into a temporary file for `out`
// (docs/architecture.md "The master"). `master_bus` is at the output rate.
// `series`: the report's series too (host/report_series.hpp).
Finished finish_once(AudioBuffer master_bus, DeviceSong* device, const MasterSpec& spec, const EncodeSpec& enc,
                     const fs::path& out, double out_rate, Backend& backend, cpu::ThreadPool& pool, json& timing,
                     json& warnings, const std::string& what, const std::optional<double>& album_lufs, bool series) {
  json spectrum_before;
  if (series) {
    StageTimer t(timing, "series");
    spectrum_before = device ? third_octave_spectrum(device->download(), pool) : third_octave_spectrum(master_bus, pool);
  }

  // The limiter holds its readings under the ceiling less what quantisation can add to them, so
  // that what is delivered reads under the ceiling without a second pass.
  const double q_error = quantisation_error(enc);
  const double ceiling = dsp::db_to_linear(spec.limiter.ceiling_dbtp);
  dsp::LimiterParams lp = spec.limiter;
  if (q_error > 0.0) lp.ceiling_dbtp = dsp::linear_to_db(ceiling - q_error * cpu::limiter_detector_error_gain());

  std::optional<double> album_gain;
  if (spec.loudness == LoudnessMode::album && spec.target_lufs) {
    if (album_lufs && std::isfinite(*album_lufs)) {
      album_gain = *spec.target_lufs - *album_lufs;
    } else {
      warnings.push_back(what + "the album is silent or too short for a loudness: no album gain applied");
      album_gain = 0.0;
    }
  }
  LoudnessMeasurement before;
  LoudnessLoop loop;
  if (device) {
    loop = loudness_on_device(*device, spec.target_lufs, lp, out, timing, warnings, what, before, album_gain);
  } else if (!spec.target_lufs) {
    StageTimer t(timing, "loudness_and_limiter");
    loop = limit_beside_meter(std::move(master_bus), lp, backend, pool, before);
  } else {
    loop = normalise_to_target(std::move(master_bus), *spec.target_lufs, lp, backend, out, timing, warnings, what, before,
                               album_gain);
  }

  // The ceiling holds on Annex 2 (what loudness specs quote) of what is delivered, on every
  // reading of the limiter's detector (the sincs other meters read with) after what quantisation
  // can add, and within kBoundTolerance on the band-limited reconstruction of what is delivered
  // (docs/algorithms.md "The verify"). The output's temporary file is published only once all hold;
  // otherwise the limiter runs again, lower by the excess.
  const double kBoundTolerance = dsp::db_to_linear(0.01);
  // What quantisation can add to the bound: the largest sample change through its interpolators.
  const double bound_q = q_error * cpu::ReconstructionPeak::error_gain();
  // The level the limited master's bound must keep under, so that the delivered file's is under
  // the ceiling.
  const double dip_level = ceiling * (1.0 - 1e-4) - bound_q;
  LoudnessMeasurement after;
  VerifyFigures v;
  int verify_rounds = 0;
  {
    StageTimer t(timing, "quantise_measure_encode");
    for (;; ++verify_rounds) {
      {
        StageTimer tb(timing, "reconstruction_bound");
        v = bound_with_dips(loop.output, dip_level, dsp::db_to_linear(loop.limiter.output_true_peak_dbtp), pool);
        v.bound += bound_q;  // a bound of what is delivered
      }
      auto writer = std::make_unique<AudioWriter>(out, enc, loop.output.channel_count(), out_rate);
      after = quantise_meter_encode(loop.output, enc, *writer, out, pool, series);
      const double detected = v.detector + q_error * cpu::limiter_detector_error_gain();
      if (after.true_peak_linear <= ceiling && detected <= ceiling && v.bound <= ceiling * kBoundTolerance) {
        json m = master_report(spec, enc, out, before, after, loop, v, verify_rounds, lp.ceiling_dbtp, loop.output.frames(),
                               out_rate, warnings, what);
        if (series) {
          StageTimer ts(timing, "series");
          m["series"] = master_series(before, after, loop.gain_db, spectrum_before, third_octave_spectrum(loop.output, pool));
        }
        return {std::move(m), std::move(writer), std::move(loop.output), after};
      }
      if (verify_rounds == 8) {
        throw UserError(out, "could not meet the true-peak ceiling after quantisation");
      }
      // Quantisation or a dip moved a reading over the ceiling, or the dips did not bring the
      // reconstruction under it: limit again, lower by the excess (the temporary file is dropped
      // with the writer).
      lp.ceiling_dbtp -= std::max({dsp::linear_to_db(after.true_peak_linear / ceiling), dsp::linear_to_db(detected / ceiling),
                                   dsp::linear_to_db(v.bound / ceiling)}) + 1e-4;
      const auto again = backend.limit_true_peak(loop.output, lp);
      loop.limiter.max_gain_reduction_db = std::max(loop.limiter.max_gain_reduction_db, again.max_gain_reduction_db);
      loop.limiter.output_true_peak_dbtp = again.output_true_peak_dbtp;
    }
  }
}

// Finishes a master from the mix at the processing rate (docs/architecture.md "The master"): SRC
// to the output rate, then finish_once; with codec checks, the delivered master's round trips,
// and the finishing again with the limiter's ceiling lowered by the largest excess until every
// codec holds (docs/algorithms.md "Codec round trips"). Publishes the master (and the encoded
// files asked for) into `publication`; returns the report's figures for it; warnings are prefixed
// with `what`.
// `device`: the master bus is the device render's (master_bus is then empty). `album_lufs`: the
// album's loudness before the gain, for a master with loudness = "album" (its gain is the target
// less it, the same for every song of the album).
json finish_master(AudioBuffer master_bus, DeviceSong* device, const MasterSpec& spec, const EncodeSpec& enc,
                   const fs::path& out, Backend& backend, cpu::ThreadPool& pool, json& timing, json& warnings,
                   const std::string& what, Publication& publication, const std::optional<double>& album_lufs,
                   bool series = false) {
  const bool codecs = !spec.codec_check.empty();
  // A master with codec checks is finished on the host: each round starts again from the bus.
  if (device && ((spec.sample_rate && *spec.sample_rate != device->rate()) || codecs)) {
    master_bus = device->download();  // converted on the host
    device = nullptr;
  }
  if (!device && spec.sample_rate && *spec.sample_rate != master_bus.sample_rate) {
    StageTimer t(timing, "resample");
    master_bus = resample(master_bus, *spec.sample_rate);
  }
  const double out_rate = device ? device->rate() : master_bus.sample_rate;
  if ((device ? device->frames() : master_bus.frames()) < 1) {
    throw UserError(out, "the song is shorter than one sample at " + std::to_string(int(out_rate)) + " Hz: nothing to write");
  }
  if (!codecs) {
    Finished f = finish_once(std::move(master_bus), device, spec, enc, out, out_rate, backend, pool, timing, warnings, what,
                             album_lufs, series);
    f.report["xxh3_128"] = f.writer->commit(&publication);
    return f.report;
  }

  // A decoded bound over the codec ceiling by more than the master's own verify allows fails.
  constexpr double kRoomDb = 0.01;
  // Each round sets the limiter's ceiling under the codec ceiling by the largest overshoot seen so
  // far (a decoded peak less the limiter's ceiling it was encoded from) and a margin, 0.1 dB
  // doubled every round: the overshoot grows as the limiter works harder for the same loudness,
  // so the ceilings only fall, and faster where the overshoot keeps growing.
  constexpr double kMarginDb = 0.1;
  constexpr int kMaxRounds = 8;
  const double codec_ceiling_dbtp = spec.codec_ceiling_dbtp.value_or(spec.limiter.ceiling_dbtp);
  const double codec_ceiling = dsp::db_to_linear(codec_ceiling_dbtp + kRoomDb);
  const AudioBuffer unfinished = master_bus;
  MasterSpec round_spec = spec;
  json rounds = json::array();
  double overshoot_db = -HUGE_VAL;
  for (int round = 1;; ++round) {
    json round_warnings = json::array();
    Finished f = finish_once(round == 1 ? std::move(master_bus) : AudioBuffer(unfinished), nullptr, round_spec, enc, out,
                             out_rate, backend, pool, timing, round_warnings, what, album_lufs, series);
    StageTimer t(timing, "codec_check");
    AudioBuffer delivered = std::move(f.limited);
    quantize_in_place(delivered, enc, &pool, 0);  // the samples in the file, as floats
    json checks = json::array();
    std::vector<std::pair<CodecSpec, std::vector<uint8_t>>> files;
    double worst_db = -HUGE_VAL;  // the largest excess over the codec ceiling
    std::string worst;
    std::vector<std::vector<uint8_t>> encoded;
    const std::vector<CodecFigures> figures =
        measure_codecs(delivered, f.after, spec.codec_check, pool, spec.codec_export ? &encoded : nullptr);
    for (size_t i = 0; i < figures.size(); ++i) {
      const CodecSpec& c = spec.codec_check[i];
      const CodecFigures& cf = figures[i];
      json cj = codec_json(cf);
      // The decoded signal's peak as the readings the master's ceiling holds on: the reconstruction
      // bound (within the verify's allowance), and Annex 2 and the outside meters' sincs (the
      // limiter's detector).
      const double peak_db = std::max(dsp::linear_to_db(cf.bound) - kRoomDb, dsp::linear_to_db(cf.detector));
      cj["holds"] = cf.bound <= codec_ceiling && cf.detector <= dsp::db_to_linear(codec_ceiling_dbtp);
      checks.push_back(cj);
      const double excess_db = peak_db - codec_ceiling_dbtp;
      if (excess_db > worst_db) {
        worst_db = excess_db;
        worst = c.name;
      }
      overshoot_db = std::max(overshoot_db, peak_db - round_spec.limiter.ceiling_dbtp);
      if (spec.codec_export) files.emplace_back(c, std::move(encoded[i]));
    }
    rounds.push_back({{"limiter_ceiling_dbtp", round_spec.limiter.ceiling_dbtp}, {"checks", checks}});
    const bool holds = std::all_of(checks.begin(), checks.end(), [](const json& c) { return c["holds"].get<bool>(); });
    if (holds) {
      for (auto& w : round_warnings) warnings.push_back(w);
      json m = std::move(f.report);
      m["ceiling_dbtp"] = spec.limiter.ceiling_dbtp;
      m["xxh3_128"] = f.writer->commit(&publication);
      json exported = json::array();
      for (const auto& [c, bytes] : files) {
        const fs::path file = codec_export_path(out, c);
        const std::string text(bytes.begin(), bytes.end());
        write_text_atomic(file, text, &publication);
        exported.push_back({{"codec", c.name}, {"path", fs::absolute(file).string()}, {"xxh3_128", text_xxh128(text)}});
      }
      m["codecs"] = {{"ceiling_dbtp", codec_ceiling_dbtp},
                     {"limiter_ceiling_dbtp", round_spec.limiter.ceiling_dbtp},
                     {"rounds", round},
                     {"checks", checks},
                     {"history", rounds}};
      if (spec.codec_export) m["codecs"]["exported"] = exported;
      return m;
    }
    const double margin = kMarginDb * double(1 << (round - 1));
    const double next = std::min(round_spec.limiter.ceiling_dbtp - (worst_db + margin), codec_ceiling_dbtp - overshoot_db - margin);
    if (round == kMaxRounds || next < -20.0) {
      throw UserError(out, worst + " decodes to a true peak " + std::to_string(worst_db) + " dB over the codec ceiling of " +
                               std::to_string(codec_ceiling_dbtp) + " dBTP with the limiter's ceiling at " +
                               std::to_string(round_spec.limiter.ceiling_dbtp) + " dBTP after " + std::to_string(round) +
                               " rounds: the codecs cannot be held");
    }
    round_spec.limiter.ceiling_dbtp = next;
  }
}

}  // namespace

namespace {

// The master's settings and the main output's encoding, with the command line's overrides.
std::pair<MasterSpec, EncodeSpec> master_and_encoding(const Session& session, const RenderOptions& options) {
  MasterSpec master_spec = session.master;
  if (options.target_lufs) master_spec.target_lufs = options.target_lufs;
  if (options.ceiling_dbtp) master_spec.limiter.ceiling_dbtp = *options.ceiling_dbtp;
  EncodeSpec enc = master_spec.encode;
  enc.format = format_for(options.output);
  if (enc.format == OutputFormat::flac && enc.bit_depth == 32) {
    throw UsageError(options.output, "FLAC holds 16 or 24 bits, not 32-bit float (set master.bit_depth)");
  }
  enc.dither_seed = XXH3_64bits(session.canonical_text.data(), session.canonical_text.size());
  return {master_spec, enc};
}

// The song's shape, from the stems' headers: their lengths and rates, the processing rate and the
// song's length at it.
struct SongPlan {
  std::vector<int64_t> stem_frames;
  std::vector<int> stem_rates;
  double rate = 0.0;
  int64_t song_frames = 0;
};

// Stage "decode" (headers): a header that is not one read_audio accepts is decoded here, so its
// problem is reported first; so is a compressed file whose last declared frame cannot be reached
// (a FLAC header may claim more than the file holds), so that the buses are never sized from a
// false length. Then every EQ is designed (the designs are cached for the render): one the
// designer cannot realise stops the render before any audio is processed.
SongPlan plan_song(const Session& session, json& timing) {
  const size_t stem_count = session.stems.size();
  SongPlan plan;
  plan.stem_frames.resize(stem_count);
  plan.stem_rates.resize(stem_count);
  {
    StageTimer t(timing, "decode");
    for (size_t i = 0; i < stem_count; ++i) {
      int channels = 0;
      const bool ok = probe_audio_header(session.stems[i].file, &plan.stem_frames[i], &plan.stem_rates[i], &channels);
      if (!ok || plan.stem_frames[i] <= 0 || plan.stem_rates[i] < kMinSampleRate || plan.stem_rates[i] > kMaxSampleRate ||
          channels < 1 || channels > kMaxInputChannels) {
        AudioFileInfo info;
        read_audio(session.stems[i].file, &info);  // throws the file's problem
        if (!ok) {  // a codec that cannot seek to its end, but decodes whole: its declared length holds
          plan.stem_frames[i] = info.frames;
          plan.stem_rates[i] = int(info.sample_rate);
          continue;
        }
        throw UserError(session.stems[i].file, "not a readable audio file");
      }
    }
  }
  plan.rate = session.sample_rate.value_or(double(plan.stem_rates.front()));
  for (const auto& s : session.stems) require_realisable_eq(s.eq, plan.rate, session.source, "stems." + s.name + ".eq");
  for (const auto& g : session.groups) require_realisable_eq(g.eq, plan.rate, session.source, "groups." + g.name + ".eq");
  require_realisable_eq(session.master.eq, plan.rate, session.source, "master.eq");
  for (size_t i = 0; i < stem_count; ++i) {
    const int64_t n = double(plan.stem_rates[i]) == plan.rate
                          ? plan.stem_frames[i]
                          : static_cast<int64_t>(std::llround(double(plan.stem_frames[i]) * plan.rate / double(plan.stem_rates[i])));
    plan.song_frames = std::max(plan.song_frames, n);
  }
  return plan;
}

// Stage "decode" (impulse responses): each reverb's IR at the processing rate, and its report entry.
std::map<std::string, AudioBuffer> load_irs(const Session& session, double rate, json& timing, json& reverbs_report) {
  std::map<std::string, AudioBuffer> irs;
  reverbs_report = json::array();
  StageTimer t(timing, "decode");
  for (const auto& r : session.reverbs) {
    const auto decoded = load_ir(r.ir, rate);
    const AudioFileInfo& info = decoded->info;
    AudioBuffer ir = decoded->audio;
    reverbs_report.push_back({{"name", r.name}, {"ir", r.ir.string()}, {"ir_sample_rate", info.sample_rate},
                              {"ir_channels", info.channels}, {"ir_frames", ir.frames()},
                              {"predelay_ms", r.predelay_ms}, {"wet_db", r.wet_db},
                              {"return_to", r.return_to.empty() ? "master" : r.return_to}});
    irs.emplace(r.name, std::move(ir));
  }
  return irs;
}

// Stage "master": the master bus's EQ and compressor and the reverb tail kept (trim_tail), into
// the report's master entry `m`. Returns the tail's length in frames.
// `device`: the master bus is the device render's (master_bus is then empty).
int64_t process_master_bus(AudioBuffer& master_bus, DeviceSong* device, const MasterSpec& master_spec,
                           const Session& session, const SongPlan& plan, Backend& backend, json& timing, json& warnings,
                           json& m) {
  int64_t tail_frames = 0;
  if (device) {
    DeviceSong::MasterChain c;
    {
      StageTimer t(timing, "master");
      c = device->process_master(master_spec, plan.song_frames, std::llround(master_spec.tail_s * plan.rate));
    }
    if (!c.mix_finite) throw not_finite(session.source, kMixStage);
    if (!c.chain_finite) throw not_finite(session.source, kMasterChainStage);
    m["eq"] = c.eq;
    if (!c.compressor.is_null()) m["compressor"] = c.compressor;
    tail_frames = c.tail_frames;
  } else {
    StageTimer t(timing, "master");
    json r = process_bus(master_bus, "master", master_spec.eq, master_spec.compressor, backend, warnings);
    m["eq"] = r["eq"];
    if (r.contains("compressor")) m["compressor"] = r["compressor"];
    tail_frames = trim_tail(master_bus, plan.song_frames, std::llround(master_spec.tail_s * plan.rate));
    require_finite(master_bus, session.source, kMasterChainStage);
  }
  m["processing_sample_rate"] = plan.rate;
  m["tail_s"] = double(tail_frames) / plan.rate;
  return tail_frames;
}

// The deliverables, then the main output, each finished from the same master bus
// (finish_master); their report entries into `report`.
void deliver(AudioBuffer master_bus, DeviceSong* device, const Session& session, const RenderOptions& options, const MasterSpec& master_spec,
             const EncodeSpec& enc, Backend& backend, cpu::ThreadPool& pool, json& timing, json& warnings,
             Publication& publication, json& report, const std::optional<double>& album_lufs) {
  std::vector<json> delivered_extra;
  for (const auto& d : session.deliverables) {
    EncodeSpec denc = d.master.encode;
    denc.format = d.format.value_or(enc.format);
    denc.dither_seed = enc.dither_seed ^ XXH3_64bits(d.name.data(), d.name.size());
    const fs::path file = deliverable_path(options.output, d.name, denc.format);
    json dm = finish_master(master_bus, device, d.master, denc, file, backend, pool, timing, warnings,
                            "deliverable '" + d.name + "': ", publication, album_lufs);
    dm["name"] = d.name;
    delivered_extra.push_back(dm);
  }
  json fm = finish_master(std::move(master_bus), device, master_spec, enc, options.output, backend, pool, timing, warnings, "",
                          publication, album_lufs, options.html.has_value());
  report["output"] = {{"path", fm["path"]}, {"xxh3_128", fm["xxh3_128"]}};
  fm.erase("path");
  fm.erase("xxh3_128");
  json& m = report["master"];
  for (const auto& [k, v] : fm.items()) m[k] = v;
  if (!delivered_extra.empty()) report["deliverables"] = delivered_extra;
}

// Stage "export_groups": each group bus at the main output's rate, length and encoding.
json export_groups(std::vector<std::pair<std::string, AudioBuffer>>& groups, const Session& session,
                   const RenderOptions& options, const EncodeSpec& enc, int64_t master_frames, double out_rate,
                   int64_t delivered_frames, cpu::ThreadPool& pool, Publication& publication) {
  json exported = json::array();
  std::map<std::string, std::string> file_names;
  for (const auto& [group, name] : group_export_names(session)) file_names[group] = name;
  for (auto& [name, bus] : groups) {
    bus.resize_frames(master_frames);
    if (bus.sample_rate != out_rate) bus = resample(bus, out_rate);
    bus.resize_frames(delivered_frames);
    require_finite(bus, session.source, "group '" + name + "'");
    EncodeSpec genc = enc;
    genc.dither_seed = enc.dither_seed ^ XXH3_64bits(name.data(), name.size());
    quantize_in_place(bus, genc, &pool);
    const fs::path file = *options.export_groups_dir / (file_names.at(name) + lower_extension(options.output));
    const std::string sum = write_audio_atomic(file, bus, genc, &publication);
    exported.push_back({{"group", name}, {"path", fs::absolute(file).string()}, {"xxh3_128", sum}});
  }
  return exported;
}

// The report's closing entries: warnings, what rendered it, the session and the caller's extras.
void close_report(json& report, const json& warnings, const Session& session, const RenderOptions& options,
                  Backend& backend, const cpu::ThreadPool& pool, const std::string& backend_note) {
  report["warnings"] = warnings;
  json lacquer = {{"version", LQ_VERSION}, {"backend", backend.name()}, {"device", backend.device()},
                 {"threads", pool.size()}};
  if (report.contains("lacquer")) lacquer.update(report["lacquer"]);  // what the render set (device_render)
  report["lacquer"] = lacquer;
  if (backend.name() == "cpu") report["lacquer"]["fftw_plans"] = cpu::fftw_wisdom_accepted() ? "shipped wisdom" : "FFTW_ESTIMATE";
  if (!backend_note.empty()) report["lacquer"]["backend_note"] = backend_note;
  if (const dev::Counters* c = backend.device_counters()) {
    report["lacquer"]["device_counters"] = {
        {"h2d_bytes", c->h2d_bytes},       {"d2h_bytes", c->d2h_bytes},           {"d2d_bytes", c->d2d_bytes},
        {"syncs", c->syncs},               {"launches", c->launches},             {"launch_items", c->launch_items},
        {"kernel_bytes", c->kernel_bytes}, {"ffts", c->ffts},                     {"fft_samples", c->fft_samples},
        {"fft_bytes", c->fft_bytes},       {"peak_device_bytes", c->peak_device_bytes}};
  }
  report["session"] = {{"source", session.source.string()}, {"hash", session_hash(session)}};
  for (const auto& [key, value] : options.report_extra.items()) report[key] = value;
}

}  // namespace

namespace {

// A song rendered up to its master bus: the plan, the impulse responses, the mix (stems, groups,
// sends, reverbs) and the master's chain, with what finishing it needs (the backend, the device
// render when there is one, the report so far). Members in the order they must be set up; torn
// down in reverse (the device's buffers before the gate's bytes are given back).
struct MixedSong {
  MixedSong(const Session& session, const RenderOptions& options);
  DeviceSong* on_device() { return device_song ? &*device_song : nullptr; }
  Backend& master_backend() { return master_cpu ? *master_cpu : *backend; }
  // The pre-gain master's loudness (an album's first phase): the master bus at the processing rate.
  LoudnessMeasurement measure_master() {
    StageTimer t(timing(), "album_measure");
    return device_song ? device_song->measure() : measure_loudness(master_bus, master_backend());
  }
  json& timing() { return report["timing_s"]; }
  // [master.match]: the reference's balance as a curve band with the master's EQ (host/match.hpp),
  // and its loudness as the target when asked and none is set.
  void match_master(const Session& session) {
    StageTimer t(timing(), "match");
    AudioBuffer downloaded;  // the device's master bus, read on the host
    if (on_device()) downloaded = on_device()->download();
    const MatchResult m = match_reference(*master_spec.match, on_device() ? downloaded : master_bus, pool, warnings);
    if (!eq_is_neutral(std::span<const EqBand>(&m.band, 1))) {
      master_spec.eq.push_back(m.band);
      require_realisable_eq(master_spec.eq, plan.rate, session.source, "master.match");
    }
    report["master"]["match"] = m.report;
    if (master_spec.match->loudness && !master_spec.target_lufs && std::isfinite(m.reference_lufs)) {
      master_spec.target_lufs = std::clamp(m.reference_lufs, -40.0, -5.0);
      report["master"]["match"]["target_from_reference"] = true;
    }
  }

  Clock::time_point start = Clock::now();
  json report = {{"timing_s", json::object()}};
  json warnings = json::array();
  MasterSpec master_spec;
  EncodeSpec enc;
  cpu::ThreadPool pool;
  std::string backend_note;
  std::unique_ptr<Backend> backend;
  SongPlan plan;
  struct GateHold {  // released after the device buffers (declared before device_song)
    DeviceMemoryGate* gate = nullptr;
    int64_t bytes = 0;
    ~GateHold() {
      if (gate) gate->release(bytes);
    }
  } gate_hold;
  std::optional<DeviceSong> device_song;
  std::unique_ptr<Backend> master_cpu;
  MixResult mix;
  AudioBuffer master_bus;  // empty when the master bus is on the device
  int64_t tail_frames = 0;
};

// plan -> impulse responses -> mix -> master bus.
MixedSong::MixedSong(const Session& session, const RenderOptions& options) : pool(options.threads) {
  json& timing = report["timing_s"];
  if (!known_backend(options.backend)) {
    throw UsageError("--backend " + options.backend + ": unknown backend (" + kBackendNames + ")");
  }
  preflight_output(session, options);
  std::tie(master_spec, enc) = master_and_encoding(session, options);
  DeviceBackendOptions device_options;
  if (options.device_batch_samples) device_options.batch_samples = *options.device_batch_samples;
  if (options.device_memory_budget_bytes) device_options.memory_budget_bytes = *options.device_memory_budget_bytes;
  backend = make_backend(options.backend, pool, &backend_note, &device_options);

  plan = plan_song(session, timing);
  json reverbs_report;
  std::map<std::string, AudioBuffer> irs = load_irs(session, plan.rate, timing, reverbs_report);

  // With a device backend, the whole song on the device when it fits the backend's memory budget
  // (host/device_render.hpp). Otherwise stems -> groups, sends -> reverbs -> master in spans
  // (host/mix_stream.hpp), each pass on the backend, and, over a device backend's budget, the
  // master's chain and finishing on the CPU backend (host memory): the device then holds no more
  // than a few spans, whatever the song's length.
  if (auto* device = dynamic_cast<DeviceBackend*>(backend.get())) {
    const int64_t need = DeviceSong::memory_estimate(mix_graph(session, plan.rate, plan.song_frames, irs),
                                                     device->options().batch_samples);
    const bool fits = need <= device->options().memory_budget_bytes;
    report["lacquer"]["device_memory_estimate_bytes"] = need;
    report["lacquer"]["device_render"] =
        fits ? "whole song on the device" : "spans on the device, the master on the CPU (over the device memory budget)";
    if (fits) {
      if (options.device_gate) {
        options.device_gate->acquire(need);
        gate_hold.gate = options.device_gate;
        gate_hold.bytes = need;
      }
      device_song.emplace(*device, plan.rate);
    } else {
      master_cpu = std::make_unique<CpuBackend>(pool);
    }
  }
  mix = on_device() ? on_device()->mix(session, plan.stem_rates, plan.song_frames, irs,
                                       options.export_groups_dir.has_value(), timing, warnings)
                    : mix_song(session, plan.stem_rates, plan.rate, plan.song_frames, irs,
                               options.export_groups_dir.has_value(), *backend, pool, timing, warnings);
  irs.clear();
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  // The mix's spans and transform frames (under the mmap threshold: heap) are free now; hand them
  // back, or the heap keeps them beside the finishing's buffers (180 s: peak 301 -> 220 MB).
  // Not under AddressSanitizer: its allocator replaces glibc's, whose heap is then never set up,
  // and two batch songs calling malloc_trim at once race in setting it up (SEGV in mtrim).
  malloc_trim(0);
#endif
  report["inputs"] = std::move(mix.inputs);
  report["stems"] = std::move(mix.stems);
  if (!on_device()) require_finite(mix.master, session.source, kMixStage);
  report["groups"] = std::move(mix.groups);
  report["reverbs"] = reverbs_report;

  master_bus = std::move(mix.master);
  if (master_spec.match) match_master(session);
  tail_frames = process_master_bus(master_bus, on_device(), master_spec, session, plan, master_backend(), timing, warnings,
                                   report["master"]);
}

}  // namespace

// mix (MixedSong) -> the album's loudness when a master takes it -> deliver (deliverables, the
// main output) -> group exports -> the report, published together at the end.
RenderResult render(const Session& session, const RenderOptions& options) {
  MixedSong song(session, options);
  json& report = song.report;
  json& timing = song.timing();
  Publication own;  // what it writes is published together at the end, or not at all
  Publication& publication = options.publication ? *options.publication : own;

  // The album's loudness before the gain: the album's (the first phase's) or, for a song rendered
  // on its own, the song's: an album of one.
  std::optional<double> album_lufs;
  if (uses_album_loudness(session)) {
    AlbumContext one;
    if (!options.album) {
      const AlbumSong alone[] = {{fs::path(options.output).stem().string(), song.measure_master()}};
      one = album_context(session.album.value_or(alone[0].id), alone);
    }
    const AlbumContext& album = options.album ? *options.album : one;
    album_lufs = album.before.integrated_defined ? album.before.integrated_lufs : -HUGE_VAL;
    report["album"] = album.report;
    if (song.master_spec.target_lufs && album.before.integrated_defined) {
      report["album"]["target_lufs"] = *song.master_spec.target_lufs;
      report["album"]["gain_db"] = *song.master_spec.target_lufs - album.before.integrated_lufs;
    }
  }
  deliver(std::move(song.master_bus), song.on_device(), session, options, song.master_spec, song.enc, song.master_backend(),
          song.pool, timing, song.warnings, publication, report, album_lufs);
  if (options.export_groups_dir) {
    StageTimer t(timing, "export_groups");
    report["exported_groups"] =
        export_groups(song.mix.exported_groups, session, options, song.enc, song.plan.song_frames + song.tail_frames,
                      report["master"]["sample_rate"].get<double>(), report["master"]["frames"].get<int64_t>(), song.pool,
                      publication);
  }
  if (report["master"].contains("series")) report["master"]["series"]["compressors"] = song.mix.compressor_series;
  if (report["master"].contains("match")) report["master"]["match"]["result_integrated_lufs"] = report["master"]["after"]["integrated_lufs"];
  close_report(report, song.warnings, session, options, *song.backend, song.pool, song.backend_note);
  timing["total"] = std::chrono::duration<double>(Clock::now() - song.start).count();
  if (options.html) {
    write_text_atomic(*options.html, song_page(report, fs::path(options.output).filename().string()), &publication);
  }
  if (options.report) write_text_atomic(*options.report, report.dump(2) + "\n", &publication);  // the report last
  if (!options.publication) publication.publish();
  return {report, options.output};
}

LoudnessMeasurement measure_pre_gain(const Session& session, const RenderOptions& options) {
  MixedSong song(session, options);
  return song.measure_master();
}

}  // namespace lq
