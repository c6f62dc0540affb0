#!/usr/bin/env bash
# `make demo`: fetches the demo song on first use, renders it, prints the report's summary.
# Usage: scripts/demo.sh path/to/lacquer   (LQ_DEMO_SONG picks another song of the demo set)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
demo=$(bash "$root/scripts/fetch-demo.sh")
song=${LQ_DEMO_SONG:-chaos_god}
[ -d "$demo/songs/$song" ] || { echo "demo: no song '$song' in $demo/songs" >&2; exit 1; }
cp "$root/scripts/demo_session.toml" "$demo/songs/$song/session.toml"
out=$root/demo-out
mkdir -p "$out"
echo "rendering $demo/songs/$song/session.toml"
start=$EPOCHREALTIME
"$bin" render "$demo/songs/$song/session.toml" -o "$out/$song-master.wav" --report "$out/$song-report.json"
end=$EPOCHREALTIME
awk -v a="$start" -v b="$end" 'BEGIN { printf "wall time of the render: %.2f s\n", b - a }'
echo "master: $out/$song-master.wav"
