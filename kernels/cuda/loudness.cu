// The meter's K-weighted segment energies on the GPU: Executor::k_weighted_segment_energies.
//
// Math: kernels/dsp/k_weighting.hpp (the two BS.1770-4 biquads), kernels/dsp/biquad_chunks.hpp (the
// three-phase chunked evaluation, tested against the sequential loop on the CPU).
// Decomposition, per stage, over (channel, chunk) pairs, chunk = dsp::k_weighting_chunk_frames(segment):
//  1. one thread per (channel, chunk) runs its chunk from zero state and keeps the end state;
//  2. the host carries the true start states through the chunks in order (2x2 products);
//  3. one thread per (channel, chunk) re-runs its chunk from its true state: stage 1 writes its
//     output (float64, the input of stage 2); stage 2 sums squares per segment in index order.
// Every chunk holds whole segments, so each energy is one thread's in-order sum: the figures do not
// depend on scheduling, and differ from the CPU's sequential loop only by the carried state's
// rounding (about 1e-10 of full scale; tests/dsp/biquad_chunks_test.cpp).
#include <cuda_runtime.h>

#include <stdexcept>
#include <vector>

#include "kernels/cuda/executor_impl.cuh"
#include "kernels/dsp/biquad_chunks.hpp"

namespace lq::cuda {

namespace {

constexpr unsigned kThreads = 64;  // one sequential chunk per thread

struct Layout {
  long long frames;   // per channel
  long long chunk;
  long long chunks;   // per channel
  int channels;       // selected channels
};

template <class In>
__device__ dsp::BiquadRecurrence<In> stage(const In* x, const dsp::BiquadCoefficients& c) {
  return dsp::BiquadRecurrence<In>{x, 0, c, {0.0, 0.0}};
}

// Phase 1 of a stage over input rows in[j * frames ...] (j: selected channel).
template <class In>
__global__ void zero_state_kernel(const In* in, const int* rows, Layout L, dsp::BiquadCoefficients c, double* zs) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= L.chunks * L.channels) return;
  const long long j = t / L.chunks, ch = t % L.chunks;
  const In* x = in + (rows ? rows[j] : j) * L.frames;
  const double zero[2] = {0.0, 0.0};
  const long long b = ch * L.chunk, e = b + L.chunk < L.frames ? b + L.chunk : L.frames;
  dsp::biquad_end_state(stage(x, c), b, e, zero, zs + 2 * t);
}

// Phase 3 of stage 1: u[j] over the chunk from its true start state.
__global__ void shelf_output_kernel(const float* in, const int* rows, Layout L, dsp::BiquadCoefficients c,
                                    const double* start, double* u) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= L.chunks * L.channels) return;
  const long long j = t / L.chunks, ch = t % L.chunks;
  const long long b = ch * L.chunk, e = b + L.chunk < L.frames ? b + L.chunk : L.frames;
  dsp::run_from_state(stage(in + rows[j] * L.frames, c), u + j * L.frames, b, e, start + 2 * t);
}

// Phase 3 of stage 2: the squares of its output summed per segment.
__global__ void highpass_energy_kernel(const double* u, Layout L, dsp::BiquadCoefficients c, const double* start,
                                       long long segment, long long segments, double* energies) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= L.chunks * L.channels) return;
  const long long j = t / L.chunks, ch = t % L.chunks;
  const long long b = ch * L.chunk, e = b + L.chunk < L.frames ? b + L.chunk : L.frames;
  dsp::biquad_segment_energies(stage(u + j * L.frames, c), b, e, start + 2 * t, segment, segments * segment,
                               energies + j * segments);
}

// Phase 2 on the host: start states of every (channel, chunk) from the zero-state end states.
void carry(const DeviceBuffer<double>& zs, const dsp::BiquadCoefficients& c, const Layout& L,
           DeviceBuffer<double>& start, cudaStream_t s) {
  std::vector<double> h(zs.size()), st(zs.size());
  zs.download(h.data(), h.size());
  LQ_CUDA_CHECK(cudaStreamSynchronize(s));
  double m[4];
  dsp::biquad_homogeneous_matrix(c, L.chunk, m);
  const double init[2] = {0.0, 0.0};
  for (int j = 0; j < L.channels; ++j) {
    dsp::biquad_carry(m, h.data() + 2 * j * L.chunks, L.chunks, init, st.data() + 2 * j * L.chunks);
  }
  start.upload(st.data(), st.size());
  LQ_CUDA_CHECK(cudaStreamSynchronize(s));  // `st` leaves scope
}

}  // namespace

std::vector<std::vector<double>> Executor::k_weighted_segment_energies(const cpu::AudioBuffer& audio,
                                                                       std::span<const int> channels,
                                                                       int64_t segment_frames) {
  if (segment_frames < 1) throw std::invalid_argument("k_weighted_segment_energies: segment_frames < 1");
  if (!(audio.sample_rate > 0.0)) throw std::invalid_argument("k_weighted_segment_energies: sample rate <= 0");
  for (int c : channels) {
    if (c < 0 || c >= audio.channel_count()) {
      throw std::invalid_argument("k_weighted_segment_energies: channel index out of range");
    }
  }
  const long long frames = audio.frames();
  const long long segments = frames / segment_frames;
  std::vector<std::vector<double>> out(channels.size(), std::vector<double>(size_t(segments)));
  if (channels.empty() || segments == 0) return out;

  Impl& m = *impl_;
  const cudaStream_t s = m.s();
  const auto k = dsp::k_weighting_coefficients(audio.sample_rate);
  Layout L{frames, dsp::k_weighting_chunk_frames(segment_frames), 0, static_cast<int>(channels.size())};
  L.chunks = (frames + L.chunk - 1) / L.chunk;

  const DeviceAudio d = m.upload(audio);
  DeviceBuffer<int> rows(channels.size(), s);
  rows.upload(channels.data(), channels.size());
  LQ_CUDA_CHECK(cudaStreamSynchronize(s));
  const long long tasks = L.chunks * L.channels;
  DeviceBuffer<double> zs(size_t(2 * tasks), s), start(size_t(2 * tasks), s);
  DeviceBuffer<double> u(size_t(L.channels) * size_t(frames), s);
  DeviceBuffer<double> energies(size_t(L.channels) * size_t(segments), s);

  zero_state_kernel<float><<<grid_for(tasks, kThreads), kThreads, 0, s>>>(d.data.get(), rows.get(), L, k.shelf, zs.get());
  LQ_CUDA_CHECK_LAUNCH();
  carry(zs, k.shelf, L, start, s);
  shelf_output_kernel<<<grid_for(tasks, kThreads), kThreads, 0, s>>>(d.data.get(), rows.get(), L, k.shelf, start.get(), u.get());
  LQ_CUDA_CHECK_LAUNCH();
  zero_state_kernel<double><<<grid_for(tasks, kThreads), kThreads, 0, s>>>(u.get(), nullptr, L, k.highpass, zs.get());
  LQ_CUDA_CHECK_LAUNCH();
  carry(zs, k.highpass, L, start, s);
  highpass_energy_kernel<<<grid_for(tasks, kThreads), kThreads, 0, s>>>(u.get(), L, k.highpass, start.get(), segment_frames,
                                                                        segments, energies.get());
  LQ_CUDA_CHECK_LAUNCH();
  for (size_t j = 0; j < out.size(); ++j) energies.download(out[j].data(), size_t(segments), j * size_t(segments));
  LQ_CUDA_CHECK(cudaStreamSynchronize(s));
  return out;
}

}  // namespace lq::cuda
