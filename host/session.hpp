// The session: what to render, as read from a TOML file (README "The session file (TOML)") or built from
// a folder of stems with the default preset. All values are validated here, once; errors name
// the file, the line and the key: "<file>:<line>: <key>: <problem>".
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "host/audio_io.hpp"
#include "host/codec.hpp"
#include "host/eq_design.hpp"
#include "kernels/dsp/dynamics_params.hpp"

namespace lq {

struct ReverbSend {
  std::string reverb;          // name of a [reverbs.NAME] entry
  double level_db = -10.0;     // send level, [-120, 12]
};

struct StemSpec {
  std::string name;            // the table key, or the file stem for a stem folder
  std::filesystem::path file;  // absolute (resolved against the session file's folder)
  std::string group;           // name of a group
  double gain_db = 0.0;        // [-60, 24]
  double pan = 0.0;            // [-1, 1]; mono stems: -3 dB pan law; stereo stems: balance
  std::vector<EqBand> eq;
  std::optional<dsp::CompressorParams> compressor;
  std::vector<ReverbSend> sends;
};

struct GroupSpec {
  std::string name;
  std::vector<EqBand> eq;
  std::optional<dsp::CompressorParams> compressor;
  double width = 1.0;          // [0, 2]: side gain (mid/side); 1 = unchanged, 0 = mono
  double gain_db = 0.0;        // [-60, 24]
  std::vector<ReverbSend> sends;
};

struct ReverbSpec {
  std::string name;
  std::filesystem::path ir;    // mono or stereo impulse response file
  double predelay_ms = 0.0;    // [0, 500]
  double wet_db = 0.0;         // [-120, 12]: level of the return
  std::string return_to;       // a group name, or "" for the master bus
};

// Matching a reference's tonal balance (`[master.match]`, host/match.hpp): the smoothed
// difference of the reference's and the mix's long-term spectra, limited and scaled, as a
// linear-phase curve run with the master's EQ bands.
struct MatchSpec {
  std::filesystem::path reference;  // absolute (resolved against the session file's folder)
  double amount = 1.0;              // [0, 1]: the share of the difference applied
  double max_db = 6.0;              // [0, 24]: the most any frequency is raised or lowered
  double smoothing_oct = 1.0 / 3.0; // [1/24, 2]: the width of the spectra's smoothing, octaves
  bool loudness = false;            // the reference's integrated loudness as the target when none is set
};

// How a master's loudness gain is chosen (`[master] loudness`): for the song alone (the closed
// loop to its target), or one gain for every song of its album (host/album.hpp).
enum class LoudnessMode { song, album };

struct MasterSpec {
  std::vector<EqBand> eq;
  std::optional<dsp::CompressorParams> compressor;  // glue compressor
  std::optional<double> target_lufs;                // [-40, -5]; none: no normalisation
  dsp::LimiterParams limiter;                       // ceiling_dbtp default -1.0
  std::optional<double> sample_rate;                // output rate; none: the session rate
  EncodeSpec encode;                                // format, bit_depth, dither (default on)
  double tail_s = 10.0;                             // [0, 60]: cap on the reverb tail
  double max_limiting_db = 12.0;                    // normalisation warns beyond this
  LoudnessMode loudness = LoudnessMode::song;
  std::optional<MatchSpec> match;                   // [master.match]: the master's only
  // Codec round trips the finished master must survive (docs/algorithms.md "Codec round trips"):
  // each decoded signal's reconstruction bound at or under codec_ceiling_dbtp (none: the
  // limiter's ceiling), else the limiter's ceiling is lowered and the finishing runs again.
  std::vector<CodecSpec> codec_check;
  std::optional<double> codec_ceiling_dbtp;         // [-20, 0]
  bool codec_export = false;                        // write each encoded file beside the master
};

// An extra master from the same mix ([deliverables.NAME]): the [master] settings with its own
// loudness target, ceiling, rate, bit depth, dither and format (each key absent: the master's).
// Written beside the main output as <output stem>-NAME.<ext>.
struct DeliverableSpec {
  std::string name;                      // [A-Za-z0-9_-]+
  MasterSpec master;                     // the finishing settings: target, limiter, rate, encode
  std::optional<OutputFormat> format;    // none: the main output's
};

struct Session {
  std::filesystem::path source;          // the session file, or the stem folder
  std::optional<double> sample_rate;     // processing rate; none: the first stem's rate
  std::vector<StemSpec> stems;           // in file order (stems table order)
  std::vector<GroupSpec> groups;         // every group a stem names exists here
  std::vector<ReverbSpec> reverbs;
  MasterSpec master;
  std::vector<DeliverableSpec> deliverables;  // in file order
  std::optional<std::string> album;      // the album it belongs to (`album = "NAME"`), if any
  std::optional<std::filesystem::path> preset;  // the preset file a stem folder's settings came from
  std::string canonical_text;            // normalised text of the settings, for the session hash
};

Session load_session(const std::filesystem::path& toml_file);

// The codec checks' settings of every master (codec_check, codec_ceiling_dbtp, codec_export), as
// text; empty when none declares one. Part of the session hash but not of canonical_text (the
// dither seed), so that a check that holds at once leaves the master's bytes as they were.
std::string codec_settings_text(const Session& session);

// Whether any of the session's masters (the main one, a deliverable) takes its album's gain.
bool uses_album_loudness(const Session& session);
// Sets every master of the session (the main one and the deliverables) to `mode`; the canonical
// text follows.
void set_loudness_mode(Session& session, LoudnessMode mode);

// A folder of stems: files grouped by name (vocal/vox -> vocals; drum/kick/snare/hat/perc ->
// drums; bass -> bass; everything else -> music), sorted by name, with the default preset (no
// processing, -14 LUFS, -1 dBTP, 24-bit) or a preset file: a session file without [stems] whose
// master, groups and reverbs apply (groups it does not name get default settings).
Session session_from_stem_dir(const std::filesystem::path& dir,
                              const std::optional<std::filesystem::path>& preset = std::nullopt);

// The group a file name maps to under the default grouping rule.
std::string default_group_for(const std::string& file_name);

}  // namespace lq
