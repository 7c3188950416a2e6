"""Writes models/placeholder-random.safetensors: the Motion10-shaped model, randomly initialised,
used by the pipeline until a trained model exists. Its answers are meaningless but vary with the
input (the zero-initialised head of Scenic is replaced by a random one). Stored as float16 to
stay well under 2 MB; TokenReel converts it to float32 on load.

    .venv/bin/python training/make_placeholder.py [--out models/placeholder-random.safetensors]
"""
from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenreel_ref import export, model                          # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig  # noqa: E402

MOTION10_LABELS = ["static", "left", "right", "up", "down", "zoom_in", "zoom_out",
                   "rotate_cw", "rotate_ccw", "blink"]
CONFIG = ModelConfig(num_frames=16, height=64, width=64, tubelet=(2, 8, 8), hidden_size=96,
                     num_layers=6, num_heads=3, mlp_dim=384, num_classes=10, classifier="gap",
                     tokenlearner=TokenLearnerConfig(version="1.1", num_tokens=8, loc=2))


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "models", "placeholder-random.safetensors"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    params = model.init_params(CONFIG, seed=args.seed)
    head = params["output_projection"]
    k = jax.random.PRNGKey(args.seed + 1)
    head["kernel"] = jax.random.normal(k, head["kernel"].shape) * (1.0 / CONFIG.hidden_size ** 0.5)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    export.save(args.out, CONFIG, params, MOTION10_LABELS, {"type": "zero_centered"}, dtype=np.float16)
    print(f"{args.out}: {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
