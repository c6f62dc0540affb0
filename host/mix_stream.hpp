// The song's mix in spans (docs/architecture.md "Stems", "Groups and reverbs"): every stem, group
// and reverb runs as a stream, span after span, and only the master bus is held whole. Memory beside
// the master is a few spans per stem, group and reverb, whatever the song's length.
//
// The same bits as the whole-buffer chain (each stem's chain over the whole stem, the stems summed
// into their group and send buses, each group's chain over its whole bus, the reverbs, the groups
// and returns summed into the master): every stage streams with its whole-buffer bits
// (ChainStream, ReverbReturn), and every frame of every bus receives its contributions in the
// whole-buffer order (stems in session order, then reverb returns into groups; groups in order,
// then the master's reverb returns). The same bytes whatever the thread count.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/backend.hpp"
#include "host/eq_design.hpp"
#include "host/session.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

struct MixResult {
  AudioBuffer master;  // the master bus at the session rate, before the master's own chain
  nlohmann::json inputs = nlohmann::json::array();  // report["inputs"]
  nlohmann::json stems = nlohmann::json::array();   // report["stems"]
  nlohmann::json groups = nlohmann::json::array();  // report["groups"]
  std::vector<std::pair<std::string, AudioBuffer>> exported_groups;  // each group's output, when kept
  // Each compressor's largest reduction per 100 ms step (dB): {"bus": "stem NAME" | "group NAME",
  // "gain_reduction_db": [...]}, in stem then group order; empty where the backend records none.
  nlohmann::json compressor_series = nlohmann::json::array();
};

// Who feeds whom in the song's mix and every bus's length, as the whole-buffer chain has them
// (the span mixer and the device render, host/device_render.hpp, both follow it).
struct MixGraph {
  struct Group {
    bool fed = false;                             // stems feed it
    bool live = false;                            // fed, or a running reverb returns into it
    int64_t length = 0;                           // its bus's frames (when live)
    std::vector<size_t> returns;                  // the running reverbs that return into it
    std::vector<std::pair<size_t, float>> sends;  // reverb, level (when live)
  };
  struct Reverb {
    int64_t predelay = 0;             // frames
    int target = -1;                  // the group it returns into, or -1: the master
    bool from_stems = false;
    std::vector<size_t> from_groups;  // the live groups that send to it
    bool runs = false;                // something sends to it
    int64_t input_frames = 0, output_frames = 0;  // its send bus; the return, input + IR - 1
  };
  std::vector<Group> groups;      // session order
  std::vector<Reverb> reverbs;    // session order
  std::vector<size_t> stem_group;                              // per stem
  std::vector<std::vector<std::pair<size_t, float>>> stem_sends;  // per stem: reverb, level
  int64_t master_frames = 0;      // the master bus, reverb tails included
};
// irs: each reverb's IR at `rate`, by name (their lengths).
MixGraph mix_graph(const Session& session, double rate, int64_t song_frames, const std::map<std::string, AudioBuffer>& irs);

// A group's report entry (report["groups"][i]).
nlohmann::json group_report(const Session& session, const GroupSpec& g, const EqDesign* design, const DynamicsStats* comp);

// Mixes the session's stems (stem i's file at stem_rates[i], from its header) at `rate` into the
// master. irs: each reverb's IR at `rate`, by name. keep_groups: also return each group's output
// whole (for --export-groups). Stage times go to `timing`, warnings to `warnings`. Throws a stem
// file's problem (UserError) when its decoding fails.
MixResult mix_song(const Session& session, std::span<const int> stem_rates, double rate, int64_t song_frames,
                   const std::map<std::string, AudioBuffer>& irs, bool keep_groups, Backend& backend,
                   cpu::ThreadPool& pool, nlohmann::json& timing, nlohmann::json& warnings);

}  // namespace lq
