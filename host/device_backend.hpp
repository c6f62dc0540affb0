// The backend over the device interface (docs/architecture.md "The device interface"): the
// orchestration of the sample passes written once against kernels/device/device.hpp, executed by
// CUDA on a GPU (`--backend cuda`) and by the host executor everywhere (`--backend cuda-host`, a
// test aid). Every pass runs on the device: convolutions (EQ FIRs, reverb IRs), the compressor,
// the true-peak limiter, the meter's K-weighted segment energies and its true and sample peaks;
// except the compressor of the streamed chains and the RMS detector, which run on the host (the
// CPU backend's, over `host_pool`: they are handed spans already on the host). The passes over
// rows already on the device serve the device render (host/device_render.hpp). Calls come from one
// thread at a time (the render runs the stems' spans in parallel on the CPU backend only).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "host/backend.hpp"
#include "kernels/device/device.hpp"

namespace lq {

struct DeviceBackendOptions {
  // Real frame samples per convolution batch (frames of one FFT size transformed together): a
  // constant of the algorithm on a GPU (128 MiB of frames); tests lower it to run several batches
  // on short material. The bits do not depend on it.
  int64_t batch_samples = int64_t{1} << 25;
  // The device memory a song rendered on the device (host/device_render.hpp) may take; a song
  // whose render would take more goes through the passes one by one (Backend's interface).
  int64_t memory_budget_bytes = int64_t{2} << 30;
};

// The backend: Backend's passes over host buffers (each uploads its input, downloads its result
// and syncs once; the limiter once a pass more), built on the same passes over planar rows
// already on the device, which the device render (host/device_render.hpp) calls directly.
class DeviceBackend final : public Backend {
 public:
  DeviceBackend(std::string name, std::unique_ptr<dev::Device> device, std::unique_ptr<Backend> host,
                DeviceBackendOptions options, std::unique_ptr<cpu::ThreadPool> owned_pool);
  ~DeviceBackend() override;

  std::string name() const override { return name_; }
  std::string device() const override { return d_->description(); }
  const dev::Counters* device_counters() const override { return &d_->counters(); }

  void convolve(std::span<const float* const> x, int64_t n_in, int64_t offset, std::span<const std::span<const float>> taps,
                std::span<float* const> y, int64_t n_out) override;
  DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& params) override;
  // The streamed chains' compressor and the RMS detector run on the host (they hand spans
  // already on the host): `host_`'s.
  std::unique_ptr<CompressorStream> compressor_stream(const dsp::CompressorParams& params, double sample_rate,
                                                      int channels) override {
    return host_->compressor_stream(params, sample_rate, channels);
  }
  LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params) override;
  // limit_true_peak_while_read: Backend's (waits for the reader, this device's true-peak scan,
  // then the limiter).
  std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio, std::span<const int> channels,
                                                               int64_t segment_frames) override;
  double true_peak_scan(const AudioBuffer& audio) override;
  double sample_peak_scan(const AudioBuffer& audio) override;
  MeterPasses meter_passes(const AudioBuffer& audio, std::span<const int> channels, int64_t segment_frames) override;

  // ---- the passes over planar rows on the device: `rows` rows of n frames, row r at r * n ----
  dev::Device& dev() { return *d_; }
  const DeviceBackendOptions& options() const { return options_; }
  // Waits for the device: downloads issued before it are then in place, uploads' sources free.
  void sync();
  // y's rows = x's rows convolved as convolve() does (every row's taps of one length; rows whose
  // taps are the same span share a spectrum). x and y must not overlap.
  void convolve_rows(const float* x, int rows, int64_t n_in, int64_t offset, std::span<const std::span<const float>> taps,
                     float* y, int64_t n_out);
  // A compressor's statistics, read on the device and in place on the host after the next sync.
  struct PendingStats {
    dev::Buffer<double> block_max, block_sum;
    std::vector<double> max, sum;
    double count = 0.0;                 // the values the mean is over
    std::optional<DynamicsStats> done;  // set when the compressor ran on the host
    DynamicsStats value() const;        // after the sync
  };
  // The compressor in place on x (the RMS detector: x down, the host's compressor, x up again).
  PendingStats compress_rows(float* x, int rows, int64_t n, double rate, const dsp::CompressorParams& params);
  // The true-peak limiter in place on x; syncs once a pass and once at the end, and downloads x
  // into *download_to (which has `rows` channels of n frames) before that last sync when given.
  LimiterStats limit_rows(float* x, int rows, int64_t n, double rate, const dsp::LimiterParams& params,
                          AudioBuffer* download_to = nullptr);
  // The meter's passes asked for (kEnergies: rows `channels`' K-weighted energies per segment;
  // kTruePeak, kSamplePeak: over every row), one sync.
  enum Pass : unsigned { kEnergies = 1, kTruePeak = 2, kSamplePeak = 4 };
  MeterPasses measure_rows(const float* x, int rows, int64_t n, double rate, std::span<const int> channels,
                           int64_t segment_frames, unsigned passes);
  // The exact maximum of count >= 0 values in v: fixed-block maxima until a few are left, then
  // downloaded into *result (valid after the next sync; NaN propagates).
  void max_of(const double* v, int64_t count, std::vector<double>& result);
  // The block maxima of |x| over count floats into *result (valid after the next sync): their
  // maximum is the sample peak (NaN or inf when a value is not finite).
  void max_abs_of(const float* x, int64_t count, std::vector<double>& result);
  // Rows [0, out.channel_count()) of x (rows of n frames) into out's first n frames, after the next sync.
  void download_rows(const float* x, int64_t n, AudioBuffer& out);

 private:
  dev::Buffer<float> upload(const AudioBuffer& a);
  MeterPasses measure(const AudioBuffer& audio, std::span<const int> channels, int64_t segment_frames, unsigned passes);
  void k_weighted_energies(const float* x, int64_t frames, double rate, std::span<const int> channels,
                           int64_t segment_frames, std::vector<std::vector<double>>& out);
  const dev::Buffer<dev::Complex>& spectrum(std::span<const float> taps, int64_t k);
  // The largest limiter reading of x (channels rows of n frames) into profile (n + 127 values).
  double limiter_peak(const float* x, int channels, int64_t n, double* profile);
  // y = the recurrence R over [0, n) (chunked on the device, the sequential loop's bits).
  template <class R>
  void run_recurrence(const R& rec, typename R::Value* y, int64_t n);

  std::string name_;
  std::unique_ptr<cpu::ThreadPool> owned_pool_;  // the host backend's, when this backend owns it
  std::unique_ptr<dev::Device> d_;
  std::unique_ptr<Backend> host_;
  dev::Buffer<float> sinc_taps_;  // dsp::sinc_taps on the device (first limiter call)
  DeviceBackendOptions options_;
  // Filter spectra by (taps, K): a song's identical filters are transformed once. At most
  // kSpectraCached, then emptied.
  static constexpr size_t kSpectraCached = 32;
  std::map<std::pair<std::vector<float>, int64_t>, dev::Buffer<dev::Complex>> spectra_;
  // Host memory an upload reads until the next sync.
  std::vector<std::vector<int>> staging_ints_;
  std::vector<std::vector<float>> staging_floats_;
};

// host_pool: the host part's threads (must outlive the backend); null: one thread of its own.
std::unique_ptr<Backend> make_device_backend(std::string name, std::unique_ptr<dev::Device> device,
                                             DeviceBackendOptions options = {}, cpu::ThreadPool* host_pool = nullptr);

// The CUDA executor's backend on `device_index` (what make_cuda_backend returns, with `options`);
// throws UserError when the build or the machine has none.
std::unique_ptr<Backend> make_cuda_device_backend(int device_index, DeviceBackendOptions options);

// The host executor's backend over `pool` (which must outlive it): `--backend cuda-host`.
std::unique_ptr<Backend> make_cuda_host_backend(cpu::ThreadPool& pool, DeviceBackendOptions options = {});

}  // namespace lq
