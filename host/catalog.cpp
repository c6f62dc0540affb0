#include "host/catalog.hpp"

#include <xxhash.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "host/errors.hpp"
#include "host/files.hpp"

namespace lq {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string check_id(const std::string& id, const std::string& where) {
  if (id.empty() || id.size() > 128) throw UsageError(where + ": song id must be 1 to 128 characters");
  if (id[0] == '.') throw UsageError(where + ": song id '" + id + "' starts with '.': not a folder name the output can use");
  const std::string l = lower(id);
  if (l.rfind("summary", 0) == 0 && (l.size() >= 5 && (l.ends_with(".json") || l.ends_with(".csv")))) {
    throw UsageError(where + ": song id '" + id + "' is the name of the batch's own summary files");
  }
  for (unsigned char c : id) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
      throw UsageError(where + ": song id '" + id + "' has a character not allowed in a folder name");
    }
  }
  return id;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// One CSV line: fields separated by commas, optionally in double quotes ("" inside quotes is ").
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out;
  std::string f;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        f += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        f += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(trim(f));
      f.clear();
    } else {
      f += c;
    }
  }
  out.push_back(trim(f));
  return out;
}

// An album's name: 1 to 256 characters, none of them a control character.
std::optional<std::string> check_album(const std::string& name, const std::string& where) {
  if (name.empty()) return std::nullopt;
  if (name.size() > 256) throw UsageError(where + ": album name longer than 256 characters");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) throw UsageError(where + ": album name '" + one_line(name) + "' has a control character");
  }
  return name;
}

CatalogSong song_from(const fs::path& base, const std::string& id, const std::string& source,
                      std::optional<double> target, const std::string& where, const std::string& album = {}) {
  CatalogSong s;
  s.id = check_id(id, where);
  s.album = check_album(album, where);
  if (source.empty()) {
    s.error = where + ": no source (a session file or a stem folder)";
    return s;
  }
  s.source = fs::path(source).is_absolute() ? fs::path(source) : base / source;
  std::error_code ec;
  s.is_session_file = !fs::is_directory(s.source, ec);
  if (target && !(*target >= -40.0 && *target <= -5.0)) {  // NaN fails too
    s.error = one_line(where + ": target_lufs " + std::to_string(*target) + " is outside [-40, -5]");
  }
  s.target_lufs = target;
  if (!s.error.empty()) return s;
  if (::access(s.source.c_str(), F_OK) != 0) s.error = one_line(where + ": " + s.source.string() + ": " + std::strerror(errno));
  return s;
}

std::optional<double> parse_target(const std::string& text, const std::string& where) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(v)) {
    return std::nan("");  // song_from gives the row its error
  }
  return v;
}

// Calls `row(line, where)` for each line of a manifest that is not blank or a '#' comment, with the
// line's trailing CR removed and `where` as "FILE:LINE" for error messages.
template <class Row>
void for_each_manifest_line(const fs::path& file, Row&& row) {
  std::string text;
  try {
    text = read_text_file(file);
  } catch (const UserError& e) {
    throw UsageError(e.what());
  }
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 byte-order mark (spreadsheets write one)
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string content = trim(line);
    if (content.empty() || content[0] == '#') continue;
    row(line, file.string() + ":" + std::to_string(line_no));
  }
}

std::vector<CatalogSong> load_csv(const fs::path& file) {
  std::map<std::string, size_t> column;
  std::vector<CatalogSong> songs;
  const fs::path base = fs::absolute(file).parent_path();
  for_each_manifest_line(file, [&](const std::string& line, const std::string& where) {
    const auto f = csv_fields(line);
    if (column.empty()) {
      for (size_t i = 0; i < f.size(); ++i) column[lower(f[i])] = i;
      if (!column.count("id") || !column.count("source")) {
        throw UsageError(where + ": the header must name the columns id and source (and optionally target_lufs, album)");
      }
      return;
    }
    auto get = [&](const char* name) { return column.count(name) && column[name] < f.size() ? f[column[name]] : ""; };
    songs.push_back(song_from(base, get("id"), get("source"), parse_target(get("target_lufs"), where), where, get("album")));
  });
  if (column.empty()) throw UsageError(file, "the manifest is empty (a header line id,source[,target_lufs] is needed)");
  return songs;
}

std::vector<CatalogSong> load_jsonl(const fs::path& file) {
  std::vector<CatalogSong> songs;
  const fs::path base = fs::absolute(file).parent_path();
  for_each_manifest_line(file, [&](const std::string& line, const std::string& where) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw UsageError(where + ": not a JSON object: " + e.what());
    }
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) throw UsageError(where + ": needs a string \"id\"");
    std::string source;
    for (const char* key : {"source", "session", "stems"}) {
      if (j.contains(key) && j[key].is_string()) source = j[key].get<std::string>();
    }
    std::optional<double> target;
    if (j.contains("target_lufs")) {
      if (!j["target_lufs"].is_number()) throw UsageError(where + ": target_lufs must be a number");
      target = j["target_lufs"].get<double>();
    }
    std::string album;
    if (j.contains("album")) {
      if (!j["album"].is_string()) throw UsageError(where + ": album must be a string");
      album = j["album"].get<std::string>();
    }
    songs.push_back(song_from(base, j["id"].get<std::string>(), source, target, where, album));
  });
  return songs;
}

// album.toml: the album's name (`name`, else the folder's). Anything else in it is an error.
std::string album_name(const fs::path& album_toml, const std::string& folder) {
  toml::table t;
  try {
    t = toml::parse(read_text_file(album_toml), album_toml.string());
  } catch (const toml::parse_error& e) {
    throw UsageError(album_toml.string() + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  } catch (const UserError& e) {
    throw UsageError(e.what());
  }
  for (const auto& [k, v] : t) {
    if (k.str() != "name") throw UsageError(album_toml.string() + ": unknown key '" + std::string(k.str()) + "' (album.toml holds name)");
  }
  if (const toml::node* n = t.get("name")) {
    const auto* v = n->as_string();
    if (!v || v->get().empty()) throw UsageError(album_toml.string() + ": name must be a non-empty string");
    return *check_album(v->get(), album_toml.string());
  }
  return folder;
}

// The song folders of `dir` (not hidden), with ids prefixed by `prefix`; a folder holding
// album.toml (only at the top, `album` unset) is an album whose songs are its own subfolders.
void load_folder(const fs::path& dir, const std::string& prefix, const std::optional<std::string>& album,
                 std::vector<CatalogSong>& songs) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code dec;
    if (name.empty() || name[0] == '.' || !it->is_directory(dec)) continue;
    if (!album && fs::exists(it->path() / "album.toml", dec)) {
      check_id(name, it->path().string());  // the album folder's name is part of its songs' ids
      load_folder(it->path(), name + "/", album_name(it->path() / "album.toml", name), songs);
      continue;
    }
    CatalogSong s;
    s.id = prefix + name;
    s.album = album;
    const fs::path session = it->path() / "session.toml";
    s.is_session_file = fs::exists(session, dec);
    s.source = s.is_session_file ? session : it->path();
    try {
      check_id(name, it->path().string());
    } catch (const UsageError& e) {
      s.error = e.what();  // this folder's song fails; the others render
    }
    songs.push_back(s);
  }
  if (ec) throw UsageError(dir, "cannot list the catalog: " + ec.message());
}

}  // namespace

std::vector<CatalogSong> load_catalog(const fs::path& catalog) {
  std::error_code ec;
  if (!fs::exists(catalog, ec)) throw UsageError(catalog, "no such catalog (a folder of song folders, or a .csv/.jsonl manifest)");
  std::vector<CatalogSong> songs;
  if (fs::is_directory(catalog, ec)) {
    load_folder(catalog, "", std::nullopt, songs);
  } else {
    const std::string ext = lower(catalog.extension().string());
    if (ext == ".csv") {
      songs = load_csv(catalog);
    } else if (ext == ".jsonl" || ext == ".ndjson") {
      songs = load_jsonl(catalog);
    } else {
      throw UsageError(catalog, "unknown manifest type '" + ext + "' (use .csv or .jsonl, or a folder of song folders)");
    }
  }
  if (songs.empty()) throw UsageError(catalog, "the catalog has no songs");
  if (!fs::is_directory(catalog, ec)) {
    for (auto& s : songs) s.manifest = catalog;
  }
  std::sort(songs.begin(), songs.end(), [](const CatalogSong& a, const CatalogSong& b) { return a.id < b.id; });
  std::map<std::string, std::string> seen;  // lower-case id -> id
  for (const auto& s : songs) {
    const auto [it, fresh] = seen.emplace(lower(s.id), s.id);
    if (!fresh) {
      throw UsageError(catalog, "songs '" + it->second + "' and '" + s.id + "' would share the output folder '" +
                                    s.id + "' (ids must differ ignoring case)");
    }
  }
  return songs;
}

int shard_of(const std::string& id, int count) {
  return static_cast<int>(XXH64(id.data(), id.size(), 0) % static_cast<uint64_t>(count));
}

int shard_of(const CatalogSong& song, int count) { return shard_of(song.album.value_or(song.id), count); }

namespace {

int parse_int(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end == text.c_str() || *end != '\0' || v < 0 || v > 1000000) {
    throw UsageError(what + ": '" + text + "' is not a whole number >= 0");
  }
  return static_cast<int>(v);
}

}  // namespace

Shard select_shard(const std::string& shard_arg, std::optional<int> shard_count) {
  Shard s;
  if (!shard_arg.empty()) {
    const auto slash = shard_arg.find('/');
    if (slash == std::string::npos) throw UsageError("--shard " + shard_arg + ": expected I/N, e.g. 0/4");
    s.index = parse_int(shard_arg.substr(0, slash), "--shard");
    s.count = parse_int(shard_arg.substr(slash + 1), "--shard");
  } else if (const char* id = std::getenv("SLURM_ARRAY_TASK_ID")) {
    const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
    if (!count) throw UsageError(std::string("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not"));
    s.index = parse_int(id, "SLURM_ARRAY_TASK_ID");
    s.count = parse_int(count, "SLURM_ARRAY_TASK_COUNT");
    if (const char* min = std::getenv("SLURM_ARRAY_TASK_MIN")) s.index -= parse_int(min, "SLURM_ARRAY_TASK_MIN");
  } else if (const char* k8s = std::getenv("JOB_COMPLETION_INDEX")) {
    if (!shard_count) throw UsageError(std::string("JOB_COMPLETION_INDEX is set: give the number of shards with --shard-count"));
    s.index = parse_int(k8s, "JOB_COMPLETION_INDEX");
    s.count = *shard_count;
  } else if (shard_count) {
    throw UsageError(std::string("--shard-count needs JOB_COMPLETION_INDEX (or use --shard I/N)"));
  }
  if (s.count < 1) throw UsageError("shard count " + std::to_string(s.count) + ": must be at least 1");
  if (s.index < 0 || s.index >= s.count) {
    throw UsageError("shard " + std::to_string(s.index) + " of " + std::to_string(s.count) + ": the index must be below the count");
  }
  return s;
}

}  // namespace lq
