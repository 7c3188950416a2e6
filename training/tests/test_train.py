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
    U, D = names.index("up"), names.index("down")
    assert aug.transpose[L] == U and aug.transpose[R] == D and aug.transpose[U] == L
    assert aug.transpose[names.index("rotate_cw")] == names.index("rotate_ccw")
    for table in (aug.hflip, aug.vflip, aug.reverse, aug.transpose):
        assert sorted(table.tolist()) == list(range(len(names)))          # a permutation
        assert table[names.index("static")] == names.index("static")
        assert table[names.index("blink")] == names.index("blink")
    # A 'left' clip flipped horizontally must move right, transposed must move up: check on the
    # pixels themselves.
    pixels, labels = toy_motion_set(60, seed=2)
    out, out_labels = aug(pixels, labels)
    seen = set()
    for clip, lab in zip(out, out_labels):
        lum = clip.astype(np.float32).mean(-1)                            # [T,H,W]
        # The object is what differs from the background (the frame's median), whatever the
        # colour augmentations did to either.
        def centre(f):
            mask = np.abs(f - np.median(f)) > 40
            return np.nonzero(mask.any(0))[0].mean(), np.nonzero(mask.any(1))[0].mean()
        (x0, y0), (x1, y1) = centre(lum[0]), centre(lum[-1])
        dx, dy = x1 - x0, y1 - y0
        name = names[lab]
        seen.add(name)
        assert (dx < 0) == (name == "left") and (dx > 0) == (name == "right"), (name, dx, dy)
        assert (dy < 0) == (name == "up") and (dy > 0) == (name == "down"), (name, dx, dy)
    assert {"left", "right", "up", "down", "static"} <= seen


def test_derive_takes_middle_frames_and_box_filters():
    clips = np.zeros((1, 16, 4, 6, 3), np.uint8)
    for t in range(16):
        clips[0, t] = t                                        # frame t has value t everywhere
    out = train.derive(clips, 8, 4, 6)
    assert [int(v) for v in out[0, :, 0, 0, 0]] == [1, 3, 5, 7, 9, 11, 13, 15]
    img = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4, 1).repeat(3, axis=-1) * 10
    small = train.derive(img, 1, 2, 2)                         # 2x2 block means, rounded half up
    assert small[0, 0, :, :, 0].tolist() == [[25, 45], [105, 125]]
    third = train.derive(np.array([0, 10, 21], np.uint8).reshape(1, 1, 1, 3, 1).repeat(3, -1), 1, 1, 2)
    # width 3 -> 2: [0, 1.5) and [1.5, 3): (0 + 10*0.5)/1.5 = 3.33 -> 3, (10*0.5 + 21)/1.5 = 17.33 -> 17
    assert third[0, 0, 0, :, 0].tolist() == [3, 17]
    assert train.derive(clips, 16, 4, 6) is clips


def test_motion_init_channels_see_only_change():
    import jax.numpy as jnp
    from tokenreel_ref import model
    cfg = train.tiny_config(8, 32, 32, 10)
    params = train.motion_init(model.init_params(cfg, seed=0), 0.5, 8.0, seed=0)
    k = np.asarray(params["embedding"]["kernel"])              # [t, h, w, 3, D]
    d = k.shape[-1]
    assert np.allclose(k.sum(axis=0)[..., : d // 2], 0, atol=1e-6)          # zero-sum in time
    assert np.allclose(k[0, ..., d // 2:], k[1, ..., d // 2:])               # appearance: same per frame
    static = np.ones((1, 8, 32, 32, 3), np.float32) * 0.3
    out = model.TokenReelViT(cfg).apply({"params": params}, jnp.asarray(static), capture_intermediates=True,
                                        mutable=["intermediates"])[1]["intermediates"]["embedding"]["__call__"][0]
    bias = np.asarray(params["embedding"]["bias"])
    assert np.allclose(np.asarray(out)[..., : d // 2], bias[: d // 2], atol=1e-5)   # a still clip: nothing


def test_supervit_run_trains_every_operating_point(tmp_path):
    pixels, labels = toy_motion_set(64, seed=2)
    write_npz(tmp_path / "train.npz", pixels, labels)
    write_npz(tmp_path / "val.npz", *toy_motion_set(24, seed=3))
    out = tmp_path / "super.safetensors"
    report = train.train(train.parse_args([
        "--train", str(tmp_path / "train.npz"), "--val", str(tmp_path / "val.npz"), "--out", str(out),
        "--tiny", "--steps", "12", "--batch", "8", "--log-every", "4", "--no-augment",
        "--sizes", "4x16x16", "--keep-rates", "1.0", "0.5", "--keep-layers", "0"]))
    assert [p["geometry"] for p in report["operating_points"]] == [[8, 32, 32]] * 2 + [[4, 16, 16]] * 2
    assert set(report["val_accuracy_by_point"]) == {"8x32x32@1", "8x32x32@0.5", "4x16x16@1", "4x16x16@0.5"}
    cfg, _, _, _ = export.load(str(out))
    assert (cfg.num_frames, cfg.height, cfg.width) == (8, 32, 32)      # weights keep the base geometry
