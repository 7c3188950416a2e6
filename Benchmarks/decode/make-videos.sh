#!/usr/bin/env bash
# The decode benchmark's video set (issue 2), generated once into Benchmarks/data/decode/.
#   10 s 720p and 1080p h264 with the encoder's default (long) GOP,
#   60 s 720p h264 with a keyframe every second,
#   10 s 720p hevc and vp9,
#   10 s 720p MJPEG in MOV (intra-only: camera and editing footage).
# Content: ffmpeg's testsrc2 pattern with light temporal noise (about 3 Mbit/s at 720p), 30 fps.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=Benchmarks/data/decode
mkdir -p "$out"

make() {   # make NAME SIZE SECONDS ENCODER-OPTIONS...
    local name=$1 size=$2 seconds=$3; shift 3
    [ -s "$out/$name" ] && return
    echo "make-videos: $name" >&2
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=$size:r=30:d=$seconds,noise=alls=6:allf=t" \
        -pix_fmt yuv420p "$@" "$out/partial-$name"
    mv "$out/partial-$name" "$out/$name"
}

make h264-720p-10s.mp4        1280x720  10 -c:v libx264 -preset veryfast
make h264-1080p-10s.mp4       1920x1080 10 -c:v libx264 -preset veryfast
make h264-720p-60s-gop1s.mp4  1280x720  60 -c:v libx264 -preset veryfast -g 30
make hevc-720p-10s.mp4        1280x720  10 -c:v libx265 -preset veryfast -x265-params log-level=error -tag:v hvc1
make vp9-720p-10s.webm        1280x720  10 -c:v libvpx-vp9 -deadline good -cpu-used 5 -row-mt 1 -b:v 2M
make mjpeg-720p-10s.mov       1280x720  10 -c:v mjpeg -q:v 4 -pix_fmt yuvj420p
ls -l "$out"
