#include "host/mix_stream.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>

#include "host/bus_stream.hpp"
#include "host/mixing.hpp"
#include "host/stage_timer.hpp"
#include "host/stem_stream.hpp"
#include "kernels/dsp/common.hpp"

namespace lq {

using nlohmann::json;

namespace {

constexpr int64_t kStep = 1 << 17;      // stem frames per step (about 2.7 s at 48 kHz); group spans too
constexpr int64_t kSumChunk = 1 << 14;  // frames per job of a step's sums
constexpr int64_t kAll = std::numeric_limits<int64_t>::max();

struct Reverb {
  const ReverbSpec* spec = nullptr;
  int64_t predelay = 0;
  int target = -1;  // the group it returns into, or -1: the master
  bool from_stems = false;
  std::vector<size_t> from_groups;  // the live groups that send to it
  std::optional<RollingBus> send;   // its input; both set when it runs (something sends to it)
  std::optional<ReverbReturn> ret;

  bool runs() const { return ret.has_value(); }
  bool done() const { return ret->done() >= ret->output_frames(); }
  // The target's frames before this are final as far as this return goes.
  int64_t frontier() const { return done() ? kAll : predelay + ret->done(); }
};

struct Group {
  const GroupSpec* spec = nullptr;
  bool fed = false;  // stems feed it
  int64_t length = 0;
  std::vector<size_t> returns;                  // the running reverbs that return into it
  std::vector<std::pair<size_t, float>> sends;  // reverb, level
  RollingBus in;
  std::unique_ptr<ChainStream> chain;  // set when the group is live (fed, or a reverb returns into it)
  AudioBuffer whole;                   // its output, when kept

  bool live() const { return chain != nullptr; }
  bool done() const { return chain->done() >= length; }
  int64_t frontier() const { return done() ? kAll : chain->done(); }  // output frames added so far
};

}  // namespace

MixResult mix_song(const Session& session, std::span<const int> stem_rates, double rate, int64_t song_frames,
                   const std::map<std::string, AudioBuffer>& irs, bool keep_groups, Backend& backend,
                   cpu::ThreadPool& pool, json& timing, json& warnings) {
  MixResult out;
  std::map<std::string, size_t> group_at, reverb_at;
  std::vector<Group> groups(session.groups.size());
  std::vector<Reverb> reverbs(session.reverbs.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    groups[g].spec = &session.groups[g];
    group_at[session.groups[g].name] = g;
  }
  for (size_t k = 0; k < reverbs.size(); ++k) {
    const ReverbSpec& r = session.reverbs[k];
    reverbs[k].spec = &r;
    reverbs[k].predelay = std::llround(r.predelay_ms * 1e-3 * rate);
    reverbs[k].target = r.return_to.empty() ? -1 : int(group_at.at(r.return_to));
    reverb_at[r.name] = k;
  }

  // ---- the graph: who feeds whom, and every bus's length (as the whole-buffer chain's) ----
  const size_t stem_count = session.stems.size();
  std::vector<size_t> stem_group(stem_count);
  std::vector<std::vector<std::pair<size_t, float>>> stem_sends(stem_count);
  for (size_t i = 0; i < stem_count; ++i) {
    const StemSpec& s = session.stems[i];
    stem_group[i] = group_at.at(s.group);
    groups[stem_group[i]].fed = true;
    for (const auto& send : s.sends) {
      const size_t k = reverb_at.at(send.reverb);
      reverbs[k].from_stems = true;
      stem_sends[i].emplace_back(k, static_cast<float>(dsp::db_to_linear(send.level_db)));
    }
  }
  auto start_reverb = [&](Reverb& r, int64_t input_frames) {
    r.send.emplace(input_frames, rate);
    r.ret.emplace(irs.at(r.spec->name), input_frames, 2, r.spec->wet_db, backend);
  };
  // Reverbs that return into a group are fed by stems only (load_session refuses group sends to them).
  for (size_t k = 0; k < reverbs.size(); ++k) {
    Reverb& r = reverbs[k];
    if (r.target < 0 || !r.from_stems) continue;
    start_reverb(r, song_frames);
    groups[size_t(r.target)].returns.push_back(k);
  }
  int64_t master_frames = song_frames;
  for (size_t g = 0; g < groups.size(); ++g) {
    Group& grp = groups[g];
    if (!grp.fed && grp.returns.empty()) continue;  // nothing reaches it: no bus, no report
    grp.length = grp.fed ? song_frames : 0;
    for (const size_t k : grp.returns) {
      grp.length = std::max(grp.length, reverbs[k].predelay + reverbs[k].ret->output_frames());
    }
    master_frames = std::max(master_frames, grp.length);
    grp.in = RollingBus(grp.length, rate);
    grp.chain = std::make_unique<ChainStream>(eq_design_for(grp.spec->eq, rate), grp.spec->compressor, grp.length,
                                              rate, backend);
    if (keep_groups) grp.whole = AudioBuffer(2, grp.length, rate);
    for (const auto& send : grp.spec->sends) {
      const size_t k = reverb_at.at(send.reverb);
      if (reverbs[k].target >= 0) throw std::logic_error("a group sends to a reverb that returns into a group");
      reverbs[k].from_groups.push_back(g);
      grp.sends.emplace_back(k, static_cast<float>(dsp::db_to_linear(send.level_db)));
    }
  }
  for (auto& r : reverbs) {
    if (r.target >= 0 || (!r.from_stems && r.from_groups.empty())) continue;
    int64_t n = r.from_stems ? song_frames : 0;
    for (const size_t g : r.from_groups) n = std::max(n, groups[g].length);
    start_reverb(r, n);
    master_frames = std::max(master_frames, r.predelay + r.ret->output_frames());
  }
  // The master bus (the one song-length buffer: 70 MB at 180 s) is zeroed, and its pages first
  // touched, on a thread of its own beside the stems' setup and first span, which leave a core idle;
  // nothing adds into it before the first span is summed.
  std::future<AudioBuffer> master_zeroed =
      std::async(std::launch::async, [master_frames, rate] { return AudioBuffer(2, master_frames, rate); });
  AudioBuffer& master = out.master;

  std::vector<std::unique_ptr<StemStream>> stems(stem_count);
  for (size_t i = 0; i < stem_count; ++i) {
    stems[i] = std::make_unique<StemStream>(session.stems[i], double(stem_rates[i]), rate, song_frames, backend);
  }

  // ---- one step: every stem's next span, then their sums in stem order at every frame ----
  // On the CPU with more than one thread the stems' spans run in parallel, one per thread (calls
  // on the pool from inside a job run serially); the sums run in parallel over frames.
  const bool parallel_stems = backend.name() == "cpu" && pool.size() > 1 && stem_count > 1;
  int64_t summed = 0;  // the stems' frames summed into the buses
  std::vector<const AudioBuffer*> span(stem_count);
  std::vector<std::exception_ptr> failed(stem_count);
  auto step = [&] {
    StageTimer t(timing, "stems");
    const int64_t n = std::min(kStep, song_frames - summed);
    auto run = [&](size_t i) {
      try {
        span[i] = &stems[i]->next(n);
      } catch (...) {
        failed[i] = std::current_exception();
      }
    };
    if (parallel_stems) {
      pool.parallel_for(int64_t(stem_count), [&](int64_t i) { run(size_t(i)); });
    } else {
      for (size_t i = 0; i < stem_count; ++i) run(i);
    }
    for (const auto& f : failed) {
      if (f) std::rethrow_exception(f);  // the first stem's problem in session order
    }
    for (size_t i = 0; i < stem_count; ++i) {  // held before the parallel sums: no buffer changes in them
      groups[stem_group[i]].in.ensure(summed + n);
      for (const auto& [k, gain] : stem_sends[i]) reverbs[k].send->ensure(summed + n);
    }
    pool.parallel_for((n + kSumChunk - 1) / kSumChunk, [&](int64_t c) {
      const int64_t b = c * kSumChunk, frames = std::min(n, b + kSumChunk) - b;
      for (size_t i = 0; i < stem_count; ++i) {
        for (const auto& [k, gain] : stem_sends[i]) reverbs[k].send->add(summed + b, *span[i], b, frames, gain);
        groups[stem_group[i]].in.add(summed + b, *span[i], b, frames);
      }
    });
    summed += n;
  };
  // The stems' sums at frames before `to` are done (they add nothing past the song).
  auto stems_reached = [&](int64_t to) { return summed >= std::min(song_frames, to); };

  // ---- reverbs and groups: each span as soon as its input is final and the spans before it at
  // its target's frames (in the whole-buffer order) are added ----
  auto reverb_ready = [&](size_t k) {
    const Reverb& r = reverbs[k];
    if (!r.runs() || r.done()) return false;
    const int64_t in_to = r.ret->input_to();
    if (r.from_stems && !stems_reached(in_to)) return false;
    for (const size_t g : r.from_groups) {
      if (groups[g].frontier() < in_to) return false;
    }
    const int64_t to = r.predelay + r.ret->done() + r.ret->next_frames();
    if (r.target >= 0 && !stems_reached(to)) return false;
    if (r.target < 0) {
      for (const auto& g : groups) {
        if (g.live() && g.frontier() < to) return false;
      }
    }
    for (size_t j = 0; j < k; ++j) {
      if (reverbs[j].runs() && reverbs[j].target == r.target && reverbs[j].frontier() < to) return false;
    }
    return true;
  };
  auto emit_reverb = [&](Reverb& r) {
    StageTimer t(timing, "reverbs");
    const int64_t at = r.predelay + r.ret->done(), frames = r.ret->next_frames();
    const int64_t from = r.ret->input_from(), to = r.ret->input_to();
    r.send->ensure(to);
    const float* x[2] = {r.send->data(0, from, to), r.send->data(1, from, to)};
    const AudioBuffer& y = r.ret->next(x);
    if (r.target >= 0) {
      groups[size_t(r.target)].in.add(at, y, 0, frames);
    } else {
      add_into(master, at, y, frames);
    }
    if (!r.done()) r.send->drop_before(r.ret->input_from());
  };
  auto group_ready = [&](size_t g) {
    const Group& grp = groups[g];
    if (!grp.live() || grp.done()) return false;
    const int64_t n = std::min(kStep, grp.length - grp.chain->done());
    const int64_t need = grp.chain->input_needed(n);
    if (!stems_reached(need)) return false;
    for (const size_t k : grp.returns) {
      if (reverbs[k].frontier() < need) return false;
    }
    for (size_t j = 0; j < g; ++j) {
      if (groups[j].live() && groups[j].frontier() < grp.chain->done() + n) return false;
    }
    return true;
  };
  auto emit_group = [&](Group& grp) {
    StageTimer t(timing, "groups");
    const int64_t at = grp.chain->done(), n = std::min(kStep, grp.length - at);
    const int64_t need = grp.chain->input_needed(n);
    AudioBuffer& y = grp.chain->next(n, [&](AudioBuffer& dst, int64_t to, int64_t from, int64_t frames) {
      for (int c = 0; c < 2; ++c) {
        std::copy_n(grp.in.data(c, from, from + frames), frames, dst.channels[size_t(c)].begin() + to);
      }
    });
    grp.in.drop_before(need);
    apply_width(y, grp.spec->width, n);
    apply_gain(y, grp.spec->gain_db, n);
    for (const auto& [k, gain] : grp.sends) reverbs[k].send->add(at, y, 0, n, gain);
    add_into(master, at, y, n);
    if (keep_groups) {
      for (int c = 0; c < 2; ++c) std::copy_n(y.channels[size_t(c)].begin(), n, grp.whole.channels[size_t(c)].begin() + at);
    }
  };
  auto pump = [&] {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t k = 0; k < reverbs.size(); ++k) {
        for (; reverbs[k].target >= 0 && reverb_ready(k); progress = true) emit_reverb(reverbs[k]);
      }
      for (size_t g = 0; g < groups.size(); ++g) {
        for (; group_ready(g); progress = true) emit_group(groups[g]);
      }
      for (size_t k = 0; k < reverbs.size(); ++k) {
        for (; reverbs[k].target < 0 && reverb_ready(k); progress = true) emit_reverb(reverbs[k]);
      }
    }
  };
  while (summed < song_frames) {
    step();
    if (master_zeroed.valid()) master = master_zeroed.get();
    pump();
  }
  if (master_zeroed.valid()) master = master_zeroed.get();
  for (const auto& g : groups) {
    if (g.live() && !g.done()) throw std::logic_error("mix_song: a group did not finish");
  }
  for (const auto& r : reverbs) {
    if (r.runs() && !r.done()) throw std::logic_error("mix_song: a reverb did not finish");
  }

  // ---- reports ----
  for (size_t i = 0; i < stem_count; ++i) {
    StemReport d = stems[i]->finish();
    stems[i].reset();
    out.inputs.push_back(std::move(d.input));
    out.stems.push_back(std::move(d.report));
    for (auto& w : d.warnings) warnings.push_back(std::move(w));
    for (const auto& [k, v] : d.timing.items()) StageTimer::add_seconds(timing, k, v.get<double>());
  }
  for (auto& grp : groups) {
    if (!grp.live()) continue;
    const GroupSpec& g = *grp.spec;
    json r;
    r["eq"] = grp.chain->design() ? eq_report(*grp.chain->design()) : json(nullptr);
    if (grp.chain->compressor()) r["compressor"] = dynamics_json(grp.chain->compressor()->stats());
    json members = json::array();
    for (const auto& s : session.stems) {
      if (s.group == g.name) members.push_back(s.name);
    }
    r["name"] = g.name;
    r["stems"] = members;
    r["width"] = g.width;
    r["gain_db"] = g.gain_db;
    out.groups.push_back(r);
    if (keep_groups) out.exported_groups.emplace_back(g.name, std::move(grp.whole));
  }
  return out;
}

}  // namespace lq
