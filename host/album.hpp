// Albums (docs/architecture.md "Albums"): the songs of an album share one loudness gain, chosen so
// that the album's integrated loudness (every song's 400 ms blocks gated together, as if played in
// sequence: host/loudness.hpp album_loudness) meets the target. Rendering an album is two phases:
// each song's pre-gain master is measured (render.hpp measure_pre_gain), then every song is
// finished with the album's gain (RenderOptions::album). The measurements are what an album's
// figures are made of, and what a resumed batch keeps between the phases.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/loudness.hpp"

namespace lq {

// One song of an album and its pre-gain master's measurement.
struct AlbumSong {
  std::string id;
  LoudnessMeasurement pre_gain;
};

// What the second phase finishes every song of an album with.
struct AlbumContext {
  std::string name;
  AlbumLoudness before;          // the pre-gain masters, gated together
  std::string hash;              // of the songs' ids and measurements: one song changed changes it
  nlohmann::json report;         // the report's "album" entry (album_context)
};

// The album of `songs` (in the order given): its loudness before the gain, its hash, and its
// report entry: name, songs, integrated_lufs_before, loudness_range_lu_before, each song's
// integrated loudness before and relative to the album, the loudest and the quietest song.
AlbumContext album_context(const std::string& name, std::span<const AlbumSong> songs);

// A measurement as kept between the phases (the gated energies as exact doubles), and back.
// measurement_from_json throws std::exception for anything it did not write.
nlohmann::json measurement_json(const LoudnessMeasurement& m);
LoudnessMeasurement measurement_from_json(const nlohmann::json& j);

}  // namespace lq
