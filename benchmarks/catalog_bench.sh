#!/bin/bash
# catalog_bench.sh [SONGS=20] [SECONDS=180]
#
# Catalog throughput: `lacquer batch` against the same sessions as one ffmpeg filter graph per song
# (benchmarks/ffmpeg_song.sh) run with `xargs -P FF_JOBS`, on the same catalog, in the same run,
# alternating (A B A B ...: ROUNDS rounds of each), timed with /usr/bin/time -v (wall, CPU, peak
# RSS). Reports the median wall of each side, songs per hour (SONGS / wall x 3600) and the ratio.
#
# The catalog: song-01 .. song-SONGS, song N = `make_workload.py --seed N` of SECONDS seconds
# (8 stereo 48 kHz 24-bit stems, ir.wav, eq_entries.txt) and a session.toml, which is
# bench_session.toml with its paths made relative to the song folder. It is written once under
# CATALOG_DIR and reused when every song's .complete stamp matches (20 x 180 s is about 8.3 GB).
#
# Environment:
#   LACQUER      the lacquer binary (default: build/lacquer)
#   CATALOG_DIR  catalog folder (default: /tmp/lacquer-catalog-SONGSxSECONDS)
#   WORK_DIR     outputs of both sides, removed before each run (default: /tmp/lacquer-catalog-out)
#   RESULTS_DIR  where the JSON result goes (default: benchmarks/results)
#   ROUNDS       rounds of each side (default: 2)
#   FF_JOBS      ffmpeg processes in flight (default: nproc)
#   GEN_JOBS     songs generated at once (default: 2)
#   BENCH_DATE   the date in the result's name (default: today, UTC)
# Missing tools are installed from Debian's packages (ffmpeg, time, python3-numpy, python3-scipy).
# Writes RESULTS_DIR/catalog-DATE-HOST.json and prints a markdown table. Exits non-zero when a run
# fails, a song is missing on either side, or a Lacquer master's true peak is above -1 dBTP.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
songs=${1:-20}
seconds=${2:-180}
[[ $songs =~ ^[0-9]+$ && $songs -ge 1 ]] || { echo "catalog_bench.sh: SONGS must be a positive integer" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "catalog_bench.sh: SECONDS must be a number" >&2; exit 2; }
lacquer=${LACQUER:-$root/build/lacquer}
catalog=${CATALOG_DIR:-/tmp/lacquer-catalog-${songs}x${seconds}}
work=${WORK_DIR:-/tmp/lacquer-catalog-out}
results=${RESULTS_DIR:-$here/results}
rounds=${ROUNDS:-2}
ff_jobs=${FF_JOBS:-$(nproc)}
gen_jobs=${GEN_JOBS:-2}
date_tag=${BENCH_DATE:-$(date -u +%F)}
host=$(hostname -s 2>/dev/null || hostname)
py=/usr/bin/python3   # Debian's python, where python3-numpy and python3-scipy are installed

say() { echo "catalog_bench: $*" >&2; }

# --- tools, from Debian's packages only --------------------------------------------------------
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v ffprobe >/dev/null || need+=(ffmpeg)
[[ -x /usr/bin/time ]] || need+=(time)
[[ -x $py ]] || need+=(python3)
if [[ -x $py ]]; then
  $py -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
  $py -c 'import scipy' 2>/dev/null || need+=(python3-scipy)
fi
if [[ ${#need[@]} -gt 0 ]]; then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  say "installing ${need[*]} (apt-get)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[[ -x $lacquer ]] || { echo "catalog_bench.sh: no lacquer binary at $lacquer (set LACQUER, or build: cmake -S . -B build -G Ninja && cmake --build build --target lacquer)" >&2; exit 1; }
lacquer=$(cd "$(dirname "$lacquer")" && pwd)/$(basename "$lacquer")
# the commit as the run starts (set LACQUER_COMMIT when the binary was built from another one)
commit=${LACQUER_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}
dirty=$(git -C "$root" status --porcelain -- host kernels cli CMakeLists.txt 2>/dev/null | grep -q . && echo true || echo false)
lacquer_sha256=$(sha256sum "$lacquer" | cut -d' ' -f1)

# --- the catalog -----------------------------------------------------------------------------
mkdir -p "$catalog"
ids=(); for n in $(seq 1 "$songs"); do ids+=("$(printf 'song-%02d' "$n")"); done
stamp_of() { echo "seed $1 seconds $seconds generator $(sha256sum "$here/make_workload.py" | cut -c1-16) session $(sha256sum "$here/bench_session.toml" | cut -c1-16)"; }
todo=()
for n in $(seq 1 "$songs"); do
  d=$catalog/${ids[$((n - 1))]}
  [[ -f $d/.complete && "$(cat "$d/.complete")" == "$(stamp_of "$n")" ]] || todo+=("$n")
done
gen_s=0
if [[ ${#todo[@]} -gt 0 ]]; then
  say "generating ${#todo[@]} of $songs songs of $seconds s into $catalog ($gen_jobs at a time)"
  export here seconds catalog py
  export -f stamp_of
  t0=$(date +%s.%N)
  printf '%s\n' "${todo[@]}" | xargs -P "$gen_jobs" -I{} bash -c '
    set -euo pipefail
    n={}; d=$catalog/$(printf "song-%02d" "$n")
    rm -rf "$d"; mkdir -p "$d"
    "$py" "$here/make_workload.py" "$d" "$seconds" --seed "$n" >/dev/null
    sed "s#\"workload/#\"#" "$here/bench_session.toml" > "$d/session.toml"
    stamp_of "$n" > "$d/.complete"'
  gen_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  say "generated in ${gen_s} s"
fi
# songs of an earlier, larger catalog in the same folder would be rendered by `lacquer batch`
for d in "$catalog"/*/; do
  id=$(basename "$d"); [[ " ${ids[*]} " == *" $id "* ]] || { echo "catalog_bench.sh: $catalog holds $id, not one of song-01..song-$songs: use another CATALOG_DIR" >&2; exit 1; }
done
catalog_bytes=$(du -sb "$catalog" | cut -f1)

# --- runs ------------------------------------------------------------------------------------
mkdir -p "$work" "$results"
logs=$work/logs; rm -rf "$logs"; mkdir -p "$logs"
say "warming the page cache (reading the catalog once)"
cat "$catalog"/*/*.wav > /dev/null
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }  # user nice system irq softirq steal
load_before=$(loadavg)
uptime_before=$(uptime)

run_lacquer() {  # round
  local out=$work/lacquer
  rm -rf "$out"
  echo "$(loadavg)" > "$logs/lacquer-$1.load"
  busy_ticks > "$logs/lacquer-$1.busy"
  /usr/bin/time -v -o "$logs/lacquer-$1.time" "$lacquer" batch "$catalog" -o "$out" --force --quiet \
    > "$logs/lacquer-$1.log" 2>&1 || { cat "$logs/lacquer-$1.log" >&2; return 1; }
  busy_ticks >> "$logs/lacquer-$1.busy"
  cp "$out/summary.json" "$logs/lacquer-$1.summary.json"
}
run_ffmpeg() {  # round
  local out=$work/ffmpeg
  rm -rf "$out"; mkdir -p "$out"
  echo "$(loadavg)" > "$logs/ffmpeg-$1.load"
  busy_ticks > "$logs/ffmpeg-$1.busy"
  ( cd "$catalog" && ls -d song-* | CATALOG=$catalog FF_OUT=$out \
      /usr/bin/time -v -o "$logs/ffmpeg-$1.time" xargs -P "$ff_jobs" -n 1 "$here/ffmpeg_song.sh" ) \
    > "$logs/ffmpeg-$1.log" 2>&1 || { cat "$logs/ffmpeg-$1.log" >&2; return 1; }
  busy_ticks >> "$logs/ffmpeg-$1.busy"
}
for r in $(seq 1 "$rounds"); do
  say "round $r/$rounds: lacquer batch"; run_lacquer "$r"
  say "  wall $(grep 'Elapsed (wall' "$logs/lacquer-$r.time" | awk '{print $NF}')"
  say "round $r/$rounds: ffmpeg, xargs -P $ff_jobs"; run_ffmpeg "$r"
  say "  wall $(grep 'Elapsed (wall' "$logs/ffmpeg-$r.time" | awk '{print $NF}')"
done
load_after=$(loadavg)
uptime_after=$(uptime)

# --- checks on the last round's outputs --------------------------------------------------------
say "checking outputs (lengths, Lacquer's true peaks, ffmpeg's true peaks)"
ffprobe_len() { ffprobe -v error -select_streams a:0 -show_entries stream=duration_ts,sample_rate,bits_per_raw_sample -of default=nw=1 "$1" | paste -sd' '; }
: > "$logs/lengths.csv"
for id in "${ids[@]}"; do
  echo "$id,lacquer,$(ffprobe_len "$work/lacquer/$id/master.wav")" >> "$logs/lengths.csv"
  echo "$id,ffmpeg,$(ffprobe_len "$work/ffmpeg/$id.wav")" >> "$logs/lengths.csv"
done
"$lacquer" measure --json "$work"/ffmpeg/song-*.wav > "$logs/ffmpeg-measure.json" 2>/dev/null || true

# --- the result ------------------------------------------------------------------------------
lacquer_version=$("$lacquer" --version | head -1)
ffmpeg_version=$(ffmpeg -version | head -1)
result=$results/catalog-$date_tag-$host.json
export songs seconds rounds ff_jobs date_tag host lacquer_version ffmpeg_version commit dirty lacquer_sha256 \
  load_before load_after uptime_before uptime_after catalog catalog_bytes gen_s logs work result
"$py" - <<'EOF'
import json, os, re, statistics, sys, glob
E = os.environ
logs, songs, seconds = E['logs'], int(E['songs']), float(E['seconds'])

def gnu_time(path):
    t = {}
    for line in open(path):
        k, _, v = line.strip().rpartition(': ')
        t[k] = v
    w = t['Elapsed (wall clock) time (h:mm:ss or m:ss)'].split(':')
    wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
    u, s = float(t['User time (seconds)']), float(t['System time (seconds)'])
    return {'wall_s': wall, 'user_s': u, 'sys_s': s, 'cpu_s': round(u + s, 2),
            'cpu_percent': t['Percent of CPU this job got'],
            'max_rss_kib': int(t['Maximum resident set size (kbytes)']),
            'exit_status': int(t['Exit status'])}

def side(name):
    runs = []
    for r in range(1, int(E['rounds']) + 1):
        x = gnu_time(f'{logs}/{name}-{r}.time')
        x['round'] = r
        x['load_at_start'] = open(f'{logs}/{name}-{r}.load').read().split()
        b0, b1 = (int(v) for v in open(f'{logs}/{name}-{r}.busy').read().split())
        busy = (b1 - b0) / os.sysconf('SC_CLK_TCK')
        # CPU the whole machine spent during the run, and what of it was not this run's
        x['machine_busy_cpu_s'] = round(busy, 1)
        x['other_processes_cpu_s'] = round(busy - x['cpu_s'], 1)
        if name == 'lacquer':
            s = json.load(open(f'{logs}/lacquer-{r}.summary.json'))
            x['summary'] = {k: s[k] for k in ('wall_s', 'songs_per_hour', 'x_realtime', 'rendered_audio_s',
                                               'peak_inflight_estimate_bytes', 'jobs', 'threads_per_song',
                                               'counts')}
        runs.append(x)
    med = lambda k: statistics.median(x[k] for x in runs)
    return {'runs': runs, 'median_wall_s': med('wall_s'), 'median_cpu_s': med('cpu_s'),
            'max_rss_kib': max(x['max_rss_kib'] for x in runs),
            'songs_per_hour': songs / med('wall_s') * 3600.0}

lq, ff = side('lacquer'), side('ffmpeg')
# per-song figures of Lacquer's last round
out = E['work'] + '/lacquer'
per_song, peaks, stages = [], [], {}
for rep in sorted(glob.glob(out + '/song-*/report.json')):
    r = json.load(open(rep))
    tp = r['master']['after']['true_peak_dbtp']
    peaks.append(tp)
    for k, v in r.get('timing_s', {}).items():
        stages.setdefault(k, []).append(v)
    per_song.append({'id': os.path.basename(os.path.dirname(rep)), 'true_peak_dbtp': tp,
                     'integrated_lufs': r['master']['after']['integrated_lufs'],
                     'timing_total_s': r.get('timing_s', {}).get('total')})
lengths = {}
for line in open(f'{logs}/lengths.csv'):
    sid, who, kv = line.strip().split(',', 2)
    kv = dict(x.split('=', 1) for x in kv.split())
    lengths.setdefault(who, []).append(int(kv['duration_ts']) / float(kv['sample_rate']))
ff_tp = []
try:
    m = json.load(open(f'{logs}/ffmpeg-measure.json'))
    for e in (m if isinstance(m, list) else m.get('files', [])):
        ff_tp.append(e.get('true_peak_dbtp'))
except Exception:
    pass
ff_tp = [x for x in ff_tp if isinstance(x, (int, float))]

cpu = re.search(r'model name\s*:\s*(.*)', open('/proc/cpuinfo').read())
mem = re.search(r'MemTotal:\s*(\d+)', open('/proc/meminfo').read())
res = {
    'benchmark': 'catalog throughput: lacquer batch vs ffmpeg filter graph (xargs -P)',
    'date': E['date_tag'], 'host': E['host'],
    'machine': {'nproc': os.cpu_count(), 'cpu_model': cpu.group(1) if cpu else None,
                'ram_bytes': int(mem.group(1)) * 1024 if mem else None},
    'versions': {'lacquer': E['lacquer_version'], 'ffmpeg': E['ffmpeg_version']},
    'commit': E['commit'], 'source_dirty': E['dirty'] == 'true', 'lacquer_binary_sha256': E['lacquer_sha256'],
    'catalog': {'dir': E['catalog'], 'songs': songs, 'seconds': seconds, 'bytes': int(E['catalog_bytes']),
                'generation_s': float(E['gen_s'] or 0), 'session': 'benchmarks/bench_session.toml',
                'seeds': [1, songs]},
    'method': {'order': 'alternating, lacquer then ffmpeg, per round', 'rounds': int(E['rounds']),
               'page_cache': 'catalog read once before the first round',
               'lacquer': 'lacquer batch CATALOG -o OUT --force --quiet (default jobs and threads)',
               'ffmpeg': f"ls songs | xargs -P {E['ff_jobs']} -n 1 benchmarks/ffmpeg_song.sh",
               'timer': '/usr/bin/time -v; max_rss_kib is the largest single process (for ffmpeg: one of the '
                        'concurrent song processes, not their sum)'},
    'load': {'before': E['load_before'].split(), 'after': E['load_after'].split(),
             'uptime_before': E['uptime_before'], 'uptime_after': E['uptime_after']},
    'lacquer': lq, 'ffmpeg': ff,
    'ratio_songs_per_hour': lq['songs_per_hour'] / ff['songs_per_hour'],
    'target_ratio': 4.0,
    'checks': {
        'lacquer_masters': len(peaks), 'ffmpeg_masters': len(lengths.get('ffmpeg', [])),
        'lacquer_max_true_peak_dbtp': max(peaks) if peaks else None,
        'lacquer_all_true_peaks_le_minus1': bool(peaks) and all(p <= -1.0 for p in peaks),
        'ffmpeg_max_true_peak_dbtp': max(ff_tp) if ff_tp else None,
        'lacquer_master_seconds': [min(lengths.get('lacquer', [0])), max(lengths.get('lacquer', [0]))],
        'ffmpeg_output_seconds': [min(lengths.get('ffmpeg', [0])), max(lengths.get('ffmpeg', [0]))],
    },
    'lacquer_last_round_per_song': per_song,
    'lacquer_last_round_timing_s_median': {k: statistics.median(v) for k, v in sorted(stages.items())},
}
ok = (res['checks']['lacquer_masters'] == songs and res['checks']['ffmpeg_masters'] == songs
      and res['checks']['lacquer_all_true_peaks_le_minus1']
      and all(x['exit_status'] == 0 for x in lq['runs'] + ff['runs']))
res['checks']['ok'] = ok
json.dump(res, open(E['result'], 'w'), indent=2)
open(E['result'], 'a').write('\n')

gib = lambda k: k / 1024 / 1024
print(f"\ncatalog: {songs} songs x {seconds:g} s, {E['rounds']} rounds each (median), {E['host']}, "
      f"{os.cpu_count()} cores, commit {E['commit'][:7]}; load before {E['load_before']}, after {E['load_after']}\n")
print('| side | songs | seconds | wall (s) | CPU (s) | peak RSS (GiB) | songs/hour | other processes\' CPU (s) |')
print('|---|---:|---:|---:|---:|---:|---:|---:|')
for name, s in (('lacquer batch', lq), (f"ffmpeg, xargs -P {E['ff_jobs']}", ff)):
    oth = ' / '.join(f"{x['other_processes_cpu_s']:.0f}" for x in s['runs'])
    print(f"| {name} | {songs} | {seconds:g} | {s['median_wall_s']:.1f} | {s['median_cpu_s']:.1f} | "
          f"{gib(s['max_rss_kib']):.2f} | {s['songs_per_hour']:.0f} | {oth} |")
print(f"\nratio (lacquer / ffmpeg songs per hour): {res['ratio_songs_per_hour']:.2f}x (target 4x)")
print(f"lacquer x_realtime {[x['summary']['x_realtime'] for x in lq['runs']]}, peak_inflight_estimate_bytes "
      f"{[x['summary']['peak_inflight_estimate_bytes'] for x in lq['runs']]}")
print(f"lacquer max true peak {res['checks']['lacquer_max_true_peak_dbtp']} dBTP; ffmpeg max true peak "
      f"{res['checks']['ffmpeg_max_true_peak_dbtp']} dBTP")
print(f"result: {E['result']}")
sys.exit(0 if ok else 1)
EOF
