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
  std::optional<RollingBus> send;   // its input; both set when it runs
  std::optional<ReverbReturn> ret;

  bool runs() const { return ret.has_value(); }
  bool done() const { return ret->done() >= ret->output_frames(); }
  // The target's frames before this are final as far as this return goes.
  int64_t frontier() const { return done() ? kAll : predelay + ret->done(); }
};

struct Group {
  const GroupSpec* spec = nullptr;
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

// The song's mix as a schedule of spans: every stem's next span (step), then each reverb's and
// group's next span as soon as its input is final and the spans before it at its target's frames
// (in the whole-buffer order) are added (pump). mix_song runs it.
class SongMixer {
 public:
  SongMixer(const Session& session, std::span<const int> stem_rates, double rate, int64_t song_frames,
            const std::map<std::string, AudioBuffer>& irs, bool keep_groups, Backend& backend, cpu::ThreadPool& pool,
            json& timing)
      : session_(session), rate_(rate), song_frames_(song_frames), irs_(irs), keep_groups_(keep_groups),
        backend_(backend), pool_(pool), timing_(timing) {
    build_graph();
    // The master bus (the one song-length buffer: 70 MB at 180 s) is zeroed, and its pages first
    // touched, on a thread of its own beside the stems' setup and first span, which leave a core
    // idle; nothing adds into it before the first span is summed.
    master_zeroed_ = std::async(std::launch::async, [n = master_frames_, rate] { return AudioBuffer(2, n, rate); });
    const size_t stem_count = session.stems.size();
    stems_.resize(stem_count);
    for (size_t i = 0; i < stem_count; ++i) {
      stems_[i] = std::make_unique<StemStream>(session.stems[i], double(stem_rates[i]), rate, song_frames, backend);
    }
    span_.resize(stem_count);
    failed_.resize(stem_count);
  }

  // Mixes the whole song into out.master.
  void run(MixResult& out) {
    master_ = &out.master;
    while (summed_ < song_frames_) {
      step();
      if (master_zeroed_.valid()) *master_ = master_zeroed_.get();
      pump();
    }
    if (master_zeroed_.valid()) *master_ = master_zeroed_.get();
    for (const auto& g : groups_) {
      if (g.live() && !g.done()) throw std::logic_error("mix_song: a group did not finish");
    }
    for (const auto& r : reverbs_) {
      if (r.runs() && !r.done()) throw std::logic_error("mix_song: a reverb did not finish");
    }
  }

  static void add_series(MixResult& out, const std::string& bus, const std::vector<float>& steps) {
    if (steps.empty()) return;
    nlohmann::json v = nlohmann::json::array();
    for (float x : steps) v.push_back(std::round(double(x) * 1000.0) / 1000.0);  // 0.001 dB, as the other series
    out.compressor_series.push_back({{"bus", bus}, {"gain_reduction_db", v}});
  }

  // The stems' and groups' report entries (and the groups' outputs, when kept) into `out`.
  void report(MixResult& out, json& warnings) {
    for (auto& stem : stems_) {
      StemReport d = stem->finish();
      stem.reset();
      out.inputs.push_back(std::move(d.input));
      out.stems.push_back(std::move(d.report));
      for (auto& w : d.warnings) warnings.push_back(std::move(w));
      for (const auto& [k, v] : d.timing.items()) StageTimer::add_seconds(timing_, k, v.get<double>());
      add_series(out, "stem " + out.stems.back().value("name", std::string()), d.gain_reduction_steps);
    }
    for (auto& grp : groups_) {
      if (!grp.live()) continue;
      const DynamicsStats comp = grp.chain->compressor() ? grp.chain->compressor()->stats() : DynamicsStats{};
      out.groups.push_back(group_report(session_, *grp.spec, grp.chain->design(), grp.chain->compressor() ? &comp : nullptr));
      if (grp.chain->compressor()) add_series(out, "group " + grp.spec->name, grp.chain->compressor()->step_reductions());
      if (keep_groups_) out.exported_groups.emplace_back(grp.spec->name, std::move(grp.whole));
    }
  }

 private:
  // The buses and streams of the graph (mix_graph).
  void build_graph() {
    const MixGraph graph = mix_graph(session_, rate_, song_frames_, irs_);
    groups_.resize(graph.groups.size());
    reverbs_.resize(graph.reverbs.size());
    stem_group_ = graph.stem_group;
    stem_sends_ = graph.stem_sends;
    master_frames_ = graph.master_frames;
    for (size_t k = 0; k < reverbs_.size(); ++k) {
      const MixGraph::Reverb& gr = graph.reverbs[k];
      Reverb& r = reverbs_[k];
      r.spec = &session_.reverbs[k];
      r.predelay = gr.predelay;
      r.target = gr.target;
      r.from_stems = gr.from_stems;
      r.from_groups = gr.from_groups;
      if (gr.runs) {
        r.send.emplace(gr.input_frames, rate_);
        r.ret.emplace(irs_.at(r.spec->name), gr.input_frames, 2, r.spec->wet_db, backend_);
      }
    }
    for (size_t g = 0; g < groups_.size(); ++g) {
      const MixGraph::Group& gg = graph.groups[g];
      Group& grp = groups_[g];
      grp.spec = &session_.groups[g];
      if (!gg.live) continue;  // nothing reaches it: no bus, no report
      grp.length = gg.length;
      grp.returns = gg.returns;
      grp.sends = gg.sends;
      grp.in = RollingBus(grp.length, rate_);
      grp.chain = std::make_unique<ChainStream>(eq_design_for(grp.spec->eq, rate_), grp.spec->compressor, grp.length,
                                                rate_, backend_);
      if (keep_groups_) grp.whole = AudioBuffer(2, grp.length, rate_);
    }
  }

  // One step: every stem's next span, then their sums in stem order at every frame. On the CPU
  // with more than one thread the stems' spans run in parallel, one per thread (calls on the pool
  // from inside a job run serially); the sums run in parallel over frames.
  void step() {
    StageTimer t(timing_, "stems");
    const size_t stem_count = stems_.size();
    const bool parallel_stems = backend_.name() == "cpu" && pool_.size() > 1 && stem_count > 1;
    const int64_t n = std::min(kStep, song_frames_ - summed_);
    auto run = [&](size_t i) {
      try {
        span_[i] = &stems_[i]->next(n);
      } catch (...) {
        failed_[i] = std::current_exception();
      }
    };
    if (parallel_stems) {
      pool_.parallel_for(int64_t(stem_count), [&](int64_t i) { run(size_t(i)); });
    } else {
      for (size_t i = 0; i < stem_count; ++i) run(i);
    }
    for (const auto& f : failed_) {
      if (f) std::rethrow_exception(f);  // the first stem's problem in session order
    }
    for (size_t i = 0; i < stem_count; ++i) {  // held before the parallel sums: no buffer changes in them
      groups_[stem_group_[i]].in.ensure(summed_ + n);
      for (const auto& [k, gain] : stem_sends_[i]) reverbs_[k].send->ensure(summed_ + n);
    }
    pool_.parallel_for((n + kSumChunk - 1) / kSumChunk, [&](int64_t c) {
      const int64_t b = c * kSumChunk, frames = std::min(n, b + kSumChunk) - b;
      for (size_t i = 0; i < stem_count; ++i) {
        for (const auto& [k, gain] : stem_sends_[i]) reverbs_[k].send->add(summed_ + b, *span_[i], b, frames, gain);
        groups_[stem_group_[i]].in.add(summed_ + b, *span_[i], b, frames);
      }
    });
    summed_ += n;
  }

  // The stems' sums at frames before `to` are done (they add nothing past the song).
  bool stems_reached(int64_t to) const { return summed_ >= std::min(song_frames_, to); }

  bool reverb_ready(size_t k) const {
    const Reverb& r = reverbs_[k];
    if (!r.runs() || r.done()) return false;
    const int64_t in_to = r.ret->input_to();
    if (r.from_stems && !stems_reached(in_to)) return false;
    for (const size_t g : r.from_groups) {
      if (groups_[g].frontier() < in_to) return false;
    }
    const int64_t to = r.predelay + r.ret->done() + r.ret->next_frames();
    if (r.target >= 0 && !stems_reached(to)) return false;
    if (r.target < 0) {
      for (const auto& g : groups_) {
        if (g.live() && g.frontier() < to) return false;
      }
    }
    for (size_t j = 0; j < k; ++j) {
      if (reverbs_[j].runs() && reverbs_[j].target == r.target && reverbs_[j].frontier() < to) return false;
    }
    return true;
  }

  void emit_reverb(Reverb& r) {
    StageTimer t(timing_, "reverbs");
    const int64_t at = r.predelay + r.ret->done(), frames = r.ret->next_frames();
    const int64_t from = r.ret->input_from(), to = r.ret->input_to();
    r.send->ensure(to);
    const float* x[2] = {r.send->data(0, from, to), r.send->data(1, from, to)};
    const AudioBuffer& y = r.ret->next(x);
    if (r.target >= 0) {
      groups_[size_t(r.target)].in.add(at, y, 0, frames);
    } else {
      add_into(*master_, at, y, frames);
    }
    if (!r.done()) r.send->drop_before(r.ret->input_from());
  }

  bool group_ready(size_t g) const {
    const Group& grp = groups_[g];
    if (!grp.live() || grp.done()) return false;
    const int64_t n = std::min(kStep, grp.length - grp.chain->done());
    const int64_t need = grp.chain->input_needed(n);
    if (!stems_reached(need)) return false;
    for (const size_t k : grp.returns) {
      if (reverbs_[k].frontier() < need) return false;
    }
    for (size_t j = 0; j < g; ++j) {
      if (groups_[j].live() && groups_[j].frontier() < grp.chain->done() + n) return false;
    }
    return true;
  }

  void emit_group(Group& grp) {
    StageTimer t(timing_, "groups");
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
    for (const auto& [k, gain] : grp.sends) reverbs_[k].send->add(at, y, 0, n, gain);
    add_into(*master_, at, y, n);
    if (keep_groups_) {
      for (int c = 0; c < 2; ++c) std::copy_n(y.channels[size_t(c)].begin(), n, grp.whole.channels[size_t(c)].begin() + at);
    }
  }

  // Every span that is ready, in the whole-buffer order: reverbs into groups, groups, reverbs
  // into the master, until none is.
  void pump() {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t k = 0; k < reverbs_.size(); ++k) {
        for (; reverbs_[k].target >= 0 && reverb_ready(k); progress = true) emit_reverb(reverbs_[k]);
      }
      for (size_t g = 0; g < groups_.size(); ++g) {
        for (; group_ready(g); progress = true) emit_group(groups_[g]);
      }
      for (size_t k = 0; k < reverbs_.size(); ++k) {
        for (; reverbs_[k].target < 0 && reverb_ready(k); progress = true) emit_reverb(reverbs_[k]);
      }
    }
  }

  const Session& session_;
  const double rate_;
  const int64_t song_frames_;
  const std::map<std::string, AudioBuffer>& irs_;
  const bool keep_groups_;
  Backend& backend_;
  cpu::ThreadPool& pool_;
  json& timing_;
  std::vector<Group> groups_;
  std::vector<Reverb> reverbs_;
  std::vector<size_t> stem_group_;
  std::vector<std::vector<std::pair<size_t, float>>> stem_sends_;
  int64_t master_frames_ = 0;
  std::future<AudioBuffer> master_zeroed_;
  AudioBuffer* master_ = nullptr;
  std::vector<std::unique_ptr<StemStream>> stems_;
  int64_t summed_ = 0;  // the stems' frames summed into the buses
  std::vector<const AudioBuffer*> span_;
  std::vector<std::exception_ptr> failed_;
};

}  // namespace

MixGraph mix_graph(const Session& session, double rate, int64_t song_frames, const std::map<std::string, AudioBuffer>& irs) {
  MixGraph graph;
  std::map<std::string, size_t> group_at, reverb_at;
  graph.groups.resize(session.groups.size());
  graph.reverbs.resize(session.reverbs.size());
  for (size_t g = 0; g < graph.groups.size(); ++g) group_at[session.groups[g].name] = g;
  for (size_t k = 0; k < graph.reverbs.size(); ++k) {
    const ReverbSpec& r = session.reverbs[k];
    graph.reverbs[k].predelay = std::llround(r.predelay_ms * 1e-3 * rate);
    graph.reverbs[k].target = r.return_to.empty() ? -1 : int(group_at.at(r.return_to));
    reverb_at[r.name] = k;
  }
  auto start = [&](size_t k, int64_t input_frames) {
    MixGraph::Reverb& r = graph.reverbs[k];
    r.runs = true;
    r.input_frames = input_frames;
    r.output_frames = input_frames + irs.at(session.reverbs[k].name).frames() - 1;
  };
  const size_t stem_count = session.stems.size();
  graph.stem_group.resize(stem_count);
  graph.stem_sends.resize(stem_count);
  for (size_t i = 0; i < stem_count; ++i) {
    const StemSpec& s = session.stems[i];
    graph.stem_group[i] = group_at.at(s.group);
    graph.groups[graph.stem_group[i]].fed = true;
    for (const auto& send : s.sends) {
      const size_t k = reverb_at.at(send.reverb);
      graph.reverbs[k].from_stems = true;
      graph.stem_sends[i].emplace_back(k, static_cast<float>(dsp::db_to_linear(send.level_db)));
    }
  }
  // Reverbs that return into a group are fed by stems only (load_session refuses group sends to them).
  for (size_t k = 0; k < graph.reverbs.size(); ++k) {
    MixGraph::Reverb& r = graph.reverbs[k];
    if (r.target < 0 || !r.from_stems) continue;
    start(k, song_frames);
    graph.groups[size_t(r.target)].returns.push_back(k);
  }
  graph.master_frames = song_frames;
  for (size_t g = 0; g < graph.groups.size(); ++g) {
    MixGraph::Group& grp = graph.groups[g];
    if (!grp.fed && grp.returns.empty()) continue;
    grp.live = true;
    grp.length = grp.fed ? song_frames : 0;
    for (const size_t k : grp.returns) {
      grp.length = std::max(grp.length, graph.reverbs[k].predelay + graph.reverbs[k].output_frames);
    }
    graph.master_frames = std::max(graph.master_frames, grp.length);
    for (const auto& send : session.groups[g].sends) {
      const size_t k = reverb_at.at(send.reverb);
      if (graph.reverbs[k].target >= 0) throw std::logic_error("a group sends to a reverb that returns into a group");
      graph.reverbs[k].from_groups.push_back(g);
      grp.sends.emplace_back(k, static_cast<float>(dsp::db_to_linear(send.level_db)));
    }
  }
  for (size_t k = 0; k < graph.reverbs.size(); ++k) {
    MixGraph::Reverb& r = graph.reverbs[k];
    if (r.target >= 0 || (!r.from_stems && r.from_groups.empty())) continue;
    int64_t n = r.from_stems ? song_frames : 0;
    for (const size_t g : r.from_groups) n = std::max(n, graph.groups[g].length);
    start(k, n);
    graph.master_frames = std::max(graph.master_frames, r.predelay + r.output_frames);
  }
  return graph;
}

json group_report(const Session& session, const GroupSpec& g, const EqDesign* design, const DynamicsStats* comp) {
  json r;
  r["eq"] = design ? eq_report(*design) : json(nullptr);
  if (comp) r["compressor"] = dynamics_json(*comp);
  json members = json::array();
  for (const auto& s : session.stems) {
    if (s.group == g.name) members.push_back(s.name);
  }
  r["name"] = g.name;
  r["stems"] = members;
  r["width"] = g.width;
  r["gain_db"] = g.gain_db;
  return r;
}

MixResult mix_song(const Session& session, std::span<const int> stem_rates, double rate, int64_t song_frames,
                   const std::map<std::string, AudioBuffer>& irs, bool keep_groups, Backend& backend,
                   cpu::ThreadPool& pool, json& timing, json& warnings) {
  MixResult out;
  SongMixer mixer(session, stem_rates, rate, song_frames, irs, keep_groups, backend, pool, timing);
  mixer.run(out);
  mixer.report(out, warnings);
  return out;
}

}  // namespace lq
