#include "host/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <mutex>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>

#include <xxhash.h>

#include "host/errors.hpp"

namespace lq {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int e) { return std::strerror(e); }

std::string hex128(XXH128_hash_t h) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "is a directory, not a file";
  if (S_ISFIFO(m)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISCHR(m) || S_ISBLK(m)) return "is a device, not a regular file";
  if (S_ISSOCK(m)) return "is a socket, not a regular file";
  if (S_ISLNK(m)) return "is a symbolic link";
  return "is not a regular file";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// ---- named temporaries, for removal from a signal handler ----------------------------------
// A fixed table (no allocation, no locks: a signal handler reads it). state: 0 free, 1 being
// filled, 2 holds the path of a named temporary.
constexpr int kSlots = 512;
struct Slot {
  std::atomic<int> state{0};
  char path[PATH_MAX];
};
Slot g_slots[kSlots];
std::atomic<int> g_publishing{0};      // publications swapping names now
std::atomic<int> g_pending_signal{0};  // a signal that arrived meanwhile

int register_temporary(const fs::path& p) {
  const std::string s = p.string();
  if (s.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_slots[i].path, s.c_str(), s.size() + 1);
      g_slots[i].state.store(2);
      return i;
    }
  }
  return -1;  // table full: the file is still removed by its owner, only not from a signal handler
}

void unregister_temporary(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0);
}

// Ends the process with `sig` after removing the named temporaries; while a publication swaps
// names the signal waits for it (Publication::publish re-raises it).
void terminate_with(int sig) noexcept {
  if (g_publishing.load() > 0) {
    g_pending_signal.store(sig);
    return;
  }
  remove_temporaries_now();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

extern "C" void on_render_signal(int sig) { terminate_with(sig); }

std::string random_tag() {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}() ^ (uint64_t(::getpid()) << 32)};
  std::lock_guard lock(m);
  char tag[24];
  std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(rng()));
  return tag;
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd open_input(const fs::path& path) {
  if (path.empty()) throw UserError(path, "empty path");
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int e = errno;
    struct stat lst {};
    if (e == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      throw UserError(path, "broken symbolic link (" + errno_text(e) + ")");
    }
    if (e == ENXIO) throw UserError(path, "is a socket or a device without a reader, not a regular file");
    throw UserError(path, errno_text(e));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw UserError(path, errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw UserError(path, kind_of(st.st_mode));
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) throw UserError(path, errno_text(errno));
  return fd;
}

std::string read_text_file(const fs::path& file, int64_t max_bytes) {
  const Fd fd = open_input(file);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw UserError(file, errno_text(errno));
  if (st.st_size > max_bytes) {
    throw UserError(file, "is " + std::to_string(st.st_size) + " bytes, more than a text input may be (" +
                              std::to_string(max_bytes) + ")");
  }
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw UserError(file, "read error: " + errno_text(errno));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(text.size()) > max_bytes) throw UserError(file, "grew beyond the text input limit while read");
  }
  return text;
}

std::string fd_xxh128(int fd) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  std::vector<char> buf(1 << 20);
  off_t at = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      XXH3_freeState(st);
      throw UserError("read error while checksumming: " + errno_text(errno));
    }
    if (n == 0) break;
    XXH3_128bits_update(st, buf.data(), static_cast<size_t>(n));
    at += n;
  }
  const auto h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  return hex128(h);
}

std::string file_xxh128(const fs::path& file) {
  const Fd fd = open_input(file);
  try {
    return fd_xxh128(fd.get());
  } catch (const UserError& e) {
    throw UserError(file, e.what());
  }
}

std::string text_xxh128(const std::string& text) { return hex128(XXH3_128bits(text.data(), text.size())); }

bool is_lacquer_temporary(const std::string& name) {
  // ".lacquer-" PID "-" 16 hex ".tmp"
  constexpr std::string_view head = ".lacquer-", tail = ".tmp";
  if (name.size() < head.size() + 1 + 1 + 16 + tail.size()) return false;
  if (name.compare(0, head.size(), head) != 0 || name.compare(name.size() - tail.size(), tail.size(), tail) != 0) {
    return false;
  }
  const std::string mid = name.substr(head.size(), name.size() - head.size() - tail.size());
  const size_t dash = mid.find('-');
  if (dash == 0 || dash == std::string::npos || mid.size() - dash - 1 != 16) return false;
  for (size_t i = 0; i < dash; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(mid[i]))) return false;
  }
  for (size_t i = dash + 1; i < mid.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(mid[i])) || std::isupper(static_cast<unsigned char>(mid[i]))) return false;
  }
  return true;
}

void check_replaceable(const fs::path& out) {
  struct stat st {};
  if (::lstat(out.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw UserError(out, errno_text(errno));
  }
  if (S_ISREG(st.st_mode)) return;
  if (S_ISLNK(st.st_mode)) throw UserError(out, "is a symbolic link: Lacquer replaces only regular files");
  throw UserError(out, std::string(kind_of(st.st_mode)) + ": Lacquer replaces only regular files");
}

// ---- TempFile ---------------------------------------------------------------------------------

TempFile::TempFile(const fs::path& out) : out_(out) {
  const std::string name = out.filename().string();
  if (name.empty() || name == "." || name == "..") throw UserError(out, "not a file name");
  dir_ = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  check_replaceable(out);
  // Unnamed first: a process that dies before publishing leaves nothing.
  fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
  if (fd_ >= 0) {
    unnamed_ = true;
    return;
  }
  // A file system without O_TMPFILE: a named temporary, removed on failure and on SIGINT/SIGTERM.
  named_ = dir_ / (".lacquer-" + std::to_string(::getpid()) + "-" + random_tag() + ".tmp");
  fd_ = ::open(named_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) throw UserError(out, "cannot create a file in folder '" + dir_.string() + "': " + errno_text(errno));
  slot_ = register_temporary(named_);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!published_ && !named_.empty()) ::unlink(named_.c_str());
  unregister_temporary(slot_);
}

void TempFile::start_writeback() const {
#if defined(__linux__)
  (void)::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
}

void TempFile::fail(const std::string& why) const { throw UserError(out_, "write failed: " + why); }

void TempFile::finish() {
  if (::fsync(fd_) != 0) fail("fsync: " + errno_text(errno));
}

void TempFile::name_it() {
  if (!unnamed_) return;
  const fs::path named = dir_ / (".lacquer-" + std::to_string(::getpid()) + "-" + random_tag() + ".tmp");
  slot_ = register_temporary(named);
  const std::string proc = "/proc/self/fd/" + std::to_string(fd_);
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, named.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    const int e = errno;
    unregister_temporary(slot_);
    slot_ = -1;
    fail("cannot give the finished file a name in '" + dir_.string() + "': " + errno_text(e));
  }
  named_ = named;
  unnamed_ = false;
}

void TempFile::rename_it() {
  check_replaceable(out_);
  if (::rename(named_.c_str(), out_.c_str()) != 0) fail("rename: " + errno_text(errno));
  published_ = true;
  unregister_temporary(slot_);
  slot_ = -1;
}

// ---- Publication ------------------------------------------------------------------------------

Publication::~Publication() = default;  // each unpublished TempFile removes itself

void Publication::add(std::unique_ptr<TempFile> file) {
  file->finish();
  files_.push_back(std::move(file));
}

void Publication::publish() {
  g_publishing.fetch_add(1);
  struct Done {
    ~Done() {
      if (g_publishing.fetch_sub(1) == 1) {
        if (const int sig = g_pending_signal.exchange(0)) terminate_with(sig);
      }
    }
  } done;
  for (auto& f : files_) f->name_it();     // every file named before any is renamed
  for (auto& f : files_) check_replaceable(f->out_);  // and every destination still replaceable
  std::vector<fs::path> dirs;
  for (auto& f : files_) {
    f->rename_it();
    if (std::find(dirs.begin(), dirs.end(), f->dir_) == dirs.end()) dirs.push_back(f->dir_);
  }
  for (const auto& d : dirs) {  // so the new names survive a power loss (best effort)
    const int dfd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }
  files_.clear();
}

void write_text_atomic(const fs::path& out, const std::string& text, Publication* pub) {
  auto tmp = std::make_unique<TempFile>(out);
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(tmp->fd(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) tmp->fail(errno_text(n < 0 ? errno : EIO));
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (pub) {
    pub->add(std::move(tmp));
    return;
  }
  Publication alone;
  alone.add(std::move(tmp));
  alone.publish();
}

// ---- signals ----------------------------------------------------------------------------------

void remove_temporaries_now() noexcept {
  for (auto& s : g_slots) {
    if (s.state.load() == 2) ::unlink(s.path);
  }
}

void terminate_on_signal(int sig) noexcept { terminate_with(sig); }

struct TemporariesRemovedOnSignal::Saved {
  struct sigaction old_int {}, old_term {}, old_hup {};
};

TemporariesRemovedOnSignal::TemporariesRemovedOnSignal() : saved_(std::make_unique<Saved>()) {
  struct sigaction sa {};
  sa.sa_handler = on_render_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &saved_->old_int);
  ::sigaction(SIGTERM, &sa, &saved_->old_term);
  ::sigaction(SIGHUP, &sa, &saved_->old_hup);
}

TemporariesRemovedOnSignal::~TemporariesRemovedOnSignal() {
  ::sigaction(SIGINT, &saved_->old_int, nullptr);
  ::sigaction(SIGTERM, &saved_->old_term, nullptr);
  ::sigaction(SIGHUP, &saved_->old_hup, nullptr);
}

// ---- PathPlan ---------------------------------------------------------------------------------

fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) abs = p;
  fs::path r = fs::weakly_canonical(abs, ec);
  if (ec) r = abs.lexically_normal();
  return r;
}

bool path_within(const fs::path& inner, const fs::path& outer) {
  const fs::path i = resolved(inner), o = resolved(outer);
  auto ii = i.begin();
  for (auto oi = o.begin(); oi != o.end(); ++oi, ++ii) {
    if (oi->empty()) continue;  // a trailing separator
    if (ii == i.end() || *ii != *oi) return false;
  }
  return true;
}

PathPlan::Entry PathPlan::entry(const fs::path& p, const std::string& what, bool follow_last) {
  Entry e;
  e.path = p;
  e.what = what;
  if (follow_last) {
    e.key = resolved(p).string();
  } else {
    const fs::path abs = fs::absolute(p).lexically_normal();
    const std::string name = abs.filename().string();
    if (name.empty() || name == "." || name == "..") throw UsageError(p, "not a file name");
    e.key = (resolved(abs.parent_path()) / abs.filename()).string();
  }
  struct stat st {};
  if ((follow_last ? ::stat(p.c_str(), &st) : ::lstat(p.c_str(), &st)) == 0) {
    e.exists = true;
    e.dev = st.st_dev;
    e.ino = st.st_ino;
  }
  return e;
}

void PathPlan::read(const fs::path& p, const std::string& what) { reads_.push_back(entry(p, what, true)); }

void PathPlan::write(const fs::path& p, const std::string& what, bool from_command_line) {
  Entry e = entry(p, what, false);
  e.command_line = from_command_line;
  writes_.push_back(std::move(e));
}

void PathPlan::check() const {
  auto same = [](const Entry& a, const Entry& b, bool fold_case) {
    if (a.exists && b.exists && a.dev == b.dev && a.ino == b.ino) return true;
    return fold_case ? lower(a.key) == lower(b.key) : a.key == b.key;
  };
  auto refuse = [](const Entry& w, bool usage, const std::string& problem) {
    if (usage) throw UsageError(w.path, problem);
    throw UserError(w.path, problem);
  };
  for (size_t i = 0; i < writes_.size(); ++i) {
    const Entry& w = writes_[i];
    for (const Entry& r : reads_) {
      if (same(w, r, false)) {
        refuse(w, w.command_line, "the " + w.what + " would overwrite an input (" + r.what + " '" + r.path.string() + "')");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      const Entry& o = writes_[j];
      if (same(w, o, true)) {
        refuse(w, w.command_line || o.command_line,
               "the " + w.what + " and the " + o.what + " would be the same file ('" + o.path.string() + "')");
      }
    }
    try {
      check_replaceable(w.path);
    } catch (const UserError& e) {
      if (w.command_line) throw UsageError(e.what());
      throw;
    }
  }
}

}  // namespace lq
