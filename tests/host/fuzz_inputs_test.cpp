// Seeded mutation fuzzing of the parsers that read untrusted bytes: audio headers (read_audio,
// AudioReader, probe_audio_header), session TOML (load_session) and catalog manifests
// (load_catalog). Every input either loads, with sane values, or fails with a one-line
// lq::UserError that names the file; any other exception, a multi-line or anonymous message, or a
// crash fails the test, which prints the group, seed and iteration and saves the input under
// tmp_root()/fuzz_failures/ (LQ_TEST_TMP). Deterministic: input i of a group is a function of (seed, i) alone.
// Each group stops after N inputs or ~18 s, whichever comes first; the inputs in
// tests/fuzz/regressions/ are replayed on every run. See tests/fuzz/README.md.
//
// LQ_FUZZ_ITERATIONS=N sets N for every group and lifts the time cap (a long local run);
// LQ_FUZZ_SECONDS=S sets the cap; LQ_FUZZ_SEED=K fuzzes another deterministic sequence.
#include <cxxabi.h>
#include <sndfile.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

#include "host/audio_io.hpp"
#include "host/catalog.hpp"
#include "host/errors.hpp"
#include "host/session.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;

// Weak: present only in sanitizer builds, where it reports the input before ASan ends the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

// LeakSanitizer reads this in sanitizer builds. libvorbis leaks the vorbis_info of a corrupt Ogg
// stream whose open fails (5784 bytes a file, allocated by vorbis_info_init; xiph/vorbis#125): a
// third-party leak on the error path of libsndfile's sf_open, not Lacquer's.
extern "C" const char* __lsan_default_suppressions() { return "leak:libvorbis.so\n"; }

namespace {

using Rng = std::mt19937_64;

const fs::path kFuzzDir = lq::test::source_dir() / "tests/fuzz";

// ---- budget, randomness ---------------------------------------------------------------------

struct Budget {
  int64_t iterations = 0;
  double seconds = 18.0;
  uint64_t seed = 0x1ac9e5ULL;
};

Budget budget_for(int64_t default_iterations) {
  Budget b;
  b.iterations = default_iterations;
  if (const char* s = std::getenv("LQ_FUZZ_ITERATIONS")) {
    const long long n = std::strtoll(s, nullptr, 10);
    if (n > 0) {
      b.iterations = n;
      b.seconds = 1e9;
    }
  }
  if (const char* s = std::getenv("LQ_FUZZ_SECONDS")) {
    const double t = std::strtod(s, nullptr);
    if (t > 0) b.seconds = t;
  }
  if (const char* s = std::getenv("LQ_FUZZ_SEED")) b.seed = std::strtoull(s, nullptr, 0);
  return b;
}

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Portable across standard libraries (std::uniform_int_distribution is not).
size_t below(Rng& rng, size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); }
bool chance(Rng& rng, int percent) { return below(rng, 100) < static_cast<size_t>(percent); }
template <class T>
const T& pick(Rng& rng, const std::vector<T>& v) { return v[below(rng, v.size())]; }

// ---- files ----------------------------------------------------------------------------------

std::string read_bytes(const fs::path& p) { return lq::test::read_text_file(p); }

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("fuzz: cannot write " + p.string());
}

struct Seed {
  std::string name;
  std::string ext;  // ".wav", ".toml", ".csv", ...
  std::string bytes;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The files of a folder with one of `exts` (lower-case), sorted by name (a deterministic order).
std::vector<Seed> seeds_in(const fs::path& dir, const std::vector<std::string>& exts) {
  std::vector<Seed> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string ext = lower(e.path().extension().string());
    if (!e.is_regular_file() || std::find(exts.begin(), exts.end(), ext) == exts.end()) continue;
    out.push_back({e.path().filename().string(), ext, read_bytes(e.path())});
  }
  std::sort(out.begin(), out.end(), [](const Seed& a, const Seed& b) { return a.name < b.name; });
  return out;
}

std::vector<fs::path> regression_files(const std::vector<std::string>& exts) {
  std::vector<fs::path> out;
  for (const auto& s : seeds_in(kFuzzDir / "regressions", exts)) out.push_back(kFuzzDir / "regressions" / s.name);
  return out;
}

const std::vector<std::string> kAudioExts = {".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".rf64", ".w64"};
const std::vector<std::string> kSessionExts = {".toml"};
const std::vector<std::string> kManifestExts = {".csv", ".jsonl", ".ndjson"};

// ---- crash reporting ------------------------------------------------------------------------

char g_current[2048] = "";  // what is being parsed, for a crash report

void report_current() {
  if (g_current[0]) {
    const ssize_t ignored = ::write(2, g_current, std::strlen(g_current));
    (void)ignored;
  }
}

struct sigaction g_previous[NSIG];

void on_fatal_signal(int sig) {
  report_current();
  ::sigaction(sig, &g_previous[sig], nullptr);  // the previous handler (ASan's, or the default)
  if (sig == SIGABRT) ::raise(sig);             // synchronous faults re-fault on return
}

void install_crash_report() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, &g_previous[sig]);
  }
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(report_current);
}

void set_current(const std::string& group, uint64_t seed, int64_t iteration, const std::string& call,
                 const fs::path& input, const std::string& how) {
  std::snprintf(g_current, sizeof g_current,
                "\n*** fuzz: crashed in %s on group %s, seed %llu, iteration %lld (%s); the input is %s\n",
                call.c_str(), group.c_str(), static_cast<unsigned long long>(seed), static_cast<long long>(iteration),
                how.c_str(), input.c_str());
}

// ---- the property ---------------------------------------------------------------------------

std::string type_name(const std::type_info& t) {
  int status = 0;
  char* d = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string s = status == 0 && d ? d : t.name();
  std::free(d);
  return s;
}

std::string printable(const std::string& s, size_t max = 300) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) { char b[8]; std::snprintf(b, sizeof b, "\\x%02x", c); out += b; }
    else out += static_cast<char>(c);
  }
  return s.size() > max ? out + "...(" + std::to_string(s.size()) + " bytes)" : out;
}

// Runs `call` on `input`: "" when it succeeded with sane results (call returns "") or failed with a
// one-line UserError naming the file; otherwise the problem.
std::string verdict(const fs::path& input, const std::function<std::string()>& call, bool* refused = nullptr) {
  try {
    return call();
  } catch (const lq::UserError& e) {
    if (refused) *refused = true;
    const std::string m = e.what();
    if (m.find('\n') != std::string::npos) return type_name(typeid(e)) + " message is not one line: " + printable(m);
    if (m.find(input.string()) == std::string::npos) {
      return type_name(typeid(e)) + " message does not name the file: " + printable(m);
    }
    return "";
  } catch (const std::exception& e) {
    return "not a UserError: " + type_name(typeid(e)) + ": " + printable(e.what());
  } catch (...) {
    return "not a UserError: an exception of unknown type";
  }
}

// The kind of a failure, for reporting each once: the call, the exception type and the message's
// shape (the input's path, digits, quoted text and the dotted key left out).
std::string kind_of(const std::string& call, const std::string& problem, const fs::path& input) {
  std::string m = problem;
  for (size_t at; (at = m.find(input.string())) != std::string::npos;) m.replace(at, input.string().size(), "<input>");
  std::string key;
  for (char c : m) {
    if (!std::isdigit(static_cast<unsigned char>(c))) key += c;
    else if (key.empty() || key.back() != '#') key += '#';
  }
  for (const char* phrase : {"message is not one line: ", "message does not name the file: ", "error is not one line: ",
                             "error does not name the file: "}) {
    const size_t at = key.find(phrase);
    if (at == std::string::npos) continue;
    std::string rest = key.substr(at + std::strlen(phrase));
    if (rest.rfind("<input>", 0) == 0) rest = rest.substr(rest.find(' ') == std::string::npos ? 0 : rest.find(' ') + 1);
    if (const size_t colon = rest.find(": "); colon != std::string::npos && colon < rest.find('\'')) {
      rest = rest.substr(colon + 2);  // the dotted key
    }
    key = key.substr(0, at + std::strlen(phrase)) + rest;
    break;
  }
  if (key.find("message ") == std::string::npos && key.find("error ") == std::string::npos) {
    std::string plain;  // a success that breaks a property: its quoted text left out
    bool quoted = false;
    for (char c : key) {
      if (c == '\'') quoted = !quoted;
      else if (!quoted) plain += c;
    }
    return call + ": " + plain.substr(0, 110);
  }
  const size_t cut = key.find_first_of("'\"(");
  return call + ": " + key.substr(0, std::min<size_t>(cut, 110));
}

// One group's run: counts, and failures reported once per kind (the problem with the path, digits
// and quoted text blanked) with their inputs saved.
class Campaign {
 public:
  // replay: committed regression inputs, each reported (none saved again).
  Campaign(std::string group, const Budget& b, bool replay = false)
      : group_(std::move(group)), budget_(b), replay_(replay) {
    install_crash_report();
    failure_dir_ = lq::test::tmp_root() / "fuzz_failures" / group_;
    fs::remove_all(failure_dir_);
    start_ = std::chrono::steady_clock::now();
  }

  bool more(int64_t i) const { return i < budget_.iterations && elapsed() < budget_.seconds; }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  uint64_t seed() const { return budget_.seed; }

  // Checks one call on one input; `how` says how the input was made.
  void check(int64_t iteration, const std::string& call_name, const fs::path& input, const std::string& how,
             const std::function<std::string()>& call) {
    set_current(group_, budget_.seed, iteration, call_name, input, how);
    bool refused = false;
    const std::string problem = verdict(input, call, &refused);
    g_current[0] = '\0';
    ++calls_;
    if (refused) ++refused_;
    if (problem.empty()) return;
    ++failures_;
    if (++kinds_[kind_of(call_name, problem, input)] > 3 && !replay_) return;  // three of a kind are enough
    if (replay_) {
      ADD_FAILURE() << "regression input " << input.string() << "\n  " << call_name << ": " << problem;
      return;
    }
    fs::create_directories(failure_dir_);
    const fs::path saved = failure_dir_ / (call_name + "-seed" + std::to_string(budget_.seed) + "-iter" +
                                           std::to_string(iteration) + input.extension().string());
    std::error_code ec;
    fs::copy_file(input, saved, fs::copy_options::overwrite_existing, ec);
    ADD_FAILURE() << group_ << " seed " << budget_.seed << " iteration " << iteration << " [" << how << "]\n  "
                  << call_name << "(" << input.filename().string() << "): " << problem << "\n  input saved as "
                  << saved.string() << " (copy it into tests/fuzz/regressions/ to replay it on every run)";
  }

  ~Campaign() {
    std::printf("[fuzz] %s: %lld inputs, %lld calls in %.1f s (seed %llu): %lld refused with a UserError, %lld failures"
                " of %zu kinds\n",
                group_.c_str(), static_cast<long long>(inputs), static_cast<long long>(calls_), elapsed(),
                static_cast<unsigned long long>(budget_.seed), static_cast<long long>(refused_),
                static_cast<long long>(failures_), kinds_.size());
    for (const auto& [k, n] : kinds_) std::printf("[fuzz]   %5d x %s\n", n, printable(k, 200).c_str());
  }

  int64_t inputs = 0;

 private:
  std::string group_;
  Budget budget_;
  bool replay_ = false;
  fs::path failure_dir_;
  std::chrono::steady_clock::time_point start_;
  int64_t calls_ = 0, refused_ = 0, failures_ = 0;
  std::map<std::string, int> kinds_;
};

// ---- byte mutations -------------------------------------------------------------------------

const std::vector<uint8_t> kByteValues = {0x00, 0xff, 0x7f, 0x80, 0x01, 0x02, 0x08, 0x10, 0x18, 0x20, 0x40, 0xfe};
const std::vector<uint64_t> kWordValues = {0,          1,          2,          3,          7,          8,
                                           12,         16,         24,         32,         64,         0x7f,
                                           0x80,       0xff,       0x100,      0x7fff,     0x8000,     0xfffe,
                                           0xffff,     1000,       7999,       8000,       44100,      768000,
                                           768001,     0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000ULL,
                                           ~0ULL,      0x7fffffffffffffffULL, 0x7f800000, 0xff800000, 0x7fc00000,
                                           0x7ff0000000000000ULL, 0x7ff8000000000000ULL, 0x7e37e43c8800759cULL /* 1e300 */};

void put_int(std::string& b, size_t at, int width, bool big_endian, uint64_t v) {
  for (int k = 0; k < width && at + static_cast<size_t>(k) < b.size(); ++k) {
    const int shift = 8 * (big_endian ? width - 1 - k : k);
    b[at + static_cast<size_t>(k)] = static_cast<char>((v >> shift) & 0xff);
  }
}

uint64_t get_int(const std::string& b, size_t at, int width, bool big_endian) {
  uint64_t v = 0;
  for (int k = 0; k < width && at + static_cast<size_t>(k) < b.size(); ++k) {
    const uint64_t byte = static_cast<unsigned char>(b[at + static_cast<size_t>(k)]);
    v |= byte << (8 * (big_endian ? width - 1 - k : k));
  }
  return v;
}

uint64_t interesting_value(Rng& rng, uint64_t old, uint64_t file_size) {
  switch (below(rng, 6)) {
    case 0: return old + 1;
    case 1: return old - 1;
    case 2: return old * 2 + below(rng, 2);
    case 3: return file_size + below(rng, 17) - 8;
    case 4: return rng();
    default: return pick(rng, kWordValues);
  }
}

// A header field a structure-aware mutation may rewrite.
struct Field {
  size_t at;
  int width;
  bool big_endian;
  const char* what;
};

// The fields of a RIFF/RF64 WAVE, FORM AIFF/AIFC or FLAC header (sizes, counts, rates, depths,
// format tags), found by walking the chunks or metadata blocks of `b` as it is now.
std::vector<Field> header_fields(const std::string& b) {
  std::vector<Field> f;
  if (b.size() < 12) return f;
  const bool riff = b.compare(0, 4, "RIFF") == 0 || b.compare(0, 4, "RF64") == 0;
  const bool form = b.compare(0, 4, "FORM") == 0;
  if (riff || form) {
    const bool be = form;
    f.push_back({4, 4, be, "container size"});
    f.push_back({8, 4, false, "form type"});
    for (size_t pos = 12, n = 0; pos + 8 <= b.size() && n < 64; ++n) {
      const std::string id = b.substr(pos, 4);
      const uint64_t size = get_int(b, pos + 4, 4, be);
      const size_t body = pos + 8;
      f.push_back({pos + 4, 4, be, "chunk size"});
      f.push_back({pos, 4, false, "chunk id"});
      if (id == "fmt ") {
        for (Field x : {Field{0, 2, false, "format tag"}, Field{2, 2, false, "channels"}, Field{4, 4, false, "rate"},
                        Field{8, 4, false, "byte rate"}, Field{12, 2, false, "block align"},
                        Field{14, 2, false, "bits"}, Field{16, 2, false, "cbSize"}, Field{18, 2, false, "valid bits"},
                        Field{20, 4, false, "channel mask"}, Field{24, 2, false, "subformat tag"},
                        Field{26, 4, false, "subformat guid"}}) {
          f.push_back({body + x.at, x.width, x.big_endian, x.what});
        }
      } else if (id == "ds64") {
        for (size_t k = 0; k < 28; k += 8) f.push_back({body + k, 8, false, "ds64 size"});
      } else if (id == "fact") {
        f.push_back({body, 4, false, "fact frames"});
      } else if (id == "COMM") {
        for (Field x : {Field{0, 2, true, "channels"}, Field{2, 4, true, "frames"}, Field{6, 2, true, "bits"},
                        Field{8, 2, true, "rate exponent"}, Field{10, 4, true, "rate mantissa"},
                        Field{18, 4, false, "compression"}}) {
          f.push_back({body + x.at, x.width, x.big_endian, x.what});
        }
      } else if (id == "SSND") {
        f.push_back({body, 4, true, "SSND offset"});
        f.push_back({body + 4, 4, true, "SSND block size"});
      }
      pos = body + static_cast<size_t>(std::min<uint64_t>(size, b.size())) + (size & 1);
    }
  } else if (b.compare(0, 4, "fLaC") == 0) {
    for (size_t pos = 4, n = 0; pos + 4 <= b.size() && n < 32; ++n) {
      const auto head = static_cast<unsigned char>(b[pos]);
      const uint64_t len = get_int(b, pos + 1, 3, true);
      f.push_back({pos, 1, true, "block type"});
      f.push_back({pos + 1, 3, true, "block length"});
      if ((head & 0x7f) == 0) {  // STREAMINFO
        f.push_back({pos + 4, 2, true, "min block"});
        f.push_back({pos + 6, 2, true, "max block"});
        f.push_back({pos + 8, 3, true, "min frame"});
        f.push_back({pos + 11, 3, true, "max frame"});
        f.push_back({pos + 14, 8, true, "rate|channels|bits|total"});  // rewritten bit-wise below
      }
      if (head & 0x80) break;
      pos += 4 + len;
    }
  }
  f.erase(std::remove_if(f.begin(), f.end(), [&](const Field& x) { return x.at + static_cast<size_t>(x.width) > b.size(); }),
          f.end());
  return f;
}

// FLAC STREAMINFO's packed 64 bits: sample rate (20), channels - 1 (3), bits - 1 (5), total samples (36).
void mutate_streaminfo(std::string& b, size_t at, Rng& rng, std::string& how) {
  uint64_t v = get_int(b, at, 8, true);
  uint64_t rate = v >> 44, ch = (v >> 41) & 7, bits = (v >> 36) & 31, total = v & ((1ULL << 36) - 1);
  switch (below(rng, 4)) {
    case 0: rate = pick(rng, std::vector<uint64_t>{0, 1, 7999, 8000, 655350, 768000, 768001, 0xfffff}); break;
    case 1: ch = below(rng, 8); break;
    case 2: bits = pick(rng, std::vector<uint64_t>{0, 2, 3, 6, 7, 11, 15, 19, 23, 27, 31}); break;
    default: total = pick(rng, std::vector<uint64_t>{0, 1, 63, 65, 128, 4096, 1ULL << 31, (1ULL << 36) - 1}); break;
  }
  v = (rate << 44) | (ch << 41) | (bits << 36) | total;
  put_int(b, at, 8, true, v);
  how += " streaminfo";
}

std::string mutate_binary(std::string b, Rng& rng, const std::vector<Seed>& pool, std::string& how) {
  const int rounds = 1 + static_cast<int>(below(rng, 3)) + (chance(rng, 20) ? 2 : 0);
  for (int r = 0; r < rounds; ++r) {
    if (b.empty()) b = pick(rng, pool).bytes;
    const size_t n = b.size();
    char tag[96];
    switch (below(rng, 12)) {
      case 0: case 1: case 2: case 3: {  // a header field (the most productive)
        const auto fields = header_fields(b);
        if (fields.empty()) break;
        const Field& x = pick(rng, fields);
        if (std::strcmp(x.what, "rate|channels|bits|total") == 0) {
          mutate_streaminfo(b, x.at, rng, how);
          break;
        }
        uint64_t v = interesting_value(rng, get_int(b, x.at, x.width, x.big_endian), n);
        const std::string what = x.what;
        if (chance(rng, 50) && (what == "format tag" || what == "subformat tag")) {
          v = pick(rng, std::vector<uint64_t>{0, 1, 2, 3, 6, 7, 0x11, 0x50, 0x55, 0xfffe, 0xffff});
        } else if (chance(rng, 50) && (what == "bits" || what == "valid bits")) {
          v = pick(rng, std::vector<uint64_t>{0, 1, 4, 7, 8, 12, 16, 20, 24, 31, 32, 33, 48, 64, 65535});
        } else if (chance(rng, 50) && what == "channels") {
          v = pick(rng, std::vector<uint64_t>{0, 1, 2, 3, 6, 8, 1024, 1025, 65535});
        } else if (what == "compression" || (what == "form type" && chance(rng, 50))) {
          static const std::vector<std::string> ids = {"NONE", "sowt", "fl32", "fl64", "twos", "raw ", "in24", "in32",
                                                       "ulaw", "ima4", "AIFF", "AIFC", "WAVE", "XXXX"};
          const std::string& id = pick(rng, ids);
          b.replace(x.at, 4, id);
          how += std::string(" ") + x.what + "=" + id;
          break;
        }
        put_int(b, x.at, x.width, x.big_endian, v);
        std::snprintf(tag, sizeof tag, " %s@%zu=0x%llx", x.what, x.at, static_cast<unsigned long long>(v));
        how += tag;
        break;
      }
      case 4: {  // bit flip
        const size_t at = below(rng, n);
        b[at] = static_cast<char>(b[at] ^ (1 << below(rng, 8)));
        std::snprintf(tag, sizeof tag, " flip@%zu", at);
        how += tag;
        break;
      }
      case 5: {  // an interesting byte
        const size_t at = below(rng, n);
        b[at] = static_cast<char>(pick(rng, kByteValues));
        std::snprintf(tag, sizeof tag, " byte@%zu", at);
        how += tag;
        break;
      }
      case 6: {  // an interesting 16/32/64-bit word anywhere, either byte order
        const size_t at = below(rng, n);
        const int width = pick(rng, std::vector<int>{4, 4, 4, 2, 2, 8});
        const bool be = chance(rng, 50);
        put_int(b, at, width, be, pick(rng, kWordValues));
        std::snprintf(tag, sizeof tag, " word%d%s@%zu", width * 8, be ? "be" : "le", at);
        how += tag;
        break;
      }
      case 7: {  // truncation
        const size_t at = chance(rng, 50) ? below(rng, n + 1) : n - std::min(n, below(rng, 16) + 1);
        b.resize(at);
        std::snprintf(tag, sizeof tag, " truncate@%zu", at);
        how += tag;
        break;
      }
      case 8: {  // insert random bytes, or duplicate a range
        const size_t at = below(rng, n + 1);
        std::string ins;
        if (chance(rng, 50)) {
          ins.resize(1 + below(rng, 16));
          for (auto& c : ins) c = static_cast<char>(rng());
        } else {
          const size_t from = below(rng, n);
          ins = b.substr(from, 1 + below(rng, std::min<size_t>(n - from, 64)));
        }
        b.insert(at, ins);
        std::snprintf(tag, sizeof tag, " insert%zu@%zu", ins.size(), at);
        how += tag;
        break;
      }
      case 9: {  // delete a range
        const size_t at = below(rng, n);
        const size_t len = 1 + below(rng, std::min<size_t>(n - at, 32));
        b.erase(at, len);
        std::snprintf(tag, sizeof tag, " delete%zu@%zu", len, at);
        how += tag;
        break;
      }
      case 10: {  // splice: this input's head, another seed's tail
        const Seed& other = pick(rng, pool);
        const size_t head = below(rng, n + 1), tail = below(rng, other.bytes.size() + 1);
        b = b.substr(0, head) + other.bytes.substr(tail);
        std::snprintf(tag, sizeof tag, " splice@%zu+%s@%zu", head, other.name.c_str(), tail);
        how += tag;
        break;
      }
      default: {  // a chunk appended: an id the parsers look for, a size, a little data
        static const std::vector<std::string> ids = {"data", "fmt ", "LIST", "ds64", "fact", "PEAK", "COMM", "SSND", "JUNK"};
        std::string chunk = pick(rng, ids);
        std::string size(4, '\0');
        put_int(size, 0, 4, b.compare(0, 4, "FORM") == 0, pick(rng, kWordValues));
        chunk += size;
        const size_t len = below(rng, 24);
        chunk += std::string(len, static_cast<char>(below(rng, 256)));
        b += chunk;
        how += " append " + chunk.substr(0, 4);
        break;
      }
    }
  }
  return b;
}

// ---- text mutations -------------------------------------------------------------------------

struct Token {
  size_t at, len;
  char kind;  // 'n' number, 's' quoted string, 'w' bare word
};

std::vector<Token> tokens(const std::string& t) {
  std::vector<Token> out;
  for (size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == '#') {  // a comment, to the end of the line
      while (i < t.size() && t[i] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      size_t j = i + 1;
      while (j < t.size() && t[j] != c && t[j] != '\n') j += (t[j] == '\\' && c == '"') ? 2 : 1;
      j = std::min(j + 1, t.size());
      out.push_back({i, j - i, 's'});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '+') && i + 1 < t.size() && std::isdigit(static_cast<unsigned char>(t[i + 1])))) {
      size_t j = i + 1;
      while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '.' || t[j] == '_' ||
                              ((t[j] == '-' || t[j] == '+') && (t[j - 1] == 'e' || t[j - 1] == 'E')))) {
        ++j;
      }
      out.push_back({i, j - i, 'n'});
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i + 1;
      while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '_' || t[j] == '-' ||
                              t[j] == '/' || t[j] == '.')) {
        ++j;
      }
      out.push_back({i, j - i, 'w'});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

const std::vector<std::string> kNumbers = {
    "nan", "+nan", "-nan", "inf", "+inf", "-inf", "NaN", "Infinity", "-0", "-0.0", "0", "1e308", "-1e308",
    "1.7976931348623157e308", "1e309", "-1e309", "4.9e-324", "1e-400", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "99999999999999999999", "18446744073709551616", "0x7FFFFFFF", "0xFFFFFFFFFFFFFFFF",
    "0o777", "0b101", "1_000", "16", "24", "32", "12", "48", "8000", "768000", "7999", "-40", "-5", "-4.9", "-40.0001",
    "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", "true", "\"16\"", "[]", "{}", "0x1p3", "-14abc", "--14", "+-1",
    "1e", ".5", "5.", "1__0"};

const std::vector<std::string> kTomlStrings = {
    "\"\"", "''", "\"a\\nb\"", "\"\\n\"", "\"x\\u0000y\"", "\"\\t\"", "\"\\r\"", "\"../../..\"", "\"/\"", "\".\"",
    "\"\\u00e9\\u00e9\"", "\"\\\"\"", "'a\"b'", "\"\"\"multi\nline\"\"\"", "'''raw\nlines'''", "\"wav\"", "\"flac\"",
    "\"bell\"", "\"high_pass\"", "\"drums\"", "\"room\"", "\"plate\"", "\"master\"", "\"\\uD800\"", "\"\\U0010FFFF\"",
    "\"a b\"", "\"\xff\xfe\"", "\"con\"", "\"a/b\"", "\"x.wav\""};

const std::vector<std::string> kSessionKeys = {
    "sample_rate", "master", "groups", "reverbs", "stems", "deliverables", "target_lufs", "ceiling_dbtp", "bit_depth",
    "dither", "tail_s", "max_limiting_db", "eq", "compressor", "limiter", "gain_db", "width", "sends", "ir",
    "predelay_ms", "wet_db", "return_to", "file", "group", "pan", "type", "freq_hz", "q", "slope_db_per_oct",
    "threshold_db", "ratio", "knee_db", "attack_ms", "release_ms", "makeup_db", "auto_makeup", "stereo_link",
    "lookahead_ms", "reverb", "level_db", "format", "\"a\\nb\"", "\"\"", "\"a.b\"", "\"\\u00e9\"", "format"};

const std::vector<std::string> kSessionLines = {
    "[stems.x]", "[[stems]]", "[stems]", "[groups.drums]", "[groups.\"a\\nb\"]", "[master]", "[master.limiter]",
    "[deliverables.\"a b\"]", "[deliverables.web]", "[deliverables.\"x\\ny\"]", "[reverbs.r]\nir = \"x.wav\"",
    "[reverbs.\"r\\nq\"]\nir = \"x.wav\"\nreturn_to = \"drums\"", "\"k\\ny\" = 1", "sends = [ { reverb = \"room\" } ]",
    "sends = [ { reverb = \"a\\nb\" } ]", "sends = [ { reverb = \"room\" }, { reverb = \"room\" } ]",
    "eq = [ { type = \"bell\", freq_hz = 1000 } ]", "eq = [ { type = \"x\\ny\", freq_hz = 1000 } ]", "eq = [ 1, 2 ]",
    "eq = [ { type = \"low_pass\", freq_hz = 100, gain_db = 1 } ]", "compressor = 1", "compressor = { }",
    "limiter = { }", "limiter = 3", "x = 1979-05-27", "file = \"\"", "group = \"a\\nb\"", "return_to = \"a\\nb\"",
    "format = \"a\\nb\"", "format = \"flac\"\nbit_depth = 32", "stems = 1", "groups = []", "master = \"\"",
    "[stems.y]\nfile = \"y.wav\"\ngroup = \"\\n\"", "deliverables = { a = 1 }", "a = [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]"};

const std::vector<std::string> kJsonValues = {
    "null", "true", "false", "1e400", "-1e400", "NaN", "nan", "-0", "0", "-14", "-40", "-5", "-4.9999", "1e308",
    "18446744073709551616", "-9223372036854775809", "\"-14\"", "\"\"", "\"a\\nb\"", "\"\\u000a\"", "\"x\\u0000y\"",
    "\"\\ud800\"", "\".\"", "\"..\"", "\"a/b\"", "\"A\"", "\"a\"", "\"\\t\"", "\"\\u007f\"", "[]", "{}", "[1,2]",
    "{\"id\":\"x\"}", "\"\xc3\x28\"", "\"songs/one\""};

const std::vector<std::string> kCsvFields = {
    "", "nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e308", "-1e308", "1e-400", "0x-28", "-0x1p5", " -14 ", "-14abc",
    "--14", "-0", "-40", "-5", "-4.99999", ".", "..", "a/b", "a\\b", "A", "a", "\"", "\"\"", "\"a,b\"", "\"a\"\"b\"",
    "\"unterminated", "\t", "\x7f", "\xc3\x28", "\xef\xbb\xbf", "id", "source", "target_lufs", "#x", "songs/one"};

std::vector<std::string> lines_of(const std::string& t) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : t) {
    if (c == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string joined(const std::vector<std::string>& lines, const std::string& eol = "\n") {
  std::string out;
  for (const auto& l : lines) out += l + eol;
  return out;
}

enum class TextKind { toml, csv, jsonl };

std::string long_text(Rng& rng) {
  const size_t n = pick(rng, std::vector<size_t>{127, 128, 129, 300, 4096, 100000});
  return std::string(n, static_cast<char>('a' + below(rng, 26)));
}

std::string mutate_text(std::string t, TextKind kind, Rng& rng, const std::vector<Seed>& pool, std::string& how) {
  const int rounds = 1 + static_cast<int>(below(rng, 3)) + (chance(rng, 15) ? 3 : 0);
  for (int r = 0; r < rounds; ++r) {
    const auto toks = tokens(t);
    auto replace_token = [&](char want, const std::string& with) {
      std::vector<Token> of;
      for (const auto& k : toks) {
        if (k.kind == want) of.push_back(k);
      }
      if (of.empty()) return false;
      const Token& k = pick(rng, of);
      t.replace(k.at, k.len, with);
      how += std::string(" ") + want + "=" + printable(with, 24);
      return true;
    };
    auto lines = lines_of(t);
    switch (below(rng, 14)) {
      case 0: case 1: {  // a number
        std::string v = kind == TextKind::jsonl ? pick(rng, kJsonValues)
                        : kind == TextKind::csv ? pick(rng, kCsvFields)
                                                : pick(rng, kNumbers);
        replace_token('n', v);
        break;
      }
      case 2: case 3: {  // a string
        std::string v = kind == TextKind::jsonl ? pick(rng, kJsonValues)
                        : kind == TextKind::csv ? pick(rng, kCsvFields)
                                                : pick(rng, kTomlStrings);
        if (chance(rng, 10)) v = (kind == TextKind::csv ? "" : "\"") + long_text(rng) + (kind == TextKind::csv ? "" : "\"");
        replace_token('s', v);
        break;
      }
      case 4: {  // a bare word: a key, a field, a value
        std::string v = kind == TextKind::toml    ? pick(rng, kSessionKeys)
                        : kind == TextKind::csv   ? pick(rng, kCsvFields)
                                                  : pick(rng, std::vector<std::string>{"id", "source", "stems", "session",
                                                                                       "target_lufs", "null", "nan"});
        if (chance(rng, 10)) v = long_text(rng);
        replace_token('w', v);
        break;
      }
      case 5: {  // delete a line
        if (lines.empty()) break;
        const size_t i = below(rng, lines.size());
        lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
        t = joined(lines);
        how += " delete-line" + std::to_string(i + 1);
        break;
      }
      case 6: {  // swap two lines
        if (lines.size() < 2) break;
        const size_t i = below(rng, lines.size()), j = below(rng, lines.size());
        std::swap(lines[i], lines[j]);
        t = joined(lines);
        how += " swap-lines" + std::to_string(i + 1) + "," + std::to_string(j + 1);
        break;
      }
      case 7: {  // duplicate a line (duplicate keys, tables, ids)
        if (lines.empty()) break;
        const size_t i = below(rng, lines.size());
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(below(rng, lines.size() + 1)), lines[i]);
        t = joined(lines);
        how += " dup-line" + std::to_string(i + 1);
        break;
      }
      case 8: {  // insert a line: a snippet, or a line of another seed
        std::string line;
        if (kind == TextKind::toml && chance(rng, 60)) {
          line = pick(rng, kSessionLines);
          if (chance(rng, 30)) {
            line = pick(rng, kSessionKeys) + " = ";
            line += pick(rng, chance(rng, 50) ? kNumbers : kTomlStrings);
          }
        } else if (kind == TextKind::jsonl && chance(rng, 60)) {
          line = "{\"id\": " + pick(rng, kJsonValues);  // one draw per statement: a fixed order
          line += ", \"source\": " + pick(rng, kJsonValues);
          if (chance(rng, 50)) line += ", \"target_lufs\": " + pick(rng, kJsonValues);
          line += "}";
        } else if (kind == TextKind::csv && chance(rng, 60)) {
          line = pick(rng, kCsvFields);
          line += "," + pick(rng, kCsvFields);
          if (chance(rng, 50)) line += "," + pick(rng, kCsvFields);
        } else {
          const auto other = lines_of(pick(rng, pool).bytes);
          if (other.empty()) break;
          line = pick(rng, other);
        }
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(below(rng, lines.size() + 1)), line);
        t = joined(lines);
        how += " insert-line[" + printable(line, 30) + "]";
        break;
      }
      case 9: {  // CRLF, a UTF-8 BOM, or both
        const size_t w = below(rng, 3);
        if (w != 1) t = joined(lines, "\r\n");
        if (w != 0) t = "\xef\xbb\xbf" + t;
        how += w == 0 ? " crlf" : w == 1 ? " bom" : " bom+crlf";
        break;
      }
      case 10: {  // a structural character inserted
        static const char kChars[] = "\",'[]{}=#\\\n\r\t.:";
        static const std::string chars(kChars, sizeof kChars);  // with the NUL
        const size_t at = below(rng, t.size() + 1);
        const char c = chars[below(rng, chars.size())];
        t.insert(at, 1, c);
        how += " char@" + std::to_string(at);
        break;
      }
      case 11: {  // deep nesting
        const size_t depth = pick(rng, std::vector<size_t>{64, 300, 3000, 20000});
        const std::string open = kind == TextKind::jsonl ? "[" : chance(rng, 50) ? "[" : "{ a = ";
        const std::string close = open == "[" ? "]" : " }";
        std::string deep;
        for (size_t k = 0; k < depth; ++k) deep += open;
        for (size_t k = 0; k < depth; ++k) deep += close;
        const std::string line = kind == TextKind::jsonl ? "{\"id\": \"deep\", \"source\": \"s\", \"x\": " + deep + "}"
                                 : kind == TextKind::csv ? "deep," + deep
                                                         : "deep = " + deep;
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(below(rng, lines.size() + 1)), line);
        t = joined(lines);
        how += " nest" + std::to_string(depth);
        break;
      }
      case 12: {  // splice two seeds at line boundaries
        const auto other = lines_of(pick(rng, pool).bytes);
        const size_t head = below(rng, lines.size() + 1), tail = below(rng, other.size() + 1);
        std::vector<std::string> out(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(head));
        out.insert(out.end(), other.begin() + static_cast<std::ptrdiff_t>(tail), other.end());
        t = joined(out);
        how += " splice-lines";
        break;
      }
      default: {  // byte-level: flip, truncate, insert random bytes
        if (t.empty()) break;
        std::string b = mutate_binary(t, rng, pool, how);
        if (b.size() <= 1 << 20) t = std::move(b);
        break;
      }
    }
  }
  return t;
}

// ---- audio ----------------------------------------------------------------------------------

// A small file written by libsndfile (no PEAK chunk: it holds the time, and seeds must not change).
bool write_seed_audio(const fs::path& path, int format, int channels, int rate, int frames) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) return false;
  sf_command(f, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
  std::vector<float> inter(static_cast<size_t>(frames * channels));
  for (int i = 0; i < frames; ++i) {
    for (int c = 0; c < channels; ++c) {
      inter[static_cast<size_t>(i * channels + c)] =
          static_cast<float>(0.7 * std::sin(0.05 * (i + 1) * (c + 1)) + (i == 3 ? 0.3 : 0.0));
    }
  }
  sf_writef_float(f, inter.data(), frames);
  return sf_close(f) == 0;
}

std::vector<Seed> audio_seeds(const fs::path& dir) {
  struct Spec {
    const char* name;
    int format, channels, rate, frames;
  };
  const Spec specs[] = {
      {"gen_u8_mono.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 8000, 64},
      {"gen_pcm32_stereo.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 2, 44100, 48},
      {"gen_double_mono.wav", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 1, 48000, 32},
      {"gen_float_stereo.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 44100, 40},
      {"gen_extensible_pcm24_stereo.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, 2, 48000, 64},
      {"gen_extensible_double_stereo.wav", SF_FORMAT_WAVEX | SF_FORMAT_DOUBLE, 2, 88200, 16},
      {"gen_rf64_float_stereo.wav", SF_FORMAT_RF64 | SF_FORMAT_FLOAT, 2, 48000, 32},
      {"gen_pcm24_stereo.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 2, 48000, 64},
      {"gen_float_mono.aiff", SF_FORMAT_AIFF | SF_FORMAT_FLOAT, 1, 44100, 32},
      {"gen_pcm16_mono.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 44100, 300},
      {"gen_pcm8_stereo.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_S8, 2, 8000, 64},
      {"gen_pcm16_stereo.w64", SF_FORMAT_W64 | SF_FORMAT_PCM_16, 2, 44100, 16},  // refused: another container
      {"gen_vorbis_mono.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 1, 44100, 256},
  };
  std::vector<Seed> seeds;
  fs::create_directories(dir);
  for (const Spec& s : specs) {
    const fs::path p = dir / s.name;
    if (!write_seed_audio(p, s.format, s.channels, s.rate, s.frames)) continue;  // e.g. no Vorbis in this libsndfile
    seeds.push_back({s.name, p.extension().string(), read_bytes(p)});
  }
  for (auto& s : seeds_in(kFuzzDir / "audio", kAudioExts)) seeds.push_back(std::move(s));
  return seeds;
}

bool finite_samples(const lq::AudioBuffer& a) {
  for (const auto& c : a.channels) {
    for (float x : c) {
      if (!std::isfinite(x)) return false;
    }
  }
  return true;
}

// read_audio, an AudioReader in spans of random sizes, and probe_audio_header, on one file.
void check_audio(Campaign& run, int64_t iteration, const fs::path& p, const std::string& how, Rng& rng) {
  bool read_ok = false;
  lq::AudioFileInfo info;
  run.check(iteration, "read_audio", p, how, [&]() -> std::string {
    const lq::AudioBuffer a = lq::read_audio(p, &info);
    if (info.frames != a.frames()) {
      return "info.frames " + std::to_string(info.frames) + " != buffer frames " + std::to_string(a.frames());
    }
    if (a.channel_count() != info.channels || info.channels < 1 || info.channels > lq::kMaxInputChannels) {
      return "channels: info " + std::to_string(info.channels) + ", buffer " + std::to_string(a.channel_count());
    }
    for (const auto& c : a.channels) {
      if (static_cast<int64_t>(c.size()) != a.frames()) return "channels of different lengths";
    }
    if (a.frames() <= 0) return "success with no frames";
    if (!(a.sample_rate >= lq::kMinSampleRate && a.sample_rate <= lq::kMaxSampleRate) || a.sample_rate != info.sample_rate) {
      return "sample rate " + std::to_string(a.sample_rate) + " (info " + std::to_string(info.sample_rate) + ")";
    }
    if (!finite_samples(a)) return "success with NaN/Inf samples";
    if (std::isnan(info.peak_dbfs)) return "peak_dbfs is NaN";
    read_ok = true;
    return "";
  });

  const uint64_t span_seed = rng();
  run.check(iteration, "AudioReader", p, how, [&]() -> std::string {
    Rng spans(span_seed);
    lq::AudioReader reader(p);
    const lq::AudioFileInfo& ri = reader.info();
    lq::AudioBuffer out;
    out.channels.resize(static_cast<size_t>(ri.channels));
    int64_t at = 0;
    for (;;) {
      const int64_t want = chance(spans, 80) ? 1 + static_cast<int64_t>(below(spans, 300)) : 1 << 16;
      const int64_t n = reader.read(out, at, want);
      if (n < 0 || n > want) return "read returned " + std::to_string(n) + " for " + std::to_string(want) + " frames";
      if (n == 0) break;
      at += n;
    }
    reader.finish();
    if (at != ri.frames) return "read " + std::to_string(at) + " frames, info().frames " + std::to_string(ri.frames);
    if (out.frames() != at) return "buffer holds " + std::to_string(out.frames()) + " frames after reading " + std::to_string(at);
    if (!finite_samples(out)) return "finish() passed NaN/Inf samples";
    if (read_ok && (ri.frames != info.frames || ri.channels != info.channels || ri.sample_rate != info.sample_rate)) {
      return "AudioReader and read_audio disagree on the header";
    }
    return "";
  });

  run.check(iteration, "probe_audio_header", p, how, [&]() -> std::string {
    int64_t frames = -7;
    int rate = -7, channels = -7;
    const bool ok = lq::probe_audio_header(p, &frames, &rate, &channels);
    if (ok && read_ok && (frames != info.frames || rate != static_cast<int>(info.sample_rate) || channels != info.channels)) {
      return "probe says " + std::to_string(frames) + " frames " + std::to_string(rate) + " Hz " +
             std::to_string(channels) + " ch; read_audio " + std::to_string(info.frames) + " frames";
    }
    return "";
  });
}

// ---- sessions -------------------------------------------------------------------------------

// The documented example with its stems and IRs beside it (written into `dir`), and tests/fuzz/session.
std::vector<Seed> session_seeds(const fs::path& dir) {
  std::string example = read_bytes(lq::test::source_dir() / "tests/data/example_session.toml");
  const std::string abs = "/srv/library/keys.wav";
  if (const size_t at = example.find(abs); at != std::string::npos) example.replace(at, abs.size(), "stems/keys.wav");
  std::vector<Seed> seeds = {{"example_session.toml", ".toml", example}};
  for (auto& s : seeds_in(kFuzzDir / "session", kSessionExts)) seeds.push_back(std::move(s));
  fs::create_directories(dir / "stems");
  fs::create_directories(dir / "irs");
  for (const char* f : {"stems/kick.wav", "stems/snare.wav", "stems/Lead Vocal.wav", "stems/keys.wav", "stems/vocal.wav",
                        "irs/room.wav", "irs/hall.wav", "a.wav"}) {
    write_seed_audio(dir / f, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 48000, 64);
  }
  for (const char* f : {"stems/bass.flac", "irs/plate.flac", "a.flac"}) {
    write_seed_audio(dir / f, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 2, 48000, 64);
  }
  return seeds;
}

std::string session_sane(const lq::Session& s) {
  if (s.stems.empty()) return "a session with no stems";
  for (const auto& st : s.stems) {
    if (!std::isfinite(st.gain_db) || !std::isfinite(st.pan)) return "stem '" + st.name + "': non-finite gain or pan";
    if (st.group.empty()) return "stem '" + st.name + "' without a group";
  }
  if (s.master.target_lufs && !std::isfinite(*s.master.target_lufs)) return "non-finite master.target_lufs";
  if (s.sample_rate && !std::isfinite(*s.sample_rate)) return "non-finite sample_rate";
  if (s.canonical_text.empty()) return "empty canonical text";
  return "";
}

// ---- manifests ------------------------------------------------------------------------------

// A song the catalog lists but cannot render as given may carry an `error` (a row's problem)
// instead of failing the whole catalog, where CatalogSong has that member.
template <class Song>
std::string song_error(const Song& s) {
  if constexpr (requires { s.error; }) {
    return s.error;
  } else {
    return "";
  }
}

std::string catalog_sane(const std::vector<lq::CatalogSong>& songs, const fs::path& manifest) {
  if (songs.empty()) return "success with no songs";
  for (const auto& s : songs) {
    if (s.id.empty()) return "a song with an empty id";
    if (s.id.size() > 128) return "a song id of " + std::to_string(s.id.size()) + " characters";
    if (s.id.find('\n') != std::string::npos || s.id.find('/') != std::string::npos) {
      return "song id '" + printable(s.id) + "' is not a folder name";
    }
    if (const std::string e = song_error(s); !e.empty()) {  // the same property as a UserError's message
      if (e.find('\n') != std::string::npos) return "song error is not one line: " + printable(e);
      if (e.find(manifest.string()) == std::string::npos) return "song error does not name the file: " + printable(e);
      continue;
    }
    if (s.source.empty()) return "song '" + printable(s.id) + "' without a source";
    if (s.target_lufs && !(*s.target_lufs >= -40.0 && *s.target_lufs <= -5.0)) {
      return "song '" + printable(s.id) + "': target_lufs " + std::to_string(*s.target_lufs) + " outside [-40, -5]";
    }
  }
  return "";
}

TextKind manifest_kind(const std::string& ext) { return ext == ".csv" ? TextKind::csv : TextKind::jsonl; }

}  // namespace

// ---- the tests ------------------------------------------------------------------------------

TEST(FuzzInputs, AudioHeadersLoadOrFailWithOneLineUserErrors) {
  const fs::path dir = lq::test::fresh_dir();
  std::vector<Seed> seeds = audio_seeds(dir / "seeds");
  for (auto& s : seeds_in(kFuzzDir / "regressions", kAudioExts)) seeds.push_back(std::move(s));
  ASSERT_GE(seeds.size(), 10u);
  Campaign run("audio", budget_for(3000));
  Rng seeds_rng(run.seed());
  // The seeds themselves first: the generated ones and the committed ones all load.
  for (const Seed& s : seeds) {
    const fs::path p = dir / ("seed" + s.ext);
    write_bytes(p, s.bytes);
    Rng rng(mix(run.seed()));
    check_audio(run, -1, p, "seed " + s.name, rng);
  }
  for (int64_t i = 0; run.more(i); ++i, ++run.inputs) {
    Rng rng(mix(run.seed() ^ mix(static_cast<uint64_t>(i) + 0xa0d10)));
    const Seed& s = pick(rng, seeds);
    std::string how = s.name + ":";
    const std::string bytes = mutate_binary(s.bytes, rng, seeds, how);
    const fs::path p = dir / ("input" + s.ext);
    write_bytes(p, bytes);
    check_audio(run, i, p, how, rng);
  }
}

TEST(FuzzInputs, SessionFilesLoadOrFailWithOneLineUserErrors) {
  const fs::path dir = lq::test::fresh_dir();
  std::vector<Seed> seeds = session_seeds(dir);
  for (auto& s : seeds_in(kFuzzDir / "regressions", kSessionExts)) seeds.push_back(std::move(s));
  ASSERT_GE(seeds.size(), 2u);
  Campaign run("session", budget_for(5000));
  const fs::path p = dir / "session.toml";
  for (const Seed& s : seeds) {
    write_bytes(p, s.bytes);
    run.check(-1, "load_session", p, "seed " + s.name, [&] { return session_sane(lq::load_session(p)); });
  }
  for (int64_t i = 0; run.more(i); ++i, ++run.inputs) {
    Rng rng(mix(run.seed() ^ mix(static_cast<uint64_t>(i) + 0x5e55)));
    const Seed& s = pick(rng, seeds);
    std::string how = s.name + ":";
    write_bytes(p, mutate_text(s.bytes, TextKind::toml, rng, seeds, how));
    run.check(i, "load_session", p, how, [&] { return session_sane(lq::load_session(p)); });
  }
}

TEST(FuzzInputs, ManifestsLoadOrFailWithOneLineUserErrors) {
  const fs::path dir = lq::test::fresh_dir();
  std::vector<Seed> seeds = seeds_in(kFuzzDir / "manifest", kManifestExts);
  for (auto& s : seeds_in(kFuzzDir / "regressions", kManifestExts)) seeds.push_back(std::move(s));
  ASSERT_GE(seeds.size(), 2u);
  fs::create_directories(dir / "songs/two");  // a stem folder some rows name
  Campaign run("manifest", budget_for(5000));
  for (const Seed& s : seeds) {
    const fs::path p = dir / ("manifest" + s.ext);
    write_bytes(p, s.bytes);
    run.check(-1, "load_catalog", p, "seed " + s.name, [&] { return catalog_sane(lq::load_catalog(p), p); });
  }
  for (int64_t i = 0; run.more(i); ++i, ++run.inputs) {
    Rng rng(mix(run.seed() ^ mix(static_cast<uint64_t>(i) + 0xca7)));
    const Seed& s = pick(rng, seeds);
    // Mostly the seed's own kind; sometimes a CSV read as JSON Lines or the other way round.
    std::string ext = s.ext == ".ndjson" ? ".jsonl" : s.ext;
    if (chance(rng, 5)) ext = ext == ".csv" ? ".jsonl" : ".csv";
    std::string how = s.name + "->" + ext + ":";
    const fs::path p = dir / ("manifest" + ext);
    write_bytes(p, mutate_text(s.bytes, manifest_kind(ext), rng, seeds, how));
    run.check(i, "load_catalog", p, how, [&] { return catalog_sane(lq::load_catalog(p), p); });
  }
}

// Every file in tests/fuzz/regressions/, by its extension: audio, session or manifest.
TEST(FuzzInputs, RegressionInputsLoadOrFailWithOneLineUserErrors) {
  Budget b = budget_for(0);
  Campaign run("regressions", b, /*replay=*/true);
  int64_t i = 0;
  for (const fs::path& p : regression_files(kAudioExts)) {
    Rng rng(mix(b.seed));
    check_audio(run, i++, p, "regression", rng);
  }
  for (const fs::path& p : regression_files(kSessionExts)) {
    run.check(i++, "load_session", p, "regression", [&] { return session_sane(lq::load_session(p)); });
  }
  for (const fs::path& p : regression_files(kManifestExts)) {
    run.check(i++, "load_catalog", p, "regression", [&] { return catalog_sane(lq::load_catalog(p), p); });
  }
  run.inputs = i;
}
