// The session file (README "The session file"): TOML through toml++, every key checked against
// the list of known keys, every value against its type and range, with "<file>:<line>: <key>:
// <problem>" messages; and the default preset for a folder of stems.
#include "host/session.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <toml++/toml.h>

#include "host/errors.hpp"
#include "host/files.hpp"

namespace lq {

namespace fs = std::filesystem;

namespace {

std::string num_text(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

// A key as written in a dotted path: bare when TOML allows it bare, quoted otherwise.
std::string key_text(std::string_view k) {
  const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  return bare ? std::string(k) : "\"" + std::string(k) + "\"";
}

template <class Range>
std::string comma_list(const Range& items) {
  std::string list;
  for (const auto& a : items) list += (list.empty() ? "" : ", ") + std::string(a);
  return list;
}

std::string join(const std::string& where, std::string_view key) {
  return where.empty() ? key_text(key) : where + "." + key_text(key);
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

using Entry = std::pair<std::string, const toml::node*>;

// A table's entries in the order they appear in the file (toml::table is sorted by key).
std::vector<Entry> in_file_order(const toml::table& t) {
  std::vector<std::pair<toml::source_position, Entry>> v;
  for (auto&& [k, n] : t) v.push_back({n.source().begin, {std::string(k.str()), &n}});
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    if (a.first.line != b.first.line) return a.first.line < b.first.line;
    return a.first.column < b.first.column;
  });
  std::vector<Entry> out;
  for (auto& e : v) out.push_back(e.second);
  return out;
}

class Reader {
 public:
  explicit Reader(std::string label) : label_(std::move(label)) {}

  [[noreturn]] void fail(const toml::source_region& at, const std::string& key, const std::string& problem) const {
    const std::string where = at.begin.line > 0 ? label_ + ":" + std::to_string(at.begin.line) : label_;
    throw UserError(where + ": " + key + ": " + problem);
  }

  void only(const toml::table& t, const std::string& where, std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, n] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
      std::string problem = "unknown key (expected one of: " + comma_list(allowed) + ")";
      if (where == "master" && k.str() == "format") {
        problem = "unknown key: the output format follows the output file's extension (.wav or .flac)";
      }
      fail(k.source(), join(where, k.str()), problem);
    }
  }

  std::optional<double> number(const toml::table& t, const std::string& where, std::string_view key, double lo,
                               double hi) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    double v = 0.0;
    if (auto i = n->as_integer()) {
      v = static_cast<double>(i->get());
    } else if (auto f = n->as_floating_point()) {
      v = f->get();
    } else {
      fail(n->source(), join(where, key), std::string("expected a number, got ") + type_name(n->type()));
    }
    if (!(v >= lo && v <= hi)) {
      fail(n->source(), join(where, key), num_text(v) + " is out of range [" + num_text(lo) + ", " + num_text(hi) + "]");
    }
    return v;
  }
  // A sample rate: a whole number of Hz in [kMinSampleRate, kMaxSampleRate] (files hold integer rates).
  std::optional<double> rate(const toml::table& t, const std::string& where, std::string_view key) const {
    const auto v = number(t, where, key, kMinSampleRate, kMaxSampleRate);
    if (v && *v != std::floor(*v)) fail(t.get(key)->source(), join(where, key), num_text(*v) + " is not a whole number of Hz");
    return v;
  }
  double number_or(const toml::table& t, const std::string& where, std::string_view key, double lo, double hi,
                   double fallback) const {
    return number(t, where, key, lo, hi).value_or(fallback);
  }

  // The value at `key` when present and of type T (toml++'s node::as<T>), else a type error.
  template <class T>
  const auto* get(const toml::table& t, const std::string& where, std::string_view key, const char* expected) const {
    const toml::node* n = t.get(key);
    const auto* v = n ? n->as<T>() : nullptr;
    if (n && !v) fail(n->source(), join(where, key), std::string("expected ") + expected + ", got " + type_name(n->type()));
    return v;
  }

  std::optional<int64_t> integer_of(const toml::table& t, const std::string& where, std::string_view key,
                                    std::initializer_list<int64_t> allowed) const {
    const auto* i = get<int64_t>(t, where, key, "an integer");
    if (!i) return std::nullopt;
    if (std::find(allowed.begin(), allowed.end(), i->get()) == allowed.end()) {
      std::vector<std::string> list;
      for (auto a : allowed) list.push_back(std::to_string(a));
      fail(i->source(), join(where, key), std::to_string(i->get()) + " is not one of " + comma_list(list));
    }
    return i->get();
  }

  std::optional<bool> boolean(const toml::table& t, const std::string& where, std::string_view key) const {
    const auto* b = get<bool>(t, where, key, "true or false");
    return b ? std::optional<bool>(b->get()) : std::nullopt;
  }

  std::optional<std::string> string(const toml::table& t, const std::string& where, std::string_view key) const {
    const auto* s = get<std::string>(t, where, key, "a string");
    if (!s) return std::nullopt;
    if (s->get().empty()) fail(s->source(), join(where, key), "is empty");
    return s->get();
  }

  // `codec_check = ["aac_256", ...]` (host/codec.hpp names), each at most once.
  std::optional<std::vector<CodecSpec>> codecs(const toml::table& t, const std::string& where) const {
    const auto* a = get<toml::array>(t, where, "codec_check", "an array of codec names");
    if (!a) return std::nullopt;
    std::vector<CodecSpec> out;
    for (const toml::node& n : *a) {
      const auto* name = n.as_string();
      if (!name) fail(n.source(), join(where, "codec_check"), std::string("expected a codec name, got ") + type_name(n.type()));
      const auto spec = parse_codec(name->get());
      if (!spec) fail(n.source(), join(where, "codec_check"), "'" + name->get() + "' is not a codec check (" + codec_names_help() + ")");
      for (const auto& o : out) {
        if (o.name == spec->name) fail(n.source(), join(where, "codec_check"), "'" + spec->name + "' is named twice");
      }
      out.push_back(*spec);
    }
    return out;
  }
  // codec_check, codec_ceiling_dbtp, codec_export over `m`'s.
  void codec_settings(const toml::table& t, const std::string& where, MasterSpec& m) const {
    if (auto c = codecs(t, where)) m.codec_check = *c;
    if (t.get("codec_ceiling_dbtp")) m.codec_ceiling_dbtp = number(t, where, "codec_ceiling_dbtp", -20.0, 0.0);
    m.codec_export = boolean(t, where, "codec_export").value_or(m.codec_export);
    if (m.codec_export && m.codec_check.empty()) {
      fail(t.source(), join(where, "codec_export"), "no codec to export: list them in codec_check");
    }
  }

  // `loudness = "song" | "album"`.
  std::optional<LoudnessMode> loudness_mode(const toml::table& t, const std::string& where) const {
    const auto v = string(t, where, "loudness");
    if (!v) return std::nullopt;
    if (*v != "song" && *v != "album") {
      fail(t.get("loudness")->source(), join(where, "loudness"), "'" + *v + "': use \"song\" or \"album\"");
    }
    return *v == "album" ? LoudnessMode::album : LoudnessMode::song;
  }

  const toml::table& table(const toml::node& n, const std::string& key) const {
    const auto* t = n.as_table();
    if (!t) fail(n.source(), key, std::string("expected a table, got ") + type_name(n.type()));
    return *t;
  }

  std::vector<EqBand> eq(const toml::table& t, const std::string& where) const {
    std::vector<EqBand> bands;
    const toml::array* a = get<toml::array>(t, where, "eq", "an array");
    if (!a) return bands;
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string at = join(where, "eq") + "[" + std::to_string(i) + "]";
      const toml::table& b = table((*a)[i], at);
      only(b, at, {"type", "freq_hz", "gain_db", "q", "slope_db_per_oct"});
      EqBand band;
      const auto type = string(b, at, "type");
      if (!type) fail(b.source(), at + ".type", "missing (bell, low_shelf, high_shelf, low_pass, high_pass, notch or tilt)");
      if (!parse_eq_band_type(*type, &band.type)) {
        fail(b.get("type")->source(), at + ".type",
             "unknown band type '" + *type + "' (bell, low_shelf, high_shelf, low_pass, high_pass, notch or tilt)");
      }
      const auto freq = number(b, at, "freq_hz", 10.0, 40000.0);
      if (!freq) fail(b.source(), at + ".freq_hz", "missing: every band needs a frequency");
      band.freq_hz = *freq;
      const bool pass = band.type == EqBandType::low_pass || band.type == EqBandType::high_pass;
      if (b.get("gain_db") && (pass || band.type == EqBandType::notch)) {
        fail(b.get("gain_db")->source(), at + ".gain_db", std::string("has no effect on a ") + *type + " band");
      }
      band.gain_db = number_or(b, at, "gain_db", -30.0, 30.0, band.gain_db);
      band.q = number_or(b, at, "q", 0.05, 50.0, band.q);
      if (b.get("slope_db_per_oct") && !pass) {
        fail(b.get("slope_db_per_oct")->source(), at + ".slope_db_per_oct", "applies to low_pass and high_pass bands only");
      }
      band.slope_db_per_oct = static_cast<int>(integer_of(b, at, "slope_db_per_oct", {12, 24, 36, 48}).value_or(12));
      bands.push_back(band);
    }
    return bands;
  }

  std::optional<dsp::CompressorParams> compressor(const toml::table& t, const std::string& where) const {
    const toml::node* n = t.get("compressor");
    if (!n) return std::nullopt;
    const std::string at = join(where, "compressor");
    const toml::table& c = table(*n, at);
    only(c, at, {"threshold_db", "ratio", "knee_db", "attack_ms", "release_ms", "makeup_db", "auto_makeup",
                 "stereo_link", "lookahead_ms", "detector", "rms_ms"});
    dsp::CompressorParams p;
    p.threshold_db = number_or(c, at, "threshold_db", -80.0, 0.0, p.threshold_db);
    p.ratio = number_or(c, at, "ratio", 1.0, 100.0, p.ratio);
    p.knee_db = number_or(c, at, "knee_db", 0.0, 24.0, p.knee_db);
    p.attack_ms = number_or(c, at, "attack_ms", 0.01, 1000.0, p.attack_ms);
    p.release_ms = number_or(c, at, "release_ms", 1.0, 10000.0, p.release_ms);
    p.makeup_db = number_or(c, at, "makeup_db", -24.0, 48.0, p.makeup_db);
    p.auto_makeup = boolean(c, at, "auto_makeup").value_or(p.auto_makeup);
    p.stereo_link = number_or(c, at, "stereo_link", 0.0, 1.0, p.stereo_link);
    p.lookahead_ms = number_or(c, at, "lookahead_ms", 0.0, 20.0, p.lookahead_ms);
    if (const auto d = string(c, at, "detector")) {
      if (*d != "peak" && *d != "rms") fail(c.get("detector")->source(), join(at, "detector"), "'" + *d + "': use \"peak\" or \"rms\"");
      p.rms_detector = *d == "rms";
    }
    if (c.get("rms_ms")) {
      if (!p.rms_detector) fail(c.get("rms_ms")->source(), join(at, "rms_ms"), "only with detector = \"rms\"");
      p.rms_ms = number_or(c, at, "rms_ms", 0.1, 1000.0, p.rms_ms);
    }
    return p;
  }

  std::vector<ReverbSend> sends(const toml::table& t, const std::string& where, const std::set<std::string>& reverbs) const {
    std::vector<ReverbSend> out;
    const toml::array* a = get<toml::array>(t, where, "sends", "an array");
    if (!a) return out;
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string at = join(where, "sends") + "[" + std::to_string(i) + "]";
      const toml::table& s = table((*a)[i], at);
      only(s, at, {"reverb", "level_db"});
      ReverbSend send;
      const auto name = string(s, at, "reverb");
      if (!name) fail(s.source(), at + ".reverb", "missing: the name of a [reverbs.NAME] table");
      if (!reverbs.count(*name)) {
        fail(s.get("reverb")->source(), at + ".reverb",
             "no reverb named '" + *name + "' (declared: " + (reverbs.empty() ? "none" : comma_list(reverbs)) + ")");
      }
      for (const auto& prev : out) {
        if (prev.reverb == *name) fail(s.source(), at + ".reverb", "a second send to reverb '" + *name + "'");
      }
      send.reverb = *name;
      send.level_db = number_or(s, at, "level_db", -120.0, 12.0, send.level_db);
      out.push_back(send);
    }
    return out;
  }

 private:
  std::string label_;
};

fs::path resolve(const fs::path& base, const std::string& p) {
  const fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal();
}


// ---- canonical text: every resolved setting, defaults included, numbers exact ---------------

struct Canon {
  std::string text;
  void put(const std::string& key, const std::string& value) { text += key + " = " + value + "\n"; }
  void num(const std::string& key, double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", v);
    put(key, b);
  }
  void opt(const std::string& key, const std::optional<double>& v) {
    if (v) num(key, *v); else put(key, "none");
  }
  void eq(const std::string& key, const std::vector<EqBand>& bands) {
    for (size_t i = 0; i < bands.size(); ++i) {
      const std::string k = key + ".eq[" + std::to_string(i) + "]";
      put(k + ".type", eq_band_type_name(bands[i].type));
      num(k + ".freq_hz", bands[i].freq_hz);
      num(k + ".gain_db", bands[i].gain_db);
      num(k + ".q", bands[i].q);
      num(k + ".slope_db_per_oct", bands[i].slope_db_per_oct);
    }
  }
  void comp(const std::string& key, const std::optional<dsp::CompressorParams>& c) {
    if (!c) return put(key + ".compressor", "none");
    const std::string k = key + ".compressor";
    num(k + ".threshold_db", c->threshold_db);
    num(k + ".ratio", c->ratio);
    num(k + ".knee_db", c->knee_db);
    num(k + ".attack_ms", c->attack_ms);
    num(k + ".release_ms", c->release_ms);
    num(k + ".makeup_db", c->makeup_db);
    put(k + ".auto_makeup", c->auto_makeup ? "true" : "false");
    num(k + ".stereo_link", c->stereo_link);
    num(k + ".lookahead_ms", c->lookahead_ms);
    if (c->rms_detector) {  // absent for the peak detector: earlier sessions keep their hashes
      put(k + ".detector", "rms");
      num(k + ".rms_ms", c->rms_ms);
    }
  }
  void sends(const std::string& key, const std::vector<ReverbSend>& s) {
    for (size_t i = 0; i < s.size(); ++i) {
      put(key + ".sends[" + std::to_string(i) + "].reverb", key_text(s[i].reverb));
      num(key + ".sends[" + std::to_string(i) + "].level_db", s[i].level_db);
    }
  }
};

// Paths are written relative to the session's folder so that the text (the session hash, the
// dither seed) does not depend on where the song's folder lives (file contents are hashed apart);
// a path that shares nothing but the root with the folder is written as it is.
std::string path_text(const fs::path& p, const fs::path& base) {
  auto a = p.begin(), b = base.begin();
  if (a != p.end() && b != base.end()) ++a, ++b;
  const bool shared = a != p.end() && b != base.end() && *a == *b;
  return (shared ? p.lexically_relative(base) : p).generic_string();
}

std::string canonical_text(const Session& s, const fs::path& base) {
  Canon c;
  c.put("lacquer_session", "1");
  c.opt("sample_rate", s.sample_rate);
  const MasterSpec& m = s.master;
  c.opt("master.target_lufs", m.target_lufs);
  c.num("master.ceiling_dbtp", m.limiter.ceiling_dbtp);
  c.num("master.limiter.lookahead_ms", m.limiter.lookahead_ms);
  c.num("master.limiter.release_ms", m.limiter.release_ms);
  c.opt("master.sample_rate", m.sample_rate);
  c.num("master.bit_depth", m.encode.bit_depth);
  c.put("master.dither", m.encode.dither ? "true" : "false");
  c.num("master.tail_s", m.tail_s);
  c.num("master.max_limiting_db", m.max_limiting_db);
  c.eq("master", m.eq);
  c.comp("master", m.compressor);
  for (const auto& d : s.deliverables) {
    const std::string k = "deliverables." + d.name;
    c.opt(k + ".target_lufs", d.master.target_lufs);
    c.num(k + ".ceiling_dbtp", d.master.limiter.ceiling_dbtp);
    c.opt(k + ".sample_rate", d.master.sample_rate);
    c.num(k + ".bit_depth", d.master.encode.bit_depth);
    c.put(k + ".dither", d.master.encode.dither ? "true" : "false");
    c.put(k + ".format", !d.format ? "output" : *d.format == OutputFormat::wav ? "wav" : "flac");
  }
  // Album loudness and matching only when chosen: sessions without them keep their hashes (and
  // dither seeds).
  if (m.loudness == LoudnessMode::album) c.put("master.loudness", "album");
  if (m.match && (m.match->amount > 0.0 || m.match->loudness)) {  // amount 0: no change to the audio
    c.put("master.match.reference", path_text(m.match->reference, base));
    c.num("master.match.amount", m.match->amount);
    c.num("master.match.max_db", m.match->max_db);
    c.num("master.match.smoothing", m.match->smoothing_oct);
    c.put("master.match.loudness", m.match->loudness ? "true" : "false");
  }
  for (const auto& d : s.deliverables) {
    if (d.master.loudness != m.loudness) {
      c.put("deliverables." + d.name + ".loudness", d.master.loudness == LoudnessMode::album ? "album" : "song");
    }
  }
  for (const auto& g : s.groups) {
    const std::string k = "groups." + key_text(g.name);
    c.num(k + ".gain_db", g.gain_db);
    c.num(k + ".width", g.width);
    c.eq(k, g.eq);
    c.comp(k, g.compressor);
    c.sends(k, g.sends);
  }
  for (const auto& r : s.reverbs) {
    const std::string k = "reverbs." + key_text(r.name);
    c.put(k + ".ir", path_text(r.ir, base));
    c.num(k + ".predelay_ms", r.predelay_ms);
    c.num(k + ".wet_db", r.wet_db);
    c.put(k + ".return_to", r.return_to.empty() ? "master" : "groups." + key_text(r.return_to));
  }
  for (const auto& st : s.stems) {
    const std::string k = "stems." + key_text(st.name);
    c.put(k + ".file", path_text(st.file, base));
    c.put(k + ".group", key_text(st.group));
    c.num(k + ".gain_db", st.gain_db);
    c.num(k + ".pan", st.pan);
    c.eq(k, st.eq);
    c.comp(k, st.compressor);
    c.sends(k, st.sends);
  }
  return c.text;
}

GroupSpec& group_named(std::vector<GroupSpec>& groups, const std::string& name) {
  for (auto& g : groups) {
    if (g.name == name) return g;
  }
  groups.push_back(GroupSpec{});
  groups.back().name = name;
  return groups.back();
}

}  // namespace

namespace {

// [reverbs.NAME] (first: sends name them). return_nodes: each reverb's return_to, for errors.
void parse_reverbs(const toml::table& root, const Reader& rd, const fs::path& base, Session& s,
                   std::map<std::string, const toml::node*>& return_nodes) {
  const toml::node* n = root.get("reverbs");
  if (!n) return;
  for (const auto& [name, node] : in_file_order(rd.table(*n, "reverbs"))) {
    const std::string at = join("reverbs", name);
    const toml::table& t = rd.table(*node, at);
    rd.only(t, at, {"ir", "predelay_ms", "wet_db", "return_to"});
    ReverbSpec r;
    r.name = name;
    const auto ir = rd.string(t, at, "ir");
    if (!ir) rd.fail(t.source(), at + ".ir", "missing: the impulse response file, relative to the session file");
    r.ir = resolve(base, *ir);
    r.predelay_ms = rd.number_or(t, at, "predelay_ms", 0.0, 500.0, r.predelay_ms);
    r.wet_db = rd.number_or(t, at, "wet_db", -120.0, 12.0, r.wet_db);
    r.return_to = rd.string(t, at, "return_to").value_or("");
    if (!r.return_to.empty()) return_nodes[name] = t.get("return_to");
    s.reverbs.push_back(r);
  }
}

std::set<std::string> reverb_names(const Session& s) {
  std::set<std::string> names;
  for (const auto& r : s.reverbs) names.insert(r.name);
  return names;
}

// [groups.NAME]. group_send_nodes: each group's sends array, for errors.
void parse_groups(const toml::table& root, const Reader& rd, Session& s,
                  std::map<std::string, const toml::node*>& group_send_nodes) {
  const toml::node* n = root.get("groups");
  if (!n) return;
  const std::set<std::string> reverbs = reverb_names(s);
  for (const auto& [name, node] : in_file_order(rd.table(*n, "groups"))) {
    const std::string at = join("groups", name);
    const toml::table& t = rd.table(*node, at);
    rd.only(t, at, {"gain_db", "width", "eq", "compressor", "sends"});
    GroupSpec g;
    g.name = name;
    g.gain_db = rd.number_or(t, at, "gain_db", -60.0, 24.0, g.gain_db);
    g.width = rd.number_or(t, at, "width", 0.0, 2.0, g.width);
    g.eq = rd.eq(t, at);
    g.compressor = rd.compressor(t, at);
    g.sends = rd.sends(t, at, reverbs);
    if (!g.sends.empty()) group_send_nodes[name] = t.get("sends");
    s.groups.push_back(g);
  }
}

// [stems.NAME] (none in a preset; at least one in a session). Groups named by stems exist with
// default settings.
void parse_stems(const toml::table& root, const Reader& rd, const fs::path& base, const fs::path& toml_file, bool preset,
                 Session& s) {
  const toml::node* stems_node = root.get("stems");
  if (preset && stems_node) {
    rd.fail(stems_node->source(), "stems", "a preset has no stems: each song's stems come from its folder");
  }
  if (!preset && !stems_node) throw UserError(toml_file, "stems: no stems (add a [stems.NAME] table with file and group)");
  const toml::table empty_stems;
  const toml::table& stems = stems_node ? rd.table(*stems_node, "stems") : empty_stems;
  if (!preset && stems.empty()) rd.fail(stems.source(), "stems", "no stems (add a [stems.NAME] table with file and group)");
  const std::set<std::string> reverbs = reverb_names(s);
  for (const auto& [name, node] : in_file_order(stems)) {
    const std::string at = join("stems", name);
    const toml::table& t = rd.table(*node, at);
    rd.only(t, at, {"file", "group", "gain_db", "pan", "eq", "compressor", "sends"});
    StemSpec st;
    st.name = name;
    const auto file = rd.string(t, at, "file");
    if (!file) rd.fail(t.source(), at + ".file", "missing: the stem's audio file, relative to the session file");
    st.file = resolve(base, *file);
    const auto group = rd.string(t, at, "group");
    if (!group) rd.fail(t.source(), at + ".group", "missing: the name of the group this stem feeds");
    st.group = *group;
    st.gain_db = rd.number_or(t, at, "gain_db", -60.0, 24.0, st.gain_db);
    st.pan = rd.number_or(t, at, "pan", -1.0, 1.0, st.pan);
    st.eq = rd.eq(t, at);
    st.compressor = rd.compressor(t, at);
    st.sends = rd.sends(t, at, reverbs);
    group_named(s.groups, st.group);
    s.stems.push_back(st);
  }
}

// A reverb returns into a group that exists, and no group sends to a reverb that returns into a
// group.
void check_reverb_returns(const Reader& rd, const Session& s, std::map<std::string, const toml::node*>& return_nodes,
                          std::map<std::string, const toml::node*>& group_send_nodes) {
  for (const auto& r : s.reverbs) {
    if (r.return_to.empty()) continue;
    const bool exists = std::any_of(s.groups.begin(), s.groups.end(), [&](const GroupSpec& g) { return g.name == r.return_to; });
    if (!exists) {
      rd.fail(return_nodes[r.name]->source(), join("reverbs", r.name) + ".return_to",
              "no group named '" + r.return_to + "' (leave return_to out to return to the master bus)");
    }
    for (const auto& g : s.groups) {
      for (const auto& send : g.sends) {
        if (send.reverb != r.name) continue;
        rd.fail(group_send_nodes[g.name]->source(), join("groups", g.name) + ".sends",
                "reverb '" + r.name + "' returns into group '" + r.return_to +
                    "': a reverb fed by a group must return to the master bus");
      }
    }
  }
}

// [master] and [master.limiter].
// [master.match]: reference (required), amount, max_db, smoothing (octaves), loudness.
std::optional<MatchSpec> parse_match(const toml::table& master, const Reader& rd, const fs::path& base) {
  const toml::node* n = master.get("match");
  if (!n) return std::nullopt;
  const std::string at = "master.match";
  const toml::table& t = rd.table(*n, at);
  rd.only(t, at, {"reference", "amount", "max_db", "smoothing", "loudness"});
  MatchSpec m;
  const auto ref = rd.string(t, at, "reference");
  if (!ref) rd.fail(t.source(), at + ".reference", "missing: the reference file whose tonal balance to match");
  m.reference = resolve(base, *ref);
  m.amount = rd.number_or(t, at, "amount", 0.0, 1.0, m.amount);
  m.max_db = rd.number_or(t, at, "max_db", 0.0, 24.0, m.max_db);
  m.smoothing_oct = rd.number_or(t, at, "smoothing", 1.0 / 24.0, 2.0, m.smoothing_oct);
  m.loudness = rd.boolean(t, at, "loudness").value_or(m.loudness);
  return m;
}

void parse_master(const toml::table& root, const Reader& rd, MasterSpec& m, const fs::path& base) {
  const toml::node* n = root.get("master");
  if (!n) return;
  const toml::table& t = rd.table(*n, "master");
  rd.only(t, "master", {"target_lufs", "ceiling_dbtp", "sample_rate", "bit_depth", "dither", "tail_s",
                        "max_limiting_db", "eq", "compressor", "limiter", "loudness", "match", "codec_check",
                        "codec_ceiling_dbtp", "codec_export"});
  m.match = parse_match(t, rd, base);
  rd.codec_settings(t, "master", m);
  m.target_lufs = rd.number(t, "master", "target_lufs", -40.0, -5.0);
  m.loudness = rd.loudness_mode(t, "master").value_or(m.loudness);
  m.limiter.ceiling_dbtp = rd.number_or(t, "master", "ceiling_dbtp", -20.0, 0.0, m.limiter.ceiling_dbtp);
  m.sample_rate = rd.rate(t, "master", "sample_rate");
  m.encode.bit_depth = static_cast<int>(rd.integer_of(t, "master", "bit_depth", {16, 24, 32}).value_or(m.encode.bit_depth));
  m.encode.dither = rd.boolean(t, "master", "dither").value_or(m.encode.dither);
  m.tail_s = rd.number_or(t, "master", "tail_s", 0.0, 60.0, m.tail_s);
  m.max_limiting_db = rd.number_or(t, "master", "max_limiting_db", 0.0, 60.0, m.max_limiting_db);
  m.eq = rd.eq(t, "master");
  m.compressor = rd.compressor(t, "master");
  if (const toml::node* l = t.get("limiter")) {
    const toml::table& lt = rd.table(*l, "master.limiter");
    rd.only(lt, "master.limiter", {"lookahead_ms", "release_ms"});
    m.limiter.lookahead_ms = rd.number_or(lt, "master.limiter", "lookahead_ms", 0.5, 20.0, m.limiter.lookahead_ms);
    m.limiter.release_ms = rd.number_or(lt, "master.limiter", "release_ms", 1.0, 2000.0, m.limiter.release_ms);
  }
}

// [deliverables.NAME]: the master's settings with their own keys over them (after [master]).
void parse_deliverables(const toml::table& root, const Reader& rd, Session& s) {
  const toml::node* n = root.get("deliverables");
  if (!n) return;
  for (const auto& [name, node] : in_file_order(rd.table(*n, "deliverables"))) {
    const std::string at = join("deliverables", name);
    const toml::table& t = rd.table(*node, at);
    rd.only(t, at, {"target_lufs", "ceiling_dbtp", "sample_rate", "bit_depth", "dither", "format", "loudness",
                    "codec_check", "codec_ceiling_dbtp", "codec_export"});
    const bool safe = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '_' || c == '-';
    });
    if (!safe) rd.fail(t.source(), at, "a deliverable's name is part of a file name: letters, digits, '_' and '-' only");
    DeliverableSpec d;
    d.name = name;
    d.master = s.master;
    if (t.get("target_lufs")) d.master.target_lufs = rd.number(t, at, "target_lufs", -40.0, -5.0);
    d.master.limiter.ceiling_dbtp = rd.number_or(t, at, "ceiling_dbtp", -20.0, 0.0, d.master.limiter.ceiling_dbtp);
    if (t.get("sample_rate")) d.master.sample_rate = rd.rate(t, at, "sample_rate");
    d.master.encode.bit_depth =
        static_cast<int>(rd.integer_of(t, at, "bit_depth", {16, 24, 32}).value_or(d.master.encode.bit_depth));
    d.master.encode.dither = rd.boolean(t, at, "dither").value_or(d.master.encode.dither);
    d.master.loudness = rd.loudness_mode(t, at).value_or(d.master.loudness);
    rd.codec_settings(t, at, d.master);
    if (const auto f = rd.string(t, at, "format")) {
      if (*f == "wav") d.format = OutputFormat::wav;
      else if (*f == "flac") d.format = OutputFormat::flac;
      else rd.fail(t.get("format")->source(), at + ".format", "'" + *f + "': use \"wav\" or \"flac\"");
      if (d.format == OutputFormat::flac && d.master.encode.bit_depth == 32) {
        rd.fail(t.source(), at + ".bit_depth", "FLAC holds 16 or 24 bits, not 32-bit float");
      }
    }
    s.deliverables.push_back(d);
  }
}

// A session file, or (preset = true) a preset: the same keys without [stems]. Tables in the order
// their names are needed: reverbs, groups, stems, then the checks between them, master,
// deliverables.
Session parse_session_file(const fs::path& toml_file, bool preset) {
  const std::string text = read_text_file(toml_file);
  const std::string label = toml_file.string();
  toml::table root;
  try {
    root = toml::parse(text, label);
  } catch (const toml::parse_error& e) {
    throw UserError(label + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                    ": " + std::string(e.description()));
  }
  const Reader rd(label);
  const fs::path base = fs::absolute(toml_file).lexically_normal().parent_path();
  Session s;
  s.source = toml_file;
  rd.only(root, "", {"sample_rate", "album", "master", "groups", "reverbs", "stems", "deliverables"});
  s.sample_rate = rd.rate(root, "", "sample_rate");
  s.album = rd.string(root, "", "album");
  if (preset && s.album) {
    rd.fail(root.get("album")->source(), "album",
            "a preset applies to many songs: name an album in album.toml, a manifest's album column or each session");
  }
  std::map<std::string, const toml::node*> return_nodes, group_send_nodes;
  parse_reverbs(root, rd, base, s, return_nodes);
  parse_groups(root, rd, s, group_send_nodes);
  parse_stems(root, rd, base, toml_file, preset, s);
  check_reverb_returns(rd, s, return_nodes, group_send_nodes);
  parse_master(root, rd, s.master, base);
  parse_deliverables(root, rd, s);
  s.canonical_text = canonical_text(s, base);
  return s;
}

}  // namespace

Session load_session(const fs::path& toml_file) { return parse_session_file(toml_file, false); }

std::string codec_settings_text(const Session& session) {
  std::string text;
  auto add = [&](const std::string& key, const MasterSpec& m) {
    if (m.codec_check.empty()) return;
    text += key + ".codec_check =";
    for (const auto& c : m.codec_check) text += " " + c.name;
    text += "\n" + key + ".codec_ceiling_dbtp = " + (m.codec_ceiling_dbtp ? num_text(*m.codec_ceiling_dbtp) : "ceiling") + "\n";
    text += key + ".codec_export = " + (m.codec_export ? "true" : "false") + "\n";
  };
  add("master", session.master);
  for (const auto& d : session.deliverables) add("deliverables." + d.name, d.master);
  return text;
}

bool uses_album_loudness(const Session& session) {
  if (session.master.loudness == LoudnessMode::album) return true;
  return std::any_of(session.deliverables.begin(), session.deliverables.end(),
                     [](const DeliverableSpec& d) { return d.master.loudness == LoudnessMode::album; });
}

void set_loudness_mode(Session& session, LoudnessMode mode) {
  session.master.loudness = mode;
  for (auto& d : session.deliverables) d.master.loudness = mode;
  std::error_code ec;
  const fs::path source = fs::absolute(session.source).lexically_normal();
  session.canonical_text = canonical_text(session, fs::is_directory(source, ec) ? source : source.parent_path());
}

std::string default_group_for(const std::string& file_name) {
  std::string n = file_name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto has = [&](const char* w) { return n.find(w) != std::string::npos; };
  if (has("vocal") || has("vox")) return "vocals";
  if (has("drum") || has("kick") || has("snare") || has("hat") || has("perc")) return "drums";
  if (has("bass")) return "bass";
  return "music";
}

// The default preset (README): stems grouped by name, no per-stem or group processing, the
// master normalised to -14 LUFS integrated under a -1 dBTP ceiling (LimiterParams defaults),
// 24-bit with TPDF dither at the session rate (the first stem's), default tail cap.
Session session_from_stem_dir(const fs::path& dir, const std::optional<fs::path>& preset) {
  struct stat dir_stat {};
  if (::stat(dir.c_str(), &dir_stat) != 0) throw UserError(dir, std::strerror(errno));
  if (!S_ISDIR(dir_stat.st_mode)) throw UserError(dir, "not a folder");
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden files, macOS "._x.wav" resource forks
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext != ".wav" && ext != ".flac" && ext != ".aif" && ext != ".aiff" && ext != ".ogg") continue;
    std::error_code dir_ec;
    if (it->is_directory(dir_ec)) continue;
    names.push_back(name);
  }
  if (ec) throw UserError(dir, "cannot list the folder: " + ec.message());
  if (names.empty()) throw UserError(dir, "no audio files (.wav, .flac, .aif, .aiff, .ogg) in this folder");
  std::sort(names.begin(), names.end());

  std::map<std::string, int> stem_name_count;
  for (const auto& n : names) ++stem_name_count[fs::path(n).stem().string()];
  const fs::path base = fs::absolute(dir).lexically_normal();
  Session s = preset ? parse_session_file(*preset, true) : Session{};
  if (!preset) s.master.target_lufs = -14.0;
  s.source = dir;
  s.preset = preset;
  for (const auto& n : names) {
    StemSpec st;
    const std::string stem = fs::path(n).stem().string();
    st.name = stem_name_count[stem] > 1 ? n : stem;  // kick.wav and kick.flac keep their extensions
    st.file = base / n;
    st.group = default_group_for(n);
    group_named(s.groups, st.group);
    s.stems.push_back(st);
  }
  s.canonical_text = canonical_text(s, base);
  return s;
}

}  // namespace lq
