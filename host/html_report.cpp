#include "host/html_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace lq {

namespace {

using nlohmann::json;

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

// A number from the report with its unit, or a dash.
std::string figure(const json& v, int decimals, const char* unit = "") {
  if (!v.is_number()) return "&ndash;";
  return fixed(v.get<double>(), decimals) + (*unit ? std::string("&nbsp;") + unit : "");
}

const json& at_or_null(const json& j, std::initializer_list<const char*> path) {
  static const json null;
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return null;
    p = &(*p)[k];
  }
  return *p;
}

const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#1d2330;background:#fafbfc;max-width:1000px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
.sub{color:#5b6473;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{padding:4px 10px;border-bottom:1px solid #e3e6eb;text-align:right}
th:first-child,td:first-child,td.text{text-align:left}th{background:#eef1f5;font-weight:600}
.ok{color:#17804a;font-weight:600}.bad{color:#c0262d;font-weight:600}.warn{color:#a86400}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}.card{background:#fff;border:1px solid #dfe3e8;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:19px}.card span{font-size:12px;color:#5b6473}
svg{background:#fff;border:1px solid #dfe3e8;border-radius:6px;display:block;margin:6px 0}
svg text{font-size:11px;fill:#3a4250}svg .grid{stroke:#e8ebef;stroke-width:1}svg .axis{stroke:#8a93a3;stroke-width:1}
svg .ref{stroke:#c0262d;stroke-width:1.2;stroke-dasharray:5 4}svg .reflabel{fill:#c0262d}
.s-before{stroke:#9aa3b2;stroke-width:1.2;fill:none}.s-after{stroke:#2463c9;stroke-width:1.5;fill:none}
.s-moment{stroke:#8fb4ee;stroke-width:0.8;fill:none}.s-gr{stroke:#d0642a;stroke-width:1.2;fill:none}
.bar{fill:#5b8fdc}
.s-c0{stroke:#2463c9}.s-c1{stroke:#d0642a}.s-c2{stroke:#17804a}.s-c3{stroke:#8e3bb8}.s-c4{stroke:#b8962e}.s-c5{stroke:#2aa3b8}
.s-c0,.s-c1,.s-c2,.s-c3,.s-c4,.s-c5{stroke-width:1.1;fill:none}
ul.warnings li{color:#a86400;font-size:13px}
)";

// A plot: linear or logarithmic x, linear y, axes with ticks and labels, lines with their values.
class Plot {
 public:
  struct Axis {
    double lo, hi;
    bool log;
    std::string label;
  };
  Plot(std::string id, Axis x, Axis y, int width = 940, int height = 250) : id_(std::move(id)), x_(x), y_(y), w_(width), h_(height) {}
  void whole_y() { whole_y_ = true; }  // counts: integer ticks only

  double px(double x) const {
    const double t = x_.log ? (std::log10(x) - std::log10(x_.lo)) / (std::log10(x_.hi) - std::log10(x_.lo)) : (x - x_.lo) / (x_.hi - x_.lo);
    return kLeft + std::clamp(t, 0.0, 1.0) * (w_ - kLeft - kRight);
  }
  double py(double y) const {
    const double t = (y - y_.lo) / (y_.hi - y_.lo);
    return h_ - kBottom - std::clamp(t, 0.0, 1.0) * (h_ - kTop - kBottom);
  }

  // One line through (xs[i], sign * ys[i]); a null y breaks it. `key`: where ys come from in the report.
  void line(const std::string& key, const std::vector<double>& xs, const json& ys, const std::string& cls,
            const std::string& legend, double sign = 1.0) {
    std::string d;
    bool pen = false;
    for (size_t i = 0; i < xs.size() && i < ys.size(); ++i) {
      if (!ys[i].is_number()) {
        pen = false;
        continue;
      }
      d += pen ? 'L' : 'M';
      d += fixed(px(xs[i]), 1);
      d += ' ';
      d += fixed(py(sign * ys[i].get<double>()), 1);
      pen = true;
    }
    body_ << "<path class=\"" << cls << "\" data-series=\"" << esc(key) << "\" data-values=\"" << esc(ys.dump())
          << "\" d=\"" << d << "\"/>";
    legends_.emplace_back(cls, legend);
  }
  void reference(double y, const std::string& label) {
    body_ << "<line class=\"ref\" x1=\"" << kLeft << "\" x2=\"" << w_ - kRight << "\" y1=\"" << fixed(py(y), 1) << "\" y2=\""
          << fixed(py(y), 1) << "\"/><text class=\"reflabel\" x=\"" << w_ - kRight - 4 << "\" y=\"" << fixed(py(y) - 4, 1)
          << "\" text-anchor=\"end\">" << esc(label) << "</text>";
  }
  void bar(double x0, double x1, double count, const std::string& title) {
    body_ << "<rect class=\"bar\" x=\"" << fixed(px(x0) + 1, 1) << "\" width=\"" << fixed(std::max(1.0, px(x1) - px(x0) - 2), 1)
          << "\" y=\"" << fixed(py(count), 1) << "\" height=\"" << fixed(py(0) - py(count), 1) << "\"><title>" << esc(title)
          << "</title></rect>";
  }
  void raw(const std::string& s) { body_ << s; }

  std::string svg(const std::vector<double>& xticks, const std::vector<std::string>& xlabels) const {
    std::ostringstream o;
    o << "<svg id=\"" << id_ << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w_ << "\" height=\"" << h_
      << "\" viewBox=\"0 0 " << w_ << " " << h_ << "\" role=\"img\">";
    for (double t : nice_ticks(y_.lo, y_.hi)) {
      if (whole_y_ && t != std::floor(t)) continue;
      o << "<line class=\"grid\" x1=\"" << kLeft << "\" x2=\"" << w_ - kRight << "\" y1=\"" << fixed(py(t), 1) << "\" y2=\""
        << fixed(py(t), 1) << "\"/><text x=\"" << kLeft - 6 << "\" y=\"" << fixed(py(t) + 4, 1) << "\" text-anchor=\"end\">"
        << trim(t) << "</text>";
    }
    for (size_t i = 0; i < xticks.size(); ++i) {
      o << "<line class=\"grid\" y1=\"" << kTop << "\" y2=\"" << h_ - kBottom << "\" x1=\"" << fixed(px(xticks[i]), 1) << "\" x2=\""
        << fixed(px(xticks[i]), 1) << "\"/><text x=\"" << fixed(px(xticks[i]), 1) << "\" y=\"" << h_ - kBottom + 14
        << "\" text-anchor=\"middle\">" << esc(xlabels[i]) << "</text>";
    }
    o << "<line class=\"axis\" x1=\"" << kLeft << "\" x2=\"" << kLeft << "\" y1=\"" << kTop << "\" y2=\"" << h_ - kBottom << "\"/>"
      << "<line class=\"axis\" x1=\"" << kLeft << "\" x2=\"" << w_ - kRight << "\" y1=\"" << h_ - kBottom << "\" y2=\""
      << h_ - kBottom << "\"/>";
    o << "<text x=\"" << (kLeft + w_ - kRight) / 2 << "\" y=\"" << h_ - 6 << "\" text-anchor=\"middle\">" << esc(x_.label) << "</text>";
    o << "<text transform=\"translate(14 " << (kTop + h_ - kBottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">" << esc(y_.label)
      << "</text>";
    o << body_.str();
    int lx = kLeft + 10;
    for (const auto& [cls, legend] : legends_) {
      o << "<line class=\"" << cls << "\" x1=\"" << lx << "\" x2=\"" << lx + 18 << "\" y1=\"" << kTop - 8 << "\" y2=\"" << kTop - 8
        << "\"/><text x=\"" << lx + 22 << "\" y=\"" << kTop - 4 << "\">" << esc(legend) << "</text>";
      lx += 30 + 7 * int(legend.size());
    }
    o << "</svg>";
    return o.str();
  }

  // Ticks every 1, 2, 5 or 10^k apart, 4 to 10 of them over [lo, hi].
  static std::vector<double> nice_ticks(double lo, double hi) {
    std::vector<double> t;
    if (!(hi > lo)) return t;
    const double raw = (hi - lo) / 6.0, p = std::pow(10.0, std::floor(std::log10(raw)));
    double step = p;
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
      if (m * p >= raw) {
        step = m * p;
        break;
      }
    }
    for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9; v += step) t.push_back(std::fabs(v) < 1e-9 ? 0.0 : v);
    return t;
  }
  static std::string trim(double v) {
    std::string s = fixed(v, 2);
    while (s.find('.') != std::string::npos && (s.back() == '0' || s.back() == '.')) {
      const bool dot = s.back() == '.';
      s.pop_back();
      if (dot) break;
    }
    return s;
  }

 private:
  static constexpr int kLeft = 56, kRight = 16, kTop = 24, kBottom = 36;
  std::string id_;
  Axis x_, y_;
  int w_, h_;
  std::ostringstream body_;
  std::vector<std::pair<std::string, std::string>> legends_;
  bool whole_y_ = false;
};

// The finite numbers among several series, for an axis' range.
void extent(const json& ys, double& lo, double& hi, double sign = 1.0) {
  for (const auto& v : ys) {
    if (!v.is_number()) continue;
    lo = std::min(lo, sign * v.get<double>());
    hi = std::max(hi, sign * v.get<double>());
  }
}

double floor_to(double v, double step) { return std::floor(v / step) * step; }
double ceil_to(double v, double step) { return std::ceil(v / step) * step; }

std::string minutes(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%d:%06.3f", int(s / 60.0), s - 60.0 * int(s / 60.0));
  return b;
}

// Time ticks (seconds) over [0, duration], labelled m:ss.
void time_ticks(double duration, std::vector<double>& ticks, std::vector<std::string>& labels) {
  double step = 10.0;
  for (double s : {1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0}) {
    step = s;
    if (duration / s <= 12.0) break;
  }
  for (double t = 0.0; t <= duration + 1e-9; t += step) {
    ticks.push_back(t);
    char b[32];
    std::snprintf(b, sizeof b, "%d:%02d", int(t) / 60, int(t) % 60);
    labels.push_back(b);
  }
}

std::string card(const std::string& value, const std::string& what, const std::string& cls = "") {
  return "<div class=\"card\"><b class=\"" + cls + "\">" + value + "</b><span>" + what + "</span></div>";
}

// The times of a series' steps: entry k ends at (k + 1) * step.
std::vector<double> step_times(size_t n, double step) {
  std::vector<double> xs(n);
  for (size_t k = 0; k < n; ++k) xs[k] = double(k + 1) * step;
  return xs;
}

// A plot over the song's time, with m:ss ticks.
std::string over_time(const Plot& p, double duration) {
  std::vector<double> ticks;
  std::vector<std::string> labels;
  time_ticks(duration, ticks, labels);
  return p.svg(ticks, labels);
}

std::string loudness_plot(const json& series, const json& master, double duration) {
  const json& before = series.at("before");
  const json& after = series.at("after");
  const double step = series.at("step_s").get<double>();
  const std::vector<double> xs = step_times(after.at("short_term_lufs").size(), step);
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  for (const json* s : {&before.at("short_term_lufs"), &after.at("short_term_lufs"), &after.at("momentary_lufs")}) extent(*s, lo, hi);
  const json& target = master.at("target_lufs");
  if (target.is_number()) {
    lo = std::min(lo, target.get<double>());
    hi = std::max(hi, target.get<double>());
  }
  if (!std::isfinite(lo)) lo = -40.0, hi = 0.0;
  lo = std::max(-70.0, floor_to(lo - 2.0, 5.0));
  hi = ceil_to(hi + 1.0, 5.0);
  lo = std::max(lo, hi - 35.0);  // fades and silence below that are drawn at the bottom
  Plot p("plot-loudness", {0.0, std::max(duration, step), false, "time (m:ss)"}, {lo, hi, false, "loudness (LUFS)"});
  p.line("master.series.after.momentary_lufs", xs, after.at("momentary_lufs"), "s-moment", "momentary, after");
  p.line("master.series.before.short_term_lufs", xs, before.at("short_term_lufs"), "s-before", "short-term, before");
  p.line("master.series.after.short_term_lufs", xs, after.at("short_term_lufs"), "s-after", "short-term, after");
  if (target.is_number()) p.reference(target.get<double>(), "target " + fixed(target.get<double>(), 1) + " LUFS");
  return over_time(p, duration);
}

// Gain reductions over time, drawn downwards from 0 dB, at least 3 dB deep: one line per entry
// {key in the report, values, class, legend}.
struct ReductionLine {
  std::string key;
  const json& values;
  std::string cls, legend;
};
std::string reduction_plot(const std::string& id, const std::vector<ReductionLine>& lines, double step, double duration,
                           int height) {
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  for (const auto& l : lines) extent(l.values, lo, hi);
  const double depth = std::max(3.0, ceil_to(std::isfinite(hi) ? hi : 0.0, 1.0));
  Plot p(id, {0.0, std::max(duration, step), false, "time (m:ss)"}, {-depth, 0.0, false, "gain reduction (dB)"}, 940, height);
  for (const auto& l : lines) p.line(l.key, step_times(l.values.size(), step), l.values, l.cls, l.legend, -1.0);
  return over_time(p, duration);
}

std::string gain_reduction_plot(const json& series, double duration) {
  return reduction_plot("plot-gain-reduction",
                        {{"master.series.limiter_gain_reduction_db", series.at("limiter_gain_reduction_db"), "s-gr",
                          "limiter, per 100 ms"}},
                        series.at("step_s").get<double>(), duration, 200);
}

// Each compressor's largest reduction per 100 ms, one line per stem or group.
std::string compressor_plot(const json& series, double duration) {
  const json& comps = series.at("compressors");
  std::vector<ReductionLine> lines;
  for (size_t i = 0; i < comps.size(); ++i) {
    lines.push_back({"master.series.compressors." + std::to_string(i) + ".gain_reduction_db", comps[i].at("gain_reduction_db"),
                     "s-c" + std::to_string(i % 6), comps[i].at("bus").get<std::string>()});
  }
  return reduction_plot("plot-compressors", lines, series.at("step_s").get<double>(), duration, 220);
}

std::string spectrum_plot(const json& series) {
  const json& sp = series.at("spectrum");
  std::vector<double> xs;
  for (const auto& f : sp.at("hz")) xs.push_back(f.get<double>());
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  extent(sp.at("before_db"), lo, hi);
  extent(sp.at("after_db"), lo, hi);
  if (!std::isfinite(lo)) lo = -100.0, hi = 0.0;
  lo = floor_to(lo - 3.0, 10.0);
  hi = ceil_to(hi + 3.0, 10.0);
  Plot p("plot-spectrum", {20.0, 22000.0, true, "frequency (Hz), 1/3-octave bands"}, {lo, hi, false, "level (dB, mean square per band)"});
  p.line("master.series.spectrum.before_db", xs, sp.at("before_db"), "s-before", "before");
  p.line("master.series.spectrum.after_db", xs, sp.at("after_db"), "s-after", "after");
  const std::vector<double> ticks = {31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000};
  const std::vector<std::string> labels = {"31.5", "63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k"};
  return p.svg(ticks, labels);
}

std::string dynamics_rows(const json& items, const char* kind) {
  std::string o;
  for (const auto& it : items) {
    const json& c = at_or_null(it, {"compressor"});
    if (c.is_null()) continue;
    o += "<tr><td>" + std::string(kind) + " " + esc(it.value("name", std::string("?"))) + "</td><td>" +
         figure(c.at("max_gain_reduction_db"), 2, "dB") + "</td><td>" + figure(c.at("mean_gain_reduction_db"), 2, "dB") + "</td></tr>";
  }
  return o;
}

std::string codec_table(const json& codecs) {
  std::string o = "<p class=\"sub\">Decoded true peaks (the band-limited reconstruction's bound) against the codec ceiling of " +
                  figure(codecs.at("ceiling_dbtp"), 2, "dBTP") + "; limiter ceiling used " +
                  figure(codecs.at("limiter_ceiling_dbtp"), 2, "dBTP") + " after " + std::to_string(codecs.at("rounds").get<int>()) +
                  " round(s).</p><table id=\"codecs\"><tr><th>codec</th><th>decoded true peak, first round</th><th>decoded true peak</th>"
                  "<th>Annex 2</th><th>loudness change</th><th>holds</th></tr>";
  const json& first = codecs.at("history").at(0).at("checks");
  for (size_t i = 0; i < codecs.at("checks").size(); ++i) {
    const json& c = codecs["checks"][i];
    const bool holds = c.value("holds", false);
    o += "<tr><td>" + esc(c.at("codec").get<std::string>()) + "</td><td>" + figure(first.at(i).at("decoded_true_peak_dbtp"), 2, "dBTP") +
         "</td><td>" + figure(c.at("decoded_true_peak_dbtp"), 2, "dBTP") + "</td><td>" +
         figure(c.at("decoded_annex2_true_peak_dbtp"), 2, "dBTP") + "</td><td>" + figure(c.at("loudness_change_lu"), 2, "LU") +
         "</td><td class=\"" + (holds ? "ok\">yes" : "bad\">no") + "</td></tr>";
  }
  return o + "</table>";
}

std::string page(const std::string& title, const std::string& body, const std::string& script = "") {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "script-src 'unsafe-inline'\"><title>" + esc(title) + "</title><style>" + kStyle + "</style></head><body>" + body +
         (script.empty() ? "" : "<script>" + script + "</script>") + "</body></html>\n";
}

}  // namespace

std::string song_page(const json& report, const std::string& title) {
  const json& m = report.at("master");
  const json& after = m.at("after");
  std::ostringstream b;
  b << "<h1>" << esc(title) << "</h1><div class=\"sub\">Lacquer " << esc(at_or_null(report, {"lacquer", "version"}).get<std::string>())
    << ", backend " << esc(at_or_null(report, {"lacquer", "backend"}).get<std::string>()) << ", session "
    << esc(at_or_null(report, {"session", "source"}).is_string() ? report["session"]["source"].get<std::string>() : "") << "</div>";
  // The verdicts: loudness on target, true peak under the ceiling, codecs holding.
  const json& target = m.at("target_lufs");
  const double ceiling = m.at("ceiling_dbtp").get<double>();
  const bool on_target = !target.is_number() || (after.at("integrated_lufs").is_number() &&
                                                 std::fabs(after["integrated_lufs"].get<double>() - target.get<double>()) <= 0.1);
  const bool under = after.at("true_peak_dbtp").is_number() && after["true_peak_dbtp"].get<double>() <= ceiling &&
                     (!after.contains("true_peak_bound_dbtp") || !after["true_peak_bound_dbtp"].is_number() ||
                      after["true_peak_bound_dbtp"].get<double>() <= ceiling + 0.01);
  b << "<div class=\"cards\">"
    << card(figure(after.at("integrated_lufs"), 2, "LUFS"),
            target.is_number() ? "integrated, target " + fixed(target.get<double>(), 1) : std::string("integrated"),
            on_target ? "ok" : "bad")
    << card(figure(after.at("true_peak_dbtp"), 2, "dBTP"), "true peak, ceiling " + fixed(ceiling, 1), under ? "ok" : "bad")
    << card(figure(after.at("true_peak_bound_dbtp"), 2, "dBTP"), "reconstruction bound")
    << card(figure(after.at("loudness_range_lu"), 1, "LU"), "loudness range")
    << card(figure(m.at("gain_applied_db"), 2, "dB"), "loudness gain")
    << card(figure(at_or_null(m, {"limiter", "max_gain_reduction_db"}), 2, "dB"), "limiter, most")
    << card(figure(at_or_null(m, {"limiter", "mean_gain_reduction_db"}), 2, "dB"), "limiter, mean");
  if (m.contains("codecs")) {
    bool all = true;
    for (const auto& c : m["codecs"]["checks"]) all = all && c.value("holds", false);
    b << card(all ? "hold" : "over", "codecs (" + std::to_string(m["codecs"]["checks"].size()) + ")", all ? "ok" : "bad");
  }
  b << "</div>";
  const double duration = m.at("duration_s").get<double>();
  if (m.contains("series")) {
    const json& s = m["series"];
    b << "<h2>Loudness over time</h2><p class=\"sub\">Every 100 ms, as an EBU Mode meter shows it: short-term (3 s) before "
         "the finishing and after it, momentary (400 ms) after it.</p>"
      << loudness_plot(s, m, duration);
    b << "<h2>Limiter gain reduction</h2><p class=\"sub\">Per 100 ms: the loudness the limiter took from each step "
         "(its K-weighted energy before, with the loudness gain, against after).</p>"
      << gain_reduction_plot(s, duration);
    if (s.contains("compressors") && !s["compressors"].empty()) {
      b << "<h2>Compressor gain reduction</h2><p class=\"sub\">Per 100 ms: each stem's and group's compressor at its "
           "deepest in the step.</p>"
        << compressor_plot(s, duration);
    }
    b << "<h2>Spectrum</h2><p class=\"sub\">Long-term 1/3-octave spectrum before the finishing and after it.</p>" << spectrum_plot(s);
    b << "<h2>Highest true peaks</h2><table id=\"peaks\"><tr><th>#</th><th>time</th><th>true peak</th><th>under the ceiling by</th></tr>";
    int k = 1;
    for (const auto& p : s.at("top_true_peaks")) {
      b << "<tr><td>" << k++ << "</td><td>" << minutes(p.at("time_s").get<double>()) << "</td><td>" << figure(p.at("dbtp"), 2, "dBTP")
        << "</td><td>" << fixed(ceiling - p.at("dbtp").get<double>(), 2) << "&nbsp;dB</td></tr>";
    }
    b << "</table>";
  } else {
    b << "<p class=\"sub\">This report has no series (render with --html to record them).</p>";
  }
  if (m.contains("codecs")) b << "<h2>Codecs</h2>" << codec_table(m["codecs"]);
  b << "<h2>Figures</h2><table><tr><th></th><th>before</th><th>after</th></tr>";
  const json& before = m.at("before");
  const std::pair<const char*, const char*> rows[] = {{"integrated_lufs", "integrated (LUFS)"},
                                                     {"loudness_range_lu", "loudness range (LU)"},
                                                     {"max_momentary_lufs", "max momentary (LUFS)"},
                                                     {"max_short_term_lufs", "max short-term (LUFS)"},
                                                     {"sample_peak_dbfs", "sample peak (dBFS)"},
                                                     {"true_peak_dbtp", "true peak (dBTP)"}};
  for (const auto& [key, label] : rows) {
    b << "<tr><td>" << label << "</td><td>" << figure(at_or_null(before, {key}), 2) << "</td><td>" << figure(at_or_null(after, {key}), 2)
      << "</td></tr>";
  }
  b << "</table><p class=\"sub\">" << figure(m.at("sample_rate"), 0, "Hz") << ", " << m.at("bit_depth").get<int>() << "-bit "
    << esc(m.at("format").get<std::string>()) << ", " << minutes(duration) << "</p>";
  std::string dyn = dynamics_rows(at_or_null(report, {"stems"}), "stem") + dynamics_rows(at_or_null(report, {"groups"}), "group");
  if (m.contains("compressor")) {
    dyn += "<tr><td>master</td><td>" + figure(m["compressor"].at("max_gain_reduction_db"), 2, "dB") + "</td><td>" +
           figure(m["compressor"].at("mean_gain_reduction_db"), 2, "dB") + "</td></tr>";
  }
  if (!dyn.empty()) b << "<h2>Compressors</h2><table><tr><th></th><th>most gain reduction</th><th>mean</th></tr>" << dyn << "</table>";
  if (report.contains("deliverables")) {
    b << "<h2>Deliverables</h2><table><tr><th>name</th><th>integrated</th><th>true peak</th><th>rate</th><th>bits</th></tr>";
    for (const auto& d : report["deliverables"]) {
      b << "<tr><td>" << esc(d.value("name", std::string())) << "</td><td>" << figure(at_or_null(d, {"after", "integrated_lufs"}), 2, "LUFS")
        << "</td><td>" << figure(at_or_null(d, {"after", "true_peak_dbtp"}), 2, "dBTP") << "</td><td>" << figure(d.at("sample_rate"), 0, "Hz")
        << "</td><td>" << d.at("bit_depth").get<int>() << "</td></tr>";
    }
    b << "</table>";
  }
  const json& warnings = at_or_null(report, {"warnings"});
  if (warnings.is_array() && !warnings.empty()) {
    b << "<h2>Warnings</h2><ul class=\"warnings\">";
    for (const auto& w : warnings) b << "<li>" << esc(w.get<std::string>()) << "</li>";
    b << "</ul>";
  }
  return page(title, b.str());
}

std::string summary_page(const json& summary, const std::function<std::string(const std::string&)>& link_of) {
  std::vector<json> songs(summary.at("songs").begin(), summary.at("songs").end());
  // Failed songs first, then by id.
  std::stable_sort(songs.begin(), songs.end(), [](const json& a, const json& b) {
    const bool fa = a.value("status", std::string()) == "failed", fb = b.value("status", std::string()) == "failed";
    if (fa != fb) return fa;
    return a.value("id", std::string()) < b.value("id", std::string());
  });
  std::ostringstream b;
  b << "<h1>Catalog summary</h1><div class=\"sub\">" << esc(summary.value("catalog", std::string())) << " &middot; "
    << songs.size() << " songs";
  for (const auto& [k, v] : summary.at("counts").items()) {
    if (v.is_number() && v.get<int64_t>() > 0) b << " &middot; " << v.get<int64_t>() << " " << esc(k);
  }
  b << "</div>";
  b << "<h2>Songs</h2><p>Show <select id=\"status-filter\"><option value=\"\">all</option>";
  for (const auto& [k, v] : summary.at("counts").items()) b << "<option value=\"" << esc(k) << "\">" << esc(k) << "</option>";
  b << "</select> <span class=\"sub\">Click a column's heading to sort by it.</span></p>";
  struct Col {
    const char* key;
    const char* label;
    int decimals;
  };
  const Col cols[] = {{"integrated_lufs_after", "integrated (LUFS)", 2},
                      {"true_peak_dbtp", "true peak (dBTP)", 2},
                      {"limiter_max_gain_reduction_db", "limiting, most (dB)", 2},
                      {"integrated_lufs_before", "before (LUFS)", 2},
                      {"duration_s", "length (s)", 1},
                      {"render_s", "render (s)", 2}};
  b << "<table id=\"songs\"><thead><tr><th data-sort=\"text\">song</th><th data-sort=\"text\">status</th>";
  for (const auto& c : cols) b << "<th data-sort=\"num\">" << c.label << "</th>";
  b << "<th data-sort=\"text\">error</th></tr></thead><tbody>";
  for (const auto& s : songs) {
    const std::string id = s.value("id", std::string()), status = s.value("status", std::string());
    const std::string link = link_of(id);
    b << "<tr data-status=\"" << esc(status) << "\"><td data-v=\"" << esc(id) << "\">"
      << (link.empty() ? esc(id) : "<a href=\"" + esc(link) + "\">" + esc(id) + "</a>") << "</td><td data-v=\"" << esc(status)
      << "\" class=\"" << (status == "failed" ? "bad" : status == "rendered" || status == "skipped" ? "ok" : "warn") << "\">"
      << esc(status) << "</td>";
    for (const auto& c : cols) {
      const json& v = at_or_null(s, {c.key});
      b << "<td data-v=\"" << (v.is_number() ? v.dump() : "") << "\">" << figure(v, c.decimals) << "</td>";
    }
    b << "<td class=\"text\" data-v=\"" << esc(s.value("error", std::string())) << "\">" << esc(s.value("error", std::string())) << "</td></tr>";
  }
  b << "</tbody></table>";
  // Distributions.
  b << "<h2>Distributions</h2>";
  const Col dists[] = {{"integrated_lufs_after", "integrated loudness (LUFS)", 0},
                       {"true_peak_dbtp", "true peak (dBTP)", 0},
                       {"limiter_max_gain_reduction_db", "limiting, most (dB)", 0},
                       {"render_s", "render time (s)", 0}};
  for (const auto& d : dists) {
    json values = json::array();
    std::vector<double> v;
    for (const auto& s : summary.at("songs")) {
      const json& x = at_or_null(s, {d.key});
      values.push_back(x);
      if (x.is_number()) v.push_back(x.get<double>());
    }
    if (v.empty()) continue;
    double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
    if (hi - lo < 1e-6) lo -= 0.5, hi += 0.5;
    constexpr int kBins = 12;
    std::vector<int> counts(kBins, 0);
    for (double x : v) counts[size_t(std::min(kBins - 1, int((x - lo) / (hi - lo) * kBins)))]++;
    const int most = *std::max_element(counts.begin(), counts.end());
    Plot p(std::string("dist-") + d.key, {lo, hi, false, d.label}, {0.0, double(most), false, "songs"}, 460, 190);
    p.whole_y();
    p.raw("<g data-series=\"songs[]." + std::string(d.key) + "\" data-values=\"" + esc(values.dump()) + "\">");
    for (int k = 0; k < kBins; ++k) {
      const double x0 = lo + (hi - lo) * k / kBins, x1 = lo + (hi - lo) * (k + 1) / kBins;
      if (counts[size_t(k)] > 0) p.bar(x0, x1, counts[size_t(k)], std::to_string(counts[size_t(k)]) + " songs " + fixed(x0, 2) + " to " + fixed(x1, 2));
    }
    p.raw("</g>");
    std::vector<double> ticks;
    std::vector<std::string> labels;
    for (double t : Plot::nice_ticks(lo, hi)) {
      ticks.push_back(t);
      labels.push_back(Plot::trim(t));
    }
    b << "<div style=\"display:inline-block;margin-right:12px\">" << p.svg(ticks, labels) << "</div>";
  }
  b << "<p class=\"sub\">" << figure(at_or_null(summary, {"songs_per_hour"}), 0) << " songs/hour, "
    << figure(at_or_null(summary, {"wall_s"}), 1, "s") << " wall, backend " << esc(summary.value("backend", std::string())) << ".</p>";
  const char* script = R"(
(function(){
  var table=document.getElementById('songs'),body=table.tBodies[0];
  var heads=table.tHead.rows[0].cells;
  for(var i=0;i<heads.length;i++){(function(col,th){var up=true;th.style.cursor='pointer';th.addEventListener('click',function(){
    var rows=Array.prototype.slice.call(body.rows),num=th.getAttribute('data-sort')==='num';
    rows.sort(function(a,b){var x=a.cells[col].getAttribute('data-v'),y=b.cells[col].getAttribute('data-v');
      if(num){var fx=x===''?Infinity:parseFloat(x),fy=y===''?Infinity:parseFloat(y);return up?fx-fy:fy-fx;}
      return up?x.localeCompare(y):y.localeCompare(x);});
    rows.forEach(function(r){body.appendChild(r);});up=!up;});})(i,heads[i]);}
  document.getElementById('status-filter').addEventListener('change',function(e){var v=e.target.value;
    Array.prototype.forEach.call(body.rows,function(r){r.style.display=(v===''||r.getAttribute('data-status')===v)?'':'none';});});
})();
)";
  return page("Catalog summary", b.str(), script);
}

}  // namespace lq
