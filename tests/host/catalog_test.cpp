// Catalog planning: shards are a partition that depends on each song's id alone, Slurm's and
// Kubernetes' variables select the shard, and bad manifests fail with the file and line.
#include "host/catalog.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "host/errors.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;

TEST(Catalog, ShardsPartitionTheSongsIntoBalancedParts) {
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) ids.push_back("artist/album track " + std::to_string(i));
  for (int n : {1, 2, 3, 7, 64}) {
    std::vector<int> per(static_cast<size_t>(n), 0);
    for (const auto& id : ids) {
      const int s = lq::shard_of(id, n);
      ASSERT_GE(s, 0);
      ASSERT_LT(s, n);
      ++per[static_cast<size_t>(s)];
    }
    if (n == 7) {
      for (int c : per) EXPECT_GT(c, 500 / 7 / 2) << "shards are badly unbalanced";
    }
  }
}

// Every shard gets its share: 7000 ids over 7 shards, 1000 each expected, a binomial spread of about
// 29; every count within 5 of those (a function that favoured one shard by even a sixth fails).
TEST(Catalog, ShardsAreEvenOverManySongs) {
  for (int n : {2, 5, 7}) {
    const int songs = 1000 * n;
    std::vector<int> per(static_cast<size_t>(n), 0);
    for (int i = 0; i < songs; ++i) ++per[static_cast<size_t>(lq::shard_of("catalog/" + std::to_string(i) + ".toml", n))];
    const double p = 1.0 / n, spread = std::sqrt(songs * p * (1.0 - p));
    for (int s = 0; s < n; ++s) {
      EXPECT_NEAR(per[static_cast<size_t>(s)], 1000.0, 5.0 * spread) << "shard " << s << " of " << n;
    }
  }
}

TEST(Catalog, ShardComesFromTheFlagSlurmOrKubernetes) {
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::unsetenv("JOB_COMPLETION_INDEX");
  EXPECT_EQ(lq::select_shard("", std::nullopt).count, 1);
  const auto f = lq::select_shard("2/5", std::nullopt);
  EXPECT_EQ(f.index, 2);
  EXPECT_EQ(f.count, 5);
  EXPECT_THROW(lq::select_shard("5/5", std::nullopt), lq::UsageError);
  EXPECT_THROW(lq::select_shard("x/5", std::nullopt), lq::UsageError);
  ::setenv("SLURM_ARRAY_TASK_ID", "4", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "1", 1);  // --array=1-4
  const auto s = lq::select_shard("", std::nullopt);
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 4);
  EXPECT_EQ(lq::select_shard("0/2", std::nullopt).count, 2) << "--shard wins over Slurm";
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::setenv("JOB_COMPLETION_INDEX", "6", 1);
  EXPECT_THROW(lq::select_shard("", std::nullopt), lq::UsageError) << "Kubernetes needs --shard-count";
  const auto k = lq::select_shard("", 8);
  EXPECT_EQ(k.index, 6);
  EXPECT_EQ(k.count, 8);
  ::unsetenv("JOB_COMPLETION_INDEX");
}

TEST(Catalog, FolderSongsAreSortedAndUseTheirSessionFileWhenPresent) {
  const fs::path dir = lq::test::fresh_dir();
  fs::create_directories(dir / "b_song");
  fs::create_directories(dir / "a_song");
  fs::create_directories(dir / ".hidden");
  lq::test::write_text_file(dir / "a_song" / "session.toml", "");
  lq::test::write_text_file(dir / "notes.txt", "");
  const auto songs = lq::load_catalog(dir);
  ASSERT_EQ(songs.size(), 2u);
  EXPECT_EQ(songs[0].id, "a_song");
  EXPECT_TRUE(songs[0].is_session_file);
  EXPECT_EQ(songs[1].id, "b_song");
  EXPECT_FALSE(songs[1].is_session_file);
}

TEST(Catalog, BadManifestsNameTheFileAndLine) {
  const fs::path dir = lq::test::fresh_dir();
  auto fails_with = [&](const std::string& name, const std::string& text, const std::string& want) {
    lq::test::write_text_file(dir / name, text);
    try {
      lq::load_catalog(dir / name);
      ADD_FAILURE() << name << " was accepted";
    } catch (const lq::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  fails_with("a.csv", "name,path\nx,y\n", "a.csv:1");
  // A row whose song cannot be rendered as given fails that song only: it carries the error.
  auto song_fails_with = [&](const std::string& name, const std::string& text, const std::string& want) {
    lq::test::write_text_file(dir / name, text);
    const auto songs = lq::load_catalog(dir / name);
    ASSERT_EQ(songs.size(), 1u);
    EXPECT_NE(songs[0].error.find(want), std::string::npos) << songs[0].error;
  };
  song_fails_with("b.csv", "id,source,target_lufs\nx,y,loud\n", "b.csv:2");
  song_fails_with("c.csv", "id,source,target_lufs\nx,y,-2\n", "outside [-40, -5]");
  song_fails_with("n.csv", "id,source,target_lufs\nx,y,nan\n", "outside [-40, -5]");
  song_fails_with("m.csv", "id,source\nx,missing\n", "No such file");
  fails_with("d.jsonl", "{\"id\": \"x\", \"stems\": \"y\"}\nnot json\n", "d.jsonl:2");
  fails_with("e.csv", "id,source\n..,y\n", "not a folder name");
  fails_with("f.csv", "id,source\nSong,y\nsong,z\n", "ignoring case");
  fails_with("g.txt", "", "unknown manifest type");
  const auto quoted = [&] {
    lq::test::write_text_file(dir / "q.csv", "id,source\n\"a, b\",\"x \"\"y\"\"\"\n");
    return lq::load_catalog(dir / "q.csv");
  }();
  ASSERT_EQ(quoted.size(), 1u);
  EXPECT_EQ(quoted[0].id, "a, b");
  EXPECT_EQ(quoted[0].source.filename(), "x \"y\"");
}

TEST(Catalog, ManifestsSkipBlankAndCommentLinesAndCountThemInLineNumbers) {
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_text_file(dir / "a.csv", "# songs\r\nid,source,target_lufs\r\n\r\nb,y,-16\r\n  # later\r\na,x,\r\n");
  lq::test::write_text_file(dir / "a.jsonl",
                            "# songs\r\n{\"id\": \"b\", \"stems\": \"y\", \"target_lufs\": -16}\r\n\n"
                            "{\"id\": \"a\", \"session\": \"x\"}\r\n");
  for (const char* name : {"a.csv", "a.jsonl"}) {
    const auto songs = lq::load_catalog(dir / name);
    ASSERT_EQ(songs.size(), 2u) << name;
    EXPECT_EQ(songs[0].id, "a") << name;
    EXPECT_EQ(songs[0].source, dir / "x") << name;
    EXPECT_FALSE(songs[0].target_lufs.has_value()) << name;
    EXPECT_EQ(songs[1].id, "b") << name;
    EXPECT_EQ(songs[1].target_lufs.value_or(0.0), -16.0) << name;
  }
  lq::test::write_text_file(dir / "c.jsonl", "# one\n\n{\"id\": \"a\", \"stems\": \"x\"}\n{\"id\": 3}\n");
  try {
    lq::load_catalog(dir / "c.jsonl");
    ADD_FAILURE() << "c.jsonl was accepted";
  } catch (const lq::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("c.jsonl:4"), std::string::npos) << e.what();
  }
}
