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
    transpose         left <-> up, right <-> down, rotate_cw <-> rotate_ccw   (square clips)
    time reversal     left <-> right, up <-> down, zoom_in <-> zoom_out, rotate_cw <-> rotate_ccw
    colour            channel permutation, inversion, brightness/contrast jitter (no label change)
    shake             every frame moved by up to 0.7% of the short side (--shake; no label change)

    .venv/bin/python training/train.py --train train.npz --val val.npz \
        --out models/motion10-tlvivit-s16x64.safetensors --minutes 45

Dimension legend: N clips, B batch, T frames, H x W pixels, 3 channels, K classes.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax                                                           # noqa: E402
import jax.numpy as jnp                                              # noqa: E402
import optax                                                         # noqa: E402
from flax.traverse_util import flatten_dict, unflatten_dict          # noqa: E402

from tokenreel_ref import export, keep, model, posemb                       # noqa: E402
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


def shake_clip(clip: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """uint8 [T,H,W,3] with frame t moved by shifts[t] = (dx, dy) pixels (|dx|, |dy| < 2; x right,
    y down), bilinear, edges replicated: a hand-held camera's shake. Motion10's `static` allows the
    object's centre to move by 2% of the short side, so a clip shaken by at most 0.7% per axis
    keeps every label true; without this the model, whose temporal-difference channels see every
    sub-pixel change, called shaken static clips rotations (0/20 static right on
    scripts/motion10-alt.py's clips, which shake by up to 0.6%)."""
    t, h, w, _ = clip.shape
    pad = np.pad(clip.astype(np.float32), ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    out = np.empty((t, h, w, 3), np.float32)
    for f, (dx, dy) in enumerate(np.clip(shifts, -1.99, 1.99)):
        x0, y0 = int(np.floor(-dx)), int(np.floor(-dy))
        fx, fy = -dx - x0, -dy - y0
        win = pad[f, 2 + y0:2 + y0 + h + 1, 2 + x0:2 + x0 + w + 1]
        out[f] = ((1 - fy) * ((1 - fx) * win[:h, :w] + fx * win[:h, 1:])
                  + fy * ((1 - fx) * win[1:, :w] + fx * win[1:, 1:]))
    return np.floor(out + 0.5).astype(np.uint8)


class Augmenter:
    """Label-true augmentations, applied per clip on the host (uint8 in, uint8 out)."""

    def __init__(self, names: list, rng: np.random.Generator, shake: float = 0.0, shake_amplitude: float = 0.007):
        self.rng = rng
        self.shake, self.shake_amplitude = shake, shake_amplitude
        self.hflip = swap_table(names, [("left", "right"), ("rotate_cw", "rotate_ccw")])
        self.vflip = swap_table(names, [("up", "down"), ("rotate_cw", "rotate_ccw")])
        self.reverse = swap_table(names, [("left", "right"), ("up", "down"), ("zoom_in", "zoom_out"),
                                          ("rotate_cw", "rotate_ccw")])
        # Transpose (a reflection in the main diagonal; square clips only) maps motion towards the
        # left edge to motion towards the top, and turns clockwise into counter-clockwise.
        self.transpose = swap_table(names, [("left", "up"), ("right", "down"), ("rotate_cw", "rotate_ccw")])

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
            if c.shape[1] == c.shape[2] and r.random() < 0.5:
                c, labels[i] = c.transpose(0, 2, 1, 3), self.transpose[labels[i]]
            if self.shake and r.random() < self.shake:
                a = self.shake_amplitude * min(c.shape[1], c.shape[2])
                c = shake_clip(c, r.uniform(-a, a, (c.shape[0], 2)))
            c = c[..., r.permutation(3)]
            if r.random() < 0.3:
                c = 255 - c
            if r.random() < 0.5:                                          # contrast/brightness
                gain = r.uniform(0.75, 1.25)
                bias = r.uniform(-25, 25)
                c = np.clip(c.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
            clips[i] = c
        return clips, labels


# Operating points (SuperViT) -------------------------------------------------------------------

def parse_geometry(text: str) -> tuple:
    """"8x32x32" -> (8, 32, 32): frames x height x width."""
    try:
        t, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"geometry {text!r}: expected FRAMESxHEIGHTxWIDTH, e.g. 8x32x32")
    if min(t, h, w) <= 0:
        raise argparse.ArgumentTypeError(f"geometry {text!r}: every size must be positive")
    return t, h, w


def box_weights(n: int, m: int) -> np.ndarray:
    """[m, n] area-filter weights from n samples down to m: row i averages the input under the
    interval [i*n/m, (i+1)*n/m), each input sample weighted by how much of it lies inside."""
    w = np.zeros((m, n), np.float64)
    for i in range(m):
        lo, hi = i * n / m, (i + 1) * n / m
        for j in range(int(np.floor(lo)), min(n, int(np.ceil(hi)))):
            w[i, j] = min(hi, j + 1) - max(lo, j)
    return w / w.sum(axis=1, keepdims=True)


def derive(clips: np.ndarray, frames: int, height: int, width: int) -> np.ndarray:
    """uint8 [B,T,H,W,3] -> uint8 [B,T',H',W',3], the rule a cascade stage applies to the decoded
    clip (docs/pipelines.md, "Cascades"): frame i of T' is frame floor((2i+1)T / 2T'), pixels are
    box-filtered and rounded half up."""
    _, t, h, w, _ = clips.shape
    if (frames, height, width) == (t, h, w):
        return clips
    if frames > t or height > h or width > w:
        raise ValueError(f"cannot derive {frames}x{height}x{width} clips from {t}x{h}x{w}: only smaller")
    idx = [(2 * i + 1) * t // (2 * frames) for i in range(frames)]
    x = clips[:, idx].astype(np.float64)
    x = np.einsum("ih,bthwc->btiwc", box_weights(h, height), x)
    x = np.einsum("jw,btiwc->btijc", box_weights(w, width), x)
    return np.floor(x + 0.5).astype(np.uint8)


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


def flow_init(params, cfg: ModelConfig, pixels: np.ndarray, norm: dict, blocks: int = 3, seed: int = 0,
              amplitude: float = 8.0):
    """Wires the first two encoder blocks, at initialisation, to compute the first-order moments of
    the clip's image motion, so a model starts with them instead of having to discover them. The
    trainer keeps the wired entries fixed for --flow-freeze of the run (all of it by default) and
    trains everything else; the other channels keep their default init.

    The motion of a patch is a sum of products of a temporal difference and a spatial gradient
    (`token_motion`), its curl about the frame's centre that motion times where it happens
    (`motion_moments`): two products, which a pre-LN block's MLP computes from squares,
    a b = (sq(a + b) - sq(a - b)) / (4 c), sq(u) = GELU(g u) + GELU(-g u) = c u^2 (1 - g^2 u^2 / 6
    + ...) with c = 0.798 g^2 and a small gain g. Every wired unit reads its channels minus a
    reference channel that is always zero, so LayerNorm's mean cancels; its per-token scale is made
    nearly constant by three position channels of constant total energy (amplitude A: x, y and
    sqrt(3 - x^2 - y^2)) that dominate every token's spread. With s = `blocks` x `blocks`
    sub-squares per patch:
      - embedding: per sub-square, the temporal difference It (ramp over the tubelet's frames) and
        the gradients Gx, Gy (right minus left, bottom minus top) of the luminance, each scaled to
        unit spread on sample tubelets of `pixels`: 3 s channels;
      - position embedding: A x, A y, A sqrt(3 - x^2 - y^2) at the token centre, x, y in [-1, 1];
      - block 0's MLP: ex = -sum It Gx and ey = -sum It Gy over the sub-squares (EX, EY);
      - block 1's MLP: curl = x ey - y ex and divergence = x ex + y ey (CURL, DIV).
    Attention outputs and the other MLP units are kept out of these channels (zero columns), so
    the residual stream carries them through the TokenLearner's pooling to the head; translation
    (EX, EY), zoom (DIV) and rotation (CURL) are then linear in the pooled features at step 0.

    Returns (params, wired, channels): `wired` maps each touched parameter's path to a boolean mask
    of its wired entries (the trainer keeps them fixed for --flow-freeze of the run), `channels`
    names the wired channels (zero, ex, ey, x, y, curl, div).

    Why: a direction of rotation needs motion multiplied by its place, and a model trained from the
    default init took 850-1,000 steps of rotation clips alone before it started to compute it; with
    this init and the wiring kept fixed, 300 steps of the bundled architecture reach 90% on held-out
    rotation clips (docs/motion10-rotation.md)."""
    k = np.array(params["embedding"]["kernel"])                          # [t, h, w, 3, D]
    t, ph, pw, _, d = k.shape
    s = blocks * blocks
    need = 3 * s + 8
    tl_loc = cfg.tokenlearner.loc if cfg.tokenlearner is not None else cfg.num_layers
    if t < 2 or need > d or 8 * s > cfg.mlp_dim or cfg.num_layers < 2 or tl_loc < 2:
        raise SystemExit(f"--flow-init needs a tubelet at least 2 frames deep, {need} channels (D={d}), "
                         f"{8 * s} MLP units ({cfg.mlp_dim}), 2 layers and the TokenLearner (if any) no earlier than "
                         f"layer 2 (blocks 0 and 1 work on every position), for {blocks}x{blocks} sub-squares")
    chans = np.random.default_rng(seed + 17).permutation(d)[:need]
    ref, ex, ey, px, py, pz, curl, div = chans[:8]
    base = chans[8:].reshape(s, 3)                                       # [sub-square, (It, Gx, Gy)]

    # Embedding filters over the luminance of (normalised) pixels.
    filt = np.zeros((s, 3, t, ph, pw), np.float32)
    ramp = np.linspace(-1.0, 1.0, t, dtype=np.float32)
    for i in range(blocks):
        for j in range(blocks):
            r0, r1 = i * ph // blocks, (i + 1) * ph // blocks
            c0, c1 = j * pw // blocks, (j + 1) * pw // blocks
            cols, rows = np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5
            q = i * blocks + j
            filt[q, 0, :, r0:r1, c0:c1] = ramp[:, None, None]
            filt[q, 1, :, r0:r1, c0:c1] = np.sign(cols - (c0 + c1) / 2)[None, None, :]
            filt[q, 2, :, r0:r1, c0:c1] = np.sign(rows - (r0 + r1) / 2)[None, :, None]
    sample = model.normalize(pixels[np.linspace(0, len(pixels) - 1, min(64, len(pixels))).astype(int)], norm)
    b, f, h, w, _ = sample.shape
    lum = sample.mean(-1)[:, :f // t * t, :h // ph * ph, :w // pw * pw]
    tubes = lum.reshape(b, f // t, t, h // ph, ph, w // pw, pw).transpose(0, 1, 3, 5, 2, 4, 6).reshape(-1, t, ph, pw)
    resp = np.einsum("ntyx,sktyx->nsk", tubes, filt)
    filt /= np.maximum(resp.std(axis=0), 1e-6)[:, :, None, None, None]
    k[..., chans] = 0.0
    for q in range(s):
        for m in range(3):
            k[..., base[q, m]] = filt[q, m][..., None] / 3.0
    params = jax.tree_util.tree_map(lambda v: v, params)
    params["embedding"]["kernel"] = jnp.asarray(k)
    params["embedding"]["bias"] = jnp.asarray(np.array(params["embedding"]["bias"])).at[chans].set(0.0)

    pe = np.array(params["Transformer"]["posembed_input"]["pos_embedding"])   # [1, N, D]
    tg, hg, wg = cfg.grid
    _, yy, xx = np.meshgrid(unit_centres(tg), unit_centres(hg), unit_centres(wg), indexing="ij")
    pe[0, :, chans] = 0.0
    off = pe.shape[1] - xx.size
    for c, field in ((px, xx), (py, yy), (pz, np.sqrt(3.0 - xx ** 2 - yy ** 2))):
        pe[0, off:, c] = amplitude * field.reshape(-1)
    params["Transformer"]["posembed_input"]["pos_embedding"] = jnp.asarray(pe)

    def column_mask(shape, index, axis):
        m = np.zeros(shape, bool)
        m[(slice(None),) * (axis % len(shape)) + (index,)] = True
        return m

    wired = {("embedding", "kernel"): column_mask(k.shape, chans, axis=-1), ("embedding", "bias"): column_mask((d,), chans, axis=0),
             ("Transformer", "posembed_input", "pos_embedding"): column_mask(pe.shape, chans, axis=-1)}

    def read(c):                                                          # channel c minus the zero one
        v = np.zeros(d, np.float32)
        v[c], v[ref] = 1.0, -1.0
        return v

    def wire(block, gain, products):
        """products: [(a, b, out, sign)]: out += sign * a * b, four MLP units each."""
        blk = params["Transformer"][f"encoderblock_{block}"]
        fc1, fc2 = (np.array(blk["MlpBlock_0"][n]["kernel"]) for n in ("Dense_0", "Dense_1"))
        b1, b2 = (np.array(blk["MlpBlock_0"][n]["bias"]) for n in ("Dense_0", "Dense_1"))
        fc2[:, chans] = 0.0
        b2[chans] = 0.0
        scale = 1.0 / (4 * np.sqrt(2 / np.pi) * gain ** 2)
        units = 4 * len(products)
        mlp = ("Transformer", f"encoderblock_{block}", "MlpBlock_0")
        wired[mlp + ("Dense_0", "kernel")] = column_mask(fc1.shape, slice(0, units), axis=1)
        wired[mlp + ("Dense_0", "bias")] = column_mask(b1.shape, slice(0, units), axis=0)
        wired[mlp + ("Dense_1", "kernel")] = column_mask(fc2.shape, chans, axis=1) | column_mask(fc2.shape, slice(0, units), axis=0)
        wired[mlp + ("Dense_1", "bias")] = column_mask(b2.shape, chans, axis=0)
        attn_out = ("Transformer", f"encoderblock_{block}", "MultiHeadDotProductAttention_0", "out")
        wired[attn_out + ("kernel",)] = column_mask(blk["MultiHeadDotProductAttention_0"]["out"]["kernel"].shape, chans, axis=-1)
        wired[attn_out + ("bias",)] = column_mask((d,), chans, axis=0)
        unit = 0
        for a, bb, out, sign in products:
            for mix in (1.0, -1.0):                                     # sq(a + b) - sq(a - b)
                u = gain * (read(a) + mix * read(bb))
                for flip in (1.0, -1.0):                                # GELU(u) + GELU(-u)
                    fc1[:, unit], b1[unit] = flip * u, 0.0
                    fc2[unit, :] = 0.0
                    fc2[unit, out] = sign * mix * scale
                    unit += 1
        attn = blk["MultiHeadDotProductAttention_0"]["out"]
        ok = np.array(attn["kernel"])
        ok[..., chans] = 0.0
        blk["MlpBlock_0"]["Dense_0"] = {"kernel": jnp.asarray(fc1), "bias": jnp.asarray(b1)}
        blk["MlpBlock_0"]["Dense_1"] = {"kernel": jnp.asarray(fc2), "bias": jnp.asarray(b2)}
        blk["MultiHeadDotProductAttention_0"]["out"] = {"kernel": jnp.asarray(ok), "bias": jnp.asarray(np.array(attn["bias"])).at[chans].set(0.0)}

    wire(0, 0.5, [(base[q, 0], base[q, 1], ex, -1.0) for q in range(s)] + [(base[q, 0], base[q, 2], ey, -1.0) for q in range(s)])
    wire(1, 0.1, [(px, ey, curl, 1.0), (py, ex, curl, -1.0), (px, ex, div, 1.0), (py, ey, div, 1.0)])
    for block in range(2, cfg.num_layers):
        wire(block, 1.0, [])
    return params, wired, dict(zero=ref, ex=ex, ey=ey, x=px, y=py, curl=curl, div=div)


def initial_params(path: str, cfg: ModelConfig, names: list, fresh):
    """The parameters of a saved model (--init) to start from, checked against this run's model:
    the same config (all of it: shapes alone could hide a different TokenLearner place) and the
    same classes in the same order. Trainer-only heads are not saved, so they start fresh.
    A model saved at another clip geometry (frames, height, width; the same tubelet) starts
    with its position embedding resampled to this run's grid, as inference does
    (posemb.resize_posemb): fine-tuning at a higher resolution (ViT's recipe)."""
    saved_cfg, saved, labels, _ = export.load(path)
    geometry = (cfg.num_frames, cfg.height, cfg.width)
    if (saved_cfg.num_frames, saved_cfg.height, saved_cfg.width) != geometry:
        try:
            saved, saved_cfg = posemb.resize_posemb(saved, saved_cfg, *geometry)
        except ValueError as e:
            raise SystemExit(f"--init {path}: cannot resample it to {'x'.join(map(str, geometry))}: {e}")
        print(f"--init {path}: position embedding resampled to {'x'.join(map(str, geometry))}", flush=True)
    if saved_cfg.to_json() != cfg.to_json():
        raise SystemExit(f"--init {path}: its config differs from this run's:\n  {saved_cfg.to_json()}\n  {cfg.to_json()}")
    if list(labels) != list(names):
        raise SystemExit(f"--init {path}: its classes {labels} differ from the training set's {names}")
    shapes = jax.tree_util.tree_map(np.shape, fresh)
    if jax.tree_util.tree_map(np.shape, saved) != shapes:
        raise SystemExit(f"--init {path}: its parameter tree differs from this model's")
    return jax.tree_util.tree_map(jnp.asarray, saved)


def partial_params(path: str, names: list, fresh):
    """--init-partial: every tensor of a saved model that this run's model has under the same name
    and shape (a relative of another architecture: the same backbone without its TokenLearner, say);
    the rest keep their fresh initialisation. The classes must be the same, in the same order.
    Returns the parameters and the (tuple) names taken."""
    _, saved, labels, _ = export.load(path)
    if list(labels) != list(names):
        raise SystemExit(f"--init-partial {path}: its classes {labels} differ from the training set's {names}")
    old, new = flatten_dict(saved), flatten_dict(fresh)
    taken = {k for k, v in new.items() if k in old and np.shape(old[k]) == np.shape(v)}
    if not taken:
        raise SystemExit(f"--init-partial {path}: no tensor of it fits this model (name and shape)")
    params = unflatten_dict({k: jnp.asarray(old[k]) if k in taken else v for k, v in new.items()})
    def listed(keys):
        return ", ".join(sorted("/".join(k) for k in keys)[:6]) + (" ..." if len(keys) > 6 else "") if keys else "none"
    print(f"--init-partial {path}: {len(taken)} of {len(new)} tensors taken; fresh: {listed(new.keys() - taken)}; "
          f"not used: {listed(old.keys() - taken)}", flush=True)
    return params, taken


def unit_centres(n: int) -> np.ndarray:
    """Centres of n equal cells spanning [-1, 1] (pixels or tokens along one axis)."""
    return (np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1


def smooth_posemb_init(params, cfg: ModelConfig, fraction: float, scale: float, seed: int):
    """Gives a `fraction` of the position embedding's channels smooth functions of the token's
    place in the clip, on coordinates t, y, x in [-1, 1] at the token centres: a third of them
    vary along time only, the rest along a direction in the frame (orientations spread over the
    half circle), each scale * sqrt(2) * sin(w * u + phi) with frequencies of a quarter and a half
    period over the clip and phases 0 and pi/2. The other channels keep the default init (normal,
    std 0.02); all stay trainable.

    Why: the default init leaves position nearly invisible beside embedding channels of order 1
    to 10, and some motions are only readable through it: a direction of rotation is motion
    weighted by where it happens (clockwise = rightward above the centre, leftward below), or an
    attention match between an object's orientation in one temporal slice and the next, which
    says which way it turned only if the matched token's time is in its value. Status:
    experimental, not in the bundled recipe: on rotation-only clips it did not lift the bundled
    architecture off chance in 500-800 steps (docs/motion10-rotation.md)."""
    pe = np.array(params["Transformer"]["posembed_input"]["pos_embedding"])    # [1, N(+1), D]
    tg, hg, wg = cfg.grid
    d = pe.shape[-1]
    c = int(round(d * fraction))
    if c <= 0:
        return params

    t, y, x = np.meshgrid(unit_centres(tg), unit_centres(hg), unit_centres(wg), indexing="ij")   # [T', H', W']
    chans = np.random.default_rng(seed + 7).permutation(d)[:c]
    spatial = 0
    for j, ch in enumerate(chans):
        w = np.pi / 2 * (1 + (j // 2) % 2)
        phi = 0.0 if j % 2 == 0 else np.pi / 2
        if j % 3 == 2:
            u = t
        else:
            a = np.pi * (spatial // 2) / max(1, (2 * c // 3 + 1) // 2)
            spatial += 1
            u = x * np.cos(a) + y * np.sin(a)
        field = np.sqrt(2.0) * scale * np.sin(w * u + phi)
        pe[0, pe.shape[1] - field.size:, ch] = field.reshape(-1)
    params = jax.tree_util.tree_map(lambda v: v, params)
    params["Transformer"]["posembed_input"]["pos_embedding"] = jnp.asarray(pe)
    return params


def resized_posemb(params, cfg: ModelConfig, new_cfg: ModelConfig):
    """params with the position embedding resampled to new_cfg's token grid, differentiably
    (the rule of tokenreel_ref.posemb, inside the traced function so the gradient reaches the
    trained embedding)."""
    if new_cfg.grid == cfg.grid:
        return params
    pe = params["Transformer"]["posembed_input"]["pos_embedding"]           # [1, N, D] (gap: no cls)
    d = pe.shape[-1]
    grid = jax.image.resize(pe[0].reshape(cfg.grid + (d,)), new_cfg.grid + (d,), method="linear", antialias=False)
    out = dict(params)
    out["Transformer"] = dict(params["Transformer"])
    out["Transformer"]["posembed_input"] = {"pos_embedding": grid.reshape(1, -1, d)}
    return out


AUX_HEAD = "aux_head"              # trainer-only parameters (--aux-weight); never exported
TOKEN_AUX_HEAD = "token_aux_head"  # trainer-only parameters (--token-aux-weight); never exported


def model_params(params):
    """The model's own parameter tree (without the trainer's auxiliary heads)."""
    return {k: v for k, v in params.items() if k not in (AUX_HEAD, TOKEN_AUX_HEAD)}


def linear_head(d: int, outputs: int, seed: int) -> dict:
    """A trainer-only linear read-out [D, outputs] (LeCun-normal kernel, zero bias)."""
    kernel = np.random.default_rng(seed).standard_normal((d, outputs)).astype(np.float32) / np.sqrt(d)
    return {"kernel": jnp.asarray(kernel), "bias": jnp.zeros(outputs)}


def moment_scales(pixels, sample: int = 1024) -> np.ndarray:
    """Per-moment scale for the auxiliary targets: the median |moment| over up to `sample`
    training clips. Targets are tanh(moment / scale): a rotation's curl (a few hundredths) and a
    passing object's (tenths) both become clear signs instead of the second swamping the first."""
    idx = np.linspace(0, len(pixels) - 1, min(sample, len(pixels))).astype(int)
    m = np.concatenate([motion_moments(pixels[idx[j:j + 64]]) for j in range(0, len(idx), 64)])
    return np.maximum(np.median(np.abs(m), axis=0), 1e-4).astype(np.float32)


class Steps:
    """Jitted train and predict functions, one per operating point (geometry, keep rate), made on
    first use. The trained parameters are those of the base geometry; other geometries resample the
    position embedding on the fly."""

    def __init__(self, cfg: ModelConfig, optimizer, smoothing: float, keep_layers: tuple, aux=None, token_aux=None):
        """aux = (weight, per-moment scales) for --aux-weight; token_aux = (weight, block, scale)
        for --token-aux-weight. Their targets are computed from the raw clips inside the step."""
        self.cfg, self.optimizer, self.smoothing, self.keep_layers = cfg, optimizer, smoothing, keep_layers
        self.aux, self.token_aux = aux, token_aux
        self._train, self._predict = {}, {}

    def _net(self, geometry, rate):
        cfg = posemb.geometry_config(self.cfg, *geometry)
        return cfg, model.TokenReelViT(cfg, float(rate), self.keep_layers if rate < 1.0 else ())

    def train(self, geometry, rate):
        key = (geometry, rate)
        if key not in self._train:
            cfg, net = self._net(geometry, rate)

            def loss_fn(params, x, raw, y):
                """x: normalised clips, raw: the same as uint8 -> (total loss, [classification,
                clip auxiliary, token auxiliary] losses)."""
                variables = {"params": resized_posemb(model_params(params), self.cfg, cfg)}
                onehot = optax.smooth_labels(jax.nn.one_hot(y, cfg.num_classes), self.smoothing)
                zero = jnp.zeros(())
                if not (self.aux or self.token_aux):
                    loss = optax.softmax_cross_entropy(net.apply(variables, x), onehot).mean()
                    return loss, jnp.stack([loss, zero, zero])
                logits, state = net.apply(variables, x, mutable=["intermediates"])
                parts = [optax.softmax_cross_entropy(logits, onehot).mean(), zero, zero]
                total = parts[0]
                if self.aux:
                    weight, scales = self.aux
                    pooled = state["intermediates"]["pooled"][0]                  # [B, D]
                    head = params[AUX_HEAD]
                    target = jnp.tanh(motion_moments(raw, jnp) / scales)
                    parts[1] = jnp.mean((pooled @ head["kernel"] + head["bias"] - target) ** 2)
                    total += weight * parts[1]
                if self.token_aux and (rate == 1.0 or min(self.keep_layers) > self.token_aux[1]):
                    weight, block, scale = self.token_aux      # (every token still there after the block)
                    tokens = state["intermediates"]["Transformer"][f"block_{block}"][0]   # [B, N, D]
                    head = params[TOKEN_AUX_HEAD]
                    target = jnp.tanh(token_motion(raw, cfg.tubelet, jnp) / scale)
                    parts[2] = jnp.mean((tokens @ head["kernel"] + head["bias"] - target) ** 2)
                    total += weight * parts[2]
                return total, jnp.stack(parts)

            @jax.jit
            def step(params, opt_state, x, raw, y, trainable):
                """trainable: 0/1 per parameter entry (frozen entries get no update, not even decay)."""
                (loss, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, raw, y)
                updates, opt_state = self.optimizer.update(grads, opt_state, params)
                updates = jax.tree_util.tree_map(lambda u, m: u * m, updates, trainable)
                return optax.apply_updates(params, updates), opt_state, loss, parts
            self._train[key] = step
        return self._train[key]

    def predict(self, geometry, rate):
        key = (geometry, rate)
        if key not in self._predict:
            cfg, net = self._net(geometry, rate)
            self._predict[key] = jax.jit(lambda params, x: jnp.argmax(
                net.apply({"params": resized_posemb(model_params(params), self.cfg, cfg)}, x), axis=-1))
        return self._predict[key]


def evaluate(predict, params, pixels, labels, norm, batch: int, geometry=None) -> float:
    if len(labels) == 0:
        return float("nan")
    correct = 0
    for s in range(0, len(labels), batch):
        x = pixels[s:s + batch]
        if geometry is not None:
            x = derive(x, *geometry)
        correct += int((np.asarray(predict(params, model.normalize(x, norm))) == labels[s:s + batch]).sum())
    return correct / len(labels)


def motion_energy(clips, xp=np):
    """Per-pixel motion energy of consecutive frame pairs, [B, T-1, H, W] each: (ex, ey) =
    -I_t grad I (|grad I|^2 times the normal flow) and the gradient (gx, gy) of the pair's mean
    luminance (0-1). `xp` is numpy, or jax.numpy inside the jitted training step."""
    lum = clips.astype(np.float32).mean(axis=-1) / 255.0                  # [B, T, H, W]
    it = lum[:, 1:] - lum[:, :-1]
    gy, gx = xp.gradient(0.5 * (lum[:, 1:] + lum[:, :-1]), axis=(2, 3))
    return -(it * gx), -(it * gy), gx, gy


def motion_moments(clips, xp=np):
    """The first-order moments of a clip's image motion, from image gradients, for the auxiliary
    loss (--aux-weight): [B, 4] = mean flow x, mean flow y, divergence, curl about the frame's
    centre. With I_t the difference of consecutive frames' luminance and grad I the gradient of
    their mean, normal flow is v = -I_t grad I / |grad I|^2, and each moment is a sum of
    |grad I|^2-weighted flow over pixels and frame pairs, divided by the total weight:
    mean flow -sum I_t grad I, divergence -sum (p - c) . I_t grad I, curl -sum (p - c) x I_t grad I,
    with p - c in [-1, 1]; `xp` as for `motion_energy`. Every factor changes sign with the clip's
    polarity in pairs, so the moments do not; flips, transposes and time reversal change their
    signs as they change the labels. No label is used: the targets come from the pixels the model
    sees.

    Why: the classification loss alone never taught the model a direction of rotation (it needs
    motion energy multiplied by where it happens, a third-order feature; rotation-only runs stayed
    at chance for 2,300 steps), while curl about the centre reads it on 98% of held-out clips.
    Regressing these moments from the pooled features gives every clip a dense gradient towards
    them. Status: experimental, not in the bundled recipe. With the bundled architecture on
    rotation-only clips (weight 1, --posemb-init 0.25) neither the auxiliary loss nor rotation
    accuracy moved in 800 steps; beside the per-token loss (`token_motion`) it helped the first
    run off chance (docs/motion10-rotation.md)."""
    ex, ey, gx, gy = motion_energy(clips, xp)
    h, w = clips.shape[2:4]
    y, x = unit_centres(h)[:, None], unit_centres(w)[None, :]
    weight = (gx * gx + gy * gy).sum(axis=(1, 2, 3)) + 1e-6
    moments = xp.stack([ex.sum(axis=(1, 2, 3)), ey.sum(axis=(1, 2, 3)),
                        (x * ex + y * ey).sum(axis=(1, 2, 3)), (x * ey - y * ex).sum(axis=(1, 2, 3))], axis=-1)
    return (moments / weight[:, None]).astype(np.float32)


def token_motion(clips, tubelet: tuple, xp=np):
    """Each token's own image motion, for the per-token auxiliary loss (--token-aux-weight):
    [B, N, 2] = -sum I_t grad I (x, y) over the pixels of the token's tubelet and the consecutive
    frame pairs inside it (the terms of `motion_moments`' mean flow, not normalised), tokens
    t-major as the model orders them. Zero for tubelets one frame deep.

    Why: a direction of rotation is this local motion weighted by where it happens. With it
    supervised at every token before the TokenLearner, the classifier's remaining step is a
    product of a token feature and its position (as for translation), not a chain of three.
    Status: experimental, not yet in the bundled recipe (docs/motion10-rotation.md)."""
    b, t, h, w, _ = clips.shape
    tt, th, tw = tubelet
    ex, ey, _, _ = motion_energy(clips, xp)
    e = xp.stack([ex, ey], axis=-1)                                       # [B, T-1, H, W, 2]
    gt, gh, gw = t // tt, h // th, w // tw
    inside = np.array([(f + 1) % tt != 0 for f in range(t - 1)], np.float32)   # pair (f, f+1) within a tubelet
    e = e * inside[None, :, None, None, None]
    e = xp.concatenate([e, xp.zeros_like(e[:, :1])], axis=1)[:, :gt * tt, :gh * th, :gw * tw]
    e = e.reshape(b, gt, tt, gh, th, gw, tw, 2).sum(axis=(2, 4, 6))
    return e.reshape(b, gt * gh * gw, 2).astype(np.float32)


def token_motion_of(clips, tubelet: tuple, chunk: int = 32) -> np.ndarray:
    """`token_motion` of many clips on the host, `chunk` clips at a time so the per-pixel
    intermediates stay small."""
    return np.concatenate([token_motion(clips[j:j + chunk], tubelet) for j in range(0, len(clips), chunk)])


def batch_stream(pixels, labels, batch: int, rng, augment, points):
    """Endless (operating point, clips uint8 [B,T',H',W',3], labels [B]) batches: epochs of a
    shuffled order, augmented, each batch at one operating point drawn uniformly (SuperViT)."""
    n = len(labels)
    while True:
        order = rng.permutation(n)
        for s in range(0, n - batch + 1, batch):
            idx = np.sort(order[s:s + batch])
            xb, yb = pixels[idx], labels[idx]
            if augment is not None:
                xb, yb = augment(xb, yb)
            point = points[rng.integers(len(points))]
            yield point, derive(xb, *point[0]), yb


def prefetch(make, depth: int):
    """Runs the generator `make()` in a thread, `depth` items ahead: augmentation and resampling
    (NumPy, on the host) overlap the jitted step, which releases the GIL."""
    items = queue.Queue(maxsize=depth)

    def run():
        for item in make():
            items.put(item)
    threading.Thread(target=run, daemon=True).start()
    while True:
        yield items.get()


def load_sets(paths: list):
    """Several exports (e.g. two seeds) as one training set; they must agree on clip shape,
    class names and normalisation."""
    sets = [load_npz(p) for p in paths]
    for p, (px, _, names, norm) in zip(paths[1:], sets[1:]):
        if px.shape[1:] != sets[0][0].shape[1:] or names != sets[0][2] or norm != sets[0][3]:
            raise SystemExit(f"{p}: clips {px.shape[1:]}, labels or normalisation differ from {paths[0]}")
    if len(sets) == 1:
        return sets[0]
    return (np.concatenate([s[0] for s in sets]), np.concatenate([s[1] for s in sets]), sets[0][2], sets[0][3])


def select_classes(data, keep: list, what: str):
    """The clips of the named classes only; the label space (and so the classifier) stays whole,
    so a model trained on a subset continues on the full set with `--init` (a curriculum)."""
    pixels, labels, names, norm = data
    missing = [c for c in keep if c not in names]
    if missing:
        raise SystemExit(f"{what}: no class {', '.join(missing)} (classes: {', '.join(names)})")
    mask = np.isin(labels, [names.index(c) for c in keep])
    if not mask.any():
        raise SystemExit(f"{what}: no clips of {', '.join(keep)}")
    return pixels[mask], labels[mask], names, norm


def view_of(clips: np.ndarray, first_frames: int, geometry) -> np.ndarray:
    """The clips a prefix cascade stage sees (docs/pipelines.md, "Stages that see the start of the clip"): the first
    `first_frames` frames of each exported clip (0: all of them), then derived to `geometry`
    (None: as they are) by the cascade's rule (`derive`)."""
    if first_frames:
        if first_frames > clips.shape[1]:
            raise SystemExit(f"--first-frames {first_frames}: the exported clips have {clips.shape[1]} frames")
        clips = clips[:, :first_frames]
    return derive(clips, *geometry) if geometry else clips


def train(args) -> dict:
    pixels, labels, names, norm = load_sets(args.train)
    val = load_npz(args.val) if args.val else None
    if args.first_frames or args.geometry:
        pixels = view_of(pixels, args.first_frames, args.geometry)
        val = (view_of(val[0], args.first_frames, args.geometry),) + tuple(val[1:]) if val else None
        print(f"training on clips of {'x'.join(map(str, pixels.shape[1:4]))}"
              + (f" (the first {args.first_frames} frames of each exported clip)" if args.first_frames else ""), flush=True)
    if args.classes:
        pixels, labels, names, norm = select_classes((pixels, labels, names, norm), args.classes, "--train")
        val = select_classes(val, args.classes, args.val) if val else None
        print(f"training on {len(labels)} clips of {', '.join(args.classes)}", flush=True)
    n, frames, height, width, _ = pixels.shape
    cfg = (tiny_config if args.tiny else default_config)(frames, height, width, len(names), args)
    cfg.validate()

    steps_per_epoch = max(1, n // args.batch)
    total_steps = args.steps or steps_per_epoch * args.epochs
    warmup_steps = max(1, int(total_steps * args.warmup))
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=args.lr, warmup_steps=warmup_steps,
        decay_steps=max(total_steps, warmup_steps + 1), end_value=args.lr * 0.01)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0),
                            optax.adamw(schedule, weight_decay=args.weight_decay))
    params = model.init_params(cfg, seed=args.seed)
    if args.init and args.init_partial:
        raise SystemExit("--init and --init-partial exclude each other")
    if args.init:
        params = initial_params(args.init, cfg, names, params)
    elif args.init_partial:
        params, taken = partial_params(args.init_partial, names, params)
    elif args.motion_init:
        params = motion_init(params, args.motion_init, args.motion_gain, args.seed)
    wired = {}
    if args.flow_init:             # with --init only the mask is used: the saved wiring stays fixed
        wired_params, wired, _ = flow_init(params, cfg, pixels, norm, args.flow_init, args.seed)
        if args.init_partial:   # the saved wiring where it was taken; fresh tensors get theirs
            mine, wired_flat = flatten_dict(params), flatten_dict(wired_params)
            params = unflatten_dict({k: v if k in taken else wired_flat[k] for k, v in mine.items()})
        elif not args.init:
            params = wired_params
    if args.posemb_init and not (args.init or args.init_partial):
        params = smooth_posemb_init(params, cfg, args.posemb_init, args.posemb_scale, args.seed)
    keep_layers = keep.check_keeping(cfg, 0.5, args.keep_layers) if args.keep_layers else ()
    if any(r < 1.0 for r in args.keep_rates) and not keep_layers:
        raise SystemExit("--keep-rates below 1 need --keep-layers")
    base = (frames, height, width)
    points = [(g, r) for g in [base] + [g for g in args.sizes if g != base] for r in args.keep_rates]
    for g, _ in points:
        posemb.geometry_config(cfg, *g)                                  # fail early on a bad size
    aux = token_aux = None
    if args.aux_weight:
        scales = moment_scales(pixels)
        params = dict(params, **{AUX_HEAD: linear_head(cfg.hidden_size, 4, args.seed + 11)})
        print(f"auxiliary motion moments, weight {args.aux_weight}, scales {np.round(scales, 4).tolist()}", flush=True)
        aux = (args.aux_weight, scales)
    if args.token_aux_weight:
        if cfg.tokenlearner is not None and args.token_aux_layer >= cfg.tokenlearner.loc:
            raise SystemExit("--token-aux-layer must come before the TokenLearner layer")
        if cfg.classifier == "token":
            raise SystemExit("--token-aux-weight works with pooled classifiers only")
        sample = pixels[np.linspace(0, n - 1, min(256, n)).astype(int)]
        e = np.abs(token_motion_of(sample, cfg.tubelet))
        token_aux = (args.token_aux_weight, args.token_aux_layer, float(max(np.percentile(e, 95), 1e-4)))
        params = dict(params, **{TOKEN_AUX_HEAD: linear_head(cfg.hidden_size, 2, args.seed + 13)})
        print(f"per-token motion after block {args.token_aux_layer}, weight {args.token_aux_weight}, "
              f"scale {token_aux[2]:.4g}", flush=True)
    steps = Steps(cfg, optimizer, args.label_smoothing, keep_layers, aux, token_aux)
    # 0/1 per parameter entry: everything, or everything but the --flow-init wiring.
    everything = jax.tree_util.tree_map(lambda v: jnp.ones(v.shape, jnp.float32), params)
    unwired = jax.tree_util.tree_map_with_path(
        lambda path, v: jnp.asarray(~wired.get(tuple(k.key for k in path), np.zeros(v.shape, bool)), jnp.float32), params)
    freeze_steps = int(round(total_steps * args.flow_freeze)) if wired else 0

    rng = np.random.default_rng(args.seed)
    augment = Augmenter(names, rng, args.shake, args.shake_amplitude)
    opt_state = optimizer.init(params)
    batches = prefetch(lambda: batch_stream(pixels, labels, args.batch, rng, None if args.no_augment else augment,
                                            points), depth=4)
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    started = time.monotonic()
    losses, part_losses = [], []
    step = 0
    for (geometry, rate), xb, yb in batches:
        trainable = unwired if step < freeze_steps else everything
        params, opt_state, loss, parts = steps.train(geometry, rate)(params, opt_state, model.normalize(xb, norm), xb, yb, trainable)
        losses.append(float(loss))
        part_losses.append(np.asarray(parts))
        step += 1
        if step % args.log_every == 0 or step == total_steps:
            recent = float(np.mean(losses[-args.log_every:]))
            cls, aux, tok = np.mean(part_losses[-args.log_every:], axis=0)
            detail = (f" (classification {cls:.4f}" + (f", clip aux {aux:.4f}" if args.aux_weight else "")
                      + (f", token aux {tok:.4f}" if args.token_aux_weight else "") + ")"
                      if args.aux_weight or args.token_aux_weight else "")
            print(f"step {step}/{total_steps}  loss {recent:.4f}{detail}  lr {float(schedule(step)):.2e}  "
                  f"{time.monotonic() - started:.0f}s", flush=True)
        if val is not None and args.eval_every and step % args.eval_every == 0:
            acc = evaluate(steps.predict(base, 1.0), params, val[0], val[1], norm, args.batch)
            print(f"step {step}  validation accuracy {acc:.4f}", flush=True)
        if step >= total_steps:
            break
        if deadline and time.monotonic() > deadline:
            print(f"time budget of {args.minutes} min reached at step {step}", flush=True)
            break

    report = {
        "steps": step, "train_clips": int(n), "seconds": round(time.monotonic() - started, 1),
        "first_loss": losses[0] if losses else None,
        "last_loss": float(np.mean(losses[-min(len(losses), args.log_every):])) if losses else None,
        "config": json.loads(cfg.to_json()),
        "operating_points": [{"geometry": list(g), "keep_rate": r} for g, r in points],
        "keep_layers": list(keep_layers),
    }
    if val is not None:
        report["val_accuracy"] = evaluate(steps.predict(base, 1.0), params, val[0], val[1], norm, args.batch)
        print(f"validation accuracy {report['val_accuracy']:.4f} on {len(val[1])} clips", flush=True)
        if len(points) > 1:
            report["val_accuracy_by_point"] = {}
            for g, r in points:
                acc = evaluate(steps.predict(g, r), params, val[0], val[1], norm, args.batch, geometry=g)
                key = f"{'x'.join(map(str, g))}@{r:g}"
                report["val_accuracy_by_point"][key] = acc
                print(f"validation accuracy {acc:.4f} at {key}", flush=True)
    report["train_accuracy"] = evaluate(steps.predict(base, 1.0), params, pixels[:512], labels[:512], norm, args.batch)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    export.save(args.out, cfg, model_params(params), names, norm)
    with open(args.out + ".train.json", "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    return report


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, nargs="+", help="npz files from `tokenreel export` (concatenated)")
    ap.add_argument("--val", help="held-out npz for the final accuracy")
    ap.add_argument("--out", required=True, help="safetensors to write (plus OUT.train.json)")
    ap.add_argument("--classes", nargs="+", default=[],
                    help="train (and validate) on the clips of these classes only; the classifier keeps every "
                         "class, so a later stage can continue from it on all of them with --init")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--steps", type=int, default=0, help="total steps (overrides --epochs)")
    ap.add_argument("--minutes", type=float, default=0, help="stop after this much training time")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of steps warming up")
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", help="start from this saved model (safetensors from this trainer) instead of a "
                                   "fresh initialisation: the same config and classes (a curriculum's later stage); "
                                   "saved at another clip size, its position embedding is resampled to this one")
    ap.add_argument("--init-partial", help="start from every tensor of this saved model that this model has under the "
                                           "same name and shape (e.g. the same backbone without its TokenLearner); "
                                           "the rest start fresh; with --flow-init what it took stays as saved and only fresh tensors are wired")
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
    ap.add_argument("--sizes", type=parse_geometry, nargs="*", default=[],
                    help="SuperViT: also train at these clip geometries (FRAMESxHEIGHTxWIDTH, derived from the "
                         "exported clips as a cascade stage derives them); each batch takes one at random")
    ap.add_argument("--first-frames", type=int, default=0, metavar="N",
                    help="train on the first N frames of each exported clip: what a cascade's prefix stage sees "
                         "(docs/pipelines.md, \"Stages that see the start of the clip\"; 0: all frames)")
    ap.add_argument("--geometry", type=parse_geometry, default=None,
                    help="derive every clip to this FRAMESxHEIGHTxWIDTH before training (after --first-frames), "
                         "as a cascade stage derives its input; the model's own size")
    ap.add_argument("--keep-rates", type=float, nargs="*", default=[1.0],
                    help="SuperViT: token keeping rates, one drawn per batch (1.0 = no keeping)")
    ap.add_argument("--keep-layers", type=int, nargs="*", default=[], help="layers that keep tokens when rate < 1")
    ap.add_argument("--motion-init", type=float, default=0.0,
                    help="fraction of embedding channels initialised as temporal differences (0: plain LeCun init)")
    ap.add_argument("--flow-init", type=int, default=0, metavar="BLOCKS",
                    help="wire the first two blocks to compute the clip's motion moments at init (translation, "
                         "divergence, curl), from derivative filters on BLOCKS x BLOCKS sub-squares of each patch "
                         "(see flow_init; 0: off)")
    ap.add_argument("--flow-freeze", type=float, default=1.0, metavar="FRACTION",
                    help="with --flow-init, keep the wired weights fixed for this fraction of the steps (with "
                         "--init, give the BLOCKS and --seed the saved model was wired with: its wiring is kept, not redone)")
    ap.add_argument("--motion-gain", type=float, default=1.0, help="scale of the temporal-difference channels at init")
    ap.add_argument("--shake", type=float, default=0.0,
                    help="probability of shaking a clip: every frame moved by a random sub-pixel offset (0: off)")
    ap.add_argument("--shake-amplitude", type=float, default=0.007,
                    help="largest shake offset per axis, as a fraction of the clip's short side")
    ap.add_argument("--token-aux-weight", type=float, default=0.0,
                    help="weight of a per-token auxiliary loss: regress each token's own image motion "
                         "(token_motion) from its features after block --token-aux-layer (experimental)")
    ap.add_argument("--token-aux-layer", type=int, default=1,
                    help="the block whose output the per-token auxiliary head reads (before the TokenLearner)")
    ap.add_argument("--aux-weight", type=float, default=0.0,
                    help="weight of the auxiliary loss: regress the clip's motion moments (mean flow, divergence, "
                         "curl; from image gradients, no labels) from the pooled features (0: off)")
    ap.add_argument("--posemb-init", type=float, default=0.0,
                    help="fraction of position-embedding channels initialised as smooth fields over time and space (0: normal 0.02)")
    ap.add_argument("--posemb-scale", type=float, default=1.0, help="amplitude (RMS) of those channels")
    return ap.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())
