#!/usr/bin/env bash
# The GPU benchmark: the standard session (bench_session.toml) on the CUDA backend, against the
# CPU backend and against the machine's floor (gpu_floor).
#
#   bash benchmarks/gpu_bench.sh BUILD_DIR OUT_DIR [SECONDS=180]
#
# 1. BUILD_DIR/benchmarks/gpu_floor > OUT_DIR/floor.json (memory bandwidth, cuFFT rate).
# 2. The workload (make_workload.py, SECONDS long) in benchmarks/workload/, unless it is there
#    with that length already.
# 3. Renders: CPU once (the reference; run first so a bad session fails early), then CUDA once
#    as warm-up and 3 timed times, then bench_session_norm.toml once on CUDA. Masters and
#    per-run reports go to RENDER_DIR (default: a fresh folder under /tmp), not OUT_DIR, so that
#    OUT_DIR holds only floor.json and gpu_bench.json.
# 4. OUT_DIR/gpu_bench.json and a markdown table on stdout: per-stage median seconds, songs per
#    hour, x realtime and the fraction of the floor.
# Without a usable GPU (gpu_floor's skip line, `lacquer devices` saying "no usable GPU", or a
# build without CUDA) it renders on the CPU only, says so in one line and exits 0.
# Exit status: 0, or 1 when a render or gpu_floor failed.
set -uo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUILD_DIR OUT_DIR [SECONDS=180]" >&2
  exit 2
fi
build=$(cd "$1" && pwd) || exit 2
mkdir -p "$2" && out=$(cd "$2" && pwd) || exit 2
seconds=${3:-180}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/benchmarks
lacquer=$build/lacquer
work=${RENDER_DIR:-$(mktemp -d /tmp/lacquer-bench.XXXXXX)}
mkdir -p "$work"
status=0

[[ -x $lacquer ]] || { echo "gpu_bench: $lacquer not found (build the lacquer target)" >&2; exit 1; }

# ---- 1. the floor, and whether a GPU is usable ----
gpu=1
why_no_gpu=
floor=$build/benchmarks/gpu_floor
if [[ ! -x $floor ]]; then
  gpu=0; why_no_gpu="$floor not built (configure with -DLACQUER_CUDA=ON)"
  rm -f "$out/floor.json"
elif ! "$floor" > "$out/floor.json"; then
  echo "gpu_bench: gpu_floor failed (see above)" >&2
  status=1
elif grep -q '^gpu_floor: no usable CUDA device' "$out/floor.json"; then
  gpu=0; why_no_gpu=$(head -n1 "$out/floor.json")
fi
"$lacquer" devices > "$work/devices.txt" 2>&1
if [[ $gpu == 1 ]] && grep -q -e 'no usable GPU' -e 'cuda: not built' "$work/devices.txt"; then
  gpu=0; why_no_gpu=$(grep -m1 -e 'no usable GPU' -e 'cuda: not built' "$work/devices.txt")
fi

# ---- 2. the workload ----
wl=$bench/workload
have_wl() {
  [[ -f $wl/MANIFEST.txt && -f $wl/ir.wav ]] || return 1
  for s in kick snare hats bass keys pad vocal fx; do [[ -f $wl/$s.wav ]] || return 1; done
  awk -v want="$seconds" 'NR == 1 { exit !($4 + 0 == want + 0) }' "$wl/MANIFEST.txt"
}
if ! have_wl; then
  py=
  for p in python3 /usr/bin/python3; do
    if command -v "$p" > /dev/null && "$p" -c 'import numpy, scipy' 2> /dev/null; then py=$p; break; fi
  done
  [[ -n $py ]] || { echo "gpu_bench: no python3 with numpy and scipy to write the workload" >&2; exit 1; }
  echo "gpu_bench: writing a ${seconds} s workload into $wl"
  rm -rf "$wl"
  if ! "$py" "$bench/make_workload.py" "$wl" "$seconds" > /dev/null; then
    echo "gpu_bench: make_workload.py failed" >&2
    exit 1
  fi
fi

# ---- 3. renders ----
# runs.tsv: label, run index, exit status, whole-process wall seconds, report path
: > "$work/runs.tsv"
render() {  # render LABEL INDEX SESSION BACKEND
  local label=$1 i=$2 session=$3 backend=$4 t0 t1 rc
  local report=$work/report_${label}_$i.json
  t0=$EPOCHREALTIME
  "$lacquer" render "$session" -o "$work/master_$label.wav" --backend "$backend" --report "$report" -q
  rc=$?
  t1=$EPOCHREALTIME
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$i" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    "$report" >> "$work/runs.tsv"
  if [[ $rc != 0 ]]; then echo "gpu_bench: render $label #$i failed (exit $rc)" >&2; status=1; fi
}
render cpu 1 "$bench/bench_session.toml" cpu
if [[ $gpu == 1 ]]; then
  render cuda 0 "$bench/bench_session.toml" cuda   # warm-up: not in the medians
  for i in 1 2 3; do render cuda "$i" "$bench/bench_session.toml" cuda; done
  render cuda_norm 1 "$bench/bench_session_norm.toml" cuda
else
  echo "gpu_bench: no usable GPU ($why_no_gpu): CUDA renders skipped, CPU render only"
fi

# ---- 4. summary ----
commit=$(git -C "$root" rev-parse HEAD 2> /dev/null || echo unknown)
python3 - "$work/runs.tsv" "$out/floor.json" "$out/gpu_bench.json" "$seconds" "$commit" \
  "$work/devices.txt" <<'PY' || status=1
import datetime, json, math, statistics, sys

runs_tsv, floor_path, out_path, seconds, commit, devices_path = sys.argv[1:7]

def convolver_fft_size(l):
    """convolver_fft_size (kernels/cpu/convolver.cpp): the smallest 2^n >= 8 L (at least 2^12)
    while that is <= 2^17, beyond that the smallest >= 4 L"""
    l, k, cache_limit = max(l, 1), 1 << 12, 1 << 17
    while k < 8 * l and k < cache_limit:
        k *= 2
    if k < 8 * l:
        while k < 4 * l:
            k *= 2
    return k

runs = {}
for line in open(runs_tsv):
    label, i, rc, wall, report = line.rstrip('\n').split('\t')
    if rc != '0' or i == '0':
        continue
    r = json.load(open(report))
    runs.setdefault(label, []).append({'wall_s': float(wall), 'report': r})

floor = None
try:
    floor = json.load(open(floor_path))
except (OSError, ValueError):
    pass

summary = {}
for label, rs in runs.items():
    stages = {}
    for x in rs:
        for k, v in x['report']['timing_s'].items():
            stages.setdefault(k, []).append(v)
    med = {k: statistics.median(v) for k, v in stages.items()}
    dur = rs[0]['report']['master']['duration_s']
    summary[label] = {'runs': len(rs), 'backend': rs[0]['report']['lacquer']['backend'],
                      'duration_s': dur, 'median_s': med,
                      'wall_s_median': statistics.median(x['wall_s'] for x in rs),
                      'songs_per_hour': 3600.0 / med['total'], 'x_realtime': dur / med['total']}

# The floor: what the best possible GPU render of this session would take on this device.
floor_est = None
ref = (runs.get('cuda') or runs.get('cpu') or [None])[0]
if ref is not None:
    r = ref['report']
    frames = r['master']['frames']
    n_stems = len(r['stems'])
    # Bytes (an estimate): float32 stereo buffers of the song's length, each pass reading and
    # writing 2 ch x frames x 4 B; 3 passes per stem (EQ, compressor, sum into the group and send
    # buses) and 5 bus passes (reverb, groups -> master, limiter, loudness, quantise). Decode,
    # encode and the FFTs' own traffic are not counted here (the FFTs are in the FFT term).
    passes = 3 * n_stems + 5
    bytes_moved = passes * 2 * frames * 4 * 2
    # FFT work: overlap-save as the CPU convolver does it, per channel ceil(frames / hop) blocks,
    # hop = K - L + 1, one R2C and one C2R per block; each stem's EQ (taps from the report) and
    # each reverb (IR length from the report), 2 channels each.
    filters = [s['eq']['taps'] for s in r['stems']
               if isinstance(s.get('eq'), dict) and s['eq'].get('taps', 1) > 1]
    filters += [v['ir_frames'] for v in r.get('reverbs', []) if 'ir_frames' in v]
    transforms = {}
    for l in filters:
        k = convolver_fft_size(l)
        transforms[k] = transforms.get(k, 0) + 2 * 2 * math.ceil(frames / (k - l + 1))
    floor_est = {'frames': frames, 'passes': passes, 'bytes_moved': bytes_moved,
                 'fft_transforms': {str(k): n for k, n in sorted(transforms.items())},
                 'fft_gflop': sum(n * 2.5 * k * math.log2(k) for k, n in transforms.items()) * 1e-9}
    if floor and 'bandwidth_gbs' in floor:
        bw_s = bytes_moved / (floor['bandwidth_gbs'] * 1e9)
        # each K at the GFLOP/s of the measured size nearest in log2 K
        fft_s = 0.0
        for k, n in transforms.items():
            m = min(floor['fft'], key=lambda e: abs(math.log2(e['k']) - math.log2(k)))
            fft_s += n * 2.5 * k * math.log2(k) / (m['gflops'] * 1e9)
        floor_est.update({'bandwidth_s': bw_s, 'fft_s': fft_s, 'floor_s': bw_s + fft_s})
        for s in summary.values():
            med = s['median_s']
            processing = med['total'] - med.get('decode', 0.0) - med.get('encode', 0.0)
            s['floor_fraction_total'] = floor_est['floor_s'] / med['total']
            s['floor_fraction_processing'] = floor_est['floor_s'] / processing if processing > 0 else None

result = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
          'commit': commit, 'workload_s': float(seconds), 'devices': open(devices_path).read(),
          'floor': floor, 'summary': summary, 'floor_estimate': floor_est,
          'reports': {label: rs[-1]['report'] for label, rs in runs.items()}}
with open(out_path, 'w') as fh:
    json.dump(result, fh, indent=2)

labels = [l for l in ('cuda', 'cpu', 'cuda_norm') if l in summary]
for l in labels:
    if summary[l]['backend'] != l.split('_')[0]:
        print(f"gpu_bench: the {l} renders report backend {summary[l]['backend']}", file=sys.stderr)
print(f"\n## Lacquer benchmark, {seconds} s workload, commit {commit[:12]}\n")
if floor and 'device' in floor:
    print(f"{floor['device']} (cc {floor['cc']}), driver CUDA {floor['driver_cuda_version']}, "
          f"runtime {floor['runtime_cuda_version']}\n")
print('| stage (median s) | ' + ' | '.join(f"{l} (n={summary[l]['runs']})" for l in labels) + ' |')
print('|---|' + '---:|' * len(labels))
order = ['decode', 'resample', 'stems', 'reverbs', 'groups', 'master', 'loudness', 'loudness_and_limiter',
         'quantise_measure_encode']   # host/render.cpp's stages, in pipeline order
stages = []
for l in labels:
    stages += [k for k in summary[l]['median_s'] if k != 'total' and k not in stages]
stages.sort(key=lambda k: order.index(k) if k in order else len(order))
for k in stages + ['total']:
    cells = [summary[l]['median_s'].get(k) for l in labels]
    print(f'| {k} | ' + ' | '.join('' if c is None else f'{c:.3f}' for c in cells) + ' |')
print('| backend (report) | ' + ' | '.join(summary[l]['backend'] for l in labels) + ' |')
print('| songs per hour | ' + ' | '.join(f"{summary[l]['songs_per_hour']:.0f}" for l in labels) + ' |')
print('| x realtime | ' + ' | '.join(f"{summary[l]['x_realtime']:.1f}" for l in labels) + ' |')
if floor_est and 'floor_s' in floor_est:
    print('| floor / total | ' + ' | '.join(f"{summary[l]['floor_fraction_total']:.3g}" for l in labels)
          + ' |')
    print(f"\nfloor (estimate): {floor_est['bytes_moved'] / 1e9:.2f} GB at "
          f"{floor['bandwidth_gbs']:.0f} GB/s = "
          f"{floor_est['bandwidth_s'] * 1e3:.2f} ms, plus {floor_est['fft_gflop']:.1f} GFLOP of FFTs "
          f"({floor_est['fft_transforms']}) at the measured cuFFT rate = {floor_est['fft_s'] * 1e3:.2f} ms; "
          f"total {floor_est['floor_s'] * 1e3:.2f} ms")
elif floor_est:
    print(f"\nfloor: not measured (no usable GPU); the session moves about "
          f"{floor_est['bytes_moved'] / 1e9:.2f} GB "
          f"and needs {floor_est['fft_gflop']:.1f} GFLOP of FFTs ({floor_est['fft_transforms']})")
PY
exit $status
