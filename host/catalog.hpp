// A catalog: the songs `lacquer batch` renders, from a folder of song folders or a manifest, and
// the deterministic split of a catalog into shards.
//
// Folder: every subfolder (not hidden) is a song whose id is the folder's name; its session is
// `session.toml` inside it when present, else the folder's stems with the batch preset. A
// subfolder holding `album.toml` is an album: its subfolders are its songs, with ids
// "ALBUM_FOLDER/SONG_FOLDER", and album.toml may name it (`name = "..."`; else the folder's name).
// Manifest (.csv with a header line, or .jsonl): one song per row/line with `id`, `source` (a
// session file or a stem folder, relative to the manifest's folder) and optionally `target_lufs`
// (overrides the session's) and `album`. JSON Lines may say `session` or `stems` instead of
// `source`.
// Ids are folder names in the output: 1-128 characters, no '/', no control characters, not
// starting with '.', not one of Lacquer's own names in the output folder (summary*.json/.csv), and
// unique ignoring case (two songs never map to one output folder). A manifest may start with a
// UTF-8 byte-order mark; relative sources are relative to the manifest's folder, from any working
// folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lq {

struct CatalogSong {
  std::string id;
  std::filesystem::path source;        // a session file (.toml) or a folder of stems
  bool is_session_file = false;
  std::optional<double> target_lufs;   // manifest override
  // A row or folder that names a song but cannot be rendered as given (no source, a bad
  // target_lufs, a folder name that is not a usable id): the song fails with this, the rest render.
  std::string error;
  std::optional<std::filesystem::path> manifest;  // the manifest that lists it, if any
  // The album it belongs to: the manifest's `album`, its album folder's, or its session's
  // `album` key (filled by the batch's preflight).
  std::optional<std::string> album;
};

// Songs sorted by id. Throws UsageError for a catalog that cannot be planned (missing, unreadable,
// a line that is not a row, a bad or duplicate id in a manifest), naming the file and line; a row
// or folder whose song cannot be rendered as given carries its `error` instead.
std::vector<CatalogSong> load_catalog(const std::filesystem::path& catalog);

// The shard a song belongs to among `count`: XXH64 of its id modulo count. It depends on the id
// alone, so adding songs elsewhere in the catalog moves no song to another shard.
int shard_of(const std::string& id, int count);
// The shard of a catalog song: its album's (shard_of the album's name), so that an album is
// rendered whole in one shard; a song in no album, its id's.
int shard_of(const CatalogSong& song, int count);

struct Shard {
  int index = 0;
  int count = 1;
};

// The shard to render: `--shard I/N` when given; else Slurm's SLURM_ARRAY_TASK_ID and
// SLURM_ARRAY_TASK_COUNT; else JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) with shard_count
// (--shard-count); else 0/1. Throws UsageError for malformed values.
Shard select_shard(const std::string& shard_arg, std::optional<int> shard_count);

}  // namespace lq
