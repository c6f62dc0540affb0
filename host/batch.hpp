// `lacquer batch`: a catalog rendered song by song with several songs in flight, resumably, one
// bad song never stopping the rest; and `lacquer summary`, which merges shard summaries.
//
// Output, per song: OUT_DIR/<id>/master.<wav|flac> and report.json (the report last: it names the
// master's checksum and the song's hash), with --export-groups OUT_DIR/<id>/groups/<group>.<ext>.
// At the end: OUT_DIR/summary.json and summary.csv, or for shard I of N
// summary-shard-I-of-N.json/.csv (merged by `lacquer summary OUT_DIR`).
//
// Resuming: a song is skipped when its report parses, carries the song's hash (the session's
// hash, which covers its settings, its inputs' sizes and modification times and Lacquer's version,
// plus the batch's overrides and format) and the master's checksum matches the file. --force
// renders every song again. Each song folder is locked (flock on OUT_DIR/<id>/.lock) while it is
// rendered, so two batches on one OUT_DIR never write the same song; stale temporary files of a
// killed run are removed under that lock.
//
// Throughput: `jobs` songs in flight (each decodes, processes on the backend and encodes, so one
// song's decode overlaps another's processing); each song's thread pool gets threads/jobs cores.
// Memory in flight is bounded by `jobs` and by `max_inflight_bytes`: a song starts only when the
// estimate of its working set (estimate_bytes in host/batch.cpp: the master's stereo float buffer
// at the processing rate twice, a third with deliverables, the conversions to other rates, 8 MiB
// per stem, 64 MiB, + 10 %; everything else streams in spans) fits beside the songs in flight, or
// when nothing else is in flight.
//
// Albums (host/album.hpp): songs whose masters take their album's gain are rendered in two phases.
// First every such song's pre-gain master is measured and the measurement kept in
// OUT_DIR/<id>/album-measure.json (with the song's hash: a resumed batch reads it instead of
// measuring again); then each album's figures are made from its songs' measurements and every
// song is finished with them. The album's hash (its songs' measurements) is part of each song's
// hash, so one changed song re-renders its whole album. An album whose song cannot be measured
// finishes none of its songs. The summary has a row per album (summary.json "albums", and
// <summary>-albums.csv): its loudness before, the gain, its loudness and range as delivered (the
// masters read back), the loudest and quietest song.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace lq {

struct BatchOptions {
  std::filesystem::path out_dir;
  std::optional<std::filesystem::path> preset;  // for songs without a session file
  int jobs = 0;                                 // songs in flight; 0: default_batch_jobs()
  int threads = 0;                              // total CPU threads; 0: every core
  std::string backend = "cpu";
  std::string format = "wav";                   // wav | flac
  bool force = false;
  bool export_groups = false;
  bool html = false;                            // report.html per song (with the series), summary.html
  int shard_index = 0;
  int shard_count = 1;
  bool quiet = false;
  bool json_log = false;                        // one JSON object per event on stdout
  int64_t max_inflight_bytes = 0;               // 0: default_inflight_bytes()
  // Device memory for the songs in flight on a device backend (each song's whole-song estimate,
  // host/device_render.hpp, taken before its device buffers); 0: default_device_bytes(backend).
  int64_t max_device_bytes = 0;
  // Every song of an album takes its album's loudness gain (as `[master] loudness = "album"` in
  // each session would say).
  bool album_loudness = false;
};

// min(8, max(2, cores / 2)): 2 on a 2-core machine.
int default_batch_jobs();
// Half the machine's physical memory, at least 1 GiB.
int64_t default_inflight_bytes();
// 90 % of GPU 0's free memory for `cuda` and `auto` where a GPU is usable; else default_inflight_bytes().
int64_t default_device_bytes(const std::string& backend);

// Renders the catalog's songs of the chosen shard. Returns the exit code: 0 all rendered (or
// skipped as complete), 1 some failed or were not rendered (interrupted, locked elsewhere).
// Throws UsageError for a catalog or output folder that cannot be used at all.
int run_batch(const std::filesystem::path& catalog, const BatchOptions& options);

// Merges OUT_DIR/summary-shard-*-of-N.json into OUT_DIR/summary.json and summary.csv. Returns 0
// when every shard 0..N-1 is there and every song rendered, 1 otherwise (and says what is missing).
int merge_summaries(const std::filesystem::path& out_dir, bool quiet);

}  // namespace lq
