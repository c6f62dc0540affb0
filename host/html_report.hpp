// The HTML reports (docs/architecture.md "Reports"): one self-contained page per master, built
// only from its JSON report (with master.series, host/report_series.hpp), and a catalog's
// summary page built only from summary.json. No network, no external scripts or fonts: inline CSS,
// inline SVG plots, and on the summary page a short inline script that sorts and filters the
// table. Every plotted line carries its values (data-values, the report's numbers as JSON) and
// where they come from in the report (data-series), so that what is drawn can be checked.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace lq {

// The master's page: its figures against the target and ceiling, loudness over time (momentary
// and short-term, before and after, with the target), the limiter's gain reduction over time,
// the 1/3-octave spectra before and after, the ten highest true peaks, the codec checks, the
// stems' and groups' dynamics, the deliverables and the warnings. `title`: the page's heading.
std::string song_page(const nlohmann::json& report, const std::string& title);

// A catalog's page from its summary.json: failed songs first, a table sortable by any column and
// filterable by status, each song's id linked to `link_of(id)` when that is not empty, and the
// distributions of loudness, true peak, limiting and render time.
std::string summary_page(const nlohmann::json& summary, const std::function<std::string(const std::string&)>& link_of);

}  // namespace lq
