"""Tests of the Flax reference itself: Scenic's parameter tree, and invariants of the layers.

scenic_param_trees.txt is a copy of the team's record of Scenic's flattened trees
(/work/shared/reference/scenic-param-trees.txt), so CI needs nothing outside the repository.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tokenreel_ref import export, model                          # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig  # noqa: E402
from flax.traverse_util import flatten_dict                       # noqa: E402

TREES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenic_param_trees.txt")


def read_trees() -> dict:
    trees, cur = {}, None
    for line in open(TREES):
        line = line.rstrip("\n")
        if line.startswith("### "):
            cur = line[4:]
            trees[cur] = {}
        elif line.startswith("# "):
            cur = None
        elif cur is not None and (m := re.fullmatch(r"(\S+)\s+\(([\d, ]*)\)", line)):
            trees[cur][m.group(1)] = tuple(int(s) for s in re.findall(r"\d+", m.group(2)))
    return trees


def shapes(cfg: ModelConfig) -> dict:
    x = jax.ShapeDtypeStruct((1, cfg.num_frames, cfg.height, cfg.width, 3), jnp.float32)
    tree = jax.eval_shape(lambda x: model.TokenReelViT(cfg).init(jax.random.PRNGKey(0), x), x)["params"]
    return {"/".join(k): tuple(v.shape) for k, v in flatten_dict(tree).items()}


TOY = ModelConfig(num_frames=8, height=32, width=32, tubelet=(2, 4, 4), hidden_size=64, num_layers=4,
                  num_heads=2, mlp_dim=128, num_classes=10)
TL = TokenLearnerConfig(num_tokens=8, loc=2)
R = dataclasses.replace
B16 = ModelConfig(num_frames=32, height=224, width=224, tubelet=(2, 16, 16), hidden_size=768, num_layers=12,
                  num_heads=12, mlp_dim=3072, num_classes=400, tokenlearner=R(TL, loc=6))

CASES = [
    ("TokenLearnerViT v1.1 fuse=False classifier=gap output (1, 10)", R(TOY, tokenlearner=TL)),
    ("TokenLearnerViT v1.1 fuse=True classifier=gap output (1, 10)", R(TOY, tokenlearner=R(TL, use_tokenfuse=True))),
    ("TokenLearnerViT v1.0 (use_v11=False) fuse=False gap output (1, 10)", R(TOY, tokenlearner=R(TL, version="1.0"))),
    # The recorded plain-ViViT toy trees were made with 2 layers.
    ("ViViT spacetime classifier=gap output (1, 10)", R(TOY, num_layers=2)),
    ("ViViT spacetime classifier=token output (1, 10)", R(TOY, num_layers=2, classifier="token")),
]


@pytest.mark.parametrize("heading,cfg", CASES, ids=[c[0].split(" output")[0] for c in CASES])
def test_param_tree_matches_scenic(heading, cfg):
    expected = read_trees()[heading]
    assert expected, heading
    assert shapes(cfg) == expected


@pytest.mark.parametrize("cfg,count", [
    (B16, 89_003_736),
    (R(B16, tokenlearner=R(B16.tokenlearner, use_tokenfuse=True)), 89_586_592),
    (R(B16, tokenlearner=None, classifier="token"), 88_954_000),
])
def test_vivit_b_parameter_counts(cfg, count):
    assert sum(int(np.prod(s)) for s in shapes(cfg).values()) == count


SMALL = ModelConfig(num_frames=4, height=8, width=8, tubelet=(2, 4, 4), hidden_size=8, num_layers=2,
                    num_heads=2, mlp_dim=16, num_classes=3, tokenlearner=TokenLearnerConfig(num_tokens=2, loc=1))


def test_tokenlearner_v11_is_a_convex_combination():
    """Softmax weights sum to 1 over positions: a slice of identical tokens is returned as is."""
    tl = model.TokenLearnerV11(num_tokens=3, bottleneck_dim=8, eps=1e-6)
    x = jnp.tile(jnp.arange(8, dtype=jnp.float32)[None, None, :], (2, 5, 1))   # [2, 5, 8]
    params = model.perturb_params(tl.init(jax.random.PRNGKey(0), x), seed=1)
    y = tl.apply(params, x)
    np.testing.assert_allclose(np.asarray(y), np.tile(np.arange(8, dtype=np.float32), (2, 3, 1)), rtol=1e-6)


def test_tokenlearner_v11_ignores_position_order():
    """A weighted sum over positions with per-position weights is permutation invariant."""
    tl = model.TokenLearnerV11(num_tokens=3, bottleneck_dim=8, eps=1e-6)
    x = jax.random.normal(jax.random.PRNGKey(2), (1, 6, 8))
    params = model.perturb_params(tl.init(jax.random.PRNGKey(0), x), seed=1)
    perm = jnp.array([3, 1, 5, 0, 2, 4])
    np.testing.assert_allclose(np.asarray(tl.apply(params, x)), np.asarray(tl.apply(params, x[:, perm])), atol=1e-5)


def test_batch_elements_are_independent():
    params = model.perturb_params(model.init_params(SMALL), seed=3)
    x = jax.random.normal(jax.random.PRNGKey(4), (3, 4, 8, 8, 3))
    batched = model.apply(SMALL, params, x)
    single = jnp.concatenate([model.apply(SMALL, params, x[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(single), atol=1e-5)


def test_scenic_head_starts_at_zero():
    params = model.init_params(SMALL)
    assert not np.any(np.asarray(params["output_projection"]["kernel"]))


def test_export_round_trip(tmp_path):
    params = model.perturb_params(model.init_params(SMALL), seed=5)
    path = str(tmp_path / "m.safetensors")
    export.save(path, SMALL, params, ["a", "b", "c"], {"type": "unit"})
    cfg, loaded, labels, norm = export.load(path)
    assert cfg == SMALL and labels == ["a", "b", "c"] and norm == {"type": "unit"}
    x = jax.random.normal(jax.random.PRNGKey(6), (1, 4, 8, 8, 3))
    np.testing.assert_array_equal(np.asarray(model.apply(cfg, loaded, x)), np.asarray(model.apply(SMALL, params, x)))


def test_invalid_configs_are_rejected():
    with pytest.raises(ValueError):
        R(SMALL, classifier="token").validate()
    with pytest.raises(ValueError):
        R(SMALL, height=8, width=12, tokenlearner=R(SMALL.tokenlearner, version="1.0")).validate()
