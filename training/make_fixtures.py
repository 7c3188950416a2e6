"""Writes the Flax reference fixtures that `swift test` checks the Swift forward pass against.

    .venv/bin/python training/make_fixtures.py [--out Tests/TokenReelModelTests/Fixtures]

For every variant NAME: NAME.safetensors (weights + __metadata__), NAME.pixels.npy (uint8
[B,T,H,W,3] clips) and NAME.logits.npy (float32 [B,K], Flax on the normalised pixels).
Weights are perturbed away from Scenic's initialisation so no layer is trivial. Deterministic.

Other clip geometries (`--geometry-only` writes just these): for every GEOMETRY variant NAME,
NAME.safetensors is the model at its trained geometry, NAME.pixels.npy holds clips of *another*
geometry [B,T,H,W,3] and NAME.logits.npy the Flax logits with the position embedding resized by
`tokenreel_ref.posemb.resize_posemb` to that geometry.

Token keeping (`--keep-only` writes just these): for every KEEP variant NAME, NAME.logits.npy holds
the Flax logits with `apply(..., keep_rate=r, keep_layers=layers)` (tokenreel_ref/keep.py); r and
the layers are in the KEEP table (and in the Swift test); the TokenLearner variants cover keeping
per temporal slice before the TokenLearner and across learned tokens after it. Seeds are chosen so that at every keep
layer the last kept and first dropped scores differ by more than KEEP_MARGIN, so float rounding
cannot change which tokens are kept.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenreel_ref import export, model, posemb                         # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig  # noqa: E402

BASE = ModelConfig(num_frames=8, height=16, width=16, tubelet=(2, 4, 4), hidden_size=16,
                   num_layers=3, num_heads=2, mlp_dim=32, num_classes=5)
TL = TokenLearnerConfig(version="1.1", num_tokens=4, loc=1, bottleneck_dim=16)
R = dataclasses.replace

VARIANTS = {
    "tl11_gap": R(BASE, tokenlearner=TL),
    "tl11_fuse": R(BASE, tokenlearner=R(TL, use_tokenfuse=True)),
    "tl10_gap": R(BASE, tokenlearner=R(TL, version="1.0")),
    "tl11_first_gsp": R(BASE, classifier="gsp", tokenlearner=R(TL, loc=0)),
    "tl11_last_gmp": R(BASE, classifier="gmp", tokenlearner=R(TL, loc=2)),
    "vivit_gap": BASE,
    "vivit_token": R(BASE, classifier="token"),
    "tl11_prelogits": R(BASE, representation_size=16, tokenlearner=TL),
    "nonsquare_fuse": R(BASE, num_frames=9, height=16, width=24, tokenlearner=R(TL, use_tokenfuse=True)),
}
# name -> (trained config, (frames, height, width) to run at)
GEOMETRY = {
    # 8x32x32 (grid 4x4x4) run at 12x48x40 (grid 6x6x5): upsampled on all three axes.
    "geom_tl11_gap": (R(BASE, height=32, width=32, tubelet=(2, 8, 8), tokenlearner=TL), (12, 48, 40)),
    # cls classifier, 8x32x32 run at 7x24x44 (floored to grid 3x3x5): time and height down, width up.
    "geom_vivit_token": (R(BASE, height=32, width=32, tubelet=(2, 8, 8), classifier="token"), (7, 24, 44)),
}
# name -> (config, keep rate, keep layers)
KEEP = {
    # gap, 64 tokens -> 32 at layer 1.
    "keep_vivit_gap": (BASE, 0.5, (1,)),
    # cls, 65 tokens -> 1 + ceil(.7 * 65) = 47 at layer 1 -> 1 + ceil(.7 * 47) = 34 at layer 2.
    "keep_vivit_token": (R(BASE, classifier="token"), 0.7, (1, 2)),
    # TokenLearner v1.1 at layer 2 (T' = 4 slices of P = 16): layer 0 keeps ceil(.6 * 16) = 10 per
    # slice (40 tokens), layer 1 runs on them, TokenLearner pools 10 positions per slice into
    # S = 4 tokens (16 in all), and layer 2 keeps ceil(.6 * 16) = 10 across the slices.
    "keep_tl11_gap": (R(BASE, tokenlearner=R(TL, loc=2)), 0.6, (0, 2)),
    # TokenFuser from layer 2: layers 0 and 1 keep 16 -> 8 -> 4 positions per slice; the fused
    # layer 2 learns from and fuses back into those 4 positions per slice.
    "keep_tl11_fuse": (R(BASE, tokenlearner=R(TL, loc=2, use_tokenfuse=True)), 0.5, (0, 1)),
    # TokenLearner v1.0 at layer 1 (needs the full grid): 16 learned tokens -> 12 at layer 1 ->
    # 9 at layer 2, across the slices.
    "keep_tl10_gap": (R(BASE, tokenlearner=R(TL, version="1.0")), 0.7, (1, 2)),
}
KEEP_MARGIN = 1e-5
LABELS = ["alpha", "beta", "gamma", "delta", "epsilon"]
BATCH = 2


def main() -> None:
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "TokenReelModelTests", "Fixtures"))
    ap.add_argument("--geometry-only", action="store_true", help="write only the GEOMETRY fixtures")
    ap.add_argument("--keep-only", action="store_true", help="write only the KEEP fixtures")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    keep_fixtures(args.out)
    if args.keep_only:
        return
    geometry_fixtures(args.out)
    if args.geometry_only:
        return
    rng = np.random.default_rng(1234)
    norm = {"type": "zero_centered"}
    for i, (name, cfg) in enumerate(VARIANTS.items()):
        params = model.perturb_params(model.init_params(cfg, seed=i), seed=100 + i)
        pixels = rng.integers(0, 256, (BATCH, cfg.num_frames, cfg.height, cfg.width, 3), dtype=np.uint8)
        clips = model.normalize(pixels, norm)
        path = os.path.join(args.out, f"{name}.safetensors")
        export.save(path, cfg, params, LABELS, norm)
        _, params, _, _ = export.load(path)        # exactly what Swift reads
        logits = np.asarray(model.apply(cfg, params, clips), np.float32)
        np.save(os.path.join(args.out, f"{name}.pixels.npy"), pixels)
        np.save(os.path.join(args.out, f"{name}.logits.npy"), logits)
        print(f"{name}: {cfg.num_patches} tokens, logits[0] {np.round(logits[0], 4)}")
        if name == "tl11_gap":                       # half-precision storage, converted on load
            for dt, tag in ((np.float16, "f16"), (None, "bf16")):
                p = os.path.join(args.out, f"{name}.{tag}.safetensors")
                if tag == "bf16":
                    save_bf16(p, cfg, params, LABELS, norm)
                else:
                    export.save(p, cfg, params, LABELS, norm, dtype=dt)
                _, hp, _, _ = export.load(p)
                np.save(os.path.join(args.out, f"{name}.{tag}.logits.npy"),
                        np.asarray(model.apply(cfg, hp, clips), np.float32))


def geometry_fixtures(out: str) -> None:
    rng = np.random.default_rng(4321)
    norm = {"type": "zero_centered"}
    for i, (name, (cfg, (frames, height, width))) in enumerate(GEOMETRY.items()):
        params = model.perturb_params(model.init_params(cfg, seed=50 + i), seed=150 + i)
        path = os.path.join(out, f"{name}.safetensors")
        export.save(path, cfg, params, LABELS, norm)
        _, params, _, _ = export.load(path)        # exactly what Swift reads
        new_params, new_cfg = posemb.resize_posemb(params, cfg, frames, height, width)
        pixels = rng.integers(0, 256, (1, frames, height, width, 3), dtype=np.uint8)
        logits = np.asarray(model.apply(new_cfg, new_params, model.normalize(pixels, norm)), np.float32)
        np.save(os.path.join(out, f"{name}.pixels.npy"), pixels)
        np.save(os.path.join(out, f"{name}.logits.npy"), logits)
        print(f"{name}: grid {cfg.grid} -> {new_cfg.grid}, logits[0] {np.round(logits[0], 4)}")


def keep_fixtures(out: str) -> None:
    norm = {"type": "zero_centered"}
    for i, (name, (cfg, rate, layers)) in enumerate(KEEP.items()):
        rng = np.random.default_rng(2468 + i)
        for attempt in range(20):
            seed = 70 + 10 * i + attempt
            params = model.perturb_params(model.init_params(cfg, seed=seed), seed=170 + seed)
            pixels = rng.integers(0, 256, (BATCH, cfg.num_frames, cfg.height, cfg.width, 3), dtype=np.uint8)
            path = os.path.join(out, f"{name}.safetensors")
            export.save(path, cfg, params, LABELS, norm)
            _, params, _, _ = export.load(path)        # exactly what Swift reads
            logits, margins = model.apply(cfg, params, model.normalize(pixels, norm), keep_rate=rate,
                                          keep_layers=layers, with_margins=True)
            smallest = min(float(np.min(m)) for m in margins.values())
            if smallest > KEEP_MARGIN:
                break
        else:
            raise SystemExit(f"{name}: no seed with a ranking margin > {KEEP_MARGIN}")
        logits = np.asarray(logits, np.float32)
        np.save(os.path.join(out, f"{name}.pixels.npy"), pixels)
        np.save(os.path.join(out, f"{name}.logits.npy"), logits)
        print(f"{name}: keep r={rate} at {layers}, seed {seed}, margin {smallest:.2e}, logits[0] {np.round(logits[0], 4)}")


def save_bf16(path, cfg, params, labels, norm):
    """bfloat16 storage (numpy has no bfloat16; jax's does), same metadata as export.save."""
    import json
    import jax.numpy as jnp
    from safetensors.flax import save_file
    save_file({k: jnp.asarray(v, jnp.bfloat16) for k, v in export.flatten(params).items()}, path,
              metadata={"format": export.FORMAT, "config": cfg.to_json(), "labels": json.dumps(labels),
                        "normalization": json.dumps(norm)})


if __name__ == "__main__":
    main()
