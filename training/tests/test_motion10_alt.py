"""scripts/motion10-alt.py, the independent Motion10 generator: its motions honour the contract
(MOTION10.md) and its rendered pixels move the way the label says."""
import importlib.util
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
spec = importlib.util.spec_from_file_location("motion10_alt", os.path.join(HERE, "..", "..", "scripts", "motion10-alt.py"))
alt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(alt)

import train  # noqa: E402


def test_trajectories_honour_the_contract():
    rng = np.random.default_rng(0)
    for _ in range(40):
        for cls in alt.CLASSES:
            h, w = alt.SIZES[rng.integers(len(alt.SIZES))]
            n = int(rng.integers(24, 121))
            xs, ys, angle, scale, visible = alt.trajectory(cls, n, h, w, rng)
            short = min(h, w)
            size = 2 * scale                                  # shapes fit the unit disc
            assert (size >= 0.15 * short - 1e-6).all() and (size <= 0.35 * short + 1e-6).all(), (cls, size / short)
            moved = np.hypot(xs - xs[0], ys - ys[0])
            turned = abs(angle[-1] - angle[0])
            if cls in ("static", "blink"):
                assert moved.max() <= 0.02 * short and turned == 0 and np.ptp(scale) == 0, cls
            if cls in ("left", "right"):
                dx = (xs[-1] - xs[0]) * (1 if cls == "right" else -1)
                assert dx >= 0.3 * w and abs(ys[-1] - ys[0]) <= 0.05 * h, (cls, dx / w)
            if cls in ("up", "down"):
                dy = (ys[-1] - ys[0]) * (1 if cls == "down" else -1)
                assert dy >= 0.3 * h and abs(xs[-1] - xs[0]) <= 0.05 * w, (cls, dy / h)
            if cls in ("zoom_in", "zoom_out"):
                grow = scale[-1] / scale[0] if cls == "zoom_in" else scale[0] / scale[-1]
                assert grow >= 1.8 and moved.max() <= 0.05 * short, (cls, grow)
            if cls in ("rotate_cw", "rotate_ccw"):
                total = (angle[-1] - angle[0]) * (1 if cls == "rotate_cw" else -1)
                assert np.pi <= total <= 2 * np.pi and moved.max() <= 0.02 * short, (cls, total)
            if cls == "blink":
                switches = np.count_nonzero(visible[1:] != visible[:-1])
                assert switches >= 4, switches                 # at least two full cycles
            else:
                assert visible.all()


def test_rendered_clips_move_as_labelled():
    """The image-gradient motion moments of rendered clips (train.motion_moments) have the sign
    each label implies: mean flow for translations, divergence for zooms, curl for rotations."""
    rng = np.random.default_rng(1)
    expect = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1),
              "zoom_in": (2, 1), "zoom_out": (2, -1), "rotate_cw": (3, 1), "rotate_ccw": (3, -1)}
    for cls, (k, sign) in expect.items():
        for shape in alt.SHAPES[:4]:
            frames = alt.render(cls, shape, 96, 128, 16, rng)
            assert frames.shape == (16, 96, 128, 3) and frames.dtype == np.uint8
            m = train.motion_moments(frames[None])[0]
            assert np.sign(m[k]) == sign, (cls, shape, m)
