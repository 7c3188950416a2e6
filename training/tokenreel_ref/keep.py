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

TokenLearner models (always pooled; `keep_groups`):

* layers before tokenlearner.loc hold the t-major grid [T', P, D] (P positions per temporal
  slice) that TokenLearner later reshapes to [B*T', P, D]; so every slice must keep the same
  count. Keeping ranks *within each slice* (scores as above: attention received from every
  query of the clip) and keeps ceil(r * P) tokens per slice, in their original order; later
  layers, TokenLearner and TokenFuser then run on P' = ceil(r * P) positions per slice.
* layers from loc on, without TokenFuser, hold T'*S learned tokens with no further structure:
  keeping ranks across all of them, as for a plain model.
* with TokenFuser, layers from loc on are rejected: each such block runs on the S learned tokens
  of every slice, and TokenFuser mixes exactly those S tokens (Dense_0 kernel [S, S]) and maps
  them back to the grid, so none can be dropped. Keep at layers before loc instead.
* TokenLearner v1.0 rejects layers before loc: its 3x3 convolutions need the full H' x W' grid
  of every slice.
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
    tl = cfg.tokenlearner
    if tl is not None:
        before = [l for l in layers if l < tl.loc]
        after = [l for l in layers if l >= tl.loc]
        if tl.version == "1.0" and before:
            raise ValueError(f"token keeping layers {before} come before tokenlearner.loc {tl.loc}: TokenLearner "
                             "v1.0 convolves the full H'xW' grid of every temporal slice, so no patch token can be "
                             f"dropped before it; keep at layers >= {tl.loc}")
        if tl.use_tokenfuse and after:
            raise ValueError(f"token keeping layers {after} are at or after tokenlearner.loc {tl.loc}: with "
                             "TokenFuser those blocks run on the S learned tokens of each temporal slice, which "
                             "TokenFuser mixes as a fixed set ([S, S] kernel), so none can be dropped; "
                             + (f"keep at layers < {tl.loc}" if tl.loc else "this model (loc 0) has no layer to keep at"))
    return tuple(sorted(layers))


def keep_groups(cfg, layer: int) -> int:
    """Groups keeping ranks within at `layer`: T' (each temporal slice keeps the same count) before
    a TokenLearner, else 1 (across all tokens of the clip)."""
    tl = cfg.tokenlearner
    return cfg.grid[0] if tl is not None and layer < tl.loc else 1


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


def keep_tokens(x, weights, rate: float, cls: bool, groups: int = 1):
    """x [B, N, D], attention probabilities [B, H, N, N] -> (kept x [B, k, D], margin [B]).

    With groups G > 1 (pooled only), x is G equal slices of P = N / G tokens: each slice keeps
    ceil(rate * P) of its own tokens (k = G * ceil(rate * P)) and margin is the smallest over slices."""
    b, n = x.shape[:2]
    scores = token_scores(weights, cls)
    if groups > 1:
        assert not cls and n % groups == 0, "per-slice keeping needs a pooled model and equal slices"
        p = n // groups
        idx, margin = select(scores.reshape(b * groups, p), keep_count(rate, p, False))
        idx = (idx.reshape(b, groups, -1) + p * jnp.arange(groups)[None, :, None]).reshape(b, -1)
        return jnp.take_along_axis(x, idx[:, :, None], axis=1), margin.reshape(b, groups).min(axis=1)
    k = keep_count(rate, n, cls)
    if cls:
        idx, margin = select(scores, k - 1)
        idx = jnp.concatenate([jnp.zeros((x.shape[0], 1), idx.dtype), idx + 1], axis=1)
    else:
        idx, margin = select(scores, k)
    return jnp.take_along_axis(x, idx[:, :, None], axis=1), margin
