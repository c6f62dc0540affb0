// Errors a user can act on: the message is one line that names the file and the problem,
// printed once by the CLI (exit code 1). Programming errors use other exception types.
#pragma once

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace lq {

// The message on one line: control characters a user's text may carry (a key, a file name, a
// manifest field with a newline) are written as escapes (\n, \r, \t, \xNN).
inline std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(one_line(message)) {}
  explicit UserError(const char* message) : UserError(std::string(message)) {}
  UserError(const std::filesystem::path& file, const std::string& problem)
      : std::runtime_error(one_line(file.string() + ": " + problem)) {}
};

// Usage errors (bad command-line values): exit code 2.
class UsageError : public UserError {
 public:
  using UserError::UserError;
};

}  // namespace lq
