"""What does a trained model already compute? A linear read-out probe for docs/motion10-rotation.md.

Runs a saved model (safetensors from the trainer) over exported clips and fits least squares,
on a training set, from
  - every token after block --block to that token's own motion (`train.token_motion`, as
    tanh(e / scale), the per-token auxiliary loss's target), and
  - the pooled features to the clip's curl about the frame's centre (`train.motion_moments`),
then scores both on a held-out set: the share of the token motion's variance explained, and how
often the read-out curl's sign gives the direction of rotation (held-out clips of rotate_cw and
rotate_ccw only; skipped when there are none). Unlike token_motion.py nothing is trained: the
probe says what the model's features hold, not what a fresh layer could learn.

    .venv/bin/python training/probes/readout.py --model T3.safetensors --train rot.npz --val rotval.npz

Dimension legend: B clips, N tokens, D width.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import train                                # noqa: E402
from tokenreel_ref import export, model     # noqa: E402


def features(cfg, params, norm, pixels: np.ndarray, block: int, batch: int = 25):
    """-> (tokens after `block` [B, N, D], pooled features [B, D])."""
    net = model.TokenReelViT(cfg, 1.0, ())
    tokens, pooled = [], []
    for j in range(0, len(pixels), batch):
        _, state = net.apply({"params": params}, model.normalize(pixels[j:j + batch], norm), mutable=["intermediates"])
        tokens.append(np.asarray(state["intermediates"]["Transformer"][f"block_{block}"][0]))
        pooled.append(np.asarray(state["intermediates"]["pooled"][0]))
    return np.concatenate(tokens), np.concatenate(pooled)


def with_bias(x: np.ndarray) -> np.ndarray:
    """x [M, D] with a column of ones appended, so a least-squares fit has a bias row."""
    return np.concatenate([x, np.ones((len(x), 1), x.dtype)], 1)


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares weights [D+1, K] from x [M, D] to y [M, K]."""
    return np.linalg.lstsq(with_bias(x), y, rcond=None)[0]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="safetensors written by training/train.py")
    ap.add_argument("--train", required=True, help="npz to fit the read-outs on")
    ap.add_argument("--val", required=True, help="held-out npz to score them on")
    ap.add_argument("--block", type=int, default=1, help="read the tokens after this block (before the TokenLearner)")
    ap.add_argument("--clips", type=int, default=400, help="training clips used for the fit")
    ap.add_argument("--flow-init", type=int, default=0, metavar="BLOCKS",
                    help="the model was wired by train.py --flow-init BLOCKS (with --seed): also read its own "
                         "curl channel, no fit")
    ap.add_argument("--seed", type=int, default=0, help="the --seed of the training run (with --flow-init)")
    args = ap.parse_args(argv)

    cfg, params, names, norm = export.load(args.model)
    if cfg.tokenlearner is not None and args.block >= cfg.tokenlearner.loc:
        raise SystemExit(f"--block {args.block}: the TokenLearner replaces the tokens before layer {cfg.tokenlearner.loc}")
    fit_px = train.load_npz(args.train)[0][:args.clips]
    val_px, val_labels, val_names, _ = train.load_npz(args.val)
    if val_names != names:
        raise SystemExit(f"{args.val}: classes {val_names} differ from the model's {names}")
    fit_tokens, fit_pooled = features(cfg, params, norm, fit_px, args.block)
    val_tokens, val_pooled = features(cfg, params, norm, val_px, args.block)

    fit_e, val_e = train.token_motion_of(fit_px, cfg.tubelet), train.token_motion_of(val_px, cfg.tubelet)
    scale = float(max(np.percentile(np.abs(fit_e), 95), 1e-4))
    d = fit_tokens.shape[-1]
    w = fit(fit_tokens.reshape(-1, d), np.tanh(fit_e / scale).reshape(-1, 2))
    want = np.tanh(val_e / scale).reshape(-1, 2)
    err = ((with_bias(val_tokens.reshape(-1, d)) @ w - want) ** 2).mean(0)
    base = (want ** 2).mean(0)
    report = {"token_motion_explained": (1 - err / base).tolist()}
    print(f"tokens after block {args.block} -> their own motion (x, y): held-out error {np.round(err, 4).tolist()}, "
          f"predicting zero {np.round(base, 4).tolist()}, explained {np.round(100 * (1 - err / base)).tolist()}%")

    pair = [names.index(c) for c in ("rotate_cw", "rotate_ccw") if c in names]
    rotation = np.isin(val_labels, pair)
    if len(pair) == 2 and rotation.any():
        wc = fit(fit_pooled, train.motion_moments(fit_px)[:, 3:])
        curl = (with_bias(val_pooled[rotation]) @ wc)[:, 0]
        cw = val_labels[rotation] == names.index("rotate_cw")
        agree = max(np.mean((curl > 0) == cw), np.mean((curl < 0) == cw))
        report["pooled_curl_direction"] = float(agree)
        print(f"pooled features -> clip curl: its sign gives the direction on {agree:.0%} of {rotation.sum()} "
              f"held-out rotation clips")
        if args.flow_init:
            ch = train.flow_init(model.init_params(cfg, seed=args.seed), cfg, fit_px, norm, args.flow_init, args.seed)[2]
            wired = val_pooled[rotation, ch["curl"]] - val_pooled[rotation, ch["zero"]]
            report["wired_curl_direction"] = float(np.mean((wired > 0) == cw))
            print(f"wired curl channel (--flow-init {args.flow_init}): its sign gives the direction on "
                  f"{report['wired_curl_direction']:.0%} of the same clips")
    return report


if __name__ == "__main__":
    main()
