// The backend interface (docs/architecture.md "Backends"): the sample passes of the chain, over planar float
// host buffers. The host decodes, plans (EQ design, gating, the loudness loop) and encodes; a
// backend runs the heavy passes: convolutions (EQ FIRs, reverb IRs), the compressor, the true-peak
// limiter, the meter's K-weighted energies and its peak scans.
//
// Implementations: CpuBackend (kernels/cpu: FFTW, the thread pool; the reference) and, in builds
// with CUDA, CudaBackend (kernels/cuda: cuFFT and kernels on one device).
// Promises: the same backend with the same inputs gives the same bits, whatever the thread count.
// CPU against CUDA: within 1e-5 of full scale per sample, the same report figures to 0.01 LU/dB.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kernels/dsp/dynamics_params.hpp"

namespace lq::dev {
struct Counters;
}

namespace lq {
struct DeviceBackendOptions;
}

namespace lq {

using cpu::DynamicsStats;
using cpu::LimiterStats;

// A compressor carried across the spans of one signal (Backend::compressor_stream).
class CompressorStream {
 public:
  virtual ~CompressorStream() = default;
  virtual int64_t lookahead_frames() const = 0;
  // audio: the span's `frames` frames, then the signal's next min(lookahead_frames(), frames left),
  // read, not changed (frames past those are not read).
  virtual void process(AudioBuffer& audio, int64_t frames) = 0;
  virtual DynamicsStats stats() const = 0;  // over every frame processed so far
  // The largest reduction in each step of `step_frames` frames (cpu::CompressorStream::record_steps),
  // for the report's series; a backend that cannot gives none.
  virtual void record_steps(int64_t /*step_frames*/) {}
  virtual std::vector<float> step_reductions() const { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;         // "cpu" or "cuda"
  virtual std::string device() const = 0;       // e.g. "2 threads" or "cuda:0 NVIDIA H100 (sm_90)"
  // What a backend over the device interface has done so far (host/device_backend.hpp); null for
  // the CPU backend.
  virtual const dev::Counters* device_counters() const { return nullptr; }

  // For each channel c: y[c][k] = sum_j h_c[j] x[c][offset + k - j], k in [0, n_out), x[c] taken
  // as 0 outside [0, n_in); h_c = taps[c] (taps.size() == x.size(); equal spans share one spectrum).
  // offset = (L-1)/2 with n_out = n_in: a latency-compensated linear-phase FIR; offset = 0 with
  // n_out = n_in + L - 1: the full convolution with its tail. x and y must not overlap.
  virtual void convolve(std::span<const float* const> x, int64_t n_in, int64_t offset,
                        std::span<const std::span<const float>> taps, std::span<float* const> y,
                        int64_t n_out) = 0;

  // kernels/cpu/dynamics.hpp: the compressor and the true-peak limiter, in place.
  virtual DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& params) = 0;
  // The compressor over consecutive spans of one signal, as cpu::CompressorStream (the same bits
  // as compress() over the whole). The CUDA backend's runs on the host (make_cpu_compressor_stream):
  // the streamed chains hand it spans already on the host.
  virtual std::unique_ptr<CompressorStream> compressor_stream(const dsp::CompressorParams& params, double sample_rate,
                                                              int channels) = 0;
  virtual LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params) = 0;
  // The same limiter while another thread may still be reading `audio`: read_up_to(f) returns once
  // that reader is done with frames [0, f), and is called before any frame under f is written.
  // The stats also hold the input's true peak (input_true_peak_linear: true_peak_scan's value).
  // This default waits for the whole input and scans it first; the CPU backend's limiter starts at
  // once and takes the input's true peak from its own first readings.
  virtual LimiterStats limit_true_peak_while_read(AudioBuffer& audio, const dsp::LimiterParams& params,
                                                  const std::function<void(int64_t)>& read_up_to) {
    read_up_to(audio.frames());
    const double input_true_peak = true_peak_scan(audio);
    LimiterStats s = limit_true_peak(audio, params);
    s.input_true_peak_linear = input_true_peak;
    return s;
  }

  // kernels/cpu/loudness.hpp: energies[j][k] of channel channels[j] K-weighted from zero state over
  // segment k of segment_frames; the true-peak (BS.1770-4 Annex 2) and sample-peak maxima.
  virtual std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio,
                                                                       std::span<const int> channels,
                                                                       int64_t segment_frames) = 0;
  virtual double true_peak_scan(const AudioBuffer& audio) = 0;
  virtual double sample_peak_scan(const AudioBuffer& audio) = 0;

  // The three passes above for one measurement (host/loudness.cpp measure_loudness); by default
  // one after another. The CPU backend runs them side by side (cpu::MeterStream), the same values.
  struct MeterPasses {
    std::vector<std::vector<double>> energies;
    double sample_peak = 0.0, true_peak = 0.0;
  };
  virtual MeterPasses meter_passes(const AudioBuffer& audio, std::span<const int> channels, int64_t segment_frames) {
    return {k_weighted_segment_energies(audio, channels, segment_frames), sample_peak_scan(audio), true_peak_scan(audio)};
  }
};

// The CPU backend over a thread pool the caller owns.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(cpu::ThreadPool& pool) : pool_(pool) {}
  std::string name() const override { return "cpu"; }
  std::string device() const override;
  void convolve(std::span<const float* const> x, int64_t n_in, int64_t offset,
                std::span<const std::span<const float>> taps, std::span<float* const> y, int64_t n_out) override;
  DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& params) override;
  std::unique_ptr<CompressorStream> compressor_stream(const dsp::CompressorParams& params, double sample_rate,
                                                      int channels) override;
  LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params) override;
  LimiterStats limit_true_peak_while_read(AudioBuffer& audio, const dsp::LimiterParams& params,
                                          const std::function<void(int64_t)>& read_up_to) override;
  std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio,
                                                               std::span<const int> channels,
                                                               int64_t segment_frames) override;
  double true_peak_scan(const AudioBuffer& audio) override;
  double sample_peak_scan(const AudioBuffer& audio) override;
  MeterPasses meter_passes(const AudioBuffer& audio, std::span<const int> channels, int64_t segment_frames) override;

 private:
  cpu::ThreadPool& pool_;
};

// The CPU compressor stream (kernels/cpu/dynamics.hpp) over `pool`, which must outlive it.
std::unique_ptr<CompressorStream> make_cpu_compressor_stream(const dsp::CompressorParams& params, double sample_rate,
                                                             int channels, cpu::ThreadPool& pool);

// The names --backend takes: cpu, cuda, auto, and cuda-host (the device backend's orchestration on
// the host executor: a test aid, not for speed; host/device_backend.hpp).
inline constexpr const char* kBackendNames = "cpu, cuda, auto or cuda-host";
bool known_backend(const std::string& name);

// Picks the backend for `--backend cpu|cuda|auto|cuda-host`. cuda: the CUDA backend on device 0, or
// UsageError when this build has none, UserError when no GPU is usable (with the runtime's
// reason). auto: CUDA when a device is usable, else the CPU; *note says why the CPU was chosen.
// `pool` serves the CPU backend and must outlive the result. `device`: the device backends'
// options (null: the defaults).
std::unique_ptr<Backend> make_backend(const std::string& name, cpu::ThreadPool& pool, std::string* note = nullptr,
                                      const DeviceBackendOptions* device = nullptr);

// The CUDA backend on `device_index` (throws UserError when the build or the machine has none).
std::unique_ptr<Backend> make_cuda_backend(int device_index = 0);

}  // namespace lq
