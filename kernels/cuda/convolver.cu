// Batched overlap-save convolution on cuFFT (EQ FIRs and reverb IRs): Executor::convolve.
//
// Math: kernels/dsp/overlap_save.hpp (the same frames, FFT sizes and hop as the CPU convolver).
// Decomposition (the frame mapping is dsp::OverlapSave's batched form, run on the CPU with FFTW by
// tests/dsp/overlap_save_test.cpp): the channels that share a filter length (so an FFT size) form one problem of
// channels x segments frames, run in fixed batches of kBatchSamples / K frames through one cuFFT
// plan per (K, batch): gather (one thread per frame sample, zeros outside the input) -> R2C ->
// multiply by the channel's filter spectrum (one thread per bin) -> C2R -> scatter the frame's
// valid outputs (one thread per output sample). Every frame is independent and written once, so
// the bits depend only on the input, never on scheduling. The batch is a constant per K (never
// derived from free memory), so a song of any length runs in a bounded working set: about
// 2 x 128 MiB of frames and bins plus cuFFT's work area.
// Filter spectra: the taps in float64, D2Z, scaled by 1/K and rounded to float once, as the CPU does;
// cached by their taps (Executor::Impl::spectra), so a song's identical filters are transformed once.
// The spectral multiply is a separate kernel; fusing it into cuFFT's load/store callbacks is left
// for a measurement on a GPU (it saves one read and one write of the bins per batch).
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <vector>

#include "kernels/cuda/executor_impl.cuh"
#include "kernels/dsp/overlap_save.hpp"

namespace lq::cuda {

namespace {

constexpr unsigned kThreads = 256;
constexpr long long kBatchSamples = 1LL << 25;  // real frame samples per batch (128 MiB)

// frames[b][i] = frame first + b, sample i (dsp::OverlapSave::frame_sample).
__global__ void gather_kernel(const float* x, long long n_in, long long offset, dsp::OverlapSave os,
                              long long segments, long long total_frames, long long first, int batch,
                              float* frames) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= (long long)batch * os.k) return;
  frames[t] = os.frame_sample(x, n_in, offset, segments, total_frames, first + t / os.k, t % os.k);
}

// bins[b][k] *= H_{filter(ch)}[k], the complex product written as the CPU writes it.
__global__ void multiply_kernel(cufftComplex* bins, const cufftComplex* spectra, const int* filter_of_channel,
                                long long bins_per_frame, long long segments, long long total_frames,
                                long long first, int batch) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= (long long)batch * bins_per_frame) return;
  const long long b = t / bins_per_frame, k = t % bins_per_frame, f = first + b;
  if (f >= total_frames) return;
  const cufftComplex h = spectra[(long long)filter_of_channel[f / segments] * bins_per_frame + k];
  const cufftComplex x = bins[t];
  bins[t] = make_cuFloatComplex(x.x * h.x - x.y * h.y, x.x * h.y + x.y * h.x);
}

// y at dsp::OverlapSave::output_index = frames[b][L-1+j].
__global__ void scatter_kernel(const float* frames, dsp::OverlapSave os, long long segments, long long total_frames,
                               long long first, int batch, long long n_out, float* y) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= (long long)batch * os.hop) return;
  const long long b = t / os.hop, j = t % os.hop;
  const long long out = os.output_index(n_out, segments, total_frames, first + b, j);
  if (out >= 0) y[out] = frames[b * os.k + (os.l - 1) + j];
}

__global__ void scale_to_float_kernel(const cufftDoubleComplex* in, long long n, double scale, cufftComplex* out) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t < n) out[t] = make_cuFloatComplex(static_cast<float>(in[t].x * scale), static_cast<float>(in[t].y * scale));
}

// L = 1: y[ch][k] = h_ch * x[ch][offset + k].
__global__ void scalar_kernel(const float* x, long long n_in, long long offset, const float* h, int channels,
                              long long n_out, float* y) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= (long long)channels * n_out) return;
  const long long ch = t / n_out, k = t % n_out, src = offset + k;
  y[t] = src >= 0 && src < n_in ? h[ch] * x[ch * n_in + src] : 0.0f;
}

}  // namespace

const DeviceBuffer<cufftComplex>& Executor::Impl::spectrum(std::span<const float> taps, int k) {
  std::vector<float> key(taps.begin(), taps.end());
  if (auto it = spectra.find(key); it != spectra.end() && it->second.size() == size_t(k / 2 + 1)) return it->second;
  if (spectra.size() >= kSpectraCached) spectra.clear();
  const size_t bins = size_t(k / 2 + 1);
  std::vector<double> padded(size_t(k), 0.0);
  for (size_t i = 0; i < taps.size(); ++i) padded[i] = double(taps[i]);
  DeviceBuffer<double> hd(padded.size(), s());
  DeviceBuffer<cufftDoubleComplex> hs(bins, s());
  DeviceBuffer<cufftComplex> out(bins, s());
  hd.upload(padded.data(), padded.size());
  LQ_CUFFT_CHECK(cufftExecD2Z(plan(k, 1, CUFFT_D2Z).get(), hd.get(), hs.get()));
  scale_to_float_kernel<<<grid_for((long long)bins, kThreads), kThreads, 0, s()>>>(hs.get(), (long long)bins,
                                                                                  1.0 / double(k), out.get());
  LQ_CUDA_CHECK_LAUNCH();
  LQ_CUDA_CHECK(cudaStreamSynchronize(s()));  // `padded` leaves scope: its copy must be done
  spectra.erase(key);
  return spectra.emplace(std::move(key), std::move(out)).first->second;
}

void Executor::convolve(std::span<const float* const> x, int64_t n_in, int64_t offset,
                        std::span<const std::span<const float>> taps, std::span<float* const> y, int64_t n_out) {
  Impl& m = *impl_;
  const cudaStream_t s = m.s();
  if (n_out <= 0 || x.empty()) return;
  n_in = std::max<int64_t>(n_in, 0);

  // Channels grouped by filter length (one FFT size), in order of first appearance.
  std::map<int64_t, std::vector<size_t>> by_length;
  for (size_t c = 0; c < x.size(); ++c) by_length[static_cast<int64_t>(taps[c].size())].push_back(c);

  for (const auto& [l, chans] : by_length) {
    const int channels = static_cast<int>(chans.size());
    DeviceBuffer<float> xin(static_cast<size_t>(channels) * static_cast<size_t>(n_in), s);
    DeviceBuffer<float> yout(static_cast<size_t>(channels) * static_cast<size_t>(n_out), s);
    for (int j = 0; j < channels; ++j) xin.upload(x[chans[size_t(j)]], size_t(n_in), size_t(j) * size_t(n_in));

    if (l == 1) {
      std::vector<float> h(static_cast<size_t>(channels));
      for (int j = 0; j < channels; ++j) h[size_t(j)] = taps[chans[size_t(j)]][0];
      DeviceBuffer<float> hd(h.size(), s);
      hd.upload(h.data(), h.size());
      scalar_kernel<<<grid_for((long long)channels * n_out, kThreads), kThreads, 0, s>>>(
          xin.get(), n_in, offset, hd.get(), channels, n_out, yout.get());
      LQ_CUDA_CHECK_LAUNCH();
    } else {
      const dsp::OverlapSave os = dsp::overlap_save_for(l);
      const long long bins = os.k / 2 + 1;
      // Distinct filters (equal spans share one spectrum) and each channel's filter.
      std::vector<std::span<const float>> filters;
      std::vector<int> filter_of(static_cast<size_t>(channels));
      for (int j = 0; j < channels; ++j) {
        const auto& t = taps[chans[size_t(j)]];
        int idx = -1;
        for (size_t q = 0; q < filters.size(); ++q) {
          if (filters[q].data() == t.data() && filters[q].size() == t.size()) idx = static_cast<int>(q);
        }
        if (idx < 0) {
          idx = static_cast<int>(filters.size());
          filters.push_back(t);
        }
        filter_of[size_t(j)] = idx;
      }
      const int nf = static_cast<int>(filters.size());
      DeviceBuffer<cufftComplex> spectra(size_t(nf) * size_t(bins), s);
      for (int q = 0; q < nf; ++q) {
        const DeviceBuffer<cufftComplex>& h = m.spectrum(filters[size_t(q)], int(os.k));
        LQ_CUDA_CHECK(cudaMemcpyAsync(spectra.get() + size_t(q) * size_t(bins), h.get(), h.bytes(),
                                      cudaMemcpyDeviceToDevice, s));
      }
      DeviceBuffer<int> filter_dev(filter_of.size(), s);
      filter_dev.upload(filter_of.data(), filter_of.size());

      const long long segments = os.segments(n_out);
      const long long total = segments * channels;
      const int batch = static_cast<int>(std::max<long long>(1, kBatchSamples / os.k));
      DeviceBuffer<float> frames(size_t(batch) * size_t(os.k), s);
      DeviceBuffer<cufftComplex> spec(size_t(batch) * size_t(bins), s);
      const FftPlan& r2c = m.plan(int(os.k), batch, CUFFT_R2C);
      const FftPlan& c2r = m.plan(int(os.k), batch, CUFFT_C2R);
      for (long long first = 0; first < total; first += batch) {
        gather_kernel<<<grid_for((long long)batch * os.k, kThreads), kThreads, 0, s>>>(
            xin.get(), n_in, offset, os, segments, total, first, batch, frames.get());
        LQ_CUDA_CHECK_LAUNCH();
        LQ_CUFFT_CHECK(cufftExecR2C(r2c.get(), frames.get(), spec.get()));
        multiply_kernel<<<grid_for((long long)batch * bins, kThreads), kThreads, 0, s>>>(
            spec.get(), spectra.get(), filter_dev.get(), bins, segments, total, first, batch);
        LQ_CUDA_CHECK_LAUNCH();
        LQ_CUFFT_CHECK(cufftExecC2R(c2r.get(), spec.get(), frames.get()));
        scatter_kernel<<<grid_for((long long)batch * os.hop, kThreads), kThreads, 0, s>>>(
            frames.get(), os, segments, total, first, batch, n_out, yout.get());
        LQ_CUDA_CHECK_LAUNCH();
      }
    }
    for (int j = 0; j < channels; ++j) yout.download(y[chans[size_t(j)]], size_t(n_out), size_t(j) * size_t(n_out));
    LQ_CUDA_CHECK(cudaStreamSynchronize(s));
  }
}

}  // namespace lq::cuda
