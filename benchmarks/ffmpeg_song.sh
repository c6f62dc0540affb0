#!/bin/bash
# ffmpeg_song.sh SONG [OUT.wav]
#
# The ffmpeg baseline of the catalog benchmark: one song of benchmarks/bench_session.toml rendered
# as one ffmpeg filter graph in one ffmpeg process. SONG is a folder written by
# `make_workload.py` (the 8 stems kick snare hats bass keys pad vocal fx, ir.wav, eq_entries.txt);
# a bare name is looked up under $CATALOG. OUT defaults to $FF_OUT/<song>.wav, or SONG/ffmpeg.wav
# when FF_OUT is unset. `xargs -P 2 -n 1 ffmpeg_song.sh` runs a catalog one process per song.
#
# The graph, the session's chain as near as ffmpeg's filters come:
#   per stem:  firequalizer (gain_entry = eq_entries.txt, the reference 4-band EQ's magnitude at
#              1/3-octave points; linear phase) -> acompressor (threshold -18 dB, 4:1, attack 10 ms,
#              release 100 ms) -> asplit: the dry stem, and a 30 % send (volume=0.3)
#   reverb:    the 8 sends summed (amix normalize=0), padded by the IR's 3 s (apad, so the tail is
#              rendered as Lacquer renders it), one afir with ir.wav (stereo IR, per channel;
#              gtype=none: the IR as it is, no auto gain; afir's output is the wet signal only,
#              its `dry` option is the input gain, so dry=1 wet=1)
#   master:    8 dry stems + the reverb return summed (amix normalize=0, a plain sum) ->
#              alimiter (limit 0.891 = -1 dBFS sample peak, level=disabled, attack 5 ms,
#              release 80 ms) -> 24-bit WAV (pcm_s24le)
# Differences from Lacquer, which make ffmpeg's work lighter if anything: no true-peak limiting
# (alimiter is a sample-peak limiter), no dither, no report (no loudness or true-peak metering),
# no tail trimming to -90 dBFS (a fixed 3 s instead).
# FF_LOUDNORM=-14 replaces alimiter by loudnorm (I=-14, TP=-1) for the normalised variant.
# The output is SECONDS + 3 s long. FF_THREADS, when set, is passed as -threads and
# -filter_complex_threads (default: ffmpeg's own, one per core).
set -euo pipefail

song=${1:?usage: ffmpeg_song.sh SONG [OUT.wav]}
if [[ ! -d $song && -n ${CATALOG:-} && -d $CATALOG/$song ]]; then song=$CATALOG/$song; fi
[[ -d $song ]] || { echo "ffmpeg_song.sh: no song folder $song" >&2; exit 1; }
name=$(basename "$song")
if [[ $# -ge 2 ]]; then out=$2
elif [[ -n ${FF_OUT:-} ]]; then out=$FF_OUT/$name.wav
else out=$song/ffmpeg.wav; fi

stems=(kick snare hats bass keys pad vocal fx)
eq=$(tr -d '\n' < "$song/eq_entries.txt")
inputs=() graph=''
for i in "${!stems[@]}"; do
  inputs+=(-i "$song/${stems[$i]}.wav")
  graph+="[$i:a]firequalizer=gain_entry='$eq',"
  graph+="acompressor=threshold=-18dB:ratio=4:attack=10:release=100,asplit=2[d$i][s$i];"
  graph+="[s$i]volume=0.3[w$i];"
done
n=${#stems[@]}
inputs+=(-i "$song/ir.wav")
for i in $(seq 0 $((n - 1))); do graph+="[w$i]"; done
graph+="amix=inputs=$n:normalize=0:duration=longest,apad=pad_dur=3[send];"
graph+="[send][$n:a]afir=dry=1:wet=1:gtype=none[rev];"
for i in $(seq 0 $((n - 1))); do graph+="[d$i]"; done
graph+="[rev]amix=inputs=$((n + 1)):normalize=0:duration=longest,"
if [[ -n ${FF_LOUDNORM:-} ]]; then
  # The normalised variant (bench_session_norm.toml): loudnorm to FF_LOUDNORM LUFS under a -1 dBTP
  # ceiling (its own true-peak limiter; one pass, dynamic mode), back to 48 kHz from its 192 kHz.
  graph+="loudnorm=I=$FF_LOUDNORM:TP=-1:LRA=20,aresample=48000[out]"
else
  graph+="alimiter=limit=0.891:level=disabled:attack=5:release=80[out]"
fi

threads=()
if [[ -n ${FF_THREADS:-} ]]; then threads=(-threads "$FF_THREADS" -filter_complex_threads "$FF_THREADS"); fi
mkdir -p "$(dirname "$out")"
exec ffmpeg -nostdin -hide_banner -loglevel error -y "${threads[@]}" "${inputs[@]}" \
  -filter_complex "$graph" -map '[out]' -c:a pcm_s24le "$out"
