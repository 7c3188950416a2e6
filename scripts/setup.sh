#!/usr/bin/env bash
# Install what TokenReel needs on Debian 12, only when something is missing.
#   scripts/setup.sh            system packages (FFmpeg 5.1 dev libs + CLI, OpenBLAS, pkg-config)
#   scripts/setup.sh --python   also the pinned Python venv in .venv (JAX/Flax reference, peers)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in pkg-config zlib1g-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libopenblas-dev ffmpeg; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "setup: swift is at /opt/swift/usr/bin; add it to PATH" >&2
    else
        echo "setup: Swift 6 toolchain not found (expected /opt/swift)" >&2; exit 1
    fi
fi

if [ "${1:-}" = "--python" ]; then
    if [ ! -x .venv/bin/python ] || ! cmp -s training/requirements.txt .venv/.requirements 2>/dev/null; then
        echo "setup: creating .venv from training/requirements.txt" >&2
        python3 -m venv .venv
        .venv/bin/pip install -q --upgrade pip >/dev/null
        .venv/bin/pip install -q -r training/requirements.txt
        cp training/requirements.txt .venv/.requirements
    fi
fi
