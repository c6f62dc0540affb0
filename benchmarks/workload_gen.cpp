// workload_gen OUT_DIR [SECONDS=60]: the standard benchmark song for machines without Python's
// numpy and scipy (the GPU kit, scripts/gpu-bundle.sh). The structure of make_workload.py: eight
// stereo stems at 48 kHz, 24-bit WAV (kick snare hats bass keys pad vocal fx, 120 BPM, each at the
// RMS level make_workload.py's stem has, its peak kept at or under -1 dBFS) and a 3 s stereo reverb
// IR (float32, unit energy per channel), so bench_session.toml renders it. Simpler
// sources (RBJ biquads for the noise bands, no formants), so not make_workload.py's bytes: figures
// from the two workloads compare within a run, not across. Same arguments, same bytes (a fixed
// seed and one generator, std::mt19937_64 with a Box-Muller normal written here).
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr double kRate = 48000.0, kPi = 3.14159265358979323846, kBeat = 0.5;

struct Normal {  // Box-Muller over std::mt19937_64: the same values with every standard library
  std::mt19937_64 g{20240601};
  double operator()() {
    const double u1 = (double(g() >> 11) + 0.5) * 0x1.0p-53, u2 = double(g() >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
  }
};

// An RBJ biquad (low-pass, high-pass or band-pass) run over x in place.
void biquad(std::vector<double>& x, const char* kind, double f0, double q = 0.7071) {
  const double w = 2.0 * kPi * f0 / kRate, c = std::cos(w), al = std::sin(w) / (2.0 * q);
  double b0, b1, b2;
  if (kind[0] == 'l') b0 = (1 - c) / 2, b1 = 1 - c, b2 = (1 - c) / 2;
  else if (kind[0] == 'h') b0 = (1 + c) / 2, b1 = -(1 + c), b2 = (1 + c) / 2;
  else b0 = al, b1 = 0, b2 = -al;
  const double a0 = 1 + al, a1 = -2 * c, a2 = 1 - al;
  double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (double& v : x) {
    const double y = (b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
    x2 = x1, x1 = v, y2 = y1, y1 = y, v = y;
  }
}

std::vector<double> noise(Normal& rnd, size_t n, const char* kind, double f0, double q = 0.7071) {
  std::vector<double> x(n);
  for (double& v : x) v = rnd();
  biquad(x, kind, f0, q);
  biquad(x, kind, f0, q);
  return x;
}

double midi_hz(double m) { return 440.0 * std::pow(2.0, (m - 69.0) / 12.0); }

// Writes l and r scaled to `rms_db` (over both channels; the peak at most -1 dBFS), or as they are
// when rms_db is NaN.
void write(const std::filesystem::path& path, const std::vector<double>& l, const std::vector<double>& r,
           double rms_db, int format) {
  double peak = 1e-30, energy = 1e-30;
  for (size_t i = 0; i < l.size(); ++i) {
    peak = std::max({peak, std::fabs(l[i]), std::fabs(r[i])});
    energy += l[i] * l[i] + r[i] * r[i];
  }
  const double rms = std::sqrt(energy / double(2 * l.size()));
  const double g = std::isnan(rms_db) ? 1.0 : std::min(std::pow(10.0, rms_db / 20.0) / rms, std::pow(10.0, -1.0 / 20.0) / peak);
  std::vector<float> inter(2 * l.size());
  for (size_t i = 0; i < l.size(); ++i) inter[2 * i] = float(l[i] * g), inter[2 * i + 1] = float(r[i] * g);
  SF_INFO info{};
  info.samplerate = int(kRate), info.channels = 2, info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) {
    std::fprintf(stderr, "workload_gen: %s: %s\n", path.c_str(), sf_strerror(nullptr));
    std::exit(1);
  }
  sf_writef_float(f, inter.data(), sf_count_t(l.size()));
  sf_close(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: workload_gen OUT_DIR [SECONDS=60]\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const double seconds = argc == 3 ? std::atof(argv[2]) : 60.0;
  if (!(seconds > 0.0 && seconds <= 7200.0)) {
    std::fprintf(stderr, "workload_gen: SECONDS must be in (0, 7200]\n");
    return 2;
  }
  std::filesystem::create_directories(out);
  const size_t n = size_t(std::llround(seconds * kRate));
  Normal rnd;
  const int pcm24 = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
  const double roots[] = {45, 41, 48, 43};
  auto t_of = [](size_t i) { return double(i) / kRate; };
  auto since = [](double t, double step) { return std::fmod(t, step); };
  auto root = [&](double t) { return roots[size_t(t / (4 * kBeat)) % 4]; };

  std::vector<double> l(n), r(n);
  {  // kick: a falling sine on every beat and a click
    const auto click = noise(rnd, n, "b", 3000.0, 0.7);
    double ph = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double ts = since(t_of(i), kBeat);
      ph += 2 * kPi * (48.0 + 110.0 * std::exp(-ts / 0.03)) / kRate;
      l[i] = r[i] = std::sin(ph) * std::exp(-ts / 0.18) + 0.3 * click[i] * std::exp(-ts / 0.004);
    }
    write(out / "kick.wav", l, r, -17.7, pcm24);
  }
  {  // snare on 2 and 4
    const auto body = noise(rnd, n, "b", 1500.0, 0.5);
    for (size_t i = 0; i < n; ++i) {
      const double t = t_of(i), ts = since(t + kBeat, 2 * kBeat);
      l[i] = (0.8 * body[i] + 0.5 * std::sin(2 * kPi * 185.0 * t)) * std::exp(-ts / 0.12);
      r[i] = 0.85 * l[i] + 0.15 * (i >= 658 ? l[i - 658] : 0.0);
    }
    write(out / "snare.wav", l, r, -29.3, pcm24);
  }
  {  // hats on the eighths
    const auto hi = noise(rnd, n, "h", 7000.0);
    for (size_t i = 0; i < n; ++i) {
      const double t = t_of(i), ts = since(t, kBeat / 2);
      const size_t k = size_t(t / (kBeat / 2));
      l[i] = hi[i] * (k % 2 ? 0.55 : 1.0) * std::exp(-ts / (k % 8 == 7 ? 0.25 : 0.035));
      r[i] = 0.7 * l[i] + 0.3 * (i >= 34 ? l[i - 34] : 0.0);
    }
    write(out / "hats.wav", l, r, -34.8, pcm24);
  }
  // A sum of harmonics of f0 (band-limited to 20 kHz) from phase ph.
  auto harmonics = [](double ph, double f0, int count, double tilt) {
    double y = 0.0;
    for (int k = 1; k <= count && k * f0 < 20000.0; ++k) y += std::sin(k * ph + 0.7 * k) / std::pow(k, tilt);
    return y;
  };
  {  // bass: the bar's root, saturated
    double ph = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double t = t_of(i), f0 = midi_hz(root(t) - 12.0);
      ph += 2 * kPi * f0 / kRate;
      l[i] = r[i] = std::tanh(1.8 * harmonics(ph, f0, 10, 1.2)) * (0.55 + 0.45 * std::exp(-since(t, kBeat / 2) / 0.12));
    }
    write(out / "bass.wav", l, r, -8.4, pcm24);
  }
  {  // keys: a triad every half bar; pad: a slow swell of detuned fifths
    double ph[3] = {}, pp[4] = {};
    std::vector<double> pl(n), pr(n);
    for (size_t i = 0; i < n; ++i) {
      const double t = t_of(i), ts = since(t, 2 * kBeat), env = std::min(ts / 0.008, 1.0) * (0.35 + 0.65 * std::exp(-ts / 0.4));
      double k = 0.0;
      const double iv[3] = {0, 4, 7}, g[3] = {1.0, 0.8, 0.7};
      for (int j = 0; j < 3; ++j) {
        const double f0 = midi_hz(root(t) + 12 + iv[j]);
        ph[j] += 2 * kPi * f0 / kRate;
        k += g[j] * harmonics(ph[j], f0, 12, 1.6);
      }
      l[i] = k * env;
      r[i] = 0.75 * l[i] + 0.25 * (i >= 53 ? l[i - 53] : 0.0);
      const double sw = 0.5 - 0.5 * std::cos(2 * kPi * t / (8 * kBeat));
      const double dt[4] = {-0.003, 0.004, -0.005, 0.002};
      double a = 0.0, b = 0.0;
      for (int j = 0; j < 4; ++j) {
        const double f0 = midi_hz(root(t) + 24 + (j % 2 ? 7 : 0)) * (1 + dt[j]);
        pp[j] += 2 * kPi * f0 / kRate;
        (j < 2 ? a : b) += harmonics(pp[j], f0, 8, 2.0);
      }
      pl[i] = a * sw, pr[i] = b * sw;
    }
    write(out / "keys.wav", l, r, -22.0, pcm24);
    write(out / "pad.wav", pl, pr, -29.4, pcm24);
  }
  {  // vocal: a melody with vibrato in two-bar phrases, and breath
    const double mel[16] = {0, 3, 5, 7, 5, 3, 0, -2, 0, 7, 10, 12, 10, 7, 5, 3};
    const auto breath = noise(rnd, n, "b", 5000.0, 0.8);
    double ph = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double t = t_of(i);
      const double f0 = midi_hz(69.0 + mel[size_t(t / kBeat) % 16]) * (1.0 + 0.012 * std::sin(2 * kPi * 5.5 * t));
      ph += 2 * kPi * f0 / kRate;
      const double phrase = std::pow(std::clamp(std::sin(2 * kPi * t / (8 * kBeat)) * 1.6, 0.0, 1.0), 0.7);
      l[i] = r[i] = (harmonics(ph, f0, 40, 0.9) + 0.03 * breath[i]) * phrase;
    }
    write(out / "vocal.wav", l, r, -16.8, pcm24);
  }
  {  // fx: noise rising in brightness over the last quarter of every 8 bars
    std::vector<double> nz(n);
    for (double& v : nz) v = rnd();
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double pos = std::fmod(t_of(i), 32 * kBeat) / (32 * kBeat), rise = std::pow(std::clamp((pos - 0.75) / 0.25, 0.0, 1.0), 2.0);
      const double a = std::exp(-2 * kPi * (400.0 + 7000.0 * rise) / kRate);
      s = (1 - a) * nz[i] + a * s;
      l[i] = 1.5 * s * rise;
    }
    for (size_t i = 0; i < n; ++i) r[i] = i >= 331 ? l[i - 331] : 0.0;
    write(out / "fx.wav", l, r, -37.6, pcm24);
  }
  {  // the IR: 3 s of decaying noise, different per channel, float32
    const size_t m = size_t(3.0 * kRate);
    std::vector<double> il(m), ir(m);
    for (size_t i = 0; i < m; ++i) {
      const double e = std::exp(-6.9 * double(i) / double(m));
      il[i] = rnd() * e, ir[i] = rnd() * e;
    }
    for (auto* c : {&il, &ir}) {
      double e = 0.0;
      for (double v : *c) e += v * v;
      for (double& v : *c) v /= std::sqrt(e);
    }
    write(out / "ir.wav", il, ir, std::nan(""), SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  }
  std::printf("workload_gen: %s: 8 stems of %.1f s and ir.wav\n", out.c_str(), seconds);
  return 0;
}
