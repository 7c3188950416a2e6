"""Token keeping at inference, as SuperViT does: drop the least-attended tokens at chosen layers.

At every encoder layer l in `keep_layers`, after the attention residual and before the MLP of
that block, the block keeps the tokens that receive the most attention and discards the others
(for that layer's MLP and every later layer). With N tokens entering the block and A[h, i, j]
the attention probabilities of head h, query i, key j (softmax over j, as used by that block):

* pooled classifiers (gap / gmp / gsp): score(j) = mean over h and i of A[h, i, j];
  keep k = ceil(r * N) tokens.
* classifier 'token' (cls first): score(j) = mean over h of A[h, 0, j] for the patch tokens
  j = 1 .. N-1 (the cls query row); keep the cls token plus the top k = min(ceil(r * N), N - 1)
  patch tokens, N counting cls -- SuperViT's count (197 -> 139 -> 99 -> 71 at r = 0.7).

ceil(r * N) is computed in double precision (Python float, Swift Double). Ranking is by score,
descending, ties broken by the lower token index (a stable sort); the kept tokens stay in their
original order. r = 1 keeps everything and is exactly the plain model (no keeping code runs).

TokenLearner models are not supported (option (a) of issue 6): TokenLearner v1.1 pools each
temporal slice of P patch tokens, which needs the full t-major grid; `check_keeping` rejects any
combination. Plain ViViT (any classifier) works.
"""
from __future__ import annotations

import math

import jax.numpy as jnp


def check_keeping(cfg, rate: float, layers) -> tuple:
    """Validates (rate, layers) for `cfg`; returns the layers as a sorted tuple. Raises ValueError."""
    rate = float(rate)
    if not (0.0 < rate <= 1.0) or math.isnan(rate):
        raise ValueError(f"token keeping rate must satisfy 0 < rate <= 1, got {rate}")
    layers = tuple(int(l) for l in layers)
    if not layers:
        raise ValueError("token keeping layers must not be empty")
    if len(set(layers)) != len(layers):
        raise ValueError(f"token keeping layers {list(layers)} repeat a layer")
    bad = [l for l in layers if not 0 <= l < cfg.num_layers]
    if bad:
        raise ValueError(f"token keeping layers {bad} out of range 0..{cfg.num_layers - 1}")
    if cfg.tokenlearner is not None:
        raise ValueError("token keeping is not supported with TokenLearner (only plain ViViT models)")
    return tuple(sorted(layers))


def keep_count(rate: float, n: int, cls: bool) -> int:
    """Tokens kept out of n (n counts cls when `cls`), cls included."""
    k = math.ceil(float(rate) * n)
    return min(k, n - 1) + 1 if cls else min(k, n)


def token_scores(weights, cls: bool):
    """Attention probabilities [B, H, N, N] -> scores [B, N] (pooled) or [B, N-1] (cls row, patches)."""
    if cls:
        return jnp.mean(weights[:, :, 0, 1:], axis=1)
    return jnp.mean(weights, axis=(1, 2))


def select(scores, k: int):
    """scores [B, M] -> (indices [B, k] of the top k, ascending; margin [B]: k-th minus (k+1)-th score).

    Descending by score, ties by the lower index (stable argsort of -score)."""
    order = jnp.argsort(-scores, axis=-1, stable=True)
    idx = jnp.sort(order[:, :k], axis=-1)
    ranked = jnp.take_along_axis(scores, order, axis=-1)
    if k < scores.shape[1]:
        margin = ranked[:, k - 1] - ranked[:, k]
    else:
        margin = jnp.full(scores.shape[:1], jnp.inf, scores.dtype)
    return idx, margin


def keep_tokens(x, weights, rate: float, cls: bool):
    """x [B, N, D], attention probabilities [B, H, N, N] -> (kept x [B, k, D], margin [B])."""
    n = x.shape[1]
    k = keep_count(rate, n, cls)
    scores = token_scores(weights, cls)
    if cls:
        idx, margin = select(scores, k - 1)
        idx = jnp.concatenate([jnp.zeros((x.shape[0], 1), idx.dtype), idx + 1], axis=1)
    else:
        idx, margin = select(scores, k)
    return jnp.take_along_axis(x, idx[:, :, None], axis=1), margin
