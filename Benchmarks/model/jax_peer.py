"""JAX/XLA peer for `tokenreel bench model`: writes random weights for a named benchmark config
(so Swift runs the very same model), jits the Flax reference for each batch size, then times
one forward pass per request, so the caller can alternate JAX and Swift runs under the same
machine load.

    python Benchmarks/model/jax_peer.py --config S --weights /tmp/S.safetensors --batches 1,8

Protocol (line-based): prints "ready" once compiled; then for every line "<batch>" on stdin runs
one jitted forward pass on that batch and prints its wall time in seconds; exits on "quit" or EOF.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "training"))
from tokenreel_ref import export, model                          # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig  # noqa: E402

R = dataclasses.replace
S = ModelConfig(num_frames=16, height=64, width=64, tubelet=(2, 8, 8), hidden_size=96, num_layers=6, num_heads=3,
                mlp_dim=384, num_classes=10, tokenlearner=TokenLearnerConfig(num_tokens=8, loc=2))
M = ModelConfig(num_frames=16, height=112, width=112, tubelet=(2, 16, 16), hidden_size=192, num_layers=12, num_heads=3,
                mlp_dim=768, num_classes=10, tokenlearner=TokenLearnerConfig(num_tokens=8, loc=4))
B = ModelConfig(num_frames=32, height=224, width=224, tubelet=(2, 16, 16), hidden_size=768, num_layers=12, num_heads=12,
                mlp_dim=3072, num_classes=400, tokenlearner=TokenLearnerConfig(num_tokens=8, loc=4))
CONFIGS = {"S": S, "S0": R(S, tokenlearner=None), "M": M, "M0": R(M, tokenlearner=None),
           "B": B, "B0": R(B, tokenlearner=None)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS))
    ap.add_argument("--weights", required=True, help="where to write the random weights")
    ap.add_argument("--batches", default="1,8")
    args = ap.parse_args()
    cfg = CONFIGS[args.config]
    params = model.perturb_params(model.init_params(cfg, seed=0), seed=1, scale=0.02)
    export.save(args.weights, cfg, params, [f"class{i}" for i in range(cfg.num_classes)])
    fn = jax.jit(lambda p, x: model.apply(cfg, p, x))
    inputs = {}
    for b in [int(v) for v in args.batches.split(",") if v]:
        inputs[b] = jax.random.normal(jax.random.PRNGKey(b), (b, cfg.num_frames, cfg.height, cfg.width, 3), jnp.float32)
        fn(params, inputs[b]).block_until_ready()          # compile + warm up
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() in ("", "quit"):
            break
        x = inputs[int(line)]
        t0 = time.perf_counter()
        fn(params, x).block_until_ready()
        print(f"{time.perf_counter() - t0:.6f}", flush=True)


if __name__ == "__main__":
    main()
