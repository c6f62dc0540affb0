// The host executor of the device interface (kernels/device/device.hpp): a test aid that runs the
// device render's orchestration and kernel bodies on any CPU (`--backend cuda-host`), not a fast path.
#pragma once

#include <memory>

#include "kernels/cpu/thread_pool.hpp"
#include "kernels/device/device.hpp"

namespace lq::dev {

// Launches and FFT batches spread over `pool` (which must outlive the device); the results do
// not depend on its size (every index writes its own outputs).
std::unique_ptr<Device> make_host_device(cpu::ThreadPool& pool);

}  // namespace lq::dev
