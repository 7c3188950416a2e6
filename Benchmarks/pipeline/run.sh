#!/usr/bin/env bash
# The pipeline benchmark: release build, then `tokenreel bench pipeline` (200 generated videos,
# then 10x as many for the memory comparison). Extra arguments go to the command, e.g.
#   Benchmarks/pipeline/run.sh --videos 50 --scale 4
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release --product tokenreel
exec .build/release/tokenreel bench pipeline "$@"
