#!/usr/bin/env bash
# Builds the GPU kit on a development machine (nvcc, no GPU needed): what a GPU machine with only
# the NVIDIA driver, CUDA 13 and a shell needs to validate and benchmark Lacquer, in one folder
# that works wherever it is unpacked (README.md "The GPU").
#
#   bash scripts/gpu-bundle.sh DIR [--build BUILD_DIR] [--no-build]
#
# Builds (Release, CUDA for CUDA_ARCH, default 90) lacquer, the GPU test executables and gpu_floor
# in BUILD_DIR (default build-bundle; an existing CUDA build may be named instead: its targets are
# brought up to date; --no-build takes them as they are), then fills DIR with
#   bin/      those executables
#   lib/      every shared library they load that is not glibc, libstdc++, libgcc or CUDA's
#   data/     the files the GPU run reads: the standard session and its workload generator
#   gpu-validate.sh, MANIFEST.txt (commit, build, each file's size and sha256)
# DIR must be new, empty, or an earlier kit (which is replaced); anything else is refused.
# Exit 1 when DIR is refused, the build fails, a library cannot be resolved, or DIR exceeds 40 MiB.
set -euo pipefail

usage() { echo "usage: $0 DIR [--build BUILD_DIR] [--no-build]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
out=$1
shift
build=build-bundle
no_build=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) [[ $# -ge 2 ]] || usage; build=$2; shift ;;
    --no-build) no_build=1 ;;
    *) usage ;;
  esac
  shift
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
targets=(lacquer backend_parity_test render_parity_test host_device_test gpu_floor workload_gen)

if [[ $no_build -eq 0 && ! -f $build/build.ninja ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLACQUER_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" > /dev/null
fi
if ! grep -q 'LQ_HAVE_CUDA=1' "$build/build.ninja"; then
  echo "gpu-bundle: $build is not a CUDA build (configure with LACQUER_CUDA=ON where nvcc is installed)" >&2
  exit 1
fi
if [[ $no_build -eq 0 ]]; then
  cmake --build "$build" --target "${targets[@]}" -j "$(nproc)" > /dev/null
fi

# DIR is the kit's own: a new folder, an empty one, or a kit this script made (it is replaced);
# anything else is refused before a file is touched.
if [[ -e $out || -L $out ]]; then
  if [[ -L $out || ! -d $out ]]; then
    echo "gpu-bundle: $out exists and is not a folder: refused" >&2
    exit 1
  fi
  if [[ -n $(ls -A "$out") ]] && ! head -n 1 "$out/MANIFEST.txt" 2> /dev/null | grep -qx "Lacquer GPU kit"; then
    echo "gpu-bundle: $out is not empty and holds no kit made by this script: refused" >&2
    exit 1
  fi
  rm -rf "$out"
fi
mkdir -p "$out/bin" "$out/lib" "$out/data"
for t in "${targets[@]}"; do
  f=$(find "$build" -name "$t" -type f -perm -u+x | head -n 1)
  [[ -n $f ]] || { echo "gpu-bundle: $t was not built" >&2; exit 1; }
  cp "$f" "$out/bin/$t"
done

# The shared libraries the executables load, but not those every GPU machine has: the C
# library, the C++ runtime and CUDA's own (the driver and the toolkit the machine runs).
system_lib() {
  case $(basename "$1") in
    linux-vdso* | ld-linux* | libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | \
      libstdc++.so* | libgcc_s.so* | libcuda.so* | libcudart.so* | libcufft.so* | libnvJitLink.so*) return 0 ;;
  esac
  return 1
}
for exe in "$out"/bin/*; do
  while read -r line; do
    if [[ $line == *"not found"* ]]; then
      echo "gpu-bundle: $(basename "$exe"): $line" >&2
      exit 1
    fi
    path=$(sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p' <<< "$line")
    [[ -n $path ]] || continue
    system_lib "$path" && continue
    cp -L "$path" "$out/lib/$(basename "$path")"
  done < <(ldd "$exe")
done

cp benchmarks/bench_session.toml "$out/data/"
cp scripts/gpu-validate.sh "$out/"

{
  echo "Lacquer GPU kit"
  echo "commit: $(git rev-parse HEAD 2> /dev/null || echo unknown)$(git diff --quiet HEAD 2> /dev/null || echo ' (with local changes)')"
  echo "built: $(date -u '+%Y-%m-%dT%H:%M:%SZ') on $(uname -srm)"
  echo "cuda architectures: $(grep -o 'arch=compute_[0-9]*' "$build/build.ninja" | sort -u | sed 's/arch=compute_/sm_/' | tr '\n' ' ')"
  echo "nvcc: $(nvcc --version 2> /dev/null | tail -n 1)"
  echo
  (cd "$out" && find . -type f ! -name MANIFEST.txt | sort | while read -r f; do
    printf '%s  %10d  %s\n' "$(sha256sum "$f" | cut -c1-64)" "$(stat -c %s "$f")" "${f#./}"
  done)
} > "$out/MANIFEST.txt"

size=$(du -sb "$out" | cut -f1)
echo "gpu-bundle: $out: $(find "$out" -type f | wc -l) files, $(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB"
if (( size > 40 * 1024 * 1024 )); then
  echo "gpu-bundle: the kit is over 40 MiB" >&2
  exit 1
fi
