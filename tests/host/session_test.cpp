// The session file: the documented example parses to the values written in it; every class of
// mistake is a one-line UserError "<file>:<line>: <dotted.key>: <problem>" with the right line;
// paths resolve against the session's folder; the canonical text is a function of the settings
// only; the default preset groups a folder of stems by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "host/errors.hpp"
#include "host/session.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;

namespace {

const lq::GroupSpec* find_group(const lq::Session& s, const std::string& name) {
  for (const auto& g : s.groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

lq::Session load_text(const fs::path& dir, const std::string& text) {
  const fs::path p = dir / "s.toml";
  lq::test::write_text_file(p, text);
  return lq::load_session(p);
}

const char* kStem = "[stems.kick]\nfile = \"kick.wav\"\ngroup = \"drums\"\n";  // lines 1-3

}  // namespace

TEST(Session, TheExampleParsesToTheValuesWrittenInIt) {
  const fs::path file = lq::test::source_dir() / "tests/data/example_session.toml";
  const fs::path dir = file.parent_path().lexically_normal();
  const lq::Session s = lq::load_session(file);
  EXPECT_EQ(s.source, file);
  EXPECT_EQ(s.sample_rate, 48000.0);

  const lq::MasterSpec& m = s.master;
  EXPECT_EQ(m.target_lufs, -14.0);
  EXPECT_EQ(m.limiter.ceiling_dbtp, -1.0);
  EXPECT_EQ(m.limiter.lookahead_ms, 5.0);
  EXPECT_EQ(m.limiter.release_ms, 80.0);
  EXPECT_EQ(m.sample_rate, 44100.0);
  EXPECT_EQ(m.encode.bit_depth, 16);
  EXPECT_TRUE(m.encode.dither);
  EXPECT_EQ(m.tail_s, 8.0);
  EXPECT_EQ(m.max_limiting_db, 12.0);
  ASSERT_EQ(m.eq.size(), 2u);
  EXPECT_EQ(m.eq[0].type, lq::EqBandType::low_shelf);
  EXPECT_EQ(m.eq[0].freq_hz, 90.0);
  EXPECT_EQ(m.eq[0].gain_db, 1.0);
  EXPECT_EQ(m.eq[0].q, 0.7);
  EXPECT_EQ(m.eq[1].type, lq::EqBandType::high_shelf);
  EXPECT_EQ(m.eq[1].q, lq::EqBand{}.q) << "q left out keeps its default";
  ASSERT_TRUE(m.compressor);
  EXPECT_EQ(m.compressor->threshold_db, -12.0);
  EXPECT_EQ(m.compressor->ratio, 1.5);
  EXPECT_EQ(m.compressor->attack_ms, 30.0);
  EXPECT_EQ(m.compressor->release_ms, 200.0);
  EXPECT_EQ(m.compressor->lookahead_ms, 0.0);

  // Declared groups in file order, then groups named only by stems, in stem order.
  ASSERT_EQ(s.groups.size(), 4u);
  EXPECT_EQ(s.groups[0].name, "drums");
  EXPECT_EQ(s.groups[1].name, "vocals");
  EXPECT_EQ(s.groups[2].name, "bass");
  EXPECT_EQ(s.groups[3].name, "music");
  const lq::GroupSpec& drums = s.groups[0];
  EXPECT_EQ(drums.gain_db, -1.0);
  EXPECT_EQ(drums.width, 1.1);
  ASSERT_EQ(drums.eq.size(), 1u);
  EXPECT_EQ(drums.eq[0].type, lq::EqBandType::bell);
  EXPECT_EQ(drums.eq[0].gain_db, -2.0);
  ASSERT_TRUE(drums.compressor);
  EXPECT_EQ(drums.compressor->threshold_db, -18.0);
  EXPECT_EQ(drums.compressor->ratio, 3.0);
  EXPECT_EQ(drums.compressor->makeup_db, 1.0);
  EXPECT_EQ(drums.compressor->lookahead_ms, 2.0);
  EXPECT_FALSE(drums.compressor->auto_makeup);
  ASSERT_EQ(s.groups[1].sends.size(), 1u);
  EXPECT_EQ(s.groups[1].sends[0].reverb, "plate");
  EXPECT_EQ(s.groups[1].sends[0].level_db, -20.0);
  EXPECT_EQ(s.groups[2].width, 1.0);
  EXPECT_FALSE(s.groups[2].compressor);

  ASSERT_EQ(s.reverbs.size(), 2u);
  EXPECT_EQ(s.reverbs[0].name, "room");
  EXPECT_EQ(s.reverbs[0].ir, dir / "irs/room.wav");
  EXPECT_EQ(s.reverbs[0].predelay_ms, 20.0);
  EXPECT_EQ(s.reverbs[0].wet_db, -3.0);
  EXPECT_EQ(s.reverbs[0].return_to, "drums");
  EXPECT_EQ(s.reverbs[1].name, "plate");
  EXPECT_EQ(s.reverbs[1].return_to, "");
  EXPECT_EQ(s.reverbs[1].predelay_ms, 0.0);

  ASSERT_EQ(s.stems.size(), 5u);
  const char* names[] = {"kick", "snare", "bass", "lead_vocal", "keys"};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(s.stems[i].name, names[i]) << "stems keep the file's order";
  const lq::StemSpec& kick = s.stems[0];
  EXPECT_EQ(kick.file, dir / "stems/kick.wav");
  EXPECT_EQ(kick.group, "drums");
  EXPECT_EQ(kick.gain_db, 1.5);
  ASSERT_EQ(kick.eq.size(), 2u);
  EXPECT_EQ(kick.eq[0].type, lq::EqBandType::high_pass);
  EXPECT_EQ(kick.eq[0].slope_db_per_oct, 24);
  EXPECT_EQ(kick.eq[1].q, 1.4);
  ASSERT_TRUE(kick.compressor);
  EXPECT_EQ(kick.compressor->attack_ms, 5.0);
  EXPECT_EQ(kick.compressor->knee_db, 6.0) << "default knee";
  ASSERT_EQ(kick.sends.size(), 1u);
  EXPECT_EQ(kick.sends[0].level_db, -12.0);
  EXPECT_EQ(s.stems[1].pan, -0.1);
  EXPECT_EQ(s.stems[2].eq[1].type, lq::EqBandType::notch);
  EXPECT_EQ(s.stems[3].file, dir / "stems/Lead Vocal.wav");
  EXPECT_EQ(s.stems[3].gain_db, 2.0) << "an integer where a number is expected";
  EXPECT_TRUE(s.stems[3].compressor->auto_makeup);
  EXPECT_EQ(s.stems[3].eq[0].type, lq::EqBandType::tilt);
  EXPECT_EQ(s.stems[4].file, fs::path("/srv/library/keys.wav"));
  EXPECT_EQ(s.stems[4].group, "music");
  // The canonical text names files relative to the session (movable folders), absolute ones as written.
  EXPECT_NE(s.canonical_text.find("/srv/library/keys.wav"), std::string::npos);
  EXPECT_EQ(s.canonical_text.find(dir.string()), std::string::npos);
}

struct BadSession {
  const char* text;
  int line;
  const char* key;
  const char* problem;
};

class SessionErrors : public ::testing::TestWithParam<BadSession> {};

TEST_P(SessionErrors, NameTheFileTheLineAndTheKey) {
  const BadSession bad = GetParam();
  const fs::path dir = lq::test::fresh_dir();
  const fs::path p = dir / "s.toml";
  lq::test::write_text_file(p, bad.text);
  try {
    lq::load_session(p);
    FAIL() << "accepted:\n" << bad.text;
  } catch (const lq::UserError& e) {
    const std::string m = e.what();
    const std::string head = p.string() + ":" + std::to_string(bad.line) + ": " + bad.key + ": ";
    EXPECT_EQ(m.rfind(head, 0), 0u) << "message: " << m << "\nexpected to start with: " << head;
    EXPECT_NE(m.find(bad.problem), std::string::npos) << "message: " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

const std::string kStems = kStem;
const std::string kCases[] = {
    "tempo = 120\n" + kStems,                                                                           // 0
    kStems + "volume = 3\n",                                                                            // 1
    kStems + "eq = [ { type = \"bell\", freq_hz = 100.0, gain_db = 2.0 },\n"
             "       { type = \"bell\", freq_hz = 900.0, gainn_db = 3.0 } ]\n",                          // 2
    kStems + "gain_db = \"loud\"\n",                                                                    // 3
    kStems + "\n\ngain_db = 40\n",                                                                      // 4
    kStems + "sends = [ { reverb = \"hall\", level_db = -12.0 } ]\n",                                   // 5
    kStems + "eq = [ { type = \"shelf\", freq_hz = 100.0 } ]\n",                                        // 6
    "[master]\nceiling_dbtp = 0.5\n" + kStems,                                                          // 7
    "[stems.kick]\ngroup = \"drums\"\n",                                                                // 8
    kStems + "compressor = { threshold_db = -20.0, ratio = 0.5 }\n",                                    // 9
    "[master]\nbit_depth = 20\n" + kStems,                                                              // 10
    "[reverbs.room]\nir = \"room.wav\"\nreturn_to = \"strings\"\n" + kStems,                            // 11
    kStems + "[groups.drums]\nsends = [ { reverb = \"room\" } ]\n"
             "[reverbs.room]\nir = \"room.wav\"\nreturn_to = \"drums\"\n",                             // 12
    kStems + "eq = [ { type = \"bell\", freq_hz = 100.0, slope_db_per_oct = 24 } ]\n",                  // 13
    "[master]\nformat = \"flac\"\n" + kStems,                                                           // 14
    kStems + "pan = nan\n",                                                                             // 15
    "[stems]\nkick = 3\n",                                                                              // 16
    "[stems.kick]\nfile = \"kick.wav\"\n",                                                              // 17
    "[master]\ntarget_lufs = -3\n" + kStems,                                                            // 18
    kStems + "[groups.drums]\nwidth = 2.5\n",                                                           // 19
    kStems + "eq = [ { type = \"bell\", gain_db = 3.0 } ]\n",                                           // 20
    kStems + "eq = { type = \"bell\" }\n",                                                              // 21
    "[master]\ndither = 1\n" + kStems,                                                                  // 22
    "[reverbs.room]\nir = \"room.wav\"\n" + kStems +
        "sends = [ { reverb = \"room\" },\n          { reverb = \"room\", level_db = -3.0 } ]\n",       // 23
    "[master.limiter]\nlookahead_ms = 0.1\n" + kStems,                                                  // 24
    kStems + "compressor = { detector = \"average\" }\n",                                             // 25
    kStems + "compressor = { rms_ms = 5.0 }\n",                                                       // 26
    kStems + "compressor = { detector = \"rms\", rms_ms = 0.01 }\n",                                  // 27
    "sample_rate = 44100.5\n" + kStems,                                                               // 28
};

INSTANTIATE_TEST_SUITE_P(
    Mistakes, SessionErrors,
    ::testing::Values(
        BadSession{kCases[0].c_str(), 1, "tempo", "unknown key (expected one of: sample_rate, album, master"},
        BadSession{kCases[1].c_str(), 4, "stems.kick.volume", "unknown key"},
        BadSession{kCases[2].c_str(), 5, "stems.kick.eq[1].gainn_db", "unknown key"},
        BadSession{kCases[3].c_str(), 4, "stems.kick.gain_db", "expected a number, got a string"},
        BadSession{kCases[4].c_str(), 6, "stems.kick.gain_db", "40 is out of range [-60, 24]"},
        BadSession{kCases[5].c_str(), 4, "stems.kick.sends[0].reverb", "no reverb named 'hall'"},
        BadSession{kCases[6].c_str(), 4, "stems.kick.eq[0].type", "unknown band type 'shelf'"},
        BadSession{kCases[7].c_str(), 2, "master.ceiling_dbtp", "0.5 is out of range [-20, 0]"},
        BadSession{kCases[8].c_str(), 1, "stems.kick.file", "missing"},
        BadSession{kCases[9].c_str(), 4, "stems.kick.compressor.ratio", "0.5 is out of range [1, 100]"},
        BadSession{kCases[10].c_str(), 2, "master.bit_depth", "20 is not one of 16, 24, 32"},
        BadSession{kCases[11].c_str(), 3, "reverbs.room.return_to", "no group named 'strings'"},
        BadSession{kCases[12].c_str(), 5, "groups.drums.sends", "must return to the master"},
        BadSession{kCases[13].c_str(), 4, "stems.kick.eq[0].slope_db_per_oct", "low_pass and high_pass"},
        BadSession{kCases[14].c_str(), 2, "master.format", "follows the output file's extension"},
        BadSession{kCases[15].c_str(), 4, "stems.kick.pan", "nan is out of range [-1, 1]"},
        BadSession{kCases[16].c_str(), 2, "stems.kick", "expected a table, got an integer"},
        BadSession{kCases[17].c_str(), 1, "stems.kick.group", "missing"},
        BadSession{kCases[18].c_str(), 2, "master.target_lufs", "-3 is out of range [-40, -5]"},
        BadSession{kCases[19].c_str(), 5, "groups.drums.width", "2.5 is out of range [0, 2]"},
        BadSession{kCases[20].c_str(), 4, "stems.kick.eq[0].freq_hz", "missing"},
        BadSession{kCases[21].c_str(), 4, "stems.kick.eq", "expected an array, got a table"},
        BadSession{kCases[22].c_str(), 2, "master.dither", "expected true or false, got an integer"},
        BadSession{kCases[23].c_str(), 7, "stems.kick.sends[1].reverb", "a second send to reverb 'room'"},
        BadSession{kCases[24].c_str(), 2, "master.limiter.lookahead_ms", "0.1 is out of range [0.5, 20]"},
        BadSession{kCases[25].c_str(), 4, "stems.kick.compressor.detector", "'average': use \"peak\" or \"rms\""},
        BadSession{kCases[26].c_str(), 4, "stems.kick.compressor.rms_ms", "only with detector = \"rms\""},
        BadSession{kCases[27].c_str(), 4, "stems.kick.compressor.rms_ms", "0.01 is out of range [0.1, 1000]"},
        BadSession{kCases[28].c_str(), 1, "sample_rate", "44100.5 is not a whole number of Hz"}));

TEST(Session, SyntaxErrorsAndDuplicateTablesGiveTheLineAndColumn) {
  const fs::path dir = lq::test::fresh_dir();
  for (const auto& [text, head] : {std::pair<std::string, std::string>{kStems + "gain_db = = 3\n", ":4:"},
                                   {kStems + "[stems.kick]\n", ":4:"}}) {
    try {
      load_text(dir, text);
      ADD_FAILURE() << "accepted:\n" << text;
    } catch (const lq::UserError& e) {
      EXPECT_EQ(std::string(e.what()).rfind((dir / "s.toml").string() + head, 0), 0u) << e.what();
    }
  }
}

TEST(Session, NoStemsMissingOrUnreadableFilesAreErrorsNamingTheFile) {
  const fs::path dir = lq::test::fresh_dir();
  for (const char* text : {"[master]\ntarget_lufs = -14.0\n", "[stems]\n"}) {
    try {
      load_text(dir, text);
      ADD_FAILURE() << text;
    } catch (const lq::UserError& e) {
      EXPECT_NE(std::string(e.what()).find("s.toml"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("stems: no stems"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(lq::load_session(dir / "missing.toml"), lq::UserError);
  EXPECT_THROW(lq::load_session(dir), lq::UserError);
}

TEST(Session, RelativePathsResolveAgainstTheSessionFolder) {
  const fs::path dir = lq::test::fresh_dir();
  fs::create_directories(dir / "song");
  const fs::path p = dir / "song" / "s.toml";
  lq::test::write_text_file(p, "[stems.a]\nfile = \"../shared/a.wav\"\ngroup = \"music\"\n"
                               "[stems.b]\nfile = \"./b.flac\"\ngroup = \"music\"\n"
                               "[reverbs.r]\nir = \"irs/r.wav\"\n");
  const lq::Session s = lq::load_session(p);
  EXPECT_EQ(s.stems[0].file, (dir / "shared" / "a.wav").lexically_normal());
  EXPECT_EQ(s.stems[1].file, (dir / "song" / "b.flac").lexically_normal());
  EXPECT_EQ(s.reverbs[0].ir, (dir / "song" / "irs" / "r.wav").lexically_normal());
  EXPECT_TRUE(s.stems[0].file.is_absolute());
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].name, "music");
}

TEST(Session, CanonicalTextDependsOnTheSettingsOnly) {
  const fs::path dir = lq::test::fresh_dir();
  const std::string base = "[stems.kick]\nfile = \"kick.wav\"\ngroup = \"drums\"\n";
  const std::string explicit_defaults =
      "[stems.kick]\ngroup = \"drums\"\ngain_db = 0.0\npan = 0\nfile = \"kick.wav\"\n"
      "[master]\nceiling_dbtp = -1.0\nbit_depth = 24\n";
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b" / "deeper");
  lq::test::write_text_file(dir / "a" / "s.toml", base);
  lq::test::write_text_file(dir / "b" / "deeper" / "s.toml", explicit_defaults);
  const std::string t1 = lq::load_session(dir / "a" / "s.toml").canonical_text;
  const std::string t2 = lq::load_session(dir / "b" / "deeper" / "s.toml").canonical_text;
  EXPECT_EQ(t1, t2) << "defaults written out, keys reordered or the folder moved must not change it";
  lq::test::write_text_file(dir / "a" / "s.toml", base + "gain_db = 0.5\n");
  EXPECT_NE(lq::load_session(dir / "a" / "s.toml").canonical_text, t1);
  lq::test::write_text_file(dir / "a" / "s.toml", "[stems.kick]\nfile = \"kick2.wav\"\ngroup = \"drums\"\n");
  EXPECT_NE(lq::load_session(dir / "a" / "s.toml").canonical_text, t1);
  // The compressor's detector: "peak" written out is the default; "rms" and its window change it.
  const std::string comp = base + "compressor = { threshold_db = -20.0";
  lq::test::write_text_file(dir / "a" / "s.toml", comp + " }\n");
  const std::string peak = lq::load_session(dir / "a" / "s.toml").canonical_text;
  lq::test::write_text_file(dir / "a" / "s.toml", comp + ", detector = \"peak\" }\n");
  EXPECT_EQ(lq::load_session(dir / "a" / "s.toml").canonical_text, peak);
  lq::test::write_text_file(dir / "a" / "s.toml", comp + ", detector = \"rms\" }\n");
  const std::string rms = lq::load_session(dir / "a" / "s.toml").canonical_text;
  EXPECT_NE(rms, peak);
  lq::test::write_text_file(dir / "a" / "s.toml", comp + ", detector = \"rms\", rms_ms = 20.0 }\n");
  EXPECT_NE(lq::load_session(dir / "a" / "s.toml").canonical_text, rms);
}

TEST(DefaultGrouping, MatchesNameFragmentsCaseInsensitively) {
  const std::pair<const char*, const char*> cases[] = {
      {"Lead Vocal.wav", "vocals"}, {"BGV_VOX_2.flac", "vocals"}, {"Kick In.wav", "drums"},
      {"snare_top.wav", "drums"},   {"HiHat.aif", "drums"},       {"Percussion.ogg", "drums"},
      {"Drum Room.wav", "drums"},   {"Bass DI.wav", "bass"},      {"Synth BASS.wav", "bass"},
      {"Bass Drum.wav", "drums"},   {"Piano.wav", "music"},       {"Guitar L.wav", "music"},
      {"vocal bass.wav", "vocals"}};
  for (const auto& [name, group] : cases) EXPECT_EQ(lq::default_group_for(name), group) << name;
}

TEST(StemFolder, EveryAudioFileBecomesAStemSortedByNameWithTheDefaultPreset) {
  const fs::path dir = lq::test::fresh_dir();
  for (const char* f : {"b_Bass.WAV", "a kick.wav", "Vox.flac", "piano.aiff", "strings.Ogg", "notes.txt",
                        ".hidden.wav", "._Vox.flac"}) {
    lq::test::write_text_file(dir / f, "x");
  }
  fs::create_directory(dir / "folder.wav");
  const lq::Session s = lq::session_from_stem_dir(dir);
  EXPECT_EQ(s.source, dir);
  ASSERT_EQ(s.stems.size(), 5u);
  const std::pair<const char*, const char*> expected[] = {
      {"Vox", "vocals"}, {"a kick", "drums"}, {"b_Bass", "bass"}, {"piano", "music"}, {"strings", "music"}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(s.stems[i].name, expected[i].first);
    EXPECT_EQ(s.stems[i].group, expected[i].second);
    EXPECT_TRUE(s.stems[i].file.is_absolute());
    EXPECT_EQ(s.stems[i].file.parent_path(), fs::absolute(dir).lexically_normal());
    EXPECT_TRUE(s.stems[i].eq.empty());
    EXPECT_FALSE(s.stems[i].compressor);
  }
  ASSERT_EQ(s.groups.size(), 4u);
  for (const char* g : {"vocals", "drums", "bass", "music"}) EXPECT_NE(find_group(s, g), nullptr) << g;
  EXPECT_EQ(s.master.target_lufs, -14.0);
  EXPECT_EQ(s.master.limiter.ceiling_dbtp, -1.0);
  EXPECT_EQ(s.master.encode.bit_depth, 24);
  EXPECT_TRUE(s.master.encode.dither);
  EXPECT_FALSE(s.sample_rate);
  EXPECT_FALSE(s.master.compressor);
  EXPECT_TRUE(s.reverbs.empty());
  EXPECT_FALSE(s.canonical_text.empty());
}

TEST(StemFolder, AFolderWithoutAudioFilesOrNoFolderAtAllIsAnError) {
  const fs::path dir = lq::test::fresh_dir();
  EXPECT_THROW(lq::session_from_stem_dir(dir), lq::UserError);
  lq::test::write_text_file(dir / "readme.txt", "x");
  try {
    lq::session_from_stem_dir(dir);
    ADD_FAILURE() << "accepted a folder without audio";
  } catch (const lq::UserError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no audio files"), std::string::npos) << e.what();
  }
  EXPECT_THROW(lq::session_from_stem_dir(dir / "missing"), lq::UserError);
  EXPECT_THROW(lq::session_from_stem_dir(dir / "readme.txt"), lq::UserError);
}
