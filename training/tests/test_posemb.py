"""Tests of the position-embedding resize (tokenreel_ref/posemb.py)."""
from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tokenreel_ref import model, posemb                          # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig  # noqa: E402

BASE = ModelConfig(num_frames=4, height=8, width=8, tubelet=(2, 4, 4), hidden_size=8,
                   num_layers=1, num_heads=2, mlp_dim=8, num_classes=3)


def pe(params):
    return np.asarray(params["Transformer"]["posembed_input"]["pos_embedding"])


@pytest.mark.parametrize("classifier", ["gap", "token"])
def test_identity_when_grid_unchanged(classifier):
    cfg = dataclasses.replace(BASE, classifier=classifier)
    params = model.perturb_params(model.init_params(cfg, seed=0), seed=1)
    # 5x9x11 floors to the same 2x2x2 grid as 4x8x8.
    new, new_cfg = posemb.resize_posemb(params, cfg, 5, 9, 11)
    assert new_cfg.grid == cfg.grid and (new_cfg.num_frames, new_cfg.height, new_cfg.width) == (5, 9, 11)
    np.testing.assert_array_equal(pe(new), pe(params))
    assert new["embedding"] is params["embedding"]           # other weights shared


def test_hand_example_upsampling():
    # One axis 2 -> 4 with half-pixel centres: x = (i + .5) * 2/4 - .5 = -.25, .25, .75, 1.25,
    # clamped to [0, 1]: weights of v1 are 0, .25, .75, 1.
    g = np.zeros((2, 1, 1, 2), np.float32)
    g[:, 0, 0, 0] = [0.0, 4.0]
    g[:, 0, 0, 1] = [1.0, -1.0]
    out = posemb.resize_grid(g, (4, 1, 1))
    np.testing.assert_allclose(out[:, 0, 0, 0], [0.0, 1.0, 3.0, 4.0], atol=1e-6)
    np.testing.assert_allclose(out[:, 0, 0, 1], [1.0, 0.5, -0.5, -1.0], atol=1e-6)


def test_hand_example_bilinear_space_and_downsampling():
    # Space 2x2 -> 3x3: x = (i + .5) * 2/3 - .5 = -1/6, 1/2, 7/6 -> clamped 0, .5, 1.
    g = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32).reshape(1, 2, 2, 1)
    out = posemb.resize_grid(g, (1, 3, 3))[0, :, :, 0]
    np.testing.assert_allclose(out, [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]], atol=1e-6)
    # Time 4 -> 2 (downsampling, no antialias): x = (i + .5) * 2 - .5 = .5, 2.5 -> midpoints.
    t = np.array([0.0, 10.0, 20.0, 40.0], np.float32).reshape(4, 1, 1, 1)
    np.testing.assert_allclose(posemb.resize_grid(t, (2, 1, 1)).ravel(), [5.0, 30.0], atol=1e-6)
    # 3 -> 2: x = .25, 1.75.
    t3 = np.array([0.0, 8.0, 16.0], np.float32).reshape(3, 1, 1, 1)
    np.testing.assert_allclose(posemb.resize_grid(t3, (2, 1, 1)).ravel(), [2.0, 14.0], atol=1e-6)


def test_matches_explicit_formula_on_all_axes():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 2, 5, 4)).astype(np.float32)

    def axis(v, m, ax):
        n = v.shape[ax]
        x = np.clip((np.arange(m) + 0.5) * n / m - 0.5, 0, n - 1)
        i0 = np.floor(x).astype(int)
        i1 = np.minimum(i0 + 1, n - 1)
        f = (x - i0).reshape([-1 if a == ax else 1 for a in range(v.ndim)])
        return np.take(v, i0, ax) * (1 - f) + np.take(v, i1, ax) * f

    want = axis(axis(axis(g, 5, 0), 3, 1), 4, 2)
    np.testing.assert_allclose(posemb.resize_grid(g, (5, 3, 4)), want, atol=1e-5)


def test_cls_row_preserved_and_grid_resized():
    cfg = dataclasses.replace(BASE, classifier="token")
    params = model.perturb_params(model.init_params(cfg, seed=0), seed=1)
    new, new_cfg = posemb.resize_posemb(params, cfg, 6, 12, 8)
    assert new_cfg.grid == (3, 3, 2)
    assert pe(new).shape == (1, 1 + 18, 8)
    np.testing.assert_array_equal(pe(new)[0, 0], pe(params)[0, 0])
    # The model runs at the new geometry with the resized embedding.
    logits = model.apply(new_cfg, new, np.zeros((1, 6, 12, 8, 3), np.float32))
    assert logits.shape == (1, 3)
    # The input tree is untouched.
    assert pe(params).shape == (1, 1 + 8, 8)


def test_bad_geometries_are_rejected():
    with pytest.raises(ValueError, match="tubelet"):
        posemb.resize_posemb(model.init_params(BASE), BASE, 1, 8, 8)
    tl = dataclasses.replace(BASE, tokenlearner=TokenLearnerConfig(version="1.0", num_tokens=2, loc=0))
    with pytest.raises(ValueError, match="square"):
        posemb.resize_posemb(model.init_params(tl), tl, 4, 8, 12)
