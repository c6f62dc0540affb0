// README.md's session example is a valid session: the documentation cannot drift from the parser.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "host/session.hpp"
#include "support/test_files.hpp"

TEST(Readme, SessionExampleParses) {
  const std::string readme = lq::test::read_text_file(lq::test::source_dir() / "README.md");
  const auto begin = readme.find("```toml\n");
  ASSERT_NE(begin, std::string::npos) << "README.md has no ```toml block";
  const auto end = readme.find("```", begin + 8);
  ASSERT_NE(end, std::string::npos);
  const auto dir = lq::test::fresh_dir();
  lq::test::write_text_file(dir / "session.toml", readme.substr(begin + 8, end - begin - 8));
  lq::Session s;
  ASSERT_NO_THROW(s = lq::load_session(dir / "session.toml"));
  EXPECT_FALSE(s.stems.empty());
  EXPECT_TRUE(s.master.target_lufs.has_value());
}
