#!/usr/bin/env bash
# Fetches the demo material on first use, from Debian's packages (nothing large is committed):
#   fretsonfire-songs-muldjord, fretsonfire-songs-sectoid: songs recorded as separate stems
#     (guitar.ogg: the lead guitar; song.ogg: the band without it), CC-licensed;
#   jconvolver-config-files: measured impulse responses (street2-L/R.wav, a stereo street).
# Unpacked (never installed) into $LQ_DEMO_DIR (default .cache/demo). Prints that folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${LQ_DEMO_DIR:-$root/.cache/demo}
if [ -f "$dest/.done" ]; then echo "$dest"; exit 0; fi
pkgs=(fretsonfire-songs-muldjord fretsonfire-songs-sectoid jconvolver-config-files)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial -e auxfiles)" ]; then
  $sudo apt-get update -qq >&2
fi
(cd "$tmp" && apt-get download "${pkgs[@]}" >/dev/null 2>&1) || {
  echo "fetch-demo: apt-get download ${pkgs[*]} failed (no network or no Debian sources?)" >&2; exit 1; }
mkdir -p "$tmp/x"
for f in "$tmp"/*.deb; do dpkg -x "$f" "$tmp/x"; done
rm -rf "$dest"
mkdir -p "$dest/songs" "$dest/irs"
for d in "$tmp"/x/usr/share/games/fretsonfire/data/songs/*/*/; do
  [ -f "$d/guitar.ogg" ] && [ -f "$d/song.ogg" ] || continue
  name=$(basename "$d" | tr 'A-Z ' 'a-z_')
  mkdir -p "$dest/songs/$name"
  cp "$d"/guitar.ogg "$d"/song.ogg "$dest/songs/$name/"
  [ -f "$d/rhythm.ogg" ] && cp "$d/rhythm.ogg" "$dest/songs/$name/"
done
cp "$tmp"/x/usr/share/jconvolver/config-files/demo-reverbs/street2-[LR].wav "$dest/irs/"
touch "$dest/.done"
echo "$dest"
