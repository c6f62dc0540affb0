#!/usr/bin/env bash
# Regenerates kernels/cpu/fftw_wisdom.inc (FFTW_PATIENT plans for the CPU convolver's transforms;
# why: tools/fftw_wisdom.cpp). About 22 minutes on one core; run it on an idle machine of the kind
# that renders, after `make build`. New wisdom changes the CPU backend's output bits (a plan fixes
# the FFT's rounding), so regenerate only with a reason, and say so in the commit.
#   scripts/make-fftw-wisdom.sh [MAX_LOG2, default 21]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool=$root/build/lacquer-fftw-wisdom
[[ -x $tool ]] || { echo "make-fftw-wisdom.sh: $tool not found (make build)" >&2; exit 1; }
tmp=$(mktemp "$root/kernels/cpu/.fftw_wisdom.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$tool" "${1:-21}" > "$tmp"
mv "$tmp" "$root/kernels/cpu/fftw_wisdom.inc"
trap - EXIT
echo "wrote kernels/cpu/fftw_wisdom.inc"
