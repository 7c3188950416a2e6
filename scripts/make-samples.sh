#!/usr/bin/env bash
# Regenerates samples/ from nothing with the project's own generator (and the ffmpeg CLI for
# the two container tricks real-world files have and VideoWriter does not write: an audio
# track and a display-rotation flag).
#
#   scripts/make-samples.sh            build tokenreel (release) and rewrite samples/motion10, samples/real
#   TOKENREEL=path scripts/make-samples.sh   use an existing tokenreel binary
#
# Same FFmpeg/libx264/libvpx/x265 build => byte-identical files (everything is
# seeded, single-threaded and written with FFmpeg's bit-exact flags).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH

if [ -z "${TOKENREEL:-}" ]; then
    swift build -c release --product tokenreel >&2
    TOKENREEL=.build/release/tokenreel
fi
command -v ffmpeg >/dev/null || { echo "make-samples: ffmpeg CLI not found (scripts/setup.sh installs it)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
synth() { "$TOKENREEL" synth motion10 --quiet "$@"; }
ff() { ffmpeg -nostdin -v error -y -threads 1 "$@"; }

# 1. Motion10: two clips per class, all four codecs round-robin, small frames.
rm -rf samples/motion10
synth --out samples/motion10 --per-class 2 --seed 20261121 --max-size 128x96 --max-fps 25

# 2. Real-looking clips, labelled as *displayed* (samples/real/labels.jsonl).
rm -rf samples/real
mkdir -p samples/real
: > samples/real/labels.jsonl
record() {  # record <file> <displayed label> <how it was made> <source labels.jsonl>
    printf '{"path":"%s","label":"%s","made":"%s","source":%s}\n' "$1" "$2" "$3" "$(head -n 1 "$4")" >> samples/real/labels.jsonl
}

# 640x360 landscape H.264 at a phone-like 30 fps, with an AAC audio track.
synth --out "$tmp/landscape" --per-class 1 --seed 101 --classes right --codecs h264 \
      --min-size 640x360 --max-size 640x360 --min-fps 29 --max-fps 30
ff -i "$tmp/landscape/right/right-0000.mp4" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
   -map 0:v -map 1:a -c:v copy -c:a aac -b:a 32k -shortest \
   -fflags +bitexact -flags:a +bitexact samples/real/landscape-640x360-audio.mp4
record landscape-640x360-audio.mp4 right "synth right 640x360 h264 + 440 Hz AAC track (ffmpeg)" "$tmp/landscape/labels.jsonl"

# A phone's portrait clip: stored 640x360, display matrix -90 degrees (shown as 360x640).
# Stored motion 'left' is displayed as 'up' once the rotation is applied.
synth --out "$tmp/phone" --per-class 1 --seed 102 --classes left --codecs h264 \
      --min-size 640x360 --max-size 640x360 --min-fps 29 --max-fps 30
ff -i "$tmp/phone/left/left-0000.mp4" -c copy -metadata:s:v:0 rotate=270 -fflags +bitexact \
   samples/real/phone-portrait-rotated.mp4
record phone-portrait-rotated.mp4 up "synth left 640x360 h264, display rotation -90 (ffmpeg): displayed 360x640 moving up" "$tmp/phone/labels.jsonl"

# A portrait clip stored upright, VP9/WebM.
synth --out "$tmp/portrait" --per-class 1 --seed 103 --classes zoom_in --codecs vp9 \
      --min-size 270x480 --max-size 270x480
cp "$tmp/portrait/zoom_in/zoom_in-0000.webm" samples/real/portrait-270x480.webm
record portrait-270x480.webm zoom_in "synth zoom_in 270x480 vp9/webm" "$tmp/portrait/labels.jsonl"

# HEVC in Matroska.
synth --out "$tmp/hevc" --per-class 1 --seed 104 --classes rotate_ccw --codecs hevc \
      --min-size 320x240 --max-size 320x240
cp "$tmp/hevc/rotate_ccw/rotate_ccw-0000.mkv" samples/real/hevc-320x240.mkv
record hevc-320x240.mkv rotate_ccw "synth rotate_ccw 320x240 hevc/mkv" "$tmp/hevc/labels.jsonl"

du -sh samples/motion10 samples/real >&2
echo "make-samples: $(find samples -type f \( -name '*.mp4' -o -name '*.avi' -o -name '*.mov' -o -name '*.webm' -o -name '*.mkv' \) | wc -l) clips, $(du -sb samples | cut -f1) bytes in samples/" >&2
