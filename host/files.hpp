// Files Lacquer reads and writes, and the rules that keep a user's files safe
// (docs/data-safety.md):
//
// - Inputs are opened without blocking and must be regular files (a FIFO, a device or a socket is
//   refused before any read); text inputs have a size limit.
// - Every path a command will write is checked, before any work starts, against every path it reads
//   and every other path it writes (PathPlan): by normalised path and by device and inode.
// - Only regular files are ever replaced; a destination that is a symlink, a device, a FIFO, a
//   socket or a folder is refused.
// - Outputs are written to unnamed temporary files (O_TMPFILE; a named temporary where the file
//   system has none) and published together (Publication): all of a render's files appear, or none.
//   A process killed before publishing leaves nothing; SIGINT/SIGTERM remove any named temporaries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lq {

// An open file descriptor, closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens an input for reading: O_NONBLOCK (a FIFO cannot block the open), then fstat: anything but a
// regular file is a UserError naming the path ("is a FIFO", "is a device", "is a folder", "too many
// levels of symbolic links"...). The descriptor is returned in blocking mode.
Fd open_input(const std::filesystem::path& path);

// A whole text file (a session, a preset, a manifest, a report, a summary), opened with open_input;
// a file over max_bytes is a UserError naming it.
inline constexpr int64_t kMaxTextBytes = int64_t{64} << 20;
std::string read_text_file(const std::filesystem::path& file, int64_t max_bytes = kMaxTextBytes);

// XXH3-128 (hex) of an input's bytes, opened with open_input, and of an open descriptor's bytes.
std::string file_xxh128(const std::filesystem::path& file);
std::string fd_xxh128(int fd);
std::string text_xxh128(const std::string& text);

// The name a temporary of Lacquer's own has while it is named (".lacquer-PID-16HEX.tmp"), and the
// test for it: the only names Lacquer's cleanup ever removes.
bool is_lacquer_temporary(const std::string& file_name);

// Refuses (UserError naming `out`) a destination that exists and is not a regular file: a symlink,
// a folder, a FIFO, a device or a socket is never replaced.
void check_replaceable(const std::filesystem::path& out);

// A file being written for `out`: unnamed in out's folder until published. Destroyed unpublished,
// it leaves nothing behind and `out` untouched.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& out);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  // Starts the disk writeback of what is written so far without waiting (Linux sync_file_range).
  void start_writeback() const;
  // fsync and close: the bytes are on disk, the file still has no name.
  void finish();
  [[noreturn]] void fail(const std::string& why) const;

 private:
  friend class Publication;
  void name_it();      // gives a finished unnamed file its temporary name
  void rename_it();    // renames it over out_
  std::filesystem::path out_, dir_, named_;
  int fd_ = -1;
  bool unnamed_ = false;   // O_TMPFILE: no name until name_it()
  int slot_ = -1;          // its entry in the signal-time cleanup list while it has a name
  bool published_ = false;
};

// Files published together: each add()ed file is finished (fsynced); publish() names them all,
// then renames them over their destinations in the order added (put the report last), then fsyncs
// the folders. Destroyed unpublished, every file is removed. SIGINT/SIGTERM arriving while the
// names are being swapped are held until publish() returns.
class Publication {
 public:
  Publication() = default;
  ~Publication();
  Publication(const Publication&) = delete;
  Publication& operator=(const Publication&) = delete;
  void add(std::unique_ptr<TempFile> file);
  void publish();

 private:
  std::vector<std::unique_ptr<TempFile>> files_;
};

// Writes text to `out` through a TempFile: published at once, or added to `pub` when given.
void write_text_atomic(const std::filesystem::path& out, const std::string& text, Publication* pub = nullptr);

// For `lacquer render`: SIGINT/SIGTERM remove the named temporaries and end the process with the
// signal (unnamed ones vanish with it). Restored on destruction.
class TemporariesRemovedOnSignal {
 public:
  TemporariesRemovedOnSignal();
  ~TemporariesRemovedOnSignal();
  TemporariesRemovedOnSignal(const TemporariesRemovedOnSignal&) = delete;
  TemporariesRemovedOnSignal& operator=(const TemporariesRemovedOnSignal&) = delete;

 private:
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

// Async-signal-safe: unlinks every named temporary of this process (for a signal handler).
void remove_temporaries_now() noexcept;
// Async-signal-safe: removes the named temporaries and ends the process with `sig` (default
// action); while a publication is swapping names, after it (for a signal handler).
void terminate_on_signal(int sig) noexcept;

// Every path a command reads and writes, checked before any work starts. A written path must
// differ from every read path and every other written path: by normalised absolute path (the
// folder's symlinks resolved; written paths compared ignoring case, so that a case-insensitive
// file system cannot merge them) and, where both exist, by device and inode (hard links, symlinks,
// `..`, relative and absolute forms). A written path that exists must be a regular file
// (check_replaceable). A conflict is a UsageError (exit 2) when a path named on the command line
// is in it, else a UserError (exit 1).
class PathPlan {
 public:
  void read(const std::filesystem::path& p, const std::string& what);
  void write(const std::filesystem::path& p, const std::string& what, bool from_command_line);
  void check() const;

 private:
  struct Entry {
    std::filesystem::path path;
    std::string what;
    std::string key;           // normalised absolute path
    bool exists = false;
    uint64_t dev = 0, ino = 0;
    bool command_line = false;
  };
  static Entry entry(const std::filesystem::path& p, const std::string& what, bool follow_last);
  std::vector<Entry> reads_, writes_;
};

// True when `inner` is `outer` or lies inside it (both normalised absolute, symlinks resolved).
bool path_within(const std::filesystem::path& inner, const std::filesystem::path& outer);
// The absolute, normalised form with every existing symlink resolved.
std::filesystem::path resolved(const std::filesystem::path& p);

}  // namespace lq
