"""Can one token's embedding compute that token's own motion? A probe for docs/motion10-rotation.md.

Fits the first steps of the model on single tubelets, nothing else: the tubelet embedding (a
linear map of the t x h x w x 3 pixels to D channels), LayerNorm, one GELU layer of width H and a
linear read-out, trained to regress `train.token_motion` (the tubelet's -sum I_t grad I, as
tanh(e / scale)) with Adam on random batches of tokens. Prints the held-out mean squared error
beside the error of predicting zero. If this cannot fit, no deeper model with that tubelet gets a
direction of rotation from local motion either.

    .venv/bin/python training/probes/token_motion.py --train rot.npz --val rotval.npz --tubelet 2,8,8

Dimension legend: N tokens, P = t*h*w*3 pixels per tubelet, D embedding width, H hidden width.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax                # noqa: E402
import jax.numpy as jnp   # noqa: E402
import optax              # noqa: E402

import train              # noqa: E402


def tubelets(pixels: np.ndarray, tubelet: tuple) -> np.ndarray:
    """uint8 [B, T, H, W, 3] -> float32 [B*T'*H'*W', P] in [-1, 1], tokens t-major as the model's."""
    b, t, h, w, _ = pixels.shape
    tt, th, tw = tubelet
    gt, gh, gw = t // tt, h // th, w // tw
    x = pixels[:, :gt * tt, :gh * th, :gw * tw].astype(np.float32) / 127.5 - 1
    x = x.reshape(b, gt, tt, gh, th, gw, tw, 3).transpose(0, 1, 3, 5, 2, 4, 6, 7)
    return x.reshape(-1, tt * th * tw * 3)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, help="npz from `tokenreel export`")
    ap.add_argument("--val", required=True, help="held-out npz")
    ap.add_argument("--tubelet", type=lambda s: tuple(int(v) for v in s.split(",")), default=(2, 8, 8))
    ap.add_argument("--dim", type=int, default=96, help="embedding width D")
    ap.add_argument("--hidden", type=int, default=384, help="GELU layer width H")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--clips", type=int, default=1200, help="training clips used")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    px = np.load(args.train)["pixels"][:args.clips]
    pv = np.load(args.val)["pixels"]
    e = train.token_motion(px, args.tubelet).reshape(-1, 2)
    scale = float(np.percentile(np.abs(e), 95))
    x, y = tubelets(px, args.tubelet), np.tanh(e / scale)
    xv, yv = tubelets(pv, args.tubelet), np.tanh(train.token_motion(pv, args.tubelet).reshape(-1, 2) / scale)
    print(f"tubelet {args.tubelet}: {len(x)} training tokens of {x.shape[1]} values, D={args.dim}, H={args.hidden}; "
          f"held-out error of predicting zero {float((yv ** 2).mean()):.4f}", flush=True)

    k = jax.random.split(jax.random.PRNGKey(args.seed), 3)
    p = x.shape[1]
    params = {"embed": jax.random.normal(k[0], (p, args.dim)) / np.sqrt(p), "embed_bias": jnp.zeros(args.dim),
              "fc1": jax.random.normal(k[1], (args.dim, args.hidden)) / np.sqrt(args.dim), "fc1_bias": jnp.zeros(args.hidden),
              "out": jax.random.normal(k[2], (args.hidden, 2)) * 0.1 / np.sqrt(args.hidden), "out_bias": jnp.zeros(2)}

    def predict(params, x):
        h = x @ params["embed"] + params["embed_bias"]
        h = (h - h.mean(-1, keepdims=True)) / (h.std(-1, keepdims=True) + 1e-6)
        return jax.nn.gelu(h @ params["fc1"] + params["fc1_bias"]) @ params["out"] + params["out_bias"]

    def loss(params, x, y):
        return jnp.mean((predict(params, x) - y) ** 2)

    opt = optax.adam(1e-3)
    state = opt.init(params)

    @jax.jit
    def step(params, state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, value

    rng = np.random.default_rng(args.seed)
    held_out = jax.jit(loss)
    for i in range(1, args.steps + 1):
        idx = rng.integers(0, len(x), 1024)
        params, state, value = step(params, state, x[idx], y[idx])
        if i % max(1, args.steps // 5) == 0:
            print(f"step {i}  training batch error {float(value):.4f}  held-out error {float(held_out(params, xv, yv)):.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
