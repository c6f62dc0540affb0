// labels: browser
// The HTML reports in a real browser (Debian's headless Chromium, installed by
// scripts/install-deps.sh): a song's page, the demo song's (with codec checks) and a six-song
// batch's summary (one song fails) load with
// no console message at all (no script error, no blocked request), fetch nothing (the page's own
// resource list is empty and its content security policy forbids any fetch), every plot is there
// with the report's values on its lines, the summary lists the failed song first, sorts by a column
// when its heading is clicked, filters by status and links each rendered song to its page; and a
// screenshot of each is written (LQ_SCREENSHOT_DIR, or the test's folder).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kRate = 48000;

// A song folder: `seconds` of noise at `level` with a louder second (a stem folder of one file).
void song(const fs::path& dir, double seconds, double level, unsigned seed) {
  fs::create_directories(dir);
  std::mt19937 rng(lq::test::test_seed() + seed);
  std::normal_distribution<double> g(0.0, level);
  std::vector<std::vector<float>> x(2, std::vector<float>(size_t(seconds * kRate)));
  for (auto& c : x) {
    for (size_t i = 0; i < c.size(); ++i) c[i] = float(g(rng) * (i >= size_t(kRate) && i < size_t(2 * kRate) ? 3.0 : 1.0));
  }
  lq::test::write_audio_file(dir / "mix.wav", x, kRate);
}

struct Browser {
  std::string out, err;
  int status = -1;
};

// Chromium, headless, on `page`; `args` before the address. Console messages go to stderr.
Browser chromium(const fs::path& page, const std::string& args) {
  const fs::path out = page.string() + ".out", err = page.string() + ".err";
  const std::string cmd = "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                          "--no-first-run --disable-background-networking --disable-component-update "
                          "--enable-logging=stderr --v=0 " +
                          args + " 'file://" + page.string() + "' > '" + out.string() + "' 2> '" + err.string() + "'";
  Browser b;
  b.status = std::system(cmd.c_str());
  b.out = lq::test::read_text_file(out);
  b.err = lq::test::read_text_file(err);
  return b;
}

// The page loaded in a frame of a harness beside it, which reads it after load: the resources it
// fetched, every element with data-series (its values and the points of its line), the SVGs' ids,
// and on a summary page the table's rows before and after a click on the third column's heading,
// the rows shown with the status filter at "failed", and the links.
json inspect(const fs::path& page) {
  const fs::path harness = page.parent_path() / "harness.html";
  lq::test::write_text_file(harness, R"(<!DOCTYPE html><html><body><iframe id="f" src=")" + page.filename().string() +
                                         R"("></iframe><pre id="result"></pre><script>
var f=document.getElementById('f');
f.onload=function(){
  var w=f.contentWindow,d=w.document,r={};
  r.resources=w.performance.getEntriesByType('resource').map(function(e){return e.name;});
  r.series=[].map.call(d.querySelectorAll('[data-series]'),function(e){
    var p=e.getAttribute('d');
    return {key:e.getAttribute('data-series'),values:JSON.parse(e.getAttribute('data-values')),
            points:p===null?null:(p.match(/[ML]/g)||[]).length,svg:e.closest('svg').id};});
  r.svgs=[].map.call(d.querySelectorAll('svg'),function(e){return e.id;});
  var t=d.getElementById('songs');
  if(t){
    var rows=function(){return [].map.call(t.tBodies[0].rows,function(x){return x.cells[0].getAttribute('data-v');});};
    r.initial=rows();
    t.tHead.rows[0].cells[2].click();
    r.sorted=rows();
    r.sorted_values=[].map.call(t.tBodies[0].rows,function(x){return x.cells[2].getAttribute('data-v');});
    var sel=d.getElementById('status-filter');sel.value='failed';sel.dispatchEvent(new w.Event('change'));
    r.visible=[].filter.call(t.tBodies[0].rows,function(x){return x.style.display!=='none';}).map(function(x){return x.cells[0].getAttribute('data-v');});
    r.links=[].map.call(t.querySelectorAll('a'),function(a){return a.getAttribute('href');});
  }
  document.getElementById('result').textContent=JSON.stringify(r);
};
</script></body></html>)");
  const Browser b = chromium(harness, "--allow-file-access-from-files --virtual-time-budget=10000 --dump-dom");
  EXPECT_EQ(b.status, 0) << b.err;
  const auto begin = b.out.find("<pre id=\"result\">"), end = b.out.find("</pre>", begin);
  if (begin == std::string::npos || end == std::string::npos) {
    ADD_FAILURE() << "the harness wrote no result: " << b.out.substr(0, 400) << b.err;
    return json::object();
  }
  std::string text = b.out.substr(begin + 17, end - begin - 17);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}}) {
    for (size_t p = text.find(from); p != std::string::npos; p = text.find(from, p + to.size())) text.replace(p, from.size(), to);
  }
  return json::parse(text);
}

// The page alone: no console message at all (errors, warnings, blocked requests), and a screenshot.
void loads_cleanly_and_shoot(const fs::path& page, const std::string& shot_name) {
  const char* dir = std::getenv("LQ_SCREENSHOT_DIR");
  const fs::path shot = (dir ? fs::path(dir) : page.parent_path()) / shot_name;
  const Browser b = chromium(page, "--hide-scrollbars --window-size=1050,2400 --screenshot='" + shot.string() + "'");
  EXPECT_EQ(b.status, 0) << b.err;
  EXPECT_EQ(b.err.find(":CONSOLE"), std::string::npos) << b.err;
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 20000u);  // a drawn page, not a blank one
}

// A report value at a dotted path under master.series.
json series_at(const json& series, const std::string& key) {
  json v = series;
  const std::string prefix = "master.series.";
  std::string path = key.substr(prefix.size());
  for (size_t p = 0; p != std::string::npos;) {
    const size_t q = path.find('.', p);
    const std::string part = path.substr(p, q == std::string::npos ? q : q - p);
    v = v.is_array() ? v.at(std::stoul(part)) : v.at(part);
    p = q == std::string::npos ? q : q + 1;
  }
  return v;
}

}  // namespace

// A page's lines against its report: one per series (and per compressor), each with the report's
// values and one point per value.
void draws_the_series(const json& seen, const json& series) {
  ASSERT_TRUE(seen.contains("resources"));
  EXPECT_TRUE(seen["resources"].empty()) << seen["resources"].dump();
  for (const char* id : {"plot-loudness", "plot-gain-reduction", "plot-spectrum"}) {
    EXPECT_NE(std::find(seen["svgs"].begin(), seen["svgs"].end(), id), seen["svgs"].end()) << id;
  }
  ASSERT_EQ(seen.at("series").size(), 6u + series.at("compressors").size());
  for (const auto& s : seen["series"]) {
    const std::string key = s.at("key");
    SCOPED_TRACE(key);
    const json want = series_at(series, key);
    EXPECT_EQ(s.at("values"), want);
    int finite = 0;
    for (const auto& v : want) finite += v.is_number() ? 1 : 0;
    EXPECT_EQ(s.at("points").get<int>(), finite);  // one point per value, none invented
  }
}

TEST(HtmlBrowser, TheSongPageLoadsCleanlyFetchesNothingAndDrawsTheReportsSeries) {
  const fs::path dir = lq::test::fresh_dir();
  song(dir / "song", 8.0, 0.08, 1);
  const auto r = lq::test::run_lacquer({"render", (dir / "song").string(), "-o", (dir / "song.wav").string(), "--html", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(lq::test::read_text_file(dir / "song.json"));
  loads_cleanly_and_shoot(dir / "song.html", "song-report.png");
  draws_the_series(inspect(dir / "song.html"), report.at("master").at("series"));
}

TEST(HtmlBrowser, TheDemoSongsPageWithItsCodecsAndCompressors) {
  const fs::path demo = lq::test::demo_dir(true);
  if (demo.empty()) GTEST_SKIP() << "demo material could not be fetched (scripts/fetch-demo.sh needs Debian's package sources)";
  const fs::path dir = lq::test::fresh_dir();
  // The demo session with its paths made absolute (they are relative to the song's folder) and
  // two codec checks.
  const fs::path song = demo / "songs" / "chaos_god";
  std::string session = lq::test::read_text_file(lq::test::source_dir() / "scripts" / "demo_session.toml");
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t p = session.find(from); p != std::string::npos; p = session.find(from, p + to.size())) session.replace(p, from.size(), to);
  };
  replace_all("file = \"", "file = \"" + song.string() + "/");
  replace_all("ir = \"", "ir = \"" + song.string() + "/");
  replace_all("[master]\n", "[master]\ncodec_check = [\"aac_256\", \"opus_160\"]\n");
  lq::test::write_text_file(dir / "session.toml", session);
  const auto r = lq::test::run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "demo.wav").string(), "--html", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err << session;
  const json report = json::parse(lq::test::read_text_file(dir / "demo.json"));
  const json& series = report.at("master").at("series");
  EXPECT_EQ(series.at("compressors").size(), 2u);  // the guitar stem's and the band group's
  loads_cleanly_and_shoot(dir / "demo.html", "demo-report.png");
  draws_the_series(inspect(dir / "demo.html"), series);
  // The codec table: one row per codec, with the report's decoded peaks.
  const std::string html = lq::test::read_text_file(dir / "demo.html");
  const auto table = html.find("<table id=\"codecs\">");
  ASSERT_NE(table, std::string::npos);
  for (const auto& c : report["master"]["codecs"]["checks"]) {
    char peak[32];
    std::snprintf(peak, sizeof peak, "%.2f&nbsp;dBTP", c.at("decoded_true_peak_dbtp").get<double>());
    const auto row = html.find("<td>" + c.at("codec").get<std::string>() + "</td>", table);
    ASSERT_NE(row, std::string::npos) << c.at("codec");
    EXPECT_NE(html.find(peak, row), std::string::npos) << peak;
  }
}

TEST(HtmlBrowser, TheSummaryListsFailuresFirstSortsFiltersAndLinksEachSong) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path catalog = dir / "catalog";
  for (int i = 0; i < 5; ++i) song(catalog / ("song-" + std::to_string(i + 1)), 3.0 + i * 0.5, 0.02 * (i + 1), unsigned(10 + i));
  fs::create_directories(catalog / "song-6");
  lq::test::write_text_file(catalog / "song-6" / "mix.wav", "not audio");
  const fs::path out = dir / "out";
  const auto r = lq::test::run_lacquer({"batch", catalog.string(), "-o", out.string(), "--html", "-q", "--jobs", "2"});
  ASSERT_EQ(r.exit_code, 1) << r.err;  // one song failed
  const json summary = json::parse(lq::test::read_text_file(out / "summary.json"));
  loads_cleanly_and_shoot(out / "summary.html", "summary-report.png");
  for (int i = 1; i <= 5; ++i) loads_cleanly_and_shoot(out / ("song-" + std::to_string(i)) / "report.html", "song.png");
  const json seen = inspect(out / "summary.html");
  ASSERT_TRUE(seen.contains("initial"));
  EXPECT_TRUE(seen["resources"].empty()) << seen["resources"].dump();
  ASSERT_EQ(seen["initial"].size(), 6u);
  EXPECT_EQ(seen["initial"][0], "song-6");  // the failed song first
  // Sorted by integrated loudness (the third column), failed (no figure) last.
  std::vector<double> sorted;
  for (const auto& v : seen["sorted_values"]) {
    if (!v.get<std::string>().empty()) sorted.push_back(std::stod(v.get<std::string>()));
  }
  EXPECT_EQ(sorted.size(), 5u);
  EXPECT_TRUE(std::is_sorted(sorted.begin(), sorted.end()));
  EXPECT_EQ(seen["sorted"][5], "song-6");
  EXPECT_EQ(seen["visible"], json::array({"song-6"}));
  json links = json::array();
  for (int i = 1; i <= 5; ++i) links.push_back("song-" + std::to_string(i) + "/report.html");
  json got = seen["links"];
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, links);
  // The distributions carry every song's figure, in the summary's order.
  int plots = 0;
  for (const auto& s : seen["series"]) {
    const std::string key = s.at("key");
    ASSERT_EQ(key.rfind("songs[].", 0), 0u) << key;
    json want = json::array();
    for (const auto& row : summary["songs"]) want.push_back(row.contains(key.substr(8)) ? row[key.substr(8)] : json(nullptr));
    EXPECT_EQ(s.at("values"), want) << key;
    ++plots;
  }
  EXPECT_EQ(plots, 4);
}
