// Errors a user can act on: the message is one line that names the file and the problem,
// printed once by the CLI (exit code 1). Programming errors use other exception types.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace lq {

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  UserError(const std::filesystem::path& file, const std::string& problem)
      : std::runtime_error(file.string() + ": " + problem) {}
};

// Usage errors (bad command-line values): exit code 2.
class UsageError : public UserError {
 public:
  using UserError::UserError;
};

}  // namespace lq
