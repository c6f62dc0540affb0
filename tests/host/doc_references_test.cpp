// The repository explains itself: every Markdown document that a source file, script, build file or
// document names is in the repository, and every section cited as a document's path followed by a
// quoted heading (the form docs/algorithms.md "The limiter") is a heading of that document. A
// comment that points outside the repository, or at a section that was renamed, fails here naming
// the file and the line (docs/verification.md "Tolerances" for how the suite is written).
//
// Walked: cli, host, kernels, tests, benchmarks, scripts, tools, docker and docs, and the files at
// the root; skipped: hidden folders, build*, benchmarks/workload. Text files only (by extension).
// A name with a folder resolves against the repository's root or the naming file's folder and must
// stay inside the repository; a bare file name counts when a document of that name exists anywhere
// in the walked folders. Headings are the lines starting with '#' outside fenced code; a cited
// section matches a heading ignoring case, backticks and a leading section number ("3. "), or the
// start of one followed by a parenthesis ("The session file" for "The session file (TOML)").
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "support/test_files.hpp"

namespace fs = std::filesystem;

namespace {

constexpr const char* kFolders[] = {"cli",     "host",  "kernels", "tests", "benchmarks",
                                    "scripts", "tools", "docker",  "docs"};
constexpr const char* kRootFiles[] = {"README.md", "CMakeLists.txt", "Makefile"};
constexpr const char* kTextExtensions[] = {".cpp", ".hpp", ".h",   ".cc",    ".cu", ".cuh",   ".py",
                                           ".sh",  ".toml", ".txt", ".cmake", ".md", ".sbatch"};
constexpr const char* kTextNames[] = {"Makefile", "Dockerfile", "CMakeLists.txt"};
constexpr size_t kMaxSection = 200;  // a quoted "section" longer than this is not a citation

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' || c == '-';
}
bool identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

bool listed(const char* const* begin, const char* const* end, const std::string& s) {
  return std::any_of(begin, end, [&](const char* x) { return s == x; });
}

bool is_text(const fs::path& p) {
  return listed(std::begin(kTextExtensions), std::end(kTextExtensions), p.extension().string()) ||
         listed(std::begin(kTextNames), std::end(kTextNames), p.filename().string());
}

bool skipped_folder(const fs::path& rel) {
  const std::string name = rel.filename().string();
  return name.empty() || name[0] == '.' || name.rfind("build", 0) == 0 ||
         rel.generic_string() == "benchmarks/workload";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Lower case, backticks dropped, whitespace collapsed, a leading section number ("3. ", "1.2 ")
// dropped.
std::string normalised_heading(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '`') continue;
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  size_t i = 0;
  while (i < out.size() && (std::isdigit(static_cast<unsigned char>(out[i])) != 0 || out[i] == '.')) ++i;
  if (i > 0 && i < out.size() && out[i] == ' ' && std::isdigit(static_cast<unsigned char>(out[0])) != 0) {
    out.erase(0, i + 1);
  }
  return out;
}

std::vector<std::string> headings_of(const std::string& text) {
  std::vector<std::string> out;
  bool fenced = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
      continue;
    }
    if (fenced || line.empty() || line[0] != '#') continue;
    std::string h = line.substr(std::min(line.size(), line.find_first_not_of('#')));
    while (!h.empty() && (h.back() == '#' || std::isspace(static_cast<unsigned char>(h.back())) != 0)) {
      h.pop_back();
    }
    out.push_back(normalised_heading(h));
  }
  return out;
}

struct Problem {
  std::string file;  // relative to the root
  int line = 0;
  std::string what;
};

// Skips spaces and line breaks from t[j]; after a line break also a comment leader (//, #, *), so
// that a citation may continue on the next comment line. Sets *skipped when anything was skipped.
size_t skip_space(const std::string& t, size_t j, bool* skipped) {
  while (j < t.size()) {
    const char c = t[j];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++j;
    } else if (c == '\n') {
      ++j;
      while (j < t.size() && (t[j] == ' ' || t[j] == '\t')) ++j;
      if (t.compare(j, 2, "//") == 0) {
        j += 2;
      } else if (j < t.size() && (t[j] == '#' || t[j] == '*')) {
        ++j;
      }
    } else {
      break;
    }
    *skipped = true;
  }
  return j;
}

// The quoted text starting at t[j] == '"' (line breaks and comment leaders read as one space), and
// the position after its closing quote; an empty result when there is none within kMaxSection.
std::string quoted(const std::string& t, size_t j, size_t* after) {
  std::string out;
  for (++j; j < t.size() && out.size() < kMaxSection;) {
    if (t[j] == '"') {
      *after = j + 1;
      return normalised_heading(out).empty() ? std::string() : out;
    }
    if (t[j] == '\n') {
      bool skipped = false;
      j = skip_space(t, j, &skipped);
      out += ' ';
    } else {
      out += t[j++];
    }
  }
  return {};
}

class DocChecker {
 public:
  explicit DocChecker(fs::path root) : root_(std::move(root)) {
    std::error_code walk_ec, type_ec;
    for (auto it = fs::directory_iterator(root_, walk_ec); !walk_ec && it != fs::directory_iterator();
         it.increment(walk_ec)) {
      const fs::path rel = it->path().filename();
      const bool root_file = listed(std::begin(kRootFiles), std::end(kRootFiles), rel.string());
      if (it->is_regular_file(type_ec) && (rel.extension() == ".md" || root_file)) add(rel);
    }
    for (const char* folder : kFolders) {
      if (!fs::is_directory(root_ / folder, type_ec)) continue;
      walk_ec.clear();
      const auto options = fs::directory_options::skip_permission_denied;
      auto it = fs::recursive_directory_iterator(root_ / folder, options, walk_ec);
      for (; !walk_ec && it != fs::recursive_directory_iterator(); it.increment(walk_ec)) {
        const fs::path rel = it->path().lexically_relative(root_);
        if (it->is_directory(type_ec)) {
          if (skipped_folder(rel)) it.disable_recursion_pending();
        } else if (it->is_regular_file(type_ec)) {
          add(rel);
        }
      }
    }
  }

  const std::set<std::string>& files() const { return files_; }
  const std::set<std::string>& docs() const { return docs_; }

  // Every problem in `text`, the contents of the file `rel` (relative to the root).
  std::vector<Problem> check(const std::string& rel, const std::string& text) {
    std::vector<Problem> problems;
    for (size_t pos = text.find(".md"); pos != std::string::npos; pos = text.find(".md", pos + 3)) {
      const size_t end = pos + 3;
      if (end < text.size() && identifier_char(text[end])) continue;  // .mdx, .md_file
      size_t start = pos;
      while (start > 0 && name_char(text[start - 1])) --start;
      const std::string name = text.substr(start, end - start);
      const bool url = start > 0 && text[start - 1] == ':';
      if (url || name.rfind("//", 0) == 0 || fs::path(name).filename() == ".md") continue;  // "*.md", a URL
      const auto before = text.begin() + static_cast<std::ptrdiff_t>(start);
      const int line = 1 + static_cast<int>(std::count(text.begin(), before, '\n'));
      const std::string doc = resolve(name, rel);
      if (doc.empty()) {
        problems.push_back({rel, line, "names " + name + ", which is not a document in the repository"});
        continue;
      }
      // Sections cited after it: `name` "A", "B"
      size_t j = end < text.size() && text[end] == '`' ? end + 1 : end;
      bool skipped = false;
      j = skip_space(text, j, &skipped);
      while (skipped && j < text.size() && text[j] == '"') {
        size_t after = j;
        const std::string section = quoted(text, j, &after);
        if (section.empty()) break;
        if (!has_heading(doc, section)) {
          problems.push_back({rel, line, "cites " + doc + " \"" + section + "\", not a heading there"});
        }
        j = after;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
        if (j >= text.size() || text[j] != ',') break;
        j = skip_space(text, j + 1, &skipped);
      }
    }
    return problems;
  }

 private:
  void add(const fs::path& rel) {
    const std::string g = rel.generic_string();
    if (is_text(rel)) files_.insert(g);
    if (rel.extension() == ".md") {
      docs_.insert(g);
      by_name_.emplace(rel.filename().string(), g);
    }
  }

  // The document `name` stands for, named in `from`, or "" when there is none.
  std::string resolve(const std::string& name, const std::string& from) const {
    const fs::path folder = fs::path(from).parent_path();
    for (const fs::path& candidate : {folder / name, fs::path(name)}) {
      const fs::path n = candidate.lexically_normal();
      const std::string g = n.generic_string();
      if (n.is_absolute() || g == ".." || g.rfind("../", 0) == 0) continue;  // outside the repository
      if (docs_.count(g) != 0) return g;
    }
    if (name.find('/') == std::string::npos) {
      const auto it = by_name_.find(name);
      if (it != by_name_.end()) return it->second;
    }
    return {};
  }

  bool has_heading(const std::string& doc, const std::string& section) {
    auto it = headings_.find(doc);
    if (it == headings_.end()) it = headings_.emplace(doc, headings_of(read_file(root_ / doc))).first;
    const std::string s = normalised_heading(section);
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](const std::string& h) { return h == s || h.rfind(s + " (", 0) == 0; });
  }

  fs::path root_;
  std::set<std::string> files_, docs_;
  std::multimap<std::string, std::string> by_name_;  // file name -> document
  std::map<std::string, std::vector<std::string>> headings_;
};

}  // namespace

TEST(DocReferences, EveryNamedDocumentExistsAndEveryCitedSectionIsAHeading) {
  const fs::path root = lq::test::source_dir();
  DocChecker checker(root);
  // A walk that found nothing would pass vacuously.
  ASSERT_GT(checker.files().size(), 100u) << "walked " << root;
  ASSERT_EQ(checker.docs().count("README.md"), 1u) << root;
  ASSERT_EQ(checker.docs().count("docs/algorithms.md"), 1u) << root;
  int problems = 0;
  for (const std::string& rel : checker.files()) {
    for (const Problem& p : checker.check(rel, read_file(root / rel))) {
      const std::string at = (root / p.file).string();
      ADD_FAILURE_AT(at.c_str(), p.line) << p.file << ":" << p.line << ": " << p.what;
      ++problems;
    }
  }
  EXPECT_EQ(problems, 0) << "documents live under docs/; cite a section as docs/algorithms.md \"Dither\"";
}

// The check itself: documents that are not in the repository (a path, a path leading out of it, a
// bare name) and a heading that is not in its document are found, on their lines; a citation
// continued on the next comment line, a list of sections, a URL and an extension alone are not.
TEST(DocReferences, TheCheckFindsMissingDocumentsAndAMissingSection) {
  DocChecker checker{lq::test::source_dir()};
  const std::string md = ".md";
  const std::string text =
      "// The limiter (research/gpu-design" + md + " 4.2 item 5).\n" +                  // 1: not here
      "// Why: ../shared/DESIGN" + md + " \"Limiter\"\n" +                              // 2: outside
      "// See lacquer-no-such-notes" + md + ".\n" +                                     // 3: not here
      "// See docs/algorithms" + md + " \"No such heading\".\n" +                        // 4: no heading
      "// See docs/algorithms" + md + " \"The\n// limiter\", \"Dither\".\n" +           // 5-6: fine
      "# `docs/data-safety" + md + "` \"Outputs published together\"\n" +               // 7: fine
      "// https://example.org/notes" + md + " and every *" + md + " file\n";            // 8: fine
  const auto problems = checker.check("host/example.cpp", text);
  ASSERT_EQ(problems.size(), 4u);
  const int lines[] = {1, 2, 3, 4};
  const char* const what[] = {"not a document", "not a document", "not a document", "not a heading"};
  for (size_t i = 0; i < problems.size(); ++i) {
    EXPECT_EQ(problems[i].line, lines[i]) << problems[i].what;
    EXPECT_NE(problems[i].what.find(what[i]), std::string::npos) << problems[i].what;
  }
}
