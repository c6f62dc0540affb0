#!/usr/bin/env bash
# Lacquer against the ffmpeg filter graph on the standard benchmark session, side by side in one
# run, alternating A/B after a warm-up of each (issue "Benchmarks side by side with the peers").
#
#   bash benchmarks/compare.sh [ROUNDS=5] [SECONDS=180]
#
# Sessions: bench_session.toml (limiter at -1 dBTP) against ffmpeg_song.sh (alimiter), and
# bench_session_norm.toml (-14 LUFS) against ffmpeg_song.sh with FF_LOUDNORM=-14 (loudnorm).
# Per side and variant: median wall, CPU (user + system) and peak RSS over ROUNDS (/usr/bin/time),
# and the ratio. Checks, with ffmpeg's `ebur128=peak=true` as the outside meter: Lacquer's true
# peak at or under -1 dBTP, both outputs' lengths (Lacquer keeps the reverb tail to -90 dBFS,
# ffmpeg a fixed 3 s) and loudness. Then the meters alone on Lacquer's plain master, ROUNDS A/B:
# `lacquer measure` against `ebur128=peak=true`. Writes results/compare-DATE-HOST.json and prints
# the tables.
# LACQUER (default build/lacquer) names the binary; the workload is benchmarks/workload/.
set -euo pipefail
rounds=${1:-5}
seconds=${2:-180}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
lacquer=${LACQUER:-$root/build/lacquer}
[[ -x $lacquer ]] || { echo "compare.sh: $lacquer not found (make build)" >&2; exit 1; }
command -v ffmpeg > /dev/null || {
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends ffmpeg > /dev/null
}
py=/usr/bin/python3
wl=$here/workload
if ! awk -v want="$seconds" 'NR == 1 { exit !($4 + 0 == want + 0) }' "$wl/MANIFEST.txt" 2> /dev/null; then
  echo "compare.sh: writing a ${seconds} s workload into $wl"
  rm -rf "$wl"
  "$py" "$here/make_workload.py" "$wl" "$seconds" > /dev/null
fi
work=$(mktemp -d /tmp/lacquer-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
runs=$work/runs.tsv
: > "$runs"

timed() {  # timed LABEL ROUND COMMAND...: appends label, round, wall, cpu, rss_kb
  local label=$1 round=$2
  shift 2
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@"
  read -r wall user sys rss < "$work/time"
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$round" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
    "$rss" >> "$runs"
}
lq() { timed "lacquer_$1" "$2" "$lacquer" render "$here/$3" -o "$work/lq_$1.wav" --report "$work/lq_$1.json" -q; }
ff() {
  if [[ $1 == norm ]]; then FF_LOUDNORM=-14 timed "ffmpeg_$1" "$2" bash "$here/ffmpeg_song.sh" "$wl" "$work/ff_$1.wav"
  else timed "ffmpeg_$1" "$2" bash "$here/ffmpeg_song.sh" "$wl" "$work/ff_$1.wav"; fi
}
cat "$wl"/*.wav > /dev/null  # both sides read from the page cache
for variant in plain norm; do
  session=bench_session.toml
  [[ $variant == norm ]] && session=bench_session_norm.toml
  echo "compare.sh: $variant: warm-up, then $rounds rounds A/B"
  lq "$variant" 0 "$session"
  ff "$variant" 0
  for r in $(seq 1 "$rounds"); do
    lq "$variant" "$r" "$session"
    ff "$variant" "$r"
  done
done

# The meters side by side on the same file (Lacquer's plain master): `lacquer measure` (integrated,
# LRA, maxima, true peak) against ffmpeg's `ebur128=peak=true`, alternating, after a warm-up.
echo "compare.sh: meters: warm-up, then $rounds rounds A/B on Lacquer's master"
for r in $(seq 0 "$rounds"); do
  timed lacquer_meter "$r" "$lacquer" measure "$work/lq_plain.wav" > /dev/null
  timed ffmpeg_meter "$r" ffmpeg -nostdin -hide_banner -nostats -loglevel error -i "$work/lq_plain.wav" \
    -af ebur128=peak=true -f null -
done

# The outside meter: ffmpeg's ebur128 with true peak (4x), integrated loudness and true peak.
meter() {
  ffmpeg -nostdin -hide_banner -nostats -i "$1" -af ebur128=peak=true -f null - 2>&1 |
    awk '/Integrated loudness:/ { f = 1 } f && /I:/ { i = $2 } /True peak:/ { t = 1 } t && /Peak:/ { p = $2 }
         END { print i, p }'
}
length() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }
for variant in plain norm; do
  for side in lq ff; do
    read -r lufs tp < <(meter "$work/${side}_$variant.wav")
    printf '%s_%s\t%s\t%s\t%s\n' "$side" "$variant" "$lufs" "$tp" "$(length "$work/${side}_$variant.wav")"
  done
done > "$work/meter.tsv"

date_tag=${BENCH_DATE:-$(date -u +%Y-%m-%d)}
mkdir -p "$here/results"
out=$here/results/compare-$date_tag-$(hostname -s).json
"$py" - "$runs" "$work/meter.tsv" "$out" "$rounds" "$seconds" "$("$lacquer" --version)" \
  "$(ffmpeg -version | head -n1)" "$(git -C "$root" rev-parse --short HEAD)" "$(nproc)" <<'PY'
import json, statistics, sys
runs, meter, out, rounds, seconds, lq_version, ff_version, commit, cores = sys.argv[1:10]
rows = {}
for line in open(runs):
    label, r, wall, cpu, rss = line.split('\t')
    if r != '0':
        rows.setdefault(label, []).append((float(wall), float(cpu), int(rss)))
med = {k: {'wall_s': statistics.median(w for w, _, _ in v), 'cpu_s': statistics.median(c for _, c, _ in v),
           'peak_rss_mib': statistics.median(m for _, _, m in v) / 1024, 'walls': [w for w, _, _ in v]}
       for k, v in rows.items()}
meters = {}
for line in open(meter):
    k, lufs, tp, length = line.rstrip('\n').split('\t')
    meters[k] = {'integrated_lufs': float(lufs), 'true_peak_dbtp': float(tp), 'length_s': float(length)}
result = {'date': sys.argv[0] and None, 'rounds': int(rounds), 'seconds': int(seconds), 'cores': int(cores),
          'lacquer': lq_version, 'ffmpeg': ff_version, 'commit': commit, 'median': med, 'meter_ffmpeg_ebur128': meters}
print(f"| variant | side | wall (s) | CPU (s) | peak RSS (MiB) | ratio (ffmpeg / lacquer wall) | true peak (ebur128) | LUFS | length (s) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
ok = True
for v in ('plain', 'norm'):
    a, b = med[f'lacquer_{v}'], med[f'ffmpeg_{v}']
    result[f'ratio_{v}'] = b['wall_s'] / a['wall_s']
    for side, m, key in (('lacquer', a, f'lq_{v}'), ('ffmpeg', b, f'ff_{v}')):
        mt = meters[key]
        print(f"| {v} | {side} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | {m['peak_rss_mib']:.0f} | "
              f"{(b['wall_s'] / a['wall_s']) if side == 'lacquer' else 1:.2f} | {mt['true_peak_dbtp']:.2f} | "
              f"{mt['integrated_lufs']:.1f} | {mt['length_s']:.2f} |")
    if meters[f'lq_{v}']['true_peak_dbtp'] > -1.0:
        print(f"compare.sh: {v}: Lacquer's true peak reads {meters[f'lq_{v}']['true_peak_dbtp']} dBTP on ebur128 (ceiling -1)")
        ok = False
    d = abs(meters[f'lq_{v}']['length_s'] - meters[f'ff_{v}']['length_s'])
    result[f'length_difference_s_{v}'] = d
    if d > 0.5:
        print(f"compare.sh: {v}: the outputs' lengths differ by {d:.2f} s")
        ok = False
a, b = med['lacquer_meter'], med['ffmpeg_meter']
result['ratio_meter'] = b['wall_s'] / a['wall_s']
print()
print("| meter (loudness + true peak, one master) | wall (s) | CPU (s) | peak RSS (MiB) | ratio |")
print("|---|---:|---:|---:|---:|")
print(f"| `lacquer measure` | {a['wall_s']:.2f} | {a['cpu_s']:.2f} | {a['peak_rss_mib']:.0f} | {b['wall_s'] / a['wall_s']:.2f} |")
print(f"| ffmpeg `ebur128=peak=true` | {b['wall_s']:.2f} | {b['cpu_s']:.2f} | {b['peak_rss_mib']:.0f} | 1 |")
result['checks_passed'] = ok
result.pop('date')
json.dump(result, open(out, 'w'), indent=2)
print(f"result: {out}")
sys.exit(0 if ok else 1)
PY
