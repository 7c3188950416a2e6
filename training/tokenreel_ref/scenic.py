"""Scenic checkpoints -> TokenReel model files.

Scenic trains ViViT and TokenLearner with Flax and saves the train state with
`flax.training.checkpoints` (`checkpoint_<step>`, msgpack). A TokenReel model file holds the same
parameter tree (docs/model-format.md), so converting is: find the parameters in the state, read
the hyper-parameters off their shapes, and take from the caller the few the shapes cannot tell
(the input clip size, a pooled head's pooling, where a non-fused TokenLearner sits, the class
names). The result is checked against the tree this configuration builds, name by name and shape
by shape, before anything is written.

    .venv/bin/python training/convert_scenic.py CHECKPOINT --input 32x224x224 --labels labels.txt \
        --out model.safetensors
"""
from __future__ import annotations

import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization
from flax.traverse_util import flatten_dict, unflatten_dict

from . import export
from .config import ModelConfig, TokenLearnerConfig
from .model import TokenReelViT


class ConversionError(ValueError):
    """A checkpoint that cannot become a TokenReel model; the message says what and where."""


# Reading ----------------------------------------------------------------------------------------

def read_checkpoint(path: str) -> dict:
    """The nested state of a checkpoint: a Flax msgpack file (`checkpoint_<step>`), a directory of
    them (the highest step), or an `.npz` of arrays named by their `/`-joined paths."""
    if os.path.isdir(path):
        steps = [(int(m.group(1)), name) for name in os.listdir(path)
                 if (m := re.fullmatch(r"checkpoint_(\d+)", name)) and os.path.isfile(os.path.join(path, name))]
        if not steps:
            raise ConversionError(f"{path}: no checkpoint_<step> file in this directory (Orbax checkpoint "
                                  "directories are not read: restore the state with Flax and save its params as .npz)")
        path = os.path.join(path, max(steps)[1])
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    if path.endswith(".npz"):
        with np.load(path) as z:
            return unflatten_dict({tuple(k.split("/")): z[k] for k in z.files})
    with open(path, "rb") as f:
        data = f.read()
    try:
        state = serialization.msgpack_restore(data)
    except Exception as e:  # msgpack raises several types for foreign bytes
        raise ConversionError(f"{path}: not a Flax msgpack checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict):
        raise ConversionError(f"{path}: the checkpoint holds a {type(state).__name__}, not a state dictionary")
    return state


def find_params(state: dict, where: str = "checkpoint") -> dict:
    """The model parameters inside a train state: the first dictionary (breadth first, through
    `params`, `optimizer/target` and any other key) holding `embedding`, `Transformer` and
    `output_projection`."""
    queue = [((), state)]
    while queue:
        path, node = queue.pop(0)
        if {"embedding", "Transformer", "output_projection"} <= set(node):
            return node
        if len(path) < 4:
            queue += [(path + (k,), v) for k, v in node.items() if isinstance(v, dict)]
    raise ConversionError(f"{where}: no ViViT parameters (a dictionary with embedding, Transformer and "
                          f"output_projection) in the state; top-level keys: {sorted(state)}")


# Hyper-parameters -------------------------------------------------------------------------------

def _shape(flat: dict, key: str) -> tuple:
    if key not in flat:
        raise ConversionError(f"the checkpoint has no {key}")
    return tuple(np.shape(flat[key]))


def infer_config(params: dict, frames: int, height: int, width: int, classifier: str | None = None,
                 tokenlearner_loc: int | None = None) -> ModelConfig:
    """The configuration the parameter shapes give, with the input clip size and, where the shapes
    are silent, the pooling (default `gap`) and a non-fused TokenLearner's layer."""
    flat = {"/".join(k): v for k, v in flatten_dict(params).items()}
    kernel = _shape(flat, "embedding/kernel")
    if len(kernel) != 5 or kernel[3] != 3:
        raise ConversionError(f"embedding/kernel is {kernel}; a ViViT tubelet embedding is [t, h, w, 3, D]")
    t, h, w, _, d = kernel
    blocks = sorted(int(m.group(1)) for k in params["Transformer"] if (m := re.fullmatch(r"encoderblock_(\d+)", k)))
    if not blocks or blocks != list(range(len(blocks))):
        raise ConversionError(f"Transformer blocks are {blocks}; expected encoderblock_0 ... encoderblock_<L-1>")
    layers = len(blocks)
    query = _shape(flat, "Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel")
    if len(query) != 3 or query[0] != d:
        raise ConversionError(f"query/kernel is {query}; expected [D={d}, heads, head_dim]")
    heads = query[1]
    mlp = _shape(flat, "Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel")[1]
    classes = _shape(flat, "output_projection/kernel")[1]
    representation = _shape(flat, "pre_logits/kernel")[1] if "pre_logits/kernel" in flat else None

    if "cls" in params:
        if classifier not in (None, "token"):
            raise ConversionError(f"the checkpoint has a cls token, so its classifier is 'token', not {classifier!r}")
        classifier = "token"
    else:
        classifier = classifier or "gap"
        if classifier == "token":
            raise ConversionError("classifier 'token' needs a cls token, and the checkpoint has none")

    modules = list(params["Transformer"])
    v11 = [k for k in modules if k.startswith("TokenLearnerModuleV11_")]
    v10 = [k for k in modules if k.startswith("TokenLearnerModule_")]
    fusers = [k for k in modules if k.startswith("TokenFuser_")]
    tokenlearner = None
    if v11 or v10:
        if v11 and v10:
            raise ConversionError("the checkpoint has both TokenLearner v1.0 and v1.1 modules")
        if fusers:
            loc = layers - len(v11)
            if tokenlearner_loc is not None and tokenlearner_loc != loc:
                raise ConversionError(f"--tokenlearner-loc {tokenlearner_loc}, but the checkpoint's {len(v11)} "
                                      f"TokenLearner/TokenFuser pairs of {layers} layers put it at {loc}")
        elif tokenlearner_loc is None:
            raise ConversionError("the checkpoint has a TokenLearner but its name does not say before which block; "
                                  "give --tokenlearner-loc (Scenic's model.tokenizer.tokenlearner_loc)")
        else:
            loc = tokenlearner_loc
        if v11:
            masking = f"Transformer/{v11[0]}/token_masking"
            tokens = _shape(flat, f"{masking}/Dense_1/kernel")[1]
            bottleneck = _shape(flat, f"{masking}/Dense_0/kernel")[1]
            tokenlearner = TokenLearnerConfig("1.1", tokens, loc, bool(fusers), bottleneck)
        else:
            tokens = _shape(flat, f"Transformer/{v10[0]}/Conv_0/kernel")[3]
            tokenlearner = TokenLearnerConfig("1.0", tokens, loc, False)
    elif fusers:
        raise ConversionError("the checkpoint has TokenFuser modules but no TokenLearner")

    cfg = ModelConfig(num_frames=frames, height=height, width=width, tubelet=(t, h, w), hidden_size=d,
                      num_layers=layers, num_heads=heads, mlp_dim=mlp, num_classes=classes, classifier=classifier,
                      representation_size=representation, tokenlearner=tokenlearner)
    try:
        cfg.validate()
    except ValueError as e:
        raise ConversionError(f"the inferred configuration is not runnable: {e}") from None
    return cfg


def expected_shapes(cfg: ModelConfig) -> dict:
    """`/`-joined name -> shape of the tree `cfg` builds (shapes only: nothing is computed)."""
    x = jax.ShapeDtypeStruct((1, cfg.num_frames, cfg.height, cfg.width, 3), jnp.float32)
    tree = jax.eval_shape(lambda key, clip: TokenReelViT(cfg).init(key, clip)["params"], jax.random.PRNGKey(0), x)
    return {"/".join(k): tuple(v.shape) for k, v in flatten_dict(tree).items()}


def check_tree(params: dict, cfg: ModelConfig) -> None:
    """Every tensor `cfg` needs, present with its shape, and nothing else; else one error naming
    all missing, unexpected and mis-shaped tensors (got versus expected)."""
    got = {"/".join(k): tuple(np.shape(v)) for k, v in flatten_dict(params).items()}
    want = expected_shapes(cfg)
    problems = [f"missing {k} {want[k]}" for k in sorted(want.keys() - got.keys())]
    problems += [f"unexpected {k} {got[k]}" for k in sorted(got.keys() - want.keys())]
    problems += [f"{k}: got {got[k]}, expected {want[k]}" for k in sorted(got.keys() & want.keys()) if got[k] != want[k]]
    if problems:
        hint = ""
        if any(k.startswith("Transformer/posembed_input") for k in got.keys() & want.keys() if got[k] != want[k]):
            hint = f" (the position embedding fixes the input: is --input {cfg.num_frames}x{cfg.height}x{cfg.width} the size it was trained at?)"
        raise ConversionError(f"the checkpoint does not fit {cfg.to_json()}{hint}:\n  " + "\n  ".join(problems))


# Labels and the whole conversion ---------------------------------------------------------------

def read_labels(path: str) -> list:
    """Class names from a JSON array or a text file with one name per line (blank lines ignored)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        labels = json.loads(text)
        if not all(isinstance(x, str) for x in labels):
            raise ConversionError(f"{path}: a JSON label list must hold strings")
        return labels
    return [line.strip() for line in text.splitlines() if line.strip()]


def convert(checkpoint: str, out: str, labels: list, frames: int, height: int, width: int,
            classifier: str | None = None, tokenlearner_loc: int | None = None,
            normalization: dict | None = None) -> ModelConfig:
    """Reads `checkpoint`, checks it and writes the TokenReel model `out`; returns its config."""
    params = find_params(read_checkpoint(checkpoint), checkpoint)
    cfg = infer_config(params, frames, height, width, classifier, tokenlearner_loc)
    check_tree(params, cfg)
    if len(labels) != cfg.num_classes:
        raise ConversionError(f"{len(labels)} class names for the checkpoint's {cfg.num_classes} classes")
    params = jax.tree_util.tree_map(lambda v: np.asarray(v, np.float32), params)
    export.save(out, cfg, params, labels, normalization or {"type": "zero_centered"})
    return cfg
