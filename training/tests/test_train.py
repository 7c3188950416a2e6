"""The trainer itself: a tiny run on a toy motion set lowers the loss and exports weights that the
reference (and so TokenReel) loads, and the augmentations keep labels true."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import train                        # noqa: E402
from tokenreel_ref import export    # noqa: E402


def toy_motion_set(n: int, seed: int, frames=8, size=32):
    """A bright square that stays, moves left or moves right: 'static', 'left', 'right'."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((n, frames, size, size, 3), np.uint8)
    labels = np.zeros(n, np.int32)
    for i in range(n):
        cls = i % 3                                    # 0 static, 1 left, 2 right
        y = rng.integers(4, size - 12)
        x0 = rng.integers(8, size - 16)
        for t in range(frames):
            dx = {0: 0, 1: -t, 2: t}[cls] * 8 // frames
            x = int(np.clip(x0 + dx, 0, size - 8))
            pixels[i, t, y:y + 8, x:x + 8] = 255
        labels[i] = cls
    return pixels, labels


def write_npz(path, pixels, labels):
    np.savez(path, pixels=pixels, labels=labels, label_names=np.array(train.MOTION10),
             normalization=json.dumps({"type": "zero_centered"}))


def test_tiny_run_lowers_loss_and_exports(tmp_path):
    pixels, labels = toy_motion_set(96, seed=1)
    write_npz(tmp_path / "train.npz", pixels, labels)
    out = tmp_path / "tiny.safetensors"
    report = train.train(train.parse_args([
        "--train", str(tmp_path / "train.npz"), "--out", str(out), "--tiny", "--steps", "60",
        "--batch", "16", "--lr", "3e-3", "--log-every", "10", "--no-augment", "--seed", "0"]))
    assert report["steps"] == 60
    assert report["last_loss"] < 0.8 * report["first_loss"], report
    cfg, params, labels_out, norm = export.load(str(out))
    assert labels_out == train.MOTION10
    assert cfg.num_frames == 8 and cfg.height == 32 and cfg.width == 32
    assert norm == {"type": "zero_centered"}
    assert os.path.exists(str(out) + ".train.json")


def test_augmentations_map_labels_with_the_pixels():
    names = train.MOTION10
    aug = train.Augmenter(names, np.random.default_rng(0))
    L, R = names.index("left"), names.index("right")
    assert aug.hflip[L] == R and aug.hflip[R] == L
    assert aug.vflip[L] == L and aug.vflip[names.index("up")] == names.index("down")
    assert aug.reverse[names.index("zoom_in")] == names.index("zoom_out")
    for table in (aug.hflip, aug.vflip, aug.reverse):
        assert sorted(table.tolist()) == list(range(len(names)))          # a permutation
        assert table[names.index("static")] == names.index("static")
        assert table[names.index("blink")] == names.index("blink")
    # A 'left' clip flipped horizontally must move right: check on the pixels themselves.
    pixels, labels = toy_motion_set(30, seed=2)
    out, out_labels = aug(pixels, labels)
    for clip, lab in zip(out, out_labels):
        lum = clip.astype(np.float32).mean(-1)                            # [T,H,W]
        # The object is what differs from the background (the frame's median), whatever the
        # colour augmentations did to either.
        xs = [np.nonzero((np.abs(f - np.median(f)) > 40).any(0))[0].mean() for f in (lum[0], lum[-1])]
        dx = xs[1] - xs[0]
        if names[lab] == "left":
            assert dx < 0
        elif names[lab] == "right":
            assert dx > 0
        else:
            assert abs(dx) < 1e-6
