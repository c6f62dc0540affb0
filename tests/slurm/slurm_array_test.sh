#!/usr/bin/env bash
# A real single-node Slurm cluster (scripts/slurm-local.sh: Debian's slurmctld, slurmd and munge on
# localhost, started here and stopped afterwards) renders a small catalog of 6 songs as an array
# job of 4 tasks. Checked: every task COMPLETED and rendered one shard (its log and its
# summary-shard-<i>-of-4.json), the shard summaries together list every song exactly once,
# `lacquer summary` merges them into a summary.json that lists every song once as "rendered",
# every song has exactly one master.wav and a report.json, and each master.wav is byte-identical
# to the one a local `lacquer batch` of the same catalog writes.
#
#   bash tests/slurm/slurm_array_test.sh BUILD_DIR        (BUILD_DIR holds the lacquer binary)
#
# Exit: 0 pass, 1 fail, 77 cannot run here (not root and no passwordless sudo, or the Slurm
# packages cannot be installed), with a one-line reason. CTest: label slurm, SKIP_RETURN_CODE 77.
# A cluster that is already up (slurm-local.sh status) is used and left running.
# LQ_SLURM_TEST_NO_PYTHON=1 takes the path for machines without python3 (sox and jq, from apt).
# LQ_SLURM_TEST_REQUIRED=1 (set by .ci/run) turns that skip into a failure.
# LQ_SLURM_TEST_KEEP=1 keeps the work folder on success too (it is always kept on failure).
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" 2> /dev/null && pwd) || { echo "FAIL: no build folder '$1'"; exit 1; }
lq=$build/lacquer
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sl=$root/scripts/slurm-local.sh
t_start=$SECONDS

skip() {
  if [[ ${LQ_SLURM_TEST_REQUIRED:-0} == 1 ]]; then
    echo "FAIL: LQ_SLURM_TEST_REQUIRED=1 but the test cannot run here: $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
fatal() {
  echo "FAIL: $*"
  exit 1
}

[[ -x $lq ]] || fatal "no lacquer binary at $lq"
"$lq" batch --help > /dev/null 2>&1 || fatal "'$lq batch --help' failed: this lacquer has no batch command"

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo > /dev/null 2>&1 && sudo -n true 2> /dev/null || skip "needs root or passwordless sudo to run a Slurm cluster"
  sudo="sudo -n"
fi

# A CI runner may itself be a Slurm job: no inherited Slurm or Kubernetes shard variables.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(SLURM_|SBATCH_|SRUN_|SALLOC_)')
unset JOB_COMPLETION_INDEX

# ---- tools: python3 (stdlib only) or else sox + jq -------------------------------------------
use_python=0
if [[ ${LQ_SLURM_TEST_NO_PYTHON:-0} != 1 ]] && python3 -c 'import json, wave' 2> /dev/null; then
  use_python=1
else
  need=()
  command -v sox > /dev/null 2>&1 || need+=(sox)
  command -v jq > /dev/null 2>&1 || need+=(jq)
  if [[ ${#need[@]} -gt 0 ]]; then
    echo "no python3: installing ${need[*]}"
    { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" ||
      { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"; }; } > /dev/null 2>&1 ||
      skip "no python3, and apt cannot install ${need[*]}"
  fi
fi

# ---- work folder, cluster ------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/lq-slurm-test.XXXXXX") || fatal "mktemp failed"
chmod 0755 "$work"
cat="$work/catalog"
out_slurm="$work/out-slurm"
out_local="$work/out-local"
started=0
cleanup() {
  local rc=$?
  cd / || true
  if [[ $started -eq 1 ]]; then "$sl" down > /dev/null 2>&1 || echo "warning: slurm-local.sh down failed"; fi
  if [[ ($rc -eq 0 || $rc -eq 77) && ${LQ_SLURM_TEST_KEEP:-0} != 1 ]]; then
    rm -rf "$work"
  else
    echo "work folder kept: $work"
  fi
}
trap cleanup EXIT

# ---- the catalog: 6 songs, 2 short stereo stems each, different per song ------------------------
songs=(song-01 song-02 song-03 song-04 song-05 song-06)
if [[ $use_python -eq 1 ]]; then
  python3 - "$cat" "${songs[@]}" << 'EOF' || fatal "could not write the catalog (python3)"
import math, os, struct, sys, wave
root, names = sys.argv[1], sys.argv[2:]
rate = 44100
for k, name in enumerate(names, start=1):
    d = os.path.join(root, name)
    os.makedirs(d)
    n = int(rate * (2.8 + 0.1 * k))           # 2.9 .. 3.4 s
    seed = 12345 + 977 * k
    def noise():
        global seed
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        return seed / 0x3FFFFFFF - 1.0
    # drums: a decaying noise hit every beat (tempo per song), slightly different per channel
    beat = int(rate * 60.0 / (90 + 12 * k))
    drums = bytearray()
    for i in range(n):
        env = math.exp(-(i % beat) / (0.04 * rate))
        l, r = 0.5 * env * noise(), 0.45 * env * noise()
        drums += struct.pack('<hh', int(32767 * l), int(32767 * r))
    # keys: two sines per channel, pitches per song, with a slow swell
    f1, f2 = 110.0 * 2 ** (k / 12), 165.0 * 2 ** (k / 12)
    keys = bytearray()
    for i in range(n):
        t = i / rate
        sw = 0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * t)
        l = 0.3 * sw * math.sin(2 * math.pi * f1 * t) + 0.1 * math.sin(2 * math.pi * 2 * f1 * t)
        r = 0.3 * sw * math.sin(2 * math.pi * f2 * t) + 0.1 * math.sin(2 * math.pi * 3 * f1 * t)
        keys += struct.pack('<hh', int(32767 * l), int(32767 * r))
    for stem, data in (('drums.wav', drums), ('keys.wav', keys)):
        with wave.open(os.path.join(d, stem), 'wb') as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(bytes(data))
EOF
else
  k=0
  for s in "${songs[@]}"; do
    k=$((k + 1))
    mkdir -p "$cat/$s"
    len=$(awk -v k=$k 'BEGIN { printf "%.1f", 2.8 + 0.1 * k }')
    f1=$(awk -v k=$k 'BEGIN { printf "%.2f", 110 * 2 ^ (k / 12) }')
    f2=$(awk -v k=$k 'BEGIN { printf "%.2f", 165 * 2 ^ (k / 12) }')
    sox -R -n -r 44100 -b 16 -c 2 "$cat/$s/keys.wav" synth "$len" sine "$f1" sine "$f2" gain -10 ||
      fatal "sox could not write $s/keys.wav"
    sox -R -n -r 44100 -b 16 -c 2 "$cat/$s/drums.wav" synth "$len" pinknoise pinknoise \
      tremolo $((2 + k)) 90 gain -8 || fatal "sox could not write $s/drums.wav"
  done
fi

# id<TAB>status lines of a summary JSON ({"songs": [{"id": ..., "status": ...}, ...]})
songs_of() {
  if [[ $use_python -eq 1 ]]; then
    python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["songs"]:
    print("%s\t%s" % (s.get("id"), s.get("status")))' "$1"
  else
    jq -r '.songs[] | "\(.id)\t\(.status)"' "$1"
  fi
}

if "$sl" status > /dev/null 2>&1; then
  echo "using the Slurm cluster that is already up"
else
  t0=$SECONDS
  up_log=$("$sl" up 2>&1)
  rc=$?
  started=1
  echo "$up_log"
  [[ $rc -eq 4 ]] && skip "cannot start a local Slurm cluster: $(tail -n 1 <<< "$up_log" | sed 's/^slurm-local: //')"
  [[ $rc -eq 0 ]] || fatal "slurm-local.sh up failed (rc $rc)"
  echo "cluster up in $((SECONDS - t0)) s"
fi
eval "$("$sl" env)"

# ---- the array job -----------------------------------------------------------------------------
cd "$work" || fatal "cd $work"
mkdir -p logs
{
  echo '#!/bin/bash'
  echo '#SBATCH --array=0-3'
  echo '#SBATCH -o logs/%A_%a.out'
  echo '#SBATCH -J lacquer-slurm-test'
  echo '#SBATCH --cpus-per-task=1'
  echo 'echo "shard ${SLURM_ARRAY_TASK_ID} of ${SLURM_ARRAY_TASK_COUNT} on $(hostname)"'
  printf 'exec %q batch %q -o %q --jobs 1 --quiet\n' "$lq" "$cat" "$out_slurm"
} > render.sbatch
t0=$SECONDS
job=$(sbatch --parsable render.sbatch) || fatal "sbatch failed"
job=${job%%;*}
echo "submitted array job $job"
if ! SLURM_LOCAL_WAIT_TIMEOUT=420 "$sl" wait "$job"; then
  fail "array job $job: not every task COMPLETED"
  for f in logs/*; do echo "--- $f"; tail -n 20 "$f"; done
fi
echo "array job finished in $((SECONDS - t0)) s"

# every task rendered one shard
for i in 0 1 2 3; do
  log=logs/${job}_$i.out
  if [[ ! -f $log ]]; then
    fail "task $i wrote no log ($log)"
  elif ! grep -q "^shard $i of 4 " "$log"; then
    fail "task $i's log does not say 'shard $i of 4': $(head -n 3 "$log")"
  fi
  [[ -f $out_slurm/summary-shard-$i-of-4.json ]] || fail "task $i wrote no summary-shard-$i-of-4.json"
  [[ -f $out_slurm/summary-shard-$i-of-4.csv ]] || fail "task $i wrote no summary-shard-$i-of-4.csv"
done
extra=$(find "$out_slurm" -maxdepth 1 -name 'summary-shard-*' ! -name 'summary-shard-[0-3]-of-4.*' 2> /dev/null)
[[ -z $extra ]] || fail "unexpected shard summaries: $extra"
[[ ! -e $out_slurm/summary.json ]] || fail "a sharded task wrote summary.json (only 'lacquer summary' should)"

# the shards together: every song once
union=$(for i in 0 1 2 3; do
  f=$out_slurm/summary-shard-$i-of-4.json
  [[ -f $f ]] && { songs_of "$f" || echo "UNREADABLE $f"; }
done | cut -f1 | sort)
grep -q '^UNREADABLE' <<< "$union" && fail "cannot read a shard summary: $(grep '^UNREADABLE' <<< "$union")"
dups=$(uniq -d <<< "$union")
[[ -z $dups ]] || fail "songs in more than one shard: $(tr '\n' ' ' <<< "$dups")"
want=$(printf '%s\n' "${songs[@]}" | sort)
[[ $(sort -u <<< "$union") == "$want" ]] ||
  fail "the shards' songs are [$(sort -u <<< "$union" | tr '\n' ' ')], expected [$(tr '\n' ' ' <<< "$want")]"

# merge
"$lq" summary "$out_slurm" || fail "lacquer summary $out_slurm exited $?"
if [[ -f $out_slurm/summary.json ]]; then
  merged=$(songs_of "$out_slurm/summary.json") || fail "cannot read $out_slurm/summary.json"
  for s in "${songs[@]}"; do
    n=$(awk -F'\t' -v s="$s" '$1 == s' <<< "$merged" | wc -l)
    st=$(awk -F'\t' -v s="$s" '$1 == s { print $2 }' <<< "$merged" | tr '\n' ' ')
    [[ $n -eq 1 ]] || fail "merged summary.json lists $s $n times"
    [[ $st == "rendered " ]] || fail "merged summary.json: $s has status '${st% }', expected 'rendered'"
  done
  n=$(grep -c . <<< "$merged")
  [[ $n -eq ${#songs[@]} ]] || fail "merged summary.json lists $n songs, expected ${#songs[@]}"
else
  fail "lacquer summary wrote no $out_slurm/summary.json"
fi
[[ -f $out_slurm/summary.csv ]] || fail "lacquer summary wrote no $out_slurm/summary.csv"

# the same catalog rendered locally (no Slurm variables: one summary.json)
t0=$SECONDS
env -u SLURM_CONF "$lq" batch "$cat" -o "$out_local" --jobs 1 --quiet || fail "local lacquer batch exited $?"
echo "local batch finished in $((SECONDS - t0)) s"
[[ -f $out_local/summary.json ]] || fail "the local batch wrote no summary.json"

total=$(find "$out_slurm" -name master.wav | wc -l)
[[ $total -eq ${#songs[@]} ]] || fail "$total master.wav files under $out_slurm, expected ${#songs[@]}"
for s in "${songs[@]}"; do
  n=$(find "$out_slurm/$s" -name master.wav 2> /dev/null | wc -l)
  [[ $n -eq 1 ]] || fail "$s: $n master.wav in $out_slurm/$s, expected 1"
  [[ -f $out_slurm/$s/report.json ]] || fail "$s: no report.json in $out_slurm/$s"
  if [[ -f $out_slurm/$s/master.wav && -f $out_local/$s/master.wav ]]; then
    cmp -s "$out_slurm/$s/master.wav" "$out_local/$s/master.wav" ||
      fail "$s: the Slurm master.wav differs from the local one ($(cmp "$out_slurm/$s/master.wav" "$out_local/$s/master.wav" 2>&1 | head -n 1))"
  else
    fail "$s: master.wav missing ($([[ -f $out_slurm/$s/master.wav ]] || echo "slurm ")$([[ -f $out_local/$s/master.wav ]] || echo local))"
  fi
done

if [[ $failures -eq 0 ]]; then
  echo "PASS: ${#songs[@]} songs over 4 array tasks, each rendered once, byte-identical to the local batch ($((SECONDS - t_start)) s)"
  exit 0
fi
echo "$failures check(s) failed"
exit 1
