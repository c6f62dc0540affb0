#!/bin/bash
# qc_bench.sh: the cost of delivery QC, each beside what it adds to, in the same run, alternating
# (A B A B ...: ROUNDS rounds), timed with /usr/bin/time -v:
#
# - series: the standard session with a -14 LUFS target (bench_session_norm.toml) rendered as it
#   is and with --html (the report's series and the page); the render's own "series" stage too;
# - codecs: one codec round trip per codec (aac_256, mp3_320, opus_160, vorbis_320) on that
#   session's master, as `lacquer qc MASTER --codecs C` less `lacquer qc MASTER` (reading and
#   measuring the master), beside the `ffmpeg` command line encoding the same master with the same
#   encoder and bit rate (`ffmpeg -i MASTER -c:a ENC -b:a Nk OUT`) and decoding it again
#   (`ffmpeg -i OUT -f null -`).
#
# Environment: LACQUER (default build/lacquer), WORK_DIR (default /tmp/lacquer-qc-bench),
# RESULTS_DIR (default benchmarks/results), ROUNDS (default 3), BENCH_DATE (default today, UTC).
# Needs the standard workload (python3 benchmarks/make_workload.py benchmarks/workload 180) and
# ffmpeg. Writes RESULTS_DIR/qc-DATE-HOST-COMMIT.json and prints markdown tables.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
lacquer=${LACQUER:-$root/build/lacquer}
work=${WORK_DIR:-/tmp/lacquer-qc-bench}
results=${RESULTS_DIR:-$here/results}
rounds=${ROUNDS:-3}
date_tag=${BENCH_DATE:-$(date -u +%F)}
host=$(hostname -s 2>/dev/null || hostname)
py=/usr/bin/python3
say() { echo "qc_bench: $*" >&2; }

[[ -x /usr/bin/time ]] || { echo "qc_bench.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
[[ -x $lacquer ]] || { echo "qc_bench.sh: no lacquer binary at $lacquer" >&2; exit 1; }
command -v ffmpeg > /dev/null || { echo "qc_bench.sh: needs ffmpeg (scripts/install-deps.sh)" >&2; exit 1; }
[[ -f $here/workload/keys.wav ]] || { echo "qc_bench.sh: no standard workload (python3 benchmarks/make_workload.py benchmarks/workload 180)" >&2; exit 1; }
commit=${LACQUER_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
# Only what this script writes in WORK_DIR is removed (WORK_DIR may be a folder of the user's).
mkdir -p "$work" "$results"
rm -rf "$work/logs"
rm -f "$work"/session.toml "$work"/{plain,html}.{wav,json,html} "$work"/ff.{m4a,mp3,opus,ogg}
mkdir -p "$work/logs"
logs=$work/logs
sed "s#\"workload/#\"$here/workload/#" "$here/bench_session_norm.toml" > "$work/session.toml"
cat "$here"/workload/*.wav > /dev/null   # the page cache, warm for both sides

timed() {  # name round command...
  local name=$1 r=$2; shift 2
  /usr/bin/time -v -o "$logs/$name-$r.time" "$@" > "$logs/$name-$r.log" 2>&1 || { cat "$logs/$name-$r.log" >&2; return 1; }
}
codecs="aac_256 mp3_320 opus_160 vorbis_320"
declare -A enc=([aac_256]="aac -b:a 256k" [mp3_320]="libmp3lame -b:a 320k" [opus_160]="libopus -b:a 160k" [vorbis_320]="libvorbis -b:a 320k")
declare -A ext=([aac_256]=m4a [mp3_320]=mp3 [opus_160]=opus [vorbis_320]=ogg)
for r in $(seq 1 "$rounds"); do
  say "round $r/$rounds: render, plain and --html"
  timed render-plain "$r" "$lacquer" render "$work/session.toml" -o "$work/plain.wav" -q
  timed render-html "$r" "$lacquer" render "$work/session.toml" -o "$work/html.wav" -q --html
  say "round $r/$rounds: codecs"
  timed qc-none "$r" "$lacquer" qc "$work/plain.wav" --json
  for c in $codecs; do
    timed "qc-$c" "$r" "$lacquer" qc "$work/plain.wav" --json --codecs "$c"
    # shellcheck disable=SC2086
    timed "ffenc-$c" "$r" ffmpeg -nostdin -v error -y -i "$work/plain.wav" -c:a ${enc[$c]} "$work/ff.${ext[$c]}"
    timed "ffdec-$c" "$r" ffmpeg -nostdin -v error -i "$work/ff.${ext[$c]}" -f null -
  done
done

result=$results/qc-$date_tag-$host-$commit.json
export logs rounds work result commit date_tag host codecs
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
html_report = json.load(open(f'{w}/html.json'))
plain_report = json.load(open(f'{w}/plain.json'))
r = {'date': E['date_tag'], 'host': E['host'], 'commit': E['commit'], 'lacquer': E['lacquer_version'], 'rounds': rounds,
     'duration_s': plain_report['master']['duration_s'],
     'series': {'plain': side('render-plain'), 'html': side('render-html'),
                'series_stage_s': html_report['timing_s'].get('series'),
                'total_s_plain_report': plain_report['timing_s']['total'], 'total_s_html_report': html_report['timing_s']['total']},
     'codecs': {}}
r['series']['wall_ratio'] = r['series']['html']['median_wall_s'] / r['series']['plain']['median_wall_s']
r['series']['stage_share'] = r['series']['series_stage_s'] / r['series']['total_s_html_report']
none = side('qc-none')
r['qc_without_codecs'] = none
for c in E['codecs'].split():
    q = side(f'qc-{c}')
    r['codecs'][c] = {'qc': q, 'round_trip_wall_s': q['median_wall_s'] - none['median_wall_s'],
                      'round_trip_cpu_s': q['median_cpu_s'] - none['median_cpu_s'],
                      'ffmpeg_encode': side(f'ffenc-{c}'), 'ffmpeg_decode': side(f'ffdec-{c}')}
json.dump(r, open(E['result'], 'w'), indent=2)
s = r['series']
print(f"| standard session, -14 LUFS ({r['duration_s']:.0f} s) | median wall | CPU | peak RSS |")
print(f"|---|---:|---:|---:|")
for k, label in (('plain', 'render'), ('html', 'render --html')):
    print(f"| {label} | {s[k]['median_wall_s']:.2f} s | {s[k]['median_cpu_s']:.2f} s | {s[k]['max_rss_kib']/1024:.0f} MiB |")
print(f"ratio {s['wall_ratio']:.3f}; series stage {s['series_stage_s']*1000:.0f} ms = {100*s['stage_share']:.2f} % of the render")
print()
print(f"| codec | round trip in lacquer (wall, CPU) | ffmpeg CLI encode (wall, CPU) | ffmpeg CLI decode (wall) | encode + decode |")
print(f"|---|---:|---:|---:|---:|")
for c, v in r['codecs'].items():
    e, d = v['ffmpeg_encode'], v['ffmpeg_decode']
    print(f"| {c} | {v['round_trip_wall_s']:.2f} s, {v['round_trip_cpu_s']:.2f} s | {e['median_wall_s']:.2f} s, {e['median_cpu_s']:.2f} s "
          f"| {d['median_wall_s']:.2f} s | {e['median_wall_s'] + d['median_wall_s']:.2f} s |")
print(f"lacquer qc without codecs: {none['median_wall_s']:.2f} s")
print(f"result: {E['result']}")
PY
