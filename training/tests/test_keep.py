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
    tl = dataclasses.replace(BASE, tokenlearner=TokenLearnerConfig(num_tokens=2, loc=2, bottleneck_dim=4))
    with pytest.raises(ValueError, match="TokenLearner"):
        keep.check_keeping(tl, 0.5, (0,))
