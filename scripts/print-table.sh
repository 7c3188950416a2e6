#!/usr/bin/env bash
# Print `video -> label (score)` for a finished run from its manifest.jsonl.
set -euo pipefail
out="${1:?usage: print-table.sh OUT_DIR}"
python3 - "$out/manifest.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
w = max([len(r.get("path", "")) for r in rows] + [5])
print(f"{'video':<{w}}  label          score   status")
for r in sorted(rows, key=lambda r: r.get("path", "")):
    score = r.get("score")
    print(f"{r.get('path',''):<{w}}  {str(r.get('label') or '-'):<13}  {score if score is None else f'{score:.3f}':>6}  {r.get('status')}")
PY
