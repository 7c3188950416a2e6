#!/usr/bin/env python3
"""A second, independent Motion10 generator: NumPy rendering piped to the ffmpeg CLI.

MOTION10.md asks that a model trained on one generator that honours the contract works on clips
from another. `tokenreel synth motion10` (Sources/TokenReelSynth) made every clip the bundled
model was trained on; this script shares none of its code and makes different choices wherever
the contract leaves them open, so `tokenreel eval` on its output estimates how the model does on
Motion10 clips from someone else:

    shapes       T, crescent, key, star with one long ray, Z, teardrop, house (none of the
                 trained shapes: arrow, L, F, notched triangle, irregular polygon, flag)
    backgrounds  solid, checkerboard, radial gradient, smooth blotches, diagonal stripes
    motion       translation with up to +-20% speed wobble; geometric zoom; rotation at a
                 constant rate from a random start angle; blink with a random duty cycle
    encoding     the ffmpeg CLI: libx264/mp4, mpeg4/avi, libvpx-vp9/webm, mjpeg/mov,
                 libx265/mkv (whichever this ffmpeg has)

    .venv/bin/python scripts/motion10-alt.py --out scratch/alt --per-class 20 --seed 7
    .build/release/tokenreel eval scratch/alt -o scratch/alt-eval

Deterministic from the seed (the encoders' output may differ between ffmpeg builds).
Conventions: image coordinates x right, y down; an angle grows clockwise on screen.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np

CLASSES = ["static", "left", "right", "up", "down", "zoom_in", "zoom_out", "rotate_cw", "rotate_ccw", "blink"]
SIZES = [(96, 96), (128, 96), (176, 144), (240, 320), (320, 180), (360, 360), (480, 360), (640, 480), (270, 480)]
ENCODERS = [("libx264", "mp4", ["-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "20"]),
            ("mpeg4", "avi", ["-pix_fmt", "yuv420p", "-q:v", "4"]),
            ("libvpx-vp9", "webm", ["-pix_fmt", "yuv420p", "-b:v", "0", "-crf", "32", "-deadline", "realtime"]),
            ("mjpeg", "mov", ["-pix_fmt", "yuvj420p", "-q:v", "4"]),
            ("libx265", "mkv", ["-pix_fmt", "yuv420p", "-preset", "ultrafast", "-x265-params", "log-level=error"])]


# Shapes: masks in canonical coordinates (u right, v down), all inside the unit disc -----------

def polygon(u, v, pts):
    """Even-odd point-in-polygon test, vectorised over the pixel grid."""
    inside = np.zeros(u.shape, bool)
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]):
        crosses = (y1 > v) != (y2 > v)
        xcross = (x2 - x1) * (v - y1) / (y2 - y1 + 1e-12) + x1
        inside ^= crosses & (u < xcross)
    return inside


def shape_mask(kind: str, u, v):
    if kind == "T":
        return ((np.abs(v + 0.6) < 0.25) & (np.abs(u) < 0.9)) | ((np.abs(u) < 0.22) & (v > -0.6) & (v < 0.95))
    if kind == "crescent":
        return (u * u + v * v < 0.95 ** 2) & ((u - 0.4) ** 2 + (v + 0.15) ** 2 > 0.7 ** 2)
    if kind == "key":
        return (((u + 0.55) ** 2 + v * v) < 0.4 ** 2) | ((np.abs(v) < 0.13) & (u > -0.3) & (u < 0.95)) \
            | ((u > 0.55) & (u < 0.72) & (v > 0) & (v < 0.42)) | ((u > 0.8) & (u < 0.95) & (v > 0) & (v < 0.3))
    if kind == "star":
        ang = np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, 0.6, 0.25)
        rad[0] = 0.98                                                     # one long ray
        return polygon(u, v, [(r * np.cos(a), r * np.sin(a)) for r, a in zip(rad, ang)])
    if kind == "Z":
        return polygon(u, v, [(-0.8, -0.8), (0.8, -0.8), (0.8, -0.5), (-0.3, 0.5), (0.8, 0.5), (0.8, 0.8),
                              (-0.8, 0.8), (-0.8, 0.5), (0.3, -0.5), (-0.8, -0.5)])
    if kind == "teardrop":
        return ((u + 0.35) ** 2 + v * v < 0.55 ** 2) | polygon(u, v, [(-0.35, -0.55), (0.95, 0.0), (-0.35, 0.55)])
    if kind == "house":
        return polygon(u, v, [(-0.7, 0.8), (-0.7, -0.1), (0.0, -0.8), (0.3, -0.5), (0.3, -0.75), (0.5, -0.75),
                              (0.5, -0.3), (0.7, -0.1), (0.7, 0.8)])
    raise ValueError(kind)


SHAPES = ["T", "crescent", "key", "star", "Z", "teardrop", "house"]


def luma(rgb):
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def background(kind: str, h: int, w: int, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c1 = rng.uniform(0, 1, 3)
    c2 = np.clip(c1 + rng.uniform(-0.2, 0.2, 3), 0, 1)                   # textures of modest contrast
    if kind == "solid":
        t = np.zeros((h, w), np.float32)
    elif kind == "checker":
        cell = rng.integers(6, 24)
        t = ((x // cell + y // cell) % 2).astype(np.float32)
    elif kind == "radial":
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.clip(np.hypot(x - cx, y - cy) / max(h, w), 0, 1)
    elif kind == "blotches":
        g = rng.uniform(0, 1, (5, 5)).astype(np.float32)
        gy, gx = y / max(h - 1, 1) * 4, x / max(w - 1, 1) * 4
        y0, x0 = np.minimum(gy.astype(int), 3), np.minimum(gx.astype(int), 3)
        fy, fx = gy - y0, gx - x0
        t = (g[y0, x0] * (1 - fy) * (1 - fx) + g[y0 + 1, x0] * fy * (1 - fx)
             + g[y0, x0 + 1] * (1 - fy) * fx + g[y0 + 1, x0 + 1] * fy * fx)
    else:                                                                 # diagonal stripes
        period = rng.uniform(8, 30)
        t = (np.sin((x + y) * 2 * np.pi / period) > 0).astype(np.float32)
    return c1[None, None] * (1 - t[..., None]) + c2[None, None] * t[..., None]


# Motion: centre (x, y) in pixels, angle (rad, clockwise), scale (radius in px), visible --------

def trajectory(cls: str, n: int, h: int, w: int, rng):
    short = min(h, w)
    t = np.linspace(0, 1, n)
    size = rng.uniform(0.15, 0.35) * short                                # linear size (diameter)
    angle0 = rng.uniform(0, 2 * np.pi)
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h
    xs, ys = np.full(n, cx), np.full(n, cy)
    angle, scale, visible = np.full(n, angle0), np.full(n, size / 2), np.ones(n, bool)
    if cls == "static":
        xs += rng.uniform(-0.006, 0.006, n) * short
        ys += rng.uniform(-0.006, 0.006, n) * short
    elif cls in ("left", "right", "up", "down"):
        along_w = cls in ("left", "right")
        extent = w if along_w else h
        dist = rng.uniform(0.35, 0.55) * extent
        wobble = rng.uniform(0, 0.2)
        s = t + wobble * np.sin(2 * np.pi * t) / (2 * np.pi)              # roughly constant speed
        sign = -1 if cls in ("left", "up") else 1
        start = extent / 2 - sign * dist / 2 + rng.uniform(-0.03, 0.03) * extent
        path = start + sign * dist * s
        drift = rng.uniform(-0.03, 0.03) * (h if along_w else w) * t
        if along_w:
            xs, ys = path, ys + drift
        else:
            ys, xs = path, xs + drift
    elif cls in ("zoom_in", "zoom_out"):
        factor = rng.uniform(1.85, 2.2)
        small = rng.uniform(0.15, 0.35 / factor) * short / 2
        g = factor ** (t if cls == "zoom_in" else 1 - t)
        scale = small * g
    elif cls in ("rotate_cw", "rotate_ccw"):
        total = rng.uniform(np.pi * 1.1, np.pi * 2)
        angle = angle0 + (1 if cls == "rotate_cw" else -1) * total * t
    elif cls == "blink":
        cycles = rng.uniform(2.2, 5)
        duty = rng.uniform(0.35, 0.65)
        phase = rng.uniform(0, 1)
        visible = ((t * cycles + phase) % 1.0) < duty                      # >= 2 full cycles
    return xs, ys, angle, scale, visible


def render(cls: str, shape: str, h: int, w: int, n: int, rng, ss: int = 2):
    bg = background(rng.choice(["solid", "checker", "radial", "blotches", "stripes"]), h, w, rng)
    bl = float(luma(bg).mean())
    # Object colour: a random hue whose luminance differs from the background's by >= 0.3.
    for _ in range(100):
        colour = rng.uniform(0, 1, 3)
        if abs(float(luma(colour)) - bl) >= 0.3:
            break
    else:
        colour = np.zeros(3) if bl > 0.5 else np.ones(3)
    noise = rng.uniform(0, 0.04)
    xs, ys, angle, scale, visible = trajectory(cls, n, h, w, rng)
    sy, sx = np.mgrid[0:h * ss, 0:w * ss].astype(np.float32)
    sx, sy = (sx + 0.5) / ss, (sy + 0.5) / ss
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        dx, dy = sx - xs[i], sy - ys[i]
        c, s = np.cos(angle[i]), np.sin(angle[i])
        u, v = (c * dx + s * dy) / scale[i], (-s * dx + c * dy) / scale[i]   # undo the turn
        cover = shape_mask(shape, u, v).reshape(h, ss, w, ss).mean(axis=(1, 3))[..., None] if visible[i] else 0.0
        img = bg * (1 - cover) + colour * cover
        img = img + rng.normal(0, noise, img.shape)
        frames[i] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return frames


def available_encoders():
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return [e for e in ENCODERS if f" {e[0]} " in out]


def encode(frames: np.ndarray, fps: int, path: str, encoder):
    name, _, args = encoder
    n, h, w, _ = frames.shape
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-c:v", name] + args + [path]
    subprocess.run(cmd, input=frames.tobytes(), check=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory (DIR/<class>/<name>.<ext>)")
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    encoders = available_encoders()
    if not encoders:
        sys.exit("motion10-alt: this ffmpeg has none of the encoders " + ", ".join(e[0] for e in ENCODERS))
    rng = np.random.default_rng(args.seed)
    for k in range(args.per_class):
        for cls in CLASSES:
            h, w = SIZES[rng.integers(len(SIZES))]
            fps = int(rng.integers(12, 31))
            n = max(2, int(round(rng.uniform(2.0, 4.0) * fps)))
            shape = SHAPES[rng.integers(len(SHAPES))]
            encoder = encoders[rng.integers(len(encoders))]
            frames = render(cls, shape, h, w, n, rng)
            os.makedirs(os.path.join(args.out, cls), exist_ok=True)
            encode(frames, fps, os.path.join(args.out, cls, f"alt-{cls}-{k:04d}.{encoder[1]}"), encoder)
        print(f"{(k + 1) * len(CLASSES)} clips", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
