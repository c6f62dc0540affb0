#!/usr/bin/env bash
# Installs the Debian packages Lacquer builds and tests with, where any is missing.
# Idempotent: does nothing (and needs no network) when everything is present.
# Usage: scripts/install-deps.sh [--demo]   (--demo adds what `make demo` needs at run time)
set -euo pipefail
pkgs=(cmake ninja-build g++ make pkg-config
      libsndfile1-dev libfftw3-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
      libsoxr-dev libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev libebur128-dev
      libswresample-dev libavcodec-dev libavformat-dev ffmpeg chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt (unattended upgrades, a parallel install) instead of failing on its lock.
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
