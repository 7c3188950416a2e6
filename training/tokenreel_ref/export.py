"""Read and write TokenReel safetensors: Scenic names flattened with '/', hyper-parameters,
class names and pixel normalisation in `__metadata__` (schema: docs/model-format.md)."""
from __future__ import annotations

import json

import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict
from safetensors import safe_open
from safetensors.numpy import save_file

from .config import ModelConfig

FORMAT = "tokenreel.vivit.v1"


def flatten(params) -> dict:
    return {"/".join(k): np.asarray(v, np.float32) for k, v in flatten_dict(params).items()}


def save(path: str, cfg: ModelConfig, params, labels: list, normalization: dict | None = None,
         dtype=np.float32) -> None:
    if len(labels) != cfg.num_classes:
        raise ValueError(f"{len(labels)} labels for {cfg.num_classes} classes")
    meta = {
        "format": FORMAT,
        "config": cfg.to_json(),
        "labels": json.dumps(list(labels)),
        "normalization": json.dumps(normalization or {"type": "zero_centered"}),
    }
    tensors = {k: np.ascontiguousarray(v.astype(dtype)) for k, v in flatten(params).items()}
    save_file(tensors, path, metadata=meta)


def load(path: str):
    """-> (cfg, params (nested, float32), labels, normalization)."""
    with safe_open(path, "np") as f:
        meta = f.metadata()
        flat = {tuple(k.split("/")): f.get_tensor(k).astype(np.float32) for k in f.keys()}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: __metadata__.format is {meta.get('format')!r}, expected {FORMAT!r}")
    cfg = ModelConfig.from_json(meta["config"])
    return cfg, unflatten_dict(flat), json.loads(meta["labels"]), json.loads(meta.get("normalization", '{"type": "zero_centered"}'))
