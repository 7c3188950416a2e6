"""Trains the bundled Motion10 model: a TokenLearner ViViT (the Flax reference in tokenreel_ref) on
clip tensors exported by `tokenreel export`, and writes safetensors in TokenReel's format.

The trainer never decodes video: `tokenreel export DIR --pipeline P --out data.npz` writes the exact
uint8 RGB clips the pipeline feeds the model ([N, T, H, W, 3]) with their labels, and the trainer
applies the same pixel normalisation the Swift model applies (tokenreel_ref.model.normalize).

Recipe: AdamW, linear warm-up then cosine decay, label smoothing, and augmentations that keep the
labels true. Each geometric or temporal transform either leaves a Motion10 class unchanged or maps
it to another class, and the label is mapped with it:

    horizontal flip   left <-> right,   rotate_cw <-> rotate_ccw
    vertical flip     up <-> down,      rotate_cw <-> rotate_ccw
    time reversal     left <-> right, up <-> down, zoom_in <-> zoom_out, rotate_cw <-> rotate_ccw
    colour            channel permutation, inversion, brightness/contrast jitter (no label change)

    .venv/bin/python training/train.py --train train.npz --val val.npz \
        --out models/motion10-tlvivit-s16x64.safetensors --minutes 45

Dimension legend: N clips, B batch, T frames, H x W pixels, 3 channels, K classes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax                                                           # noqa: E402
import jax.numpy as jnp                                              # noqa: E402
import optax                                                         # noqa: E402

from tokenreel_ref import export, model                              # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig     # noqa: E402

MOTION10 = ["static", "left", "right", "up", "down", "zoom_in", "zoom_out",
            "rotate_cw", "rotate_ccw", "blink"]


def default_config(frames: int, height: int, width: int, classes: int, args=None) -> ModelConfig:
    """The bundled model's shape (each part can be changed from the command line): tubelet
    2x8x8, D=96, 6 layers, 3 heads, MLP 384, TokenLearner v1.1 with S=8 learned tokens per
    temporal slice inserted before layer 2."""
    a = args or parse_args(["--train", "-", "--out", "-"])
    return ModelConfig(num_frames=frames, height=height, width=width,
                       tubelet=tuple(int(v) for v in a.tubelet.split(",")),
                       hidden_size=a.hidden, num_layers=a.layers, num_heads=a.heads, mlp_dim=a.mlp,
                       num_classes=classes, classifier="gap",
                       tokenlearner=TokenLearnerConfig(version="1.1", num_tokens=a.tokens, loc=a.tl_loc)
                       if a.tokens > 0 else None)


def tiny_config(frames: int, height: int, width: int, classes: int, args=None) -> ModelConfig:
    """A few-second model for tests of the trainer itself."""
    return ModelConfig(num_frames=frames, height=height, width=width, tubelet=(2, 8, 8),
                       hidden_size=32, num_layers=2, num_heads=2, mlp_dim=64,
                       num_classes=classes, classifier="gap",
                       tokenlearner=TokenLearnerConfig(version="1.1", num_tokens=4, loc=1))


# Data ------------------------------------------------------------------------------------------

def load_npz(path: str):
    """-> (pixels uint8 [N,T,H,W,3], labels int32 [N], label names, normalisation dict)."""
    with np.load(path, allow_pickle=False) as z:
        pixels = z["pixels"]
        labels = z["labels"].astype(np.int32)
        names = [str(s) for s in z["label_names"]]
        norm = json.loads(str(z["normalization"])) if "normalization" in z else {"type": "zero_centered"}
    if pixels.dtype != np.uint8 or pixels.ndim != 5 or pixels.shape[-1] != 3:
        raise ValueError(f"{path}: pixels must be uint8 [N,T,H,W,3], got {pixels.dtype} {pixels.shape}")
    if labels.shape != (pixels.shape[0],):
        raise ValueError(f"{path}: {labels.shape[0]} labels for {pixels.shape[0]} clips")
    return pixels, labels, names, norm


def swap_table(names: list, pairs: list) -> np.ndarray:
    """Label permutation for a transform that exchanges the named classes pairwise."""
    table = np.arange(len(names), dtype=np.int32)
    for a, b in pairs:
        if a in names and b in names:
            ia, ib = names.index(a), names.index(b)
            table[ia], table[ib] = ib, ia
    return table


class Augmenter:
    """Label-true augmentations, applied per clip on the host (uint8 in, uint8 out)."""

    def __init__(self, names: list, rng: np.random.Generator):
        self.rng = rng
        self.hflip = swap_table(names, [("left", "right"), ("rotate_cw", "rotate_ccw")])
        self.vflip = swap_table(names, [("up", "down"), ("rotate_cw", "rotate_ccw")])
        self.reverse = swap_table(names, [("left", "right"), ("up", "down"), ("zoom_in", "zoom_out"),
                                          ("rotate_cw", "rotate_ccw")])

    def __call__(self, clips: np.ndarray, labels: np.ndarray):
        clips = clips.copy()
        labels = labels.copy()
        r = self.rng
        for i in range(clips.shape[0]):
            c = clips[i]                                                  # [T,H,W,3]
            if r.random() < 0.5:
                c, labels[i] = c[:, :, ::-1], self.hflip[labels[i]]
            if r.random() < 0.5:
                c, labels[i] = c[:, ::-1], self.vflip[labels[i]]
            if r.random() < 0.5:
                c, labels[i] = c[::-1], self.reverse[labels[i]]
            c = c[..., r.permutation(3)]
            if r.random() < 0.3:
                c = 255 - c
            if r.random() < 0.5:                                          # contrast/brightness
                gain = r.uniform(0.75, 1.25)
                bias = r.uniform(-25, 25)
                c = np.clip(c.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
            clips[i] = c
        return clips, labels


# Training --------------------------------------------------------------------------------------

def motion_init(params, fraction: float, gain: float, seed: int):
    """Gives a `fraction` of the tubelet embedding's output channels a zero-sum temporal profile
    (a linear ramp over the tubelet's t frames, e.g. [-1, 1] for t=2): those channels see only what
    changes between the frames of a tubelet, so static backgrounds give them nothing and a moving
    object stands out from the first step. The other channels keep their appearance filters, made
    the same for every frame of the tubelet. Appearance channels keep the default (LeCun normal)
    variance; the temporal channels are scaled by `gain`, because what changes between two frames
    is a small part of the pixels and would otherwise be lost beside the background's appearance."""
    k = np.array(params["embedding"]["kernel"])                         # [t, h, w, 3, D]
    t, d = k.shape[0], k.shape[-1]
    if t < 2 or fraction <= 0:
        return params
    rng = np.random.default_rng(seed)
    spatial = rng.standard_normal(k.shape[1:]).astype(np.float32) / np.sqrt(np.prod(k.shape[1:4]))
    ramp = np.linspace(-1.0, 1.0, t, dtype=np.float32)
    ramp *= gain / np.sqrt((ramp ** 2).sum())
    flat = np.full(t, 1.0 / np.sqrt(t), np.float32)
    moving = int(round(d * fraction))
    profile = np.stack([ramp] * moving + [flat] * (d - moving), axis=-1)   # [t, D]
    k = spatial[None] * profile[:, None, None, None, :]
    params = jax.tree_util.tree_map(lambda x: x, params)
    params["embedding"]["kernel"] = jnp.asarray(k)
    return params


def make_steps(cfg: ModelConfig, optimizer, smoothing: float):
    net = model.TokenReelViT(cfg)

    def loss_fn(params, x, y):
        logits = net.apply({"params": params}, x)
        onehot = optax.smooth_labels(jax.nn.one_hot(y, cfg.num_classes), smoothing)
        return optax.softmax_cross_entropy(logits, onehot).mean()

    @jax.jit
    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def predict(params, x):
        return jnp.argmax(net.apply({"params": params}, x), axis=-1)

    return train_step, predict


def evaluate(predict, params, pixels, labels, norm, batch: int) -> float:
    if len(labels) == 0:
        return float("nan")
    correct = 0
    for s in range(0, len(labels), batch):
        x = model.normalize(pixels[s:s + batch], norm)
        correct += int((np.asarray(predict(params, x)) == labels[s:s + batch]).sum())
    return correct / len(labels)


def train(args) -> dict:
    pixels, labels, names, norm = load_npz(args.train)
    val = load_npz(args.val) if args.val else None
    n, frames, height, width, _ = pixels.shape
    cfg = (tiny_config if args.tiny else default_config)(frames, height, width, len(names), args)
    cfg.validate()

    steps_per_epoch = max(1, n // args.batch)
    total_steps = args.steps or steps_per_epoch * args.epochs
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=args.lr, warmup_steps=max(1, int(total_steps * args.warmup)),
        decay_steps=total_steps, end_value=args.lr * 0.01)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0),
                            optax.adamw(schedule, weight_decay=args.weight_decay))
    params = model.init_params(cfg, seed=args.seed)
    if args.motion_init:
        params = motion_init(params, args.motion_init, args.motion_gain, args.seed)
    opt_state = optimizer.init(params)
    train_step, predict = make_steps(cfg, optimizer, args.label_smoothing)

    rng = np.random.default_rng(args.seed)
    augment = Augmenter(names, rng)
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    started = time.monotonic()
    losses = []
    step = 0
    while step < total_steps:
        order = rng.permutation(n)
        for s in range(0, n - args.batch + 1, args.batch):
            idx = np.sort(order[s:s + args.batch])
            xb, yb = pixels[idx], labels[idx]
            if not args.no_augment:
                xb, yb = augment(xb, yb)
            params, opt_state, loss = train_step(params, opt_state, model.normalize(xb, norm), yb)
            losses.append(float(loss))
            step += 1
            if step % args.log_every == 0 or step == total_steps:
                recent = float(np.mean(losses[-args.log_every:]))
                print(f"step {step}/{total_steps}  loss {recent:.4f}  lr {float(schedule(step)):.2e}  "
                      f"{time.monotonic() - started:.0f}s", flush=True)
            if val is not None and args.eval_every and step % args.eval_every == 0:
                acc = evaluate(predict, params, val[0], val[1], norm, args.batch)
                print(f"step {step}  validation accuracy {acc:.4f}", flush=True)
            if step >= total_steps or (deadline and time.monotonic() > deadline):
                break
        if deadline and time.monotonic() > deadline:
            print(f"time budget of {args.minutes} min reached at step {step}", flush=True)
            break

    report = {
        "steps": step, "train_clips": int(n), "seconds": round(time.monotonic() - started, 1),
        "first_loss": losses[0] if losses else None,
        "last_loss": float(np.mean(losses[-min(len(losses), args.log_every):])) if losses else None,
        "config": json.loads(cfg.to_json()),
    }
    if val is not None:
        report["val_accuracy"] = evaluate(predict, params, val[0], val[1], norm, args.batch)
        print(f"validation accuracy {report['val_accuracy']:.4f} on {len(val[1])} clips", flush=True)
    report["train_accuracy"] = evaluate(predict, params, pixels[:512], labels[:512], norm, args.batch)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    export.save(args.out, cfg, params, names, norm)
    with open(args.out + ".train.json", "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    return report


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, help="npz from `tokenreel export`")
    ap.add_argument("--val", help="held-out npz for the final accuracy")
    ap.add_argument("--out", required=True, help="safetensors to write (plus OUT.train.json)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--steps", type=int, default=0, help="total steps (overrides --epochs)")
    ap.add_argument("--minutes", type=float, default=0, help="stop after this much training time")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of steps warming up")
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--eval-every", type=int, default=500, help="validation accuracy every N steps (0: only at the end)")
    ap.add_argument("--tiny", action="store_true", help="tiny model, for tests of the trainer")
    ap.add_argument("--tubelet", default="2,8,8", help="t,h,w of the tubelet embedding")
    ap.add_argument("--hidden", type=int, default=96, help="width D")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--mlp", type=int, default=384)
    ap.add_argument("--tokens", type=int, default=8, help="TokenLearner tokens S per temporal slice (0: none)")
    ap.add_argument("--tl-loc", type=int, default=2, help="TokenLearner inserted before this layer")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--motion-init", type=float, default=0.0,
                    help="fraction of embedding channels initialised as temporal differences (0: plain LeCun init)")
    ap.add_argument("--motion-gain", type=float, default=1.0, help="scale of the temporal-difference channels at init")
    return ap.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())
