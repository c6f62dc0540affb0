#include "host/album.hpp"

#include <cmath>

#include "host/files.hpp"

namespace lq {

using nlohmann::json;

namespace {

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

AlbumContext album_context(const std::string& name, std::span<const AlbumSong> songs) {
  std::vector<LoudnessMeasurement> measured;
  measured.reserve(songs.size());
  json kept = json::array();
  for (const auto& s : songs) {
    measured.push_back(s.pre_gain);
    kept.push_back({{"id", s.id}, {"measurement", measurement_json(s.pre_gain)}});
  }
  AlbumContext a;
  a.name = name;
  a.before = album_loudness(measured);
  a.hash = text_xxh128(json({{"album", name}, {"songs", kept}}).dump());
  json list = json::array();
  const AlbumSong* loudest = nullptr;
  const AlbumSong* quietest = nullptr;
  for (const auto& s : songs) {
    const LoudnessMeasurement& m = s.pre_gain;
    const bool rel = m.integrated_defined && a.before.integrated_defined;
    list.push_back({{"id", s.id},
                    {"integrated_lufs_before", m.integrated_defined ? json(m.integrated_lufs) : json(nullptr)},
                    {"relative_lu", rel ? json(m.integrated_lufs - a.before.integrated_lufs) : json(nullptr)}});
    if (!m.integrated_defined) continue;
    if (!loudest || m.integrated_lufs > loudest->pre_gain.integrated_lufs) loudest = &s;
    if (!quietest || m.integrated_lufs < quietest->pre_gain.integrated_lufs) quietest = &s;
  }
  auto extreme = [&](const AlbumSong* s) {
    if (!s || !a.before.integrated_defined) return json(nullptr);
    return json({{"id", s->id}, {"relative_lu", s->pre_gain.integrated_lufs - a.before.integrated_lufs}});
  };
  a.report = {{"name", name},
              {"songs", songs.size()},
              {"integrated_lufs_before", a.before.integrated_defined ? json(a.before.integrated_lufs) : json(nullptr)},
              {"loudness_range_lu_before", finite_or_null(a.before.loudness_range_lu)},
              {"loudest", extreme(loudest)},
              {"quietest", extreme(quietest)},
              {"song_loudness", list},
              {"hash", a.hash}};
  return a;
}

json measurement_json(const LoudnessMeasurement& m) {
  return {{"sample_rate", m.sample_rate},
          {"frames", m.frames},
          {"integrated_defined", m.integrated_defined},
          {"integrated_lufs", finite_or_null(m.integrated_lufs)},
          {"loudness_range_lu", finite_or_null(m.loudness_range_lu)},
          {"block_energies", m.block_energies},
          {"range_energies", m.range_energies}};
}

LoudnessMeasurement measurement_from_json(const json& j) {
  LoudnessMeasurement m;
  m.sample_rate = j.at("sample_rate").get<double>();
  m.frames = j.at("frames").get<int64_t>();
  m.integrated_defined = j.at("integrated_defined").get<bool>();
  m.integrated_lufs = m.integrated_defined ? j.at("integrated_lufs").get<double>() : -HUGE_VAL;
  m.loudness_range_lu = j.at("loudness_range_lu").is_number() ? j["loudness_range_lu"].get<double>() : 0.0;
  m.block_energies = j.at("block_energies").get<std::vector<double>>();
  m.range_energies = j.at("range_energies").get<std::vector<double>>();
  return m;
}

}  // namespace lq
