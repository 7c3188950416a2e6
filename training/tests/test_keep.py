"""Tests of token keeping (tokenreel_ref/keep.py and model.apply(keep_rate=..., keep_layers=...))."""
from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tokenreel_ref import keep, model                              # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig  # noqa: E402

BASE = ModelConfig(num_frames=4, height=8, width=8, tubelet=(1, 2, 2), hidden_size=8,
                   num_layers=3, num_heads=2, mlp_dim=8, num_classes=3)     # 4*4*4 = 64 patches


def setup(classifier):
    cfg = dataclasses.replace(BASE, classifier=classifier)
    params = model.perturb_params(model.init_params(cfg, seed=0), seed=1)
    clips = np.random.default_rng(0).normal(size=(2, 4, 8, 8, 3)).astype(np.float32)
    return cfg, params, clips


@pytest.mark.parametrize("classifier", ["gap", "gmp", "gsp", "token"])
def test_rate_one_is_the_plain_model_exactly(classifier):
    cfg, params, clips = setup(classifier)
    plain = np.asarray(model.apply(cfg, params, clips))
    same = np.asarray(model.apply(cfg, params, clips, keep_rate=1.0, keep_layers=(0, 1, 2)))
    np.testing.assert_array_equal(same, plain)
    kept = np.asarray(model.apply(cfg, params, clips, keep_rate=0.5, keep_layers=(1,)))
    assert np.abs(kept - plain).max() > 1e-4                        # dropping tokens changes logits


@pytest.mark.parametrize("classifier", ["gap", "token"])
def test_keeping_everything_through_the_keep_path_matches_plain(classifier):
    # r = 0.99 with N = 64 (65 with cls): ceil(r N) = N, so the gather runs but keeps every token.
    cfg, params, clips = setup(classifier)
    plain = np.asarray(model.apply(cfg, params, clips))
    logits, margins = model.apply(cfg, params, clips, keep_rate=0.99, keep_layers=(0, 2), with_margins=True)
    assert sorted(margins) == [0, 2]
    np.testing.assert_allclose(np.asarray(logits), plain, rtol=1e-5, atol=1e-6)


def test_kept_count_is_ceil_rate_n():
    for n in (1, 2, 7, 16, 64, 197):
        for r in (0.01, 0.25, 0.5, 0.7, 0.9, 1.0):
            assert keep.keep_count(r, n, cls=False) == min(n, int(np.ceil(r * n)))
    # SuperViT's cls counts (field notes): 197 -> 139 -> 99 -> 71 at r = 0.7, 197 -> 100 -> 51 -> 27 at 0.5.
    for r, want in ((0.7, [139, 99, 71]), (0.5, [100, 51, 27])):
        n, got = 197, []
        for _ in range(3):
            n = keep.keep_count(r, n, cls=True)
            got.append(n)
        assert got == want
    assert keep.keep_count(1.0, 10, cls=True) == 10
    # Through the model: shapes after keep_tokens.
    x = np.arange(2 * 10 * 3, dtype=np.float32).reshape(2, 10, 3)
    w = np.full((2, 2, 10, 10), 0.1, np.float32)
    for r in (0.1, 0.35, 0.7, 1.0):
        assert keep.keep_tokens(x, w, r, cls=False)[0].shape == (2, int(np.ceil(r * 10)), 3)
        assert keep.keep_tokens(x, w, r, cls=True)[0].shape == (2, min(int(np.ceil(r * 10)), 9) + 1, 3)


def test_ranking_on_a_hand_made_attention_example():
    # One clip, 2 heads, 5 tokens; rows are queries, columns keys.
    a0 = np.array([[.1, .5, .1, .2, .1],
                   [.6, .1, .1, .1, .1],
                   [.2, .2, .2, .2, .2],
                   [.1, .1, .1, .6, .1],
                   [.1, .1, .4, .1, .3]], np.float32)
    a1 = np.array([[.0, .1, .8, .1, .0],
                   [.2, .2, .2, .2, .2],
                   [.1, .1, .1, .1, .6],
                   [.2, .2, .2, .2, .2],
                   [.0, .4, .2, .2, .2]], np.float32)
    w = np.stack([a0, a1])[None]                                        # [1, 2, 5, 5]
    x = np.arange(5, dtype=np.float32).reshape(1, 5, 1) * 10
    # Pooled: mean over heads and queries of column j.
    # Column sums 1.1+.5, 1+1, .9+1.5, 1.2+.8, .8+1.2 over 10 rows: .16 .20 .24 .20 .20.
    np.testing.assert_allclose(np.asarray(keep.token_scores(w, cls=False))[0], [.16, .2, .24, .2, .2], atol=1e-6)
    kept, _ = keep.keep_tokens(x, w, 0.6, cls=False)                    # 3: token 2, then the tie 1, 3 (4 loses)
    np.testing.assert_array_equal(np.asarray(kept)[0, :, 0], [10, 20, 30])
    kept, _ = keep.keep_tokens(x, w, 0.2, cls=False)                    # 1 token: 2
    np.testing.assert_array_equal(np.asarray(kept)[0, :, 0], [20])
    kept, _ = keep.keep_tokens(x, w, 0.7, cls=False)                    # ceil(3.5) = 4: all but 0
    np.testing.assert_array_equal(np.asarray(kept)[0, :, 0], [10, 20, 30, 40])
    # cls: row 0 averaged over heads, patches 1..4: .3 .45 .15 .05; ceil(.4 * 5) = 2 -> cls, 1, 2.
    kept, _ = keep.keep_tokens(x, w, 0.4, cls=True)
    np.testing.assert_array_equal(np.asarray(kept)[0, :, 0], [0, 10, 20])
    kept, _ = keep.keep_tokens(x, w, 0.2, cls=True)                     # 1 patch: the most attended, 2
    np.testing.assert_array_equal(np.asarray(kept)[0, :, 0], [0, 20])


def test_ties_break_by_lower_index_and_order_is_kept():
    s = np.array([[0.2, 0.5, 0.2, 0.2, 0.5, 0.1]], np.float32)
    idx, margin = keep.select(s, 3)                                     # 1, 4, then the first 0.2: 0
    np.testing.assert_array_equal(np.asarray(idx), [[0, 1, 4]])
    assert float(margin[0]) == 0.0                                      # a tie at the cut
    idx, _ = keep.select(s, 4)
    np.testing.assert_array_equal(np.asarray(idx), [[0, 1, 2, 4]])


def test_bad_options_are_rejected():
    cfg, params, clips = setup("gap")
    for r in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            model.apply(cfg, params, clips, keep_rate=r, keep_layers=(1,))
    with pytest.raises(ValueError, match="out of range"):
        model.apply(cfg, params, clips, keep_rate=0.5, keep_layers=(3,))
    with pytest.raises(ValueError, match="empty"):
        keep.check_keeping(cfg, 0.5, ())


# TokenLearner models ------------------------------------------------------------------------
# BASE has T' = 4 temporal slices of P = 16 positions; S = 2 learned tokens per slice.
TL = TokenLearnerConfig(num_tokens=2, loc=2, bottleneck_dim=4)


def tl_setup(**tl):
    cfg = dataclasses.replace(BASE, tokenlearner=dataclasses.replace(TL, **tl))
    params = model.perturb_params(model.init_params(cfg, seed=0), seed=1)
    clips = np.random.default_rng(0).normal(size=(2, 4, 8, 8, 3)).astype(np.float32)
    return cfg, params, clips


def numpy_keep_per_slice(x, w, rate, groups):
    """Independent reference: per clip and slice, the ceil(rate P) columns of the largest mean
    attention (ties to the lower index), kept in order; the margin is the smallest over slices."""
    x, w = np.asarray(x), np.asarray(w)
    b, n, _ = x.shape
    p = n // groups
    k = int(np.ceil(rate * p))
    scores = w.mean(axis=(1, 2))                                         # [B, N]
    out, margins = [], []
    for bi in range(b):
        rows, gaps = [], []
        for g in range(groups):
            s = scores[bi, g * p:(g + 1) * p]
            order = sorted(range(p), key=lambda j: (-s[j], j))
            rows += [g * p + j for j in sorted(order[:k])]
            gaps.append(s[order[k - 1]] - s[order[k]] if k < p else np.inf)
        out.append(x[bi, rows])
        margins.append(min(gaps))
    return np.stack(out), np.array(margins)


def test_keeping_per_slice_matches_a_numpy_reference():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4 * 6, 3)).astype(np.float32)               # 4 slices of 6 tokens
    w = rng.random(size=(2, 2, 24, 24)).astype(np.float32)
    w /= w.sum(-1, keepdims=True)
    for rate in (0.1, 0.5, 0.6, 1.0):
        got, margin = keep.keep_tokens(x, w, rate, cls=False, groups=4)
        want, want_margin = numpy_keep_per_slice(x, w, rate, 4)
        assert got.shape == (2, 4 * int(np.ceil(rate * 6)), 3)
        np.testing.assert_array_equal(np.asarray(got), want)
        np.testing.assert_allclose(np.asarray(margin), want_margin, atol=1e-7)


def test_per_slice_ranking_differs_from_global_on_a_hand_made_example():
    # 2 slices of 3 tokens; slice 0 is attended much more than slice 1. Keeping half globally
    # would take tokens 0, 1, 2 (all of slice 0); per slice it takes the best 2 of each slice.
    scores = np.array([.30, .25, .20, .05, .15, .05], np.float32)
    w = np.tile(scores, (1, 1, 6, 1))                                   # [1, 1, 6, 6]: every query row the same
    x = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
    kept, margin = keep.keep_tokens(x, w, 0.5, cls=False, groups=1)
    np.testing.assert_array_equal(np.asarray(kept)[0, :, 0], [0, 1, 2])
    kept, margin = keep.keep_tokens(x, w, 0.5, cls=False, groups=2)     # ceil(1.5) = 2 per slice
    np.testing.assert_array_equal(np.asarray(kept)[0, :, 0], [0, 1, 3, 4])  # slice 1: .15, then the tie .05 -> 3
    assert float(margin[0]) == pytest.approx(0.0)                       # slice 1 cuts at a tie (.05 vs .05)


def test_keep_groups_follow_the_tokenlearner_location():
    cfg = dataclasses.replace(BASE, tokenlearner=TL)
    assert [keep.keep_groups(cfg, l) for l in range(3)] == [4, 4, 1]
    assert [keep.keep_groups(BASE, l) for l in range(3)] == [1, 1, 1]


@pytest.mark.parametrize("tl", [dict(), dict(use_tokenfuse=True), dict(loc=1), dict(loc=0, version="1.0")])
def test_tokenlearner_keeping_everything_matches_plain_and_half_changes_it(tl):
    cfg, params, clips = tl_setup(**tl)
    loc = cfg.tokenlearner.loc
    layers = (0, 1) if cfg.tokenlearner.use_tokenfuse else tuple(range(3))
    plain = np.asarray(model.apply(cfg, params, clips))
    # r = 0.99: ceil(0.99 P) = P per slice (P = 16) and ceil(0.99 * 8) = 8 learned tokens.
    logits, margins = model.apply(cfg, params, clips, keep_rate=0.99, keep_layers=layers, with_margins=True)
    assert sorted(margins) == list(layers)
    np.testing.assert_allclose(np.asarray(logits), plain, rtol=1e-5, atol=1e-6)
    half = np.asarray(model.apply(cfg, params, clips, keep_rate=0.5, keep_layers=layers))
    assert np.abs(half - plain).max() > 1e-4, f"loc {loc}"


def test_tokenlearner_after_per_slice_keeping_sees_fewer_positions():
    # v1.1 at loc 2: keep 0.3 at layer 0 leaves ceil(4.8) = 5 of 16 positions per slice; layer 1
    # keeps ceil(1.5) = 2 of them; TokenLearner pools those 2 into S = 2 tokens per slice, 8 in
    # all, and layer 2 keeps ceil(2.4) = 3 across slices.
    cfg, params, clips = tl_setup()
    m = model.TokenReelViT(cfg, 0.3, (0, 1, 2))
    _, state = m.apply({"params": params}, clips, capture_intermediates=True, mutable=["intermediates"])
    t = state["intermediates"]["Transformer"]
    shapes = {k: t[k]["__call__"][0].shape for k in ("encoderblock_0", "encoderblock_1", "encoderblock_2")}
    assert shapes == {"encoderblock_0": (2, 20, 8), "encoderblock_1": (2, 8, 8), "encoderblock_2": (2, 3, 8)}
    assert t["TokenLearnerModuleV11_0"]["__call__"][0].shape == (2 * 4, 2, 8)
    assert all(np.isfinite(np.asarray(t[k]["keep_margin"][0])).all() for k in shapes)   # each dropped some


def test_tokenlearner_combinations_that_cannot_keep_are_rejected():
    fuse, _, _ = tl_setup(use_tokenfuse=True)                          # loc 2
    keep.check_keeping(fuse, 0.5, (0, 1))
    with pytest.raises(ValueError, match=r"layers \[2\] are at or after tokenlearner.loc 2.*TokenFuser"):
        keep.check_keeping(fuse, 0.5, (1, 2))
    fuse0, _, _ = tl_setup(use_tokenfuse=True, loc=0)
    with pytest.raises(ValueError, match="no layer to keep at"):
        keep.check_keeping(fuse0, 0.5, (0,))
    v10, _, _ = tl_setup(version="1.0", loc=1)
    keep.check_keeping(v10, 0.5, (1, 2))
    with pytest.raises(ValueError, match=r"layers \[0\] come before tokenlearner.loc 1.*v1.0"):
        keep.check_keeping(v10, 0.5, (0, 2))
    v11, _, _ = tl_setup()
    assert keep.check_keeping(v11, 0.5, (2, 0, 1)) == (0, 1, 2)
