#!/usr/bin/env bash
# Builds the demo material in samples/ from two public-domain portraits shipped by Debian:
#   samples/demo.mp4         12 s, 640x360, 20 fps, H.264 yuv420p, two moving faces
#   samples/astronaut.jpg    Eileen Collins (NASA), from python3-skimage
#   samples/grace_hopper.jpg Grace Hopper (U.S. Navy), from python-matplotlib-data
#
# The packages are fetched with `apt-get download` and unpacked into a temp dir, never
# installed. Needs apt-get, dpkg-deb, ffmpeg and ImageMagick's `convert`.
# Usage: tools/make_sample.sh [output-dir]   (default: samples/ next to this script)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../samples}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# apt-get download writes into the working directory; _apt must be able to write there.
chmod 777 "$work"
(cd "$work" && apt-get download -q python3-skimage python-matplotlib-data >/dev/null)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

astronaut="$(find "$work/root" -path '*skimage/data/astronaut.png' | head -n 1)"
hopper="$(find "$work/root" -path '*sample_data/grace_hopper.jpg' | head -n 1)"
if [[ -z "$astronaut" || -z "$hopper" ]]; then
  echo "make_sample: portraits not found in the downloaded packages" >&2
  exit 1
fi

# Still portraits: stripped of metadata, small enough for tests and docs.
convert "$astronaut" -strip -resize 384x384 -quality 85 "$out/astronaut.jpg"
convert "$hopper" -strip -resize 384x450 -quality 85 "$out/grace_hopper.jpg"

# The clip: a slowly turning gradient background; Collins (head and shoulders, breathing
# zoom) slides left to right and back while bobbing; Hopper slides the other way, so the
# two pass each other twice (around 3 s and 9 s, Hopper in front) and swap sides. Faces
# stay about 100-140 px wide. GOP of 1 s and no B-frames keep RTSP joins and seeks quick;
# faststart puts the index first, so a file cut short still opens and reads as truncated.
seconds=12
fps=20
graph="
[1:v]crop=300:300:90:0,scale=w='2*trunc(135+15*sin(2*PI*t/6))':h=-2:eval=frame[a];
[2:v]crop=360:420:76:0,scale=-2:260[g];
[0:v][a]overlay=x='20+310*(1-cos(2*PI*t/$seconds))/2':y='30+20*sin(2*PI*t/4)':eval=frame[bg];
[bg][g]overlay=x='400-380*(1-cos(2*PI*t/$seconds))/2':y='70-10*sin(2*PI*t/5)':eval=frame,
format=yuv420p[v]"

ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "gradients=s=640x360:r=$fps:d=$seconds:c0=0x1f2f4a:c1=0x8aa4c4:seed=7:speed=0.004" \
  -loop 1 -framerate "$fps" -i "$astronaut" \
  -loop 1 -framerate "$fps" -i "$hopper" \
  -filter_complex "$graph" -map '[v]' -t "$seconds" -r "$fps" \
  -c:v libx264 -preset slow -profile:v main -bf 0 -g "$fps" -crf 26 \
  -maxrate 1000k -bufsize 2000k -pix_fmt yuv420p -movflags +faststart \
  -metadata title="facexstream demo clip" "$out/demo.mp4"

ls -l "$out/demo.mp4" "$out/astronaut.jpg" "$out/grace_hopper.jpg"
