#!/bin/bash
# album_bench.sh [SONGS=12] [SECONDS=180]
#
# The cost of albums and of reference matching, each beside the plain render in the same run,
# alternating (A B A B ...: ROUNDS rounds of each), timed with /usr/bin/time -v:
#
# - match: the standard session with a -14 LUFS target (bench_session_norm.toml) rendered as it is
#   and with [master.match] reference = another song's master (song 2 of the album's catalog);
# - album: SONGS songs of SECONDS s (song N = make_workload.py --seed N with bench_session.toml's
#   chain and a -14 LUFS target) rendered by `lacquer batch` from a manifest without an album
#   column, and from one that puts them all in one album with --album-loudness (both phases).
#
# Environment: LACQUER (default build/lacquer), CATALOG_DIR (default /tmp/lacquer-album-SONGSxSECONDS,
# written once and reused), WORK_DIR (default /tmp/lacquer-album-out), RESULTS_DIR (default
# benchmarks/results), ROUNDS (default 2), BENCH_DATE (default today, UTC).
# Needs the standard workload (python3 benchmarks/make_workload.py benchmarks/workload 180).
# Writes RESULTS_DIR/album-DATE-HOST.json and prints a markdown table.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
songs=${1:-12}
seconds=${2:-180}
lacquer=${LACQUER:-$root/build/lacquer}
catalog=${CATALOG_DIR:-/tmp/lacquer-album-${songs}x${seconds}}
work=${WORK_DIR:-/tmp/lacquer-album-out}
results=${RESULTS_DIR:-$here/results}
rounds=${ROUNDS:-2}
date_tag=${BENCH_DATE:-$(date -u +%F)}
host=$(hostname -s 2>/dev/null || hostname)
py=/usr/bin/python3
say() { echo "album_bench: $*" >&2; }

[[ -x /usr/bin/time ]] || { echo "album_bench.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
[[ -x $lacquer ]] || { echo "album_bench.sh: no lacquer binary at $lacquer" >&2; exit 1; }
[[ -f $here/workload/keys.wav ]] || { echo "album_bench.sh: no standard workload (python3 benchmarks/make_workload.py benchmarks/workload 180)" >&2; exit 1; }
commit=${LACQUER_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
# Only what this script writes in WORK_DIR is removed (WORK_DIR may be a folder of the user's).
mkdir -p "$work" "$results"
rm -rf "$work/logs" "$work/out-plain" "$work/out-album"
rm -f "$work"/{plain,match}.{toml,wav,json} "$work"/{plain,album}.csv "$work/reference.wav"
mkdir -p "$work/logs"
logs=$work/logs

# --- the sessions and the catalog ----------------------------------------------------------------
sed "s#\"workload/#\"$here/workload/#" "$here/bench_session_norm.toml" > "$work/plain.toml"
{ cat "$work/plain.toml"; printf '\n[master.match]\nreference = "%s"\n' "$work/reference.wav"; } > "$work/match.toml"
mkdir -p "$catalog"
stamp="seed-N seconds $seconds generator $(sha256sum "$here/make_workload.py" | cut -c1-16) session $(sha256sum "$here/bench_session.toml" | cut -c1-16)"
for n in $(seq 1 "$songs"); do
  d=$catalog/$(printf 'song-%02d' "$n")
  [[ -f $d/.complete && "$(cat "$d/.complete")" == "$stamp" ]] && continue
  say "generating $(basename "$d") ($seconds s)"
  rm -rf "$d"; mkdir -p "$d"
  "$py" "$here/make_workload.py" "$d" "$seconds" --seed "$n" > /dev/null
  sed -e "s#\"workload/#\"#" -e "s#^\[master\]#[master]\ntarget_lufs = -14.0#" "$here/bench_session.toml" > "$d/session.toml"
  echo "$stamp" > "$d/.complete"
done
{ echo "id,source"; for n in $(seq 1 "$songs"); do id=$(printf 'song-%02d' "$n"); echo "$id,$catalog/$id/session.toml"; done; } > "$work/plain.csv"
{ echo "id,source,album"; for n in $(seq 1 "$songs"); do id=$(printf 'song-%02d' "$n"); echo "$id,$catalog/$id/session.toml,The Benchmark"; done; } > "$work/album.csv"
# The reference: another song's master (song 2 of the catalog, rendered plain).
"$lacquer" render "$catalog/song-02/session.toml" -o "$work/reference.wav" --no-report -q
cat "$catalog"/*/*.wav "$here"/workload/*.wav > /dev/null   # the page cache, warm for both sides

timed() {  # name round command...
  local name=$1 r=$2; shift 2
  /usr/bin/time -v -o "$logs/$name-$r.time" "$@" > "$logs/$name-$r.log" 2>&1 || { cat "$logs/$name-$r.log" >&2; return 1; }
}
for r in $(seq 1 "$rounds"); do
  say "round $r/$rounds: match"
  timed render-plain "$r" "$lacquer" render "$work/plain.toml" -o "$work/plain.wav" -q
  timed render-match "$r" "$lacquer" render "$work/match.toml" -o "$work/match.wav" -q
  say "round $r/$rounds: album of $songs songs"
  timed batch-plain "$r" "$lacquer" batch "$work/plain.csv" -o "$work/out-plain" --force -q
  timed batch-album "$r" "$lacquer" batch "$work/album.csv" -o "$work/out-album" --force -q --album-loudness
done

result=$results/album-$date_tag-$host-$commit.json
export logs rounds songs seconds work result commit date_tag host
lacquer_version=$("$lacquer" --version | head -1); export lacquer_version
"$py" - <<'PY'
import json, os, statistics
E = os.environ
logs, rounds = E['logs'], int(E['rounds'])
def gnu_time(path):
    t = {}
    for line in open(path):
        k, _, v = line.strip().rpartition(': ')
        t[k] = v
    w = t['Elapsed (wall clock) time (h:mm:ss or m:ss)'].split(':')
    return {'wall_s': sum(float(x) * 60 ** i for i, x in enumerate(reversed(w))),
            'cpu_s': round(float(t['User time (seconds)']) + float(t['System time (seconds)']), 2),
            'max_rss_kib': int(t['Maximum resident set size (kbytes)'])}
def side(name):
    runs = [gnu_time(f'{logs}/{name}-{r}.time') for r in range(1, rounds + 1)]
    return {'runs': runs, 'median_wall_s': statistics.median(x['wall_s'] for x in runs),
            'median_cpu_s': statistics.median(x['cpu_s'] for x in runs), 'max_rss_kib': max(x['max_rss_kib'] for x in runs)}
w = E['work']
match_report = json.load(open(f'{w}/match.json'))
plain_report = json.load(open(f'{w}/plain.json'))
summary = json.load(open(f'{w}/out-album/summary.json'))
r = {'date': E['date_tag'], 'host': E['host'], 'commit': E['commit'], 'lacquer': E['lacquer_version'], 'rounds': rounds,
     'match': {'plain': side('render-plain'), 'matched': side('render-match'),
               'match_stage_s': match_report['timing_s'].get('match'),
               'total_s_plain_report': plain_report['timing_s']['total'], 'total_s_matched_report': match_report['timing_s']['total'],
               'curve_db': match_report['master']['match']['curve_db']},
     'album': {'songs': int(E['songs']), 'seconds': float(E['seconds']),
               'plain': side('batch-plain'), 'album': side('batch-album'), 'album_row': summary['albums'][0]}}
for k in ('match', 'album'):
    a, b = (r[k]['plain'], r[k]['matched' if k == 'match' else 'album'])
    r[k]['wall_ratio'] = b['median_wall_s'] / a['median_wall_s']
json.dump(r, open(E['result'], 'w'), indent=2)
m, a = r['match'], r['album']
print(f"| what | plain (median wall) | with | ratio | peak RSS plain / with |")
print(f"|---|---:|---:|---:|---:|")
print(f"| standard session, -14 LUFS: match to a reference | {m['plain']['median_wall_s']:.2f} s | {m['matched']['median_wall_s']:.2f} s "
      f"| {m['wall_ratio']:.3f} | {m['plain']['max_rss_kib']/1024:.0f} / {m['matched']['max_rss_kib']/1024:.0f} MiB |")
print(f"| {a['songs']} songs x {a['seconds']:.0f} s, batch: one album (--album-loudness) | {a['plain']['median_wall_s']:.1f} s "
      f"| {a['album']['median_wall_s']:.1f} s | {a['wall_ratio']:.3f} | {a['plain']['max_rss_kib']/1024:.0f} / {a['album']['max_rss_kib']/1024:.0f} MiB |")
print(f"match stage: {m['match_stage_s']:.3f} s; album: {json.dumps({k: a['album_row'].get(k) for k in ('integrated_lufs_before', 'gain_db', 'integrated_lufs_after', 'loudness_range_lu_after', 'true_peak_max_dbtp')})}")
print(f"result: {E['result']}")
PY
