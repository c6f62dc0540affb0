#include "kernels/cpu/reconstruction_peak.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <vector>

#include "kernels/cpu/convolver.hpp"
#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Stage 1: the 4x grid. Phase p (1..3) interpolates x(n - H + p / 4) from x[n - 2H + 1 .. n].
// 32768 taps, Kaiser beta 8: flat within 1e-4 to 0.49988 fs (content closer to fs/2 decides the
// peaks of a master whose bright material a fast limiter has modulated: at 768 taps such a master
// read 0.04 dB under the ideal reconstruction; at 8192 taps noise concentrated at Nyquist read up
// to 0.074 dB under it, at 32768 taps 0.0013 dB).
constexpr int kStage1Half = 16384;
constexpr double kStage1Beta = 8.0;
// Stage 2: 64x from the 4x grid, 16 taps (8 a side) per sub-phase, Kaiser beta 10: on a signal
// band-limited to 1/8 of the grid's rate its error is under 1e-7 of the peak.
constexpr int kStage2Half = 8;
constexpr int kSubPhases = 16;     // fine points per 4x step: 64x
constexpr double kStage2Beta = 10.0;
// (pi B d)^2 / 2 with B = fs/2: d = 1/4 (the screen) and d = 1/64 (the refinement).
const double kScreenSlack = 0.5 * std::pow(kPi / 8.0, 2);    // 0.0771
const double kFineSlack = 0.5 * std::pow(kPi / 128.0, 2);    // 3.01e-4
const double kGridToSup = 1.0 / std::cos(kPi / 8.0);         // M <= G / cos(pi / 8)
static_assert(ReconstructionPeak::kReach >= kStage1Half + 3, "an interval reads samples k - H - 1 .. k + H + 3");

// Regions (ReconstructionPeak::overs_in) are tens of thousands of intervals: a 2^17 transform
// (one block for most) wastes less on them than the 2^18 one that is fastest over a whole song.
constexpr int64_t kRegionFft = int64_t{1} << 17;

struct Filters {
  ConvolverBank stage1;
  ConvolverBank stage1_region;  // the same filters, a shorter transform
  std::array<std::array<double, 2 * kStage2Half>, kSubPhases> stage2{};  // [j][m + 7], j = 0 unused
};

const Filters& filters() {
  static const Filters f = [] {
    const dsp::SincFilter s1{kStage1Half, kStage1Beta, 1.0};
    std::vector<std::vector<float>> taps(3, std::vector<float>(2 * kStage1Half));
    for (int p = 1; p <= 3; ++p) {
      double sum = 0.0;
      for (int t = 0; t < 2 * kStage1Half; ++t) sum += dsp::sinc_tap_unscaled(s1, p, t);
      for (int t = 0; t < 2 * kStage1Half; ++t) {
        taps[size_t(p - 1)][size_t(t)] = static_cast<float>(dsp::sinc_tap_unscaled(s1, p, t) / sum);
      }
    }
    std::vector<std::span<const float>> spans(taps.begin(), taps.end());
    Filters out{ConvolverBank(spans, 2 * kStage1Half), ConvolverBank(spans, 2 * kStage1Half, kRegionFft), {}};
    for (int j = 1; j < kSubPhases; ++j) {
      const double frac = double(j) / kSubPhases;
      double sum = 0.0;
      for (int m = -kStage2Half + 1; m <= kStage2Half; ++m) {
        const double tau = double(m) - frac, r = tau / kStage2Half;
        const double w = dsp::bessel_i0(kStage2Beta * std::sqrt(std::max(0.0, 1.0 - r * r))) / dsp::bessel_i0(kStage2Beta);
        const double v = std::sin(kPi * tau) / (kPi * tau) * w;
        out.stage2[size_t(j)][size_t(m + kStage2Half - 1)] = v;
        sum += v;
      }
      for (double& v : out.stage2[size_t(j)]) v /= sum;
    }
    return out;
  }();
  return f;
}

// s[i] = max(|x[i]|, |x[i + 1]|, |y1[i]|, |y2[i]|, |y3[i]|), i in [0, n).
LQ_CPU_CLONES void screen_range(const float* x, const double* y1, const double* y2, const double* y3, int64_t n,
                                double* s) {
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::max(std::fabs(double(x[i])), std::fabs(double(x[i + 1])));
    const double b = std::max(std::fabs(y1[i]), std::max(std::fabs(y2[i]), std::fabs(y3[i])));
    s[i] = std::max(a, b);
  }
}

}  // namespace

struct ReconstructionPeak::Impl {
  struct Channel {
    std::vector<float> buf;  // frames [base, base + buf.size())
    int64_t base = 0;
    int64_t next = 0;        // the first interval [k, k + 1) not yet screened
  };
  std::vector<Channel> ch;
  int64_t frames = 0;        // frames added
  double grid_max = 0.0;     // G: the largest 4x value so far
  double fine_max = 0.0;     // R: the largest value of the refined intervals
  int64_t refined = 0;
  std::vector<double> y[3];  // stage-1 values, scratch
  std::vector<double> screen;
  double over_level = 0.0;
  std::vector<Over> overs;

  // Screens (and refines) the intervals [c.next, k_end) of one channel, the 4x grid by `stage1`.
  void process(Channel& c, int64_t k_end, ThreadPool& pool, bool region = false) {
    if (k_end <= c.next) return;
    const Filters& f = filters();
    const int64_t k0 = c.next;
    // 4x values at times k0 - 2 .. k_end + 3: y_p at n = time + H (n - base in buf).
    const int64_t n0 = k0 - 2 + kStage1Half, n1 = k_end + 3 + kStage1Half;
    for (auto& v : y) v.resize(size_t(n1 - n0));  // every value is written by values()
    double* outs[3] = {y[0].data(), y[1].data(), y[2].data()};
    (region ? f.stage1_region : f.stage1).values(c.buf.data(), int64_t(c.buf.size()), outs, n0 - c.base, n1 - c.base, pool);
    auto sample = [&](int64_t k) { return double(c.buf[size_t(k - c.base)]); };
    // g4(i): the 4x grid at time i / 4 (i >= 4 (k0 - 2)).
    auto g4 = [&](int64_t i) {
      const int64_t k = i >= 0 ? i / 4 : -((-i + 3) / 4);
      const int p = int(i - 4 * k);
      return p == 0 ? sample(k) : y[p - 1][size_t(k + kStage1Half - n0)];
    };
    // The screen: per interval k, the largest |value| of its 4x points (both ends included).
    const int64_t n = k_end - k0;
    screen.resize(size_t(n));
    screen_range(c.buf.data() + (k0 - c.base), y[0].data() + 2, y[1].data() + 2, y[2].data() + 2, n, screen.data());
    // G over this chunk first: the threshold then does not depend on how the chunk is split.
    constexpr int64_t kJob = 1 << 14;
    const int64_t jobs = (n + kJob - 1) / kJob;
    for (const double v : screen) grid_max = std::max(grid_max, v);
    double threshold = grid_max - kScreenSlack * grid_max * kGridToSup;
    // Every interval whose peak can exceed the recording level is refined too.
    if (over_level > 0.0) threshold = std::min(threshold, over_level * (1.0 - kScreenSlack * kGridToSup));
    std::vector<double> job_fine(size_t(jobs), 0.0);
    std::vector<int64_t> job_count(size_t(jobs), 0);
    std::vector<std::vector<Over>> job_overs(static_cast<size_t>(jobs));
    pool.parallel_for(jobs, [&](int64_t j) {
      double m = 0.0;
      int64_t count = 0;
      for (int64_t k = k0 + j * kJob, e = std::min(k_end, k0 + (j + 1) * kJob); k < e; ++k) {
        const double s = screen[size_t(k - k0)];
        if (s == 0.0 || s < threshold) continue;
        ++count;
        double mk = s;  // this interval's largest value, grid and fine
        double w[3 + 2 * kStage2Half];  // g4 at 4k - 7 .. 4k + 11
        for (int i = 0; i < int(std::size(w)); ++i) w[i] = g4(4 * k - (kStage2Half - 1) + i);
        for (int q = 0; q < 4; ++q) {
          for (int sp = 1; sp < kSubPhases; ++sp) {
            const auto& h = f.stage2[size_t(sp)];
            double acc = 0.0;
            for (int t = 0; t < 2 * kStage2Half; ++t) acc += h[size_t(t)] * w[q + t];
            mk = std::max(mk, std::fabs(acc));
          }
        }
        m = std::max(m, mk);
        const double peak = mk / (1.0 - kFineSlack);  // the bound for this interval
        if (over_level > 0.0 && peak > over_level) job_overs[size_t(j)].push_back({k, peak});
      }
      job_fine[size_t(j)] = m;
      job_count[size_t(j)] = count;
    });
    for (int64_t j = 0; j < jobs; ++j) {
      fine_max = std::max(fine_max, job_fine[size_t(j)]);
      refined += job_count[size_t(j)];
      overs.insert(overs.end(), job_overs[size_t(j)].begin(), job_overs[size_t(j)].end());
    }
    c.next = k_end;
    // Keep what the next chunk needs: samples from next - H - 8 on.
    const int64_t keep = std::max(c.base, c.next - kStage1Half - 8);
    c.buf.erase(c.buf.begin(), c.buf.begin() + (keep - c.base));
    c.base = keep;
  }
};

ReconstructionPeak::ReconstructionPeak(int channels) : impl_(std::make_unique<Impl>()) {
  impl_->ch.resize(size_t(std::max(channels, 0)));
  for (auto& c : impl_->ch) {
    // Zeros before the signal: its reconstruction starts H before frame 0.
    c.base = -(kStage1Half + 8);
    c.buf.assign(size_t(kStage1Half + 8), 0.0f);
    c.next = -kStage1Half;
  }
}

ReconstructionPeak::~ReconstructionPeak() = default;

void ReconstructionPeak::add(const AudioBuffer& audio, int64_t begin, int64_t end, ThreadPool& pool) {
  Impl& m = *impl_;
  for (size_t i = 0; i < m.ch.size(); ++i) {
    auto& c = m.ch[i];
    const auto& src = audio.channels[i];
    c.buf.insert(c.buf.end(), src.begin() + begin, src.begin() + end);
    // Interval k needs samples up to k + 2 + H.
    m.process(c, c.base + int64_t(c.buf.size()) - kStage1Half - 2, pool);
  }
  m.frames += end - begin;
}

double ReconstructionPeak::finish(ThreadPool& pool) {
  Impl& m = *impl_;
  for (auto& c : m.ch) {
    c.buf.insert(c.buf.end(), size_t(2 * kStage1Half + 8), 0.0f);  // zeros after the signal
    m.process(c, m.frames + kStage1Half, pool);
  }
  return std::max(m.grid_max, m.fine_max / (1.0 - kFineSlack));  // B <= R + slack M, M <= B
}

int64_t ReconstructionPeak::refined_intervals() const { return impl_->refined; }

double ReconstructionPeak::error_gain() {
  static const double gain = [] {
    const dsp::SincFilter s1{kStage1Half, kStage1Beta, 1.0};
    double stage1 = 1.0;  // the samples themselves
    for (int p = 1; p <= 3; ++p) {
      double sum = 0.0, abs = 0.0;
      for (int t = 0; t < 2 * kStage1Half; ++t) sum += dsp::sinc_tap_unscaled(s1, p, t);
      for (int t = 0; t < 2 * kStage1Half; ++t) abs += std::fabs(dsp::sinc_tap_unscaled(s1, p, t) / sum);
      stage1 = std::max(stage1, abs);
    }
    double stage2 = 1.0;
    for (const auto& h : filters().stage2) {
      double abs = 0.0;
      for (const double v : h) abs += std::fabs(v);
      stage2 = std::max(stage2, abs);
    }
    return stage1 * stage2 / (1.0 - kFineSlack);
  }();
  return gain;
}

void ReconstructionPeak::record_overs(double level) { impl_->over_level = level; }

std::vector<ReconstructionPeak::Over> ReconstructionPeak::overs() const {
  std::vector<Over> o = impl_->overs;
  // Channels are screened one after another: sort by frame (stable: the same order every time).
  std::stable_sort(o.begin(), o.end(), [](const Over& a, const Over& b) { return a.frame < b.frame; });
  return o;
}

std::vector<ReconstructionPeak::Over> ReconstructionPeak::overs_in(const AudioBuffer& audio, int64_t k0, int64_t k1,
                                                                   double level, ThreadPool& pool) {
  ReconstructionPeak r(audio.channel_count());
  Impl& m = *r.impl_;
  m.over_level = level;
  const int64_t n = audio.frames();
  k0 = std::max(k0, -int64_t{kStage1Half});
  k1 = std::min(k1, n + kStage1Half);
  if (k1 <= k0) return {};
  for (size_t i = 0; i < m.ch.size(); ++i) {
    auto& c = m.ch[i];
    // Samples [k0 - H - 8, k1 + H + 3), zeros outside the song: what intervals [k0, k1) read.
    c.base = k0 - kStage1Half - 8;
    c.buf.assign(size_t(k1 + kStage1Half + 3 - c.base), 0.0f);
    const int64_t s0 = std::max<int64_t>(c.base, 0), s1 = std::min(k1 + kStage1Half + 3, n);
    if (s1 > s0) std::copy(audio.channels[i].begin() + s0, audio.channels[i].begin() + s1, c.buf.begin() + (s0 - c.base));
    c.next = k0;
    m.process(c, k1, pool, /*region=*/true);
  }
  return r.overs();
}

double reconstruction_peak(const AudioBuffer& audio, ThreadPool& pool) {
  ReconstructionPeak r(audio.channel_count());
  r.add(audio, 0, audio.frames(), pool);
  return r.finish(pool);
}

}  // namespace lq::cpu
