// The host executor (kernels/device/host_device.hpp). Device memory is ordinary memory, aligned as
// cudaMalloc aligns it; a launch calls its kernel's body for every index, in blocks over the
// thread pool; FFTs are FFTW plans of one frame (unaligned, so every frame of a batch can use
// them), executed frame by frame over the pool, with cuFFT's layout and scaling (none).
// Downloads are held until sync(): until then their destination is NaN, as it would be garbage
// on a GPU, so an orchestration that reads before it syncs fails its tests here.
#include "kernels/device/host_device.hpp"

#include <fftw3.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/convolver.hpp"

namespace lq::dev {

namespace {

constexpr size_t kAlignment = 256;          // what cudaMalloc guarantees
constexpr int64_t kLaunchBlock = 1 << 14;   // indices per pool job

class HostDevice final : public Device {
 public:
  explicit HostDevice(cpu::ThreadPool& pool) : pool_(pool) {}
  ~HostDevice() override {
    std::lock_guard lock(cpu::fftw_planner_mutex());
    for (auto& [key, plan] : plans_) fftwf_destroy_plan(plan);
    for (auto& [key, plan] : double_plans_) fftw_destroy_plan(plan);
  }

  std::string description() const override {
    return "host executor (" + std::to_string(pool_.size()) + " threads; a test aid)";
  }

 protected:
  void* do_allocate(size_t bytes) override {
    void* p = ::operator new(bytes ? bytes : 1, std::align_val_t(kAlignment));
    // Fresh device memory holds garbage: NaN bytes make a read before any write visible.
    std::memset(p, 0xff, bytes);
    return p;
  }
  void do_release(void* p) override { ::operator delete(p, std::align_val_t(kAlignment)); }
  void do_upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void do_download(void* dst, const void* src, size_t bytes) override {
    pending_.push_back({dst, std::vector<unsigned char>(static_cast<const unsigned char*>(src),
                                                        static_cast<const unsigned char*>(src) + bytes)});
    std::memset(dst, 0xff, bytes);
  }
  void do_copy(void* dst, const void* src, size_t bytes) override { std::memmove(dst, src, bytes); }
  void do_sync() override {
    for (auto& p : pending_) std::memcpy(p.dst, p.bytes.data(), p.bytes.size());
    pending_.clear();
  }
  void do_launch(const Kernel& k, int64_t n) override {
    std::visit(
        [&](const auto& body) {
          cpu::parallel_for_blocks(pool_, n, kLaunchBlock, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) body(i);
          });
        },
        k);
  }
  void do_rfft(const float* in, Complex* out, int k, int batch) override {
    fftwf_plan p = plan(k, true);
    pool_.parallel_for(batch, [&](int64_t f) {
      fftwf_execute_dft_r2c(p, const_cast<float*>(in + f * k),
                            reinterpret_cast<fftwf_complex*>(out + f * (k / 2 + 1)));
    });
  }
  void do_irfft(const Complex* in, float* out, int k, int batch) override {
    fftwf_plan p = plan(k, false);
    // FFTW's c2r overwrites its input; cuFFT's may too (its documentation allows it), so the
    // orchestration never reads bins after an inverse transform.
    pool_.parallel_for(batch, [&](int64_t f) {
      fftwf_execute_dft_c2r(p, reinterpret_cast<fftwf_complex*>(const_cast<Complex*>(in + f * (k / 2 + 1))), out + f * k);
    });
  }
  void do_rfft_double(const double* in, DoubleComplex* out, int k) override {
    fftw_plan p;
    {
      std::lock_guard lock(cpu::fftw_planner_mutex());
      auto it = double_plans_.find(k);
      if (it == double_plans_.end()) {
        std::vector<double> a(static_cast<size_t>(k));
        std::vector<fftw_complex> b(static_cast<size_t>(k / 2 + 1));
        it = double_plans_.emplace(k, fftw_plan_dft_r2c_1d(k, a.data(), b.data(), FFTW_ESTIMATE | FFTW_UNALIGNED)).first;
      }
      p = it->second;
    }
    if (!p) throw std::runtime_error("host executor: FFTW could not plan a " + std::to_string(k) + "-point transform");
    fftw_execute_dft_r2c(p, const_cast<double*>(in), reinterpret_cast<fftw_complex*>(out));
  }

 private:
  fftwf_plan plan(int k, bool forward) {
    std::lock_guard lock(cpu::fftw_planner_mutex());
    auto it = plans_.find({k, forward});
    if (it == plans_.end()) {
      float* r = fftwf_alloc_real(size_t(k));
      fftwf_complex* c = fftwf_alloc_complex(size_t(k / 2 + 1));
      const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED | (forward ? 0u : FFTW_DESTROY_INPUT);
      fftwf_plan p = forward ? fftwf_plan_dft_r2c_1d(k, r, c, flags) : fftwf_plan_dft_c2r_1d(k, c, r, flags);
      fftwf_free(r);
      fftwf_free(c);
      if (!p) throw std::runtime_error("host executor: FFTW could not plan a " + std::to_string(k) + "-point transform");
      it = plans_.emplace(std::make_pair(k, forward), p).first;
    }
    return it->second;
  }

  struct Pending {
    void* dst;
    std::vector<unsigned char> bytes;
  };
  cpu::ThreadPool& pool_;
  std::vector<Pending> pending_;
  std::map<std::pair<int, bool>, fftwf_plan> plans_;
  std::map<int, fftw_plan> double_plans_;
};

}  // namespace

std::unique_ptr<Device> make_host_device(cpu::ThreadPool& pool) { return std::make_unique<HostDevice>(pool); }

}  // namespace lq::dev
