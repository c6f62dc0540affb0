#!/usr/bin/env bash
# The GPU kit (scripts/gpu-bundle.sh) is self-contained, on a machine without a GPU:
#   1. it is made from this build (--no-build) and is under 40 MiB; a folder that holds anything
#      but an earlier kit is refused and left as it was;
#   2. moved to another path, every library its executables load resolves into its lib/ or is
#      one a GPU machine has (glibc, the C++ runtime, CUDA's runtime and cuFFT);
#   3. from there, with the environment emptied, its test executables run (the host executor's
#      tests and the CPU-run instances of the parity tests), reading no path of this build;
#   4. gpu-validate.sh runs up to its first GPU step and stops there in under a minute, saying
#      "no usable GPU", with machine.txt written and exit 3.
# Exit 77 (a skip) where a GPU is usable: there gpu-validate.sh would run everything.
#
#   bash tests/kit/gpu_kit_test.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d /tmp/lacquer-kit-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "gpu_kit_test: $*" >&2; exit 1; }

if "$build/lacquer" devices 2> /dev/null | grep -q "^auto: cuda:"; then
  echo "gpu_kit_test: skipped: a GPU is usable here (gpu-validate.sh would run every step)"
  exit 77
fi

# 1.
mkdir -p "$work/theirs" && echo "a user's file" > "$work/theirs/notes.txt"
if bash "$root/scripts/gpu-bundle.sh" "$work/theirs" --build "$build" --no-build 2> /dev/null; then
  fail "gpu-bundle.sh accepted a folder holding someone else's file"
fi
[[ $(ls -A "$work/theirs") == notes.txt && $(cat "$work/theirs/notes.txt") == "a user's file" ]] ||
  fail "gpu-bundle.sh touched a folder it refused"
bash "$root/scripts/gpu-bundle.sh" "$work/made" --build "$build" --no-build || fail "gpu-bundle.sh failed"
bash "$root/scripts/gpu-bundle.sh" "$work/made" --build "$build" --no-build > /dev/null || fail "gpu-bundle.sh did not replace its own kit"
# 2.
mkdir -p "$work/elsewhere/deeper"
mv "$work/made" "$work/elsewhere/deeper/kit"
kit=$work/elsewhere/deeper/kit
for exe in "$kit"/bin/*; do
  while read -r line; do
    [[ $line == *"not found"* ]] && fail "$(basename "$exe"): $line"
    path=$(sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p' <<< "$line")
    [[ -n $path ]] || continue
    [[ $path == "$kit/lib/"* ]] && continue
    case $(basename "$path") in
      libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | ld-linux* | libstdc++.so* | libgcc_s.so* | \
        libcudart.so* | libcufft.so* | libcuda.so* | libnvJitLink.so*) ;;
      *) fail "$(basename "$exe") loads $path from outside the kit" ;;
    esac
  done < <(LD_LIBRARY_PATH=$kit/lib ldd "$exe")
done
# 3.
run() {  # the kit's executable with an empty environment
  env -i PATH=/usr/bin:/bin HOME="$work" LD_LIBRARY_PATH="$kit/lib" LQ_TEST_TMP="$work/tmp" \
    LQ_LACQUER_BIN="$kit/bin/lacquer" LQ_SOURCE_DIR="$kit" "$@"
}
run "$kit/bin/host_device_test" --gtest_brief=1 > "$work/device.log" 2>&1 || { cat "$work/device.log"; fail "host_device_test failed from the kit"; }
run "$kit/bin/backend_parity_test" --gtest_brief=1 --gtest_filter='*/CudaHostSmallBatches' > "$work/parity.log" 2>&1 ||
  { cat "$work/parity.log"; fail "backend_parity_test (cuda-host) failed from the kit"; }
run "$kit/bin/lacquer" --help > /dev/null || fail "lacquer --help failed from the kit"
# 4.
start=$SECONDS
env -i PATH=/usr/bin:/bin HOME="$work" bash "$kit/gpu-validate.sh" "$work/out" > "$work/validate.log" 2>&1
rc=$?
took=$((SECONDS - start))
cat "$work/validate.log"
[[ $rc -eq 3 ]] || fail "gpu-validate.sh exited $rc, not 3 (no usable GPU)"
grep -q "gpu-validate: no usable GPU: " "$work/validate.log" || fail "gpu-validate.sh did not say why it stopped"
[[ -s $work/out/machine.txt ]] || fail "gpu-validate.sh wrote no machine.txt"
(( took < 60 )) || fail "gpu-validate.sh took ${took} s to reach its first GPU step"
[[ $(find "$work/out" -type f | wc -l) -le 8 ]] || fail "gpu-validate.sh wrote more than 8 files"
echo "gpu_kit_test: the kit is self-contained ($(du -sh "$kit" | cut -f1)); gpu-validate.sh stopped at its first GPU step in ${took} s"
