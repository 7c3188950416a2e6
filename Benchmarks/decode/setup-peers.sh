#!/usr/bin/env bash
# Creates Benchmarks/.venv with the pinned decode-benchmark peers (PyAV, decord). Not needed by CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x Benchmarks/.venv/bin/python ] || ! cmp -s Benchmarks/requirements.txt Benchmarks/.venv/.requirements 2>/dev/null; then
    echo "setup-peers: creating Benchmarks/.venv from Benchmarks/requirements.txt" >&2
    python3 -m venv Benchmarks/.venv
    Benchmarks/.venv/bin/pip install -q --upgrade pip >/dev/null
    Benchmarks/.venv/bin/pip install -q -r Benchmarks/requirements.txt
    cp Benchmarks/requirements.txt Benchmarks/.venv/.requirements
fi
