"""Running one model at another clip geometry: resize the learned position embedding.

The position embedding `Transformer/posembed_input/pos_embedding` [1, N(+1), D] is learned for the
trained token grid (T', H', W'), t-major. For another clip T x H x W the grid becomes
(T//t, H//h, W//w) (VALID convolution: floor) and the embedding is resampled on that grid:

* **Convention**: `jax.image.resize(grid, (T'', H'', W'', D), method="linear", antialias=False)`,
  i.e. separable linear interpolation in time and bilinear in space with *half-pixel centres*.
  Output index i of an axis of old size n and new size m samples the old axis at
  x = (i + 0.5) * n / m - 0.5, clamped to [0, n - 1]; the value is
  (1 - f) * v[floor(x)] + f * v[floor(x) + 1] with f = x - floor(x). An axis of size 1 is copied.
  With `antialias=False` downsampling uses the same two-tap formula (no low-pass filter: it
  samples the old grid, it does not average over it). An unchanged axis is copied exactly.
* The `cls` row (classifier 'token') is kept as is; only the T'H'W' grid rows are resampled.
* Everything else (tubelet kernel, blocks, TokenLearner, head) is shared unchanged.

Scenic's ViViT fine-tuning (`init_posemb`) resizes only space, with `scipy.ndimage.zoom(order=1)`
(corner-aligned) and tiles over time; big_vision resamples with `jax.image.resize` (half-pixel).
TokenReel uses the half-pixel convention on all three axes; the Swift `VideoModel.resized`
implements the same formula (docs/model-format.md, "Other clip geometries").
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .config import ModelConfig

POS = ("Transformer", "posembed_input", "pos_embedding")


def geometry_config(cfg: ModelConfig, frames: int, height: int, width: int) -> ModelConfig:
    """The config of the same model taking clips frames x height x width; raises ValueError when
    the tubelet does not fit or TokenLearner v1.0 would get a non-square grid."""
    new = dataclasses.replace(cfg, num_frames=int(frames), height=int(height), width=int(width))
    new.validate()
    return new


def resize_grid(grid: np.ndarray, new_grid: tuple) -> np.ndarray:
    """[T', H', W', D] -> [T'', H'', W'', D] with the convention of the module docstring."""
    grid = np.asarray(grid, np.float32)
    if tuple(grid.shape[:3]) == tuple(new_grid):
        return grid.copy()
    out = jax.image.resize(jnp.asarray(grid), tuple(new_grid) + (grid.shape[3],), method="linear",
                           antialias=False)
    return np.asarray(out, np.float32)


def resize_posemb(params, cfg: ModelConfig, frames: int, height: int, width: int):
    """-> (params with the position embedding resampled to the new grid, new config).

    `params` is the nested parameter tree (as from `export.load` or `model.init_params`); it is not
    modified. All other leaves are shared with it.
    """
    new_cfg = geometry_config(cfg, frames, height, width)
    pe = np.asarray(params[POS[0]][POS[1]][POS[2]], np.float32)          # [1, N(+1), D]
    off = 1 if cfg.classifier == "token" else 0
    d = pe.shape[-1]
    old_grid = pe[0, off:].reshape(cfg.grid + (d,))
    new_rows = resize_grid(old_grid, new_cfg.grid).reshape(-1, d)
    new_pe = np.concatenate([pe[0, :off], new_rows], axis=0)[None]
    out = dict(params)
    out[POS[0]] = dict(params[POS[0]])
    out[POS[0]][POS[1]] = dict(params[POS[0]][POS[1]])
    out[POS[0]][POS[1]][POS[2]] = new_pe
    return out, new_cfg
