#!/usr/bin/env bash
# `make demo`: fetches the demo song on first use, renders it with the streaming codecs checked
# (codec_check: AAC 256, MP3 320, Opus 160, Vorbis 320 kbit/s), prints the report's summary and
# writes its HTML report.
# `make demo-album`: the demo set's eight songs with the same session, rendered as one album
# (`lacquer render ... --album`: one loudness gain for all, the album at -14 LUFS).
# Usage: scripts/demo.sh path/to/lacquer [--album]   (LQ_DEMO_SONG picks another song of the set)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
demo=$(bash "$root/scripts/fetch-demo.sh")
out=$root/demo-out
mkdir -p "$out"
if [ "${2:-}" = "--album" ]; then
  sessions=()
  for d in "$demo"/songs/*/; do
    cp "$root/scripts/demo_session.toml" "$d/session.toml"
    sessions+=("$d/session.toml")
  done
  mkdir -p "$out/album"
  echo "rendering ${#sessions[@]} songs as one album into $out/album"
  start=$EPOCHREALTIME
  "$bin" render "${sessions[@]}" -o "$out/album" --album
  end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" 'BEGIN { printf "wall time of the album: %.2f s\n", b - a }'
  exit 0
fi
song=${LQ_DEMO_SONG:-chaos_god}
[ -d "$demo/songs/$song" ] || { echo "demo: no song '$song' in $demo/songs" >&2; exit 1; }
# The demo session with codec checks in its [master].
sed 's/^\[master\]$/[master]\ncodec_check = ["aac_256", "mp3_320", "opus_160", "vorbis_320"]/' \
  "$root/scripts/demo_session.toml" > "$demo/songs/$song/session.toml"
echo "rendering $demo/songs/$song/session.toml"
start=$EPOCHREALTIME
"$bin" render "$demo/songs/$song/session.toml" -o "$out/$song-master.wav" --report "$out/$song-report.json" --html
end=$EPOCHREALTIME
awk -v a="$start" -v b="$end" 'BEGIN { printf "wall time of the render: %.2f s\n", b - a }'
echo "master: $out/$song-master.wav"
echo "html report: $out/$song-master.html"
