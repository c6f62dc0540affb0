#!/usr/bin/env bash
# The project's GPU validation in one command, for a machine with an NVIDIA GPU and CUDA 13:
# configure and build (Release, CUDA on), run every test (gpu label included), the gpu tests
# again on their own, list the devices, then the GPU benchmark.
#
#   bash scripts/gpu-validate.sh LOG_DIR          (CUDA_ARCH=90 by default)
#
# LOG_DIR receives at most 7 files: machine.txt, ctest.log, ctest-gpu.log, devices.txt,
# bench.log, floor.json, gpu_bench.json (renders go to /tmp). Exit status: the build's when it
# fails (nothing else runs), else the tests' (the benchmark still runs after a test failure),
# else the benchmark's.
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 LOG_DIR" >&2
  exit 2
fi
mkdir -p "$1" && logs=$(cd "$1" && pwd) || exit 2
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
jobs=$(nproc)

{
  echo "commit: $(git rev-parse HEAD 2> /dev/null || echo unknown)"
  git status --short 2> /dev/null | sed 's/^/  changed: /'
  echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
  echo "host: $(uname -srm), $jobs cores"
  nvidia-smi -L 2>&1 || echo "nvidia-smi failed"
  nvcc --version 2>&1 | tail -n 2
} > "$logs/machine.txt"

# The build's output is long; its tail goes into ctest.log when it fails.
if ! { cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLACQUER_CUDA=ON \
         -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" &&
       cmake --build build-gpu -j"$jobs"; } > /tmp/lacquer-gpu-build.log 2>&1; then
  tail -n 60 /tmp/lacquer-gpu-build.log | tee "$logs/ctest.log"
  echo "gpu-validate: the build failed (full log: /tmp/lacquer-gpu-build.log)" | tee -a "$logs/ctest.log"
  exit 1
fi

# On the GPU machine a gpu test that skips is a failure, not a pass.
export LQ_REQUIRE_GPU=1
ctest --test-dir build-gpu --output-on-failure -j"$jobs" 2>&1 | tee "$logs/ctest.log"
tests_rc=${PIPESTATUS[0]}
ctest --test-dir build-gpu --output-on-failure -L gpu 2>&1 | tee "$logs/ctest-gpu.log"
gpu_tests_rc=${PIPESTATUS[0]}
build-gpu/lacquer devices > "$logs/devices.txt" 2>&1

RENDER_DIR=/tmp/lacquer-bench bash benchmarks/gpu_bench.sh build-gpu "$logs" 2>&1 | tee "$logs/bench.log"
bench_rc=${PIPESTATUS[0]}

echo "gpu-validate: ctest exit $tests_rc, ctest -L gpu exit $gpu_tests_rc, benchmark exit $bench_rc" |
  tee -a "$logs/bench.log"
if [[ $tests_rc != 0 ]]; then exit "$tests_rc"; fi
if [[ $gpu_tests_rc != 0 ]]; then exit "$gpu_tests_rc"; fi
exit "$bench_rc"
