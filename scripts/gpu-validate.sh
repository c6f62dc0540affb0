#!/usr/bin/env bash
# Validates and benchmarks Lacquer on a GPU machine in one command, from the GPU kit
# (scripts/gpu-bundle.sh) or from a CUDA build folder; needs only the NVIDIA driver, CUDA 13's
# runtime and cuFFT, and bash (README.md "The GPU").
#
#   bash gpu-validate.sh OUT [DIR]
#
# DIR: the kit (default: the folder this script is in, when it holds bin/lacquer) or a CUDA build
# folder (lacquer, tests/, benchmarks/ inside). Steps, each under its own timeout, at most 400 s in
# all:
#   1. machine.txt: the kit's manifest head, nvidia-smi -L, the driver, `lacquer devices`; stops
#      here (exit 3) unless `lacquer devices` says --backend auto picks cuda:0;
#   2. the GPU parity tests with LQ_REQUIRE_GPU=1 (a skip is a failure) and a fixed seed:
#      tests-backend.json, tests-render.json, tests-device.json (GoogleTest's JSON);
#   3. compute-sanitizer --tool memcheck over the stage tests on CUDA (memcheck.log), when the
#      tool is installed (no kernel uses shared memory, so there is no racecheck step);
#   4. gpu_floor (floor.json);
#   5. the benchmark: a 60 s workload (workload_gen), the standard session rendered on CUDA once
#      to warm up and 3 times timed, once on the CPU with every core (gpu_bench.json);
#   6. summary.txt (a markdown table of the steps).
# Every step has its own timeout, capped so that the whole run ends within 400 s (the benchmark
# keeps 120 s of it until it starts). OUT holds at most 8 files. Exit 0 when every step passed; else the first failure's code (the
# benchmark still runs after a test failure).
set -uo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 OUT [DIR]" >&2
  exit 2
fi
mkdir -p "$1" && out=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${2:-$here}
dir=$(cd "$dir" && pwd) || exit 2
if [[ -x $dir/bin/lacquer ]]; then       # the kit
  bin=$dir/bin
  exe() { echo "$bin/$1"; }
  session=$dir/data/bench_session.toml
  export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
elif [[ -x $dir/lacquer ]]; then         # a build folder
  exe() { case $1 in lacquer) echo "$dir/lacquer" ;; gpu_floor | workload_gen) echo "$dir/benchmarks/$1" ;;
          *) echo "$dir/tests/$1" ;; esac; }
  session=$here/../benchmarks/bench_session.toml
else
  echo "gpu-validate: $dir holds neither the kit (bin/lacquer) nor a build (lacquer)" >&2
  exit 2
fi
# CUDA's runtime and cuFFT come from the machine: next to nvcc, or where the loader finds them.
if command -v nvcc > /dev/null; then
  cuda=$(dirname "$(dirname "$(command -v nvcc)")")
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:}$cuda/lib64:$cuda/lib"
fi
work=$(mktemp -d /tmp/lacquer-gpu-validate.XXXXXX)
export LQ_LACQUER_BIN=$(exe lacquer) LQ_TEST_TMP=$work/tmp LQ_SOURCE_DIR=$dir LQ_REQUIRE_GPU=1 LQ_TEST_SEED=20261207
cores=$(nproc)
# The whole run ends within 7 minutes: every step's timeout is capped by what is left of 400 s,
# less 120 s kept for the benchmark until it starts.
deadline=$((SECONDS + 400))
cap() {  # wanted seconds [reserve]: the timeout a step may have now
  local left=$((deadline - SECONDS - ${2:-120}))
  (( left < 10 )) && left=10
  echo $(( $1 < left ? $1 : left ))
}
status=0
fail() { [[ $status -ne 0 ]] || status=$1; }
step_start=$SECONDS
steps=()
step() { steps+=("| $1 | $2 | $((SECONDS - step_start)) s |"); step_start=$SECONDS; }

# 1. The machine, and the first GPU step: does Lacquer see a usable GPU?
{
  [[ -f $dir/MANIFEST.txt ]] && sed -n '1,5p' "$dir/MANIFEST.txt"
  echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
  echo "host: $(uname -srm), $cores cores"
  timeout 30 nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"
  timeout 30 nvidia-smi --query-gpu=driver_version,memory.total --format=csv,noheader 2>&1 || true
  echo "--- lacquer devices"
} > "$out/machine.txt"
timeout "$(cap 60)" "$(exe lacquer)" devices >> "$out/machine.txt" 2>&1
devices_rc=$?
if [[ $devices_rc -ne 0 ]] || ! grep -q "auto.*cuda:0" "$out/machine.txt"; then
  why=$(sed -n 's/^cuda: no usable GPU: //p; s/^auto: \(cpu.*\)/--backend auto picks \1/p' "$out/machine.txt" | head -n 1)
  [[ -n $why ]] || why="lacquer devices exited $devices_rc"
  echo "gpu-validate: no usable GPU: $why (machine.txt); nothing else runs" | tee -a "$out/machine.txt" >&2
  rm -rf "$work"
  exit 3
fi
step "machine, lacquer devices" "cuda:0"

# 2. The parity tests, a skip being a failure. (The demo song's, demo_parity_test, needs the demo
# material, which the kit does not carry: it is not in the kit.)
run_tests() {  # name executable timeout
  timeout "$(cap "$3")" "$(exe "$2")" --gtest_output="json:$out/tests-$1.json" --gtest_brief=1 \
    > "$work/$1.log" 2>&1
  local rc=$?
  tail -n 5 "$work/$1.log"
  if [[ $rc -eq 0 ]] && grep -q "SKIPPED" "$work/$1.log"; then return 1; fi  # a skip is not a pass here
  return $rc
}
for t in "device host_device_test 60" "backend backend_parity_test 150" "render render_parity_test 150"; do
  set -- $t
  if run_tests "$1" "$2" "$3"; then
    step "tests: $2" "passed ($(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$work/$1.log") tests)"
  else
    fail 4; step "tests: $2" "FAILED or skipped (tests-$1.json)"
  fi
done

# 3. memcheck over the stage tests on CUDA (a shorter seed set: every stage once).
if command -v compute-sanitizer > /dev/null; then
  timeout "$(cap 120)" compute-sanitizer --tool memcheck --error-exitcode 9 --log-file "$out/memcheck.log" \
    "$(exe backend_parity_test)" --gtest_filter='Backends/CudaBackendParity.*/CudaSmallBatches' \
    -- > /dev/null 2>&1
  rc=$?
  if [[ $rc -eq 0 ]]; then step "compute-sanitizer memcheck" "clean"; else fail 5; step "compute-sanitizer memcheck" "exit $rc"; fi
else
  echo "compute-sanitizer: not installed" > "$out/memcheck.log"
  step "compute-sanitizer memcheck" "not installed"
fi

# 4. The floor.
if timeout "$(cap 60)" "$(exe gpu_floor)" > "$out/floor.json" 2> "$work/floor.err" && ! grep -qs "no usable" "$out/floor.json" "$work/floor.err"; then
  step "gpu_floor" "done"
else fail 6; step "gpu_floor" "FAILED: $(head -n 1 "$work/floor.err")"; fi

# 5. The benchmark: 60 s of the standard song, CUDA (warm-up + 3) against the CPU (every core).
mkdir -p "$work/bench"
cp "$session" "$work/bench/session.toml"
render_s() {  # backend output: the report's total seconds
  timeout "$(cap 60 0)" "$(exe lacquer)" render "$work/bench/session.toml" -o "$work/bench/$2.wav" --backend "$1" \
    --threads "$cores" -q > /dev/null 2>> "$work/bench.err" || return 1
  sed -n 's/.*"total": *\([0-9.e+-]*\).*/\1/p' "$work/bench/$2.json" | tail -n 1
}
bench_json='{"error": "not run"}'
if timeout "$(cap 60 0)" "$(exe workload_gen)" "$work/bench/workload" 60 > /dev/null 2>> "$work/bench.err"; then
  warm=$(render_s cuda warm) && t1=$(render_s cuda run1) && t2=$(render_s cuda run2) && t3=$(render_s cuda run3) &&
    cpu=$(render_s cpu cpu)
  if [[ -n ${cpu:-} ]]; then
    median=$(printf '%s\n' "$t1" "$t2" "$t3" | sort -g | sed -n 2p)
    counters=$(tr -d '\n ' < "$work/bench/run1.json" | sed -n 's/.*"device_counters":\({[^}]*}\).*/\1/p')
    bench_json=$(printf '{"workload_s": 60, "cuda_total_s": [%s, %s, %s], "cuda_warmup_s": %s, "cuda_median_s": %s, "cpu_total_s": %s, "cpu_threads": %s, "speedup": %s, "songs_per_hour_cuda": %s, "device_counters": %s}' \
      "$t1" "$t2" "$t3" "$warm" "$median" "$cpu" "$cores" \
      "$(awk "BEGIN{printf \"%.3f\", $cpu / $median}")" "$(awk "BEGIN{printf \"%.0f\", 3600 / $median}")" "${counters:-null}")
    step "benchmark (60 s song)" "CUDA median ${median} s, CPU ${cpu} s"
  else
    fail 7; step "benchmark (60 s song)" "FAILED: $(tail -n 1 "$work/bench.err")"
  fi
else
  fail 7; step "benchmark (60 s song)" "FAILED: workload_gen"
fi
echo "$bench_json" > "$out/gpu_bench.json"

# 6. The summary.
{
  echo "# Lacquer GPU validation"
  echo
  grep -E "^commit:|^date:|^host:|^GPU [0-9]|^auto:" "$out/machine.txt" | sed 's/^/    /'
  echo
  echo "| step | result | time |"
  echo "|---|---|---:|"
  printf '%s\n' "${steps[@]}"
  echo
  echo "Exit status: $status (0: every step passed)."
} > "$out/summary.txt"
cat "$out/summary.txt"
rm -rf "$work"
exit "$status"
