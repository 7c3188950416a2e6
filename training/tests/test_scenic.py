"""Tests of the Scenic checkpoint converter (tokenreel_ref/scenic.py, convert_scenic.py): train
states saved the way Scenic saves them come out as TokenReel files with the same configuration and
the same logits, and checkpoints that do not fit say what is wrong."""
from __future__ import annotations

import dataclasses
import os
import sys

import jax
import numpy as np
import pytest
from flax import serialization
from flax.traverse_util import flatten_dict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import convert_scenic                                             # noqa: E402
from tokenreel_ref import export, model, scenic                   # noqa: E402
from tokenreel_ref.config import ModelConfig, TokenLearnerConfig  # noqa: E402

BASE = ModelConfig(num_frames=4, height=16, width=12, tubelet=(2, 4, 4), hidden_size=16,
                   num_layers=3, num_heads=2, mlp_dim=24, num_classes=5)
CONFIGS = {
    "v11": dataclasses.replace(BASE, tokenlearner=TokenLearnerConfig("1.1", 4, 1)),
    "v11-fuse": dataclasses.replace(BASE, tokenlearner=TokenLearnerConfig("1.1", 4, 1, True, 8)),
    "v10": dataclasses.replace(BASE, width=16, tokenlearner=TokenLearnerConfig("1.0", 4, 2)),
    "vivit-token-prelogits": dataclasses.replace(BASE, classifier="token", representation_size=12),
    "vivit-gmp": dataclasses.replace(BASE, classifier="gmp"),
}
LABELS = [f"class {i}" for i in range(5)]


def save_state(directory, state, step=7):
    """As flax.training.checkpoints.save_checkpoint writes it: msgpack of the state dictionary."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"checkpoint_{step}"), "wb") as f:
        f.write(serialization.msgpack_serialize(state))


def scenic_state(params):
    """A Scenic TrainState's fields (global_step, opt_state, params, model_state, rng, metadata)."""
    return {"global_step": np.int32(1000), "opt_state": {"0": {"mu": params, "nu": params}, "1": {}},
            "params": params, "model_state": {}, "rng": np.zeros(2, np.uint32), "metadata": {"chrono": {}}}


def options(cfg):
    loc = cfg.tokenlearner.loc if cfg.tokenlearner and not cfg.tokenlearner.use_tokenfuse else None
    pooled = cfg.classifier if cfg.classifier != "token" else None
    return dict(classifier=pooled, tokenlearner_loc=loc)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_converted_model_has_the_config_and_the_logits(tmp_path, name):
    cfg = CONFIGS[name]
    params = model.perturb_params(model.init_params(cfg, seed=0), seed=1)
    save_state(tmp_path / "ckpt", scenic_state(params), step=3)
    save_state(tmp_path / "ckpt", scenic_state(model.init_params(cfg, seed=5)), step=12)   # the latest wins
    save_state(tmp_path / "ckpt", scenic_state(params), step=12)
    out = str(tmp_path / "m.safetensors")
    got_cfg = scenic.convert(str(tmp_path / "ckpt"), out, LABELS, cfg.num_frames, cfg.height, cfg.width, **options(cfg))
    assert got_cfg == cfg
    loaded_cfg, loaded, labels, norm = export.load(out)
    assert loaded_cfg == cfg and labels == LABELS and norm == {"type": "zero_centered"}
    clips = jax.random.uniform(jax.random.PRNGKey(2), (2, cfg.num_frames, cfg.height, cfg.width, 3), minval=-1, maxval=1)
    np.testing.assert_allclose(np.asarray(model.apply(cfg, loaded, clips)), np.asarray(model.apply(cfg, params, clips)),
                               rtol=0, atol=0)


def test_older_states_and_npz(tmp_path):
    cfg = CONFIGS["v11"]
    params = model.perturb_params(model.init_params(cfg, seed=0), seed=1)
    # Scenic before its TrainState: the parameters under optimizer/target.
    save_state(tmp_path / "old", {"optimizer": {"target": params, "state": {"step": 3}}})
    assert scenic.convert(str(tmp_path / "old" / "checkpoint_7"), str(tmp_path / "a.safetensors"), LABELS,
                          4, 16, 12, tokenlearner_loc=1) == cfg
    np.savez(tmp_path / "p.npz", **{"/".join(k): np.asarray(v) for k, v in flatten_dict(params).items()})
    assert scenic.convert(str(tmp_path / "p.npz"), str(tmp_path / "b.safetensors"), LABELS, 4, 16, 12, tokenlearner_loc=1) == cfg


def test_cli_writes_the_file_and_reports_errors(tmp_path, capsys):
    cfg = CONFIGS["v11-fuse"]
    save_state(tmp_path / "ckpt", scenic_state(model.init_params(cfg, seed=0)))
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n\n")
    out = tmp_path / "m.safetensors"
    assert convert_scenic.main([str(tmp_path / "ckpt"), "--input", "4x16x12", "--labels", str(tmp_path / "labels.txt"),
                                "--out", str(out)]) == 0
    assert export.load(str(out))[0] == cfg
    # Wrong input size: the position embedding does not fit, and the message says so.
    assert convert_scenic.main([str(tmp_path / "ckpt"), "--input", "8x16x12", "--labels", str(tmp_path / "labels.txt"),
                                "--out", str(tmp_path / "x.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "posembed_input/pos_embedding: got (1, 24, 16), expected (1, 48, 16)" in err and "--input 8x16x12" in err
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(SystemExit):
        convert_scenic.main([str(tmp_path / "ckpt"), "--input", "16x12", "--labels", "l", "--out", "o"])


def test_errors_name_what_does_not_fit(tmp_path):
    cfg = CONFIGS["v11"]
    params = model.init_params(cfg, seed=0)
    save_state(tmp_path / "c", scenic_state(params))
    ckpt = str(tmp_path / "c")
    out = str(tmp_path / "m.safetensors")
    with pytest.raises(scenic.ConversionError, match="--tokenlearner-loc"):
        scenic.convert(ckpt, out, LABELS, 4, 16, 12)
    with pytest.raises(scenic.ConversionError, match="3 class names for the checkpoint's 5 classes"):
        scenic.convert(ckpt, out, LABELS[:3], 4, 16, 12, tokenlearner_loc=1)
    with pytest.raises(scenic.ConversionError, match="cls token"):
        scenic.convert(ckpt, out, LABELS, 4, 16, 12, classifier="token", tokenlearner_loc=1)
    # A tensor missing and one of the wrong shape: both named, with got versus expected.
    broken = jax.tree_util.tree_map(lambda v: v, params)
    del broken["Transformer"]["encoderblock_2"]["LayerNorm_1"]
    broken["output_projection"]["bias"] = np.zeros(6, np.float32)
    save_state(tmp_path / "b", scenic_state(broken))
    with pytest.raises(scenic.ConversionError) as e:
        scenic.convert(str(tmp_path / "b"), out, LABELS, 4, 16, 12, tokenlearner_loc=1)
    assert "missing Transformer/encoderblock_2/LayerNorm_1/bias (16,)" in str(e.value)
    assert "output_projection/bias: got (6,), expected (5,)" in str(e.value)
    # Not a checkpoint at all, an empty directory, a state without a model.
    (tmp_path / "junk").write_bytes(b"\xc1\xc1 not msgpack")
    with pytest.raises(scenic.ConversionError, match="not a Flax msgpack checkpoint"):
        scenic.convert(str(tmp_path / "junk"), out, LABELS, 4, 16, 12)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(scenic.ConversionError, match="no checkpoint_<step> file"):
        scenic.convert(str(tmp_path / "empty"), out, LABELS, 4, 16, 12)
    save_state(tmp_path / "nomodel", {"global_step": 3, "params": {"Dense_0": {"kernel": np.zeros((2, 2))}}})
    with pytest.raises(scenic.ConversionError, match="no ViViT parameters"):
        scenic.convert(str(tmp_path / "nomodel"), out, LABELS, 4, 16, 12)
    assert not os.path.exists(out)
