#!/usr/bin/env python3
"""Convert a Scenic ViViT / TokenLearner checkpoint into a TokenReel model file.

    .venv/bin/python training/convert_scenic.py CHECKPOINT --input TxHxW --labels LABELS --out MODEL.safetensors
        [--classifier gap|gmp|gsp] [--tokenlearner-loc N] [--normalization zero_centered|unit]

CHECKPOINT is a `flax.training.checkpoints` file (`checkpoint_<step>`), a directory of them (the
latest is taken) or an `.npz` of arrays named by their `/`-joined parameter paths. The shapes
give the tubelet, width, depth, heads, MLP width, classes, `pre_logits`, `cls` and the TokenLearner
variant; --input is the clip the model was trained on (its position embedding fixes it);
--classifier is the pooling of a model without a cls token (Scenic's default `gap`);
--tokenlearner-loc is needed for a TokenLearner without TokenFuser (its name does not say where
it sits). LABELS is a text file with one class name per line, or a JSON array. The tree is
checked against the configuration name by name before the file is written; then
`tokenreel model inspect MODEL.safetensors` shows what it holds.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tokenreel_ref import scenic  # noqa: E402


def parse_input(text: str) -> tuple:
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"--input takes FRAMESxHEIGHTxWIDTH, for example 32x224x224 (got {text!r})")
    return tuple(int(p) for p in parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="checkpoint_<step> file, a directory of them, or an .npz")
    ap.add_argument("--input", type=parse_input, required=True, help="clip size the model takes: TxHxW")
    ap.add_argument("--labels", required=True, help="class names: one per line, or a JSON array")
    ap.add_argument("--out", required=True, help="TokenReel model file to write (.safetensors)")
    ap.add_argument("--classifier", choices=["gap", "gmp", "gsp", "token"], help="pooling (default: token with a cls token, else gap)")
    ap.add_argument("--tokenlearner-loc", type=int, help="block the TokenLearner sits before (no TokenFuser only)")
    ap.add_argument("--normalization", choices=["zero_centered", "unit"], default="zero_centered",
                    help="pixel scaling the model was trained with (Scenic's ViViT: zero_centered, [-1, 1])")
    args = ap.parse_args(argv)
    try:
        labels = scenic.read_labels(args.labels)
        cfg = scenic.convert(args.checkpoint, args.out, labels, *args.input, classifier=args.classifier,
                             tokenlearner_loc=args.tokenlearner_loc, normalization={"type": args.normalization})
    except (scenic.ConversionError, OSError) as e:
        print(f"convert_scenic: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {cfg.to_json()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
