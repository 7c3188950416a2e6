"""The trainer itself: a tiny run on a toy motion set lowers the loss and exports weights that the
reference (and so TokenReel) loads, and the augmentations keep labels true."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import train                        # noqa: E402
from tokenreel_ref import export, posemb    # noqa: E402


def toy_motion_set(n: int, seed: int, frames=8, size=32):
    """A bright square that stays, moves left or moves right: 'static', 'left', 'right'."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((n, frames, size, size, 3), np.uint8)
    labels = np.zeros(n, np.int32)
    for i in range(n):
        cls = i % 3                                    # 0 static, 1 left, 2 right
        y = rng.integers(4, size - 12)
        x0 = rng.integers(8, size - 16)
        for t in range(frames):
            dx = {0: 0, 1: -t, 2: t}[cls] * 8 // frames
            x = int(np.clip(x0 + dx, 0, size - 8))
            pixels[i, t, y:y + 8, x:x + 8] = 255
        labels[i] = cls
    return pixels, labels


def write_npz(path, pixels, labels):
    np.savez(path, pixels=pixels, labels=labels, label_names=np.array(train.MOTION10),
             normalization=json.dumps({"type": "zero_centered"}))


def tiny_run(tmp_path, name: str, clips: int, seed: int, args: list, model: tuple = ("--tiny",)):
    """Trains the tiny model (or the `model` options) on a toy set of `clips` clips -> (weights path, report)."""
    write_npz(tmp_path / "train.npz", *toy_motion_set(clips, seed=seed))
    out = tmp_path / f"{name}.safetensors"
    return out, train.train(train.parse_args(["--train", str(tmp_path / "train.npz"), "--out", str(out)] + list(model) + args))


# A small model --flow-init can wire: the TokenLearner after blocks 0 and 1 (--tiny has it at 1).
FLOW_MODEL = ("--tubelet", "2,8,8", "--hidden", "32", "--layers", "3", "--heads", "2", "--mlp", "64", "--tokens", "4",
              "--tl-loc", "2")


def test_tiny_run_lowers_loss_and_exports(tmp_path):
    out, report = tiny_run(tmp_path, "tiny", 96, 1, ["--steps", "60", "--batch", "16", "--lr", "3e-3",
                                                     "--log-every", "10", "--no-augment", "--seed", "0"])
    assert report["steps"] == 60
    assert report["last_loss"] < 0.8 * report["first_loss"], report
    cfg, params, labels_out, norm = export.load(str(out))
    assert labels_out == train.MOTION10
    assert cfg.num_frames == 8 and cfg.height == 32 and cfg.width == 32
    assert norm == {"type": "zero_centered"}
    assert os.path.exists(str(out) + ".train.json")


def test_init_starts_from_a_saved_model_and_checks_it(tmp_path):
    first, _ = tiny_run(tmp_path, "first", 48, 6, ["--steps", "6", "--batch", "8", "--log-every", "3"])
    # With a learning rate of zero the second run must write back exactly what it started from.
    second, _ = tiny_run(tmp_path, "second", 48, 6, ["--steps", "2", "--batch", "8", "--log-every", "1",
                                                     "--lr", "0", "--init", str(first)])
    _, a, _, _ = export.load(str(first))
    _, b, _, _ = export.load(str(second))
    flat_a, flat_b = export.flatten(a), export.flatten(b)
    assert flat_a.keys() == flat_b.keys() and all(np.array_equal(flat_a[k], flat_b[k]) for k in flat_a)
    # Another architecture is refused, not silently reshaped.
    with pytest.raises(SystemExit, match="config differs"):
        tiny_run(tmp_path, "other", 16, 7, ["--steps", "1", "--init", str(first)], model=FLOW_MODEL)


def test_init_at_another_clip_size_resamples_the_position_embedding(tmp_path):
    # Fine-tuning at a higher resolution and more frames (ViT's recipe): the saved model's position
    # embedding resampled to the new grid, exactly as inference resamples it; every other tensor as saved.
    first, _ = tiny_run(tmp_path, "first", 48, 6, ["--steps", "4", "--batch", "8"])
    pixels, labels = toy_motion_set(16, seed=7, frames=12, size=48)
    write_npz(tmp_path / "big.npz", pixels, labels)
    out = tmp_path / "big.safetensors"
    train.train(train.parse_args(["--train", str(tmp_path / "big.npz"), "--out", str(out), "--tiny", "--steps", "1",
                                  "--batch", "8", "--lr", "0", "--init", str(first)]))
    cfg_a, a, _, _ = export.load(str(first))
    cfg_b, b, _, _ = export.load(str(out))
    assert (cfg_b.num_frames, cfg_b.height, cfg_b.width) == (12, 48, 48)
    expected, expected_cfg = posemb.resize_posemb(a, cfg_a, 12, 48, 48)
    assert expected_cfg.to_json() == cfg_b.to_json()
    flat_e, flat_b = export.flatten(expected), export.flatten(b)
    assert flat_e.keys() == flat_b.keys()
    for k in flat_e:
        np.testing.assert_allclose(flat_b[k], flat_e[k], rtol=0, atol=1e-7, err_msg=k)
    pe = "/".join(posemb.POS)
    assert flat_b[pe].shape != export.flatten(a)[pe].shape


def test_init_partial_takes_what_fits_and_starts_the_rest_fresh(tmp_path):
    # A TokenLearner model, then the same backbone without TokenLearner started from it.
    first, _ = tiny_run(tmp_path, "tl", 48, 6, ["--steps", "4", "--batch", "8", "--log-every", "2"], model=FLOW_MODEL)
    plain = FLOW_MODEL[:-4] + ("--tokens", "0")
    second, _ = tiny_run(tmp_path, "plain", 48, 6, ["--steps", "2", "--batch", "8", "--log-every", "1", "--lr", "0",
                                                    "--init-partial", str(first)], model=plain)
    cfg_a, a, _, _ = export.load(str(first))
    cfg_b, b, _, _ = export.load(str(second))
    assert cfg_a.tokenlearner is not None and cfg_b.tokenlearner is None
    flat_a, flat_b = export.flatten(a), export.flatten(b)
    assert any(k.startswith("Transformer/TokenLearnerModuleV11_0/") for k in flat_a)
    assert not any("TokenLearner" in k for k in flat_b)
    assert set(flat_b) <= set(flat_a)          # every tensor of the plain model has its name in the first
    assert all(np.array_equal(flat_a[k], flat_b[k]) for k in flat_b), "taken as saved (lr 0)"
    # With --flow-init, what was taken stays as saved too (it is not wired over).
    third, _ = tiny_run(tmp_path, "plain-flow", 48, 6, ["--steps", "1", "--batch", "8", "--lr", "0", "--flow-init", "2",
                                                        "--init-partial", str(first)], model=plain)
    flat_c = export.flatten(export.load(str(third))[1])
    assert all(np.array_equal(flat_a[k], flat_c[k]) for k in flat_c)
    # Another label space is refused; so is giving both kinds of init.
    with pytest.raises(SystemExit, match="exclude each other"):
        tiny_run(tmp_path, "both", 48, 6, ["--steps", "1", "--init", str(first), "--init-partial", str(first)], model=plain)
    first_cfg_saved = export.load(str(first))
    export.save(str(tmp_path / "renamed.safetensors"), first_cfg_saved[0], first_cfg_saved[1],
                [f"c{i}" for i in range(len(train.MOTION10))])
    with pytest.raises(SystemExit, match="classes"):
        tiny_run(tmp_path, "other", 48, 6, ["--steps", "1", "--init-partial", str(tmp_path / "renamed.safetensors")],
                 model=plain)


def test_classes_trains_on_a_subset_and_keeps_every_class(tmp_path):
    pixels, labels = toy_motion_set(30, seed=8)
    data = (pixels, labels, train.MOTION10, {"type": "zero_centered"})
    px, lab, names, _ = train.select_classes(data, ["left", "right"], "toy")
    assert names == train.MOTION10 and len(lab) == 20 and set(lab.tolist()) == {1, 2}
    assert np.array_equal(px, pixels[labels > 0])
    with pytest.raises(SystemExit, match="no class sideways"):
        train.select_classes(data, ["left", "sideways"], "toy")
    with pytest.raises(SystemExit, match="no clips of up"):
        train.select_classes(data, ["up"], "toy")
    # The subset's model has the whole classifier, so the next stage continues from it.
    first, _ = tiny_run(tmp_path, "pair", 48, 9, ["--steps", "3", "--batch", "8", "--classes", "left", "right"])
    _, params, names_out, _ = export.load(str(first))
    assert names_out == train.MOTION10
    assert params["output_projection"]["kernel"].shape[-1] == len(train.MOTION10)
    tiny_run(tmp_path, "all", 48, 9, ["--steps", "2", "--batch", "8", "--init", str(first)])


def test_augmentations_map_labels_with_the_pixels():
    names = train.MOTION10
    aug = train.Augmenter(names, np.random.default_rng(0))
    L, R = names.index("left"), names.index("right")
    assert aug.hflip[L] == R and aug.hflip[R] == L
    assert aug.vflip[L] == L and aug.vflip[names.index("up")] == names.index("down")
    assert aug.reverse[names.index("zoom_in")] == names.index("zoom_out")
    U, D = names.index("up"), names.index("down")
    assert aug.transpose[L] == U and aug.transpose[R] == D and aug.transpose[U] == L
    assert aug.transpose[names.index("rotate_cw")] == names.index("rotate_ccw")
    for table in (aug.hflip, aug.vflip, aug.reverse, aug.transpose):
        assert sorted(table.tolist()) == list(range(len(names)))          # a permutation
        assert table[names.index("static")] == names.index("static")
        assert table[names.index("blink")] == names.index("blink")
    # A 'left' clip flipped horizontally must move right, transposed must move up: check on the
    # pixels themselves.
    pixels, labels = toy_motion_set(60, seed=2)
    out, out_labels = aug(pixels, labels)
    seen = set()
    for clip, lab in zip(out, out_labels):
        lum = clip.astype(np.float32).mean(-1)                            # [T,H,W]
        # The object is what differs from the background (the frame's median), whatever the
        # colour augmentations did to either.
        def centre(f):
            mask = np.abs(f - np.median(f)) > 40
            return np.nonzero(mask.any(0))[0].mean(), np.nonzero(mask.any(1))[0].mean()
        (x0, y0), (x1, y1) = centre(lum[0]), centre(lum[-1])
        dx, dy = x1 - x0, y1 - y0
        name = names[lab]
        seen.add(name)
        assert (dx < 0) == (name == "left") and (dx > 0) == (name == "right"), (name, dx, dy)
        assert (dy < 0) == (name == "up") and (dy > 0) == (name == "down"), (name, dx, dy)
    assert {"left", "right", "up", "down", "static"} <= seen


def test_derive_takes_middle_frames_and_box_filters():
    clips = np.zeros((1, 16, 4, 6, 3), np.uint8)
    for t in range(16):
        clips[0, t] = t                                        # frame t has value t everywhere
    out = train.derive(clips, 8, 4, 6)
    assert [int(v) for v in out[0, :, 0, 0, 0]] == [1, 3, 5, 7, 9, 11, 13, 15]
    img = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4, 1).repeat(3, axis=-1) * 10
    small = train.derive(img, 1, 2, 2)                         # 2x2 block means, rounded half up
    assert small[0, 0, :, :, 0].tolist() == [[25, 45], [105, 125]]
    third = train.derive(np.array([0, 10, 21], np.uint8).reshape(1, 1, 1, 3, 1).repeat(3, -1), 1, 1, 2)
    # width 3 -> 2: [0, 1.5) and [1.5, 3): (0 + 10*0.5)/1.5 = 3.33 -> 3, (10*0.5 + 21)/1.5 = 17.33 -> 17
    assert third[0, 0, 0, :, 0].tolist() == [3, 17]
    assert train.derive(clips, 16, 4, 6) is clips


def test_view_of_takes_the_first_frames_then_derives():
    clips = np.zeros((2, 16, 4, 6, 3), np.uint8)
    for t in range(16):
        clips[:, t] = 10 + t                                   # frame t has value 10 + t everywhere
    view = train.view_of(clips, 8, (4, 2, 3))                  # the first 8 frames -> 4 of them, 2x3
    assert view.shape == (2, 4, 2, 3, 3)
    assert [int(v) for v in view[0, :, 0, 0, 0]] == [11, 13, 15, 17]   # middles of the prefix's 4 parts
    assert train.view_of(clips, 8, None).shape == (2, 8, 4, 6, 3)
    assert np.array_equal(train.view_of(clips, 8, None), clips[:, :8])
    assert train.view_of(clips, 0, None) is clips
    with pytest.raises(SystemExit, match="17"):
        train.view_of(clips, 17, None)


def test_motion_init_channels_see_only_change():
    import jax.numpy as jnp
    from tokenreel_ref import model
    cfg = train.tiny_config(8, 32, 32, 10)
    params = train.motion_init(model.init_params(cfg, seed=0), 0.5, 8.0, seed=0)
    k = np.asarray(params["embedding"]["kernel"])              # [t, h, w, 3, D]
    d = k.shape[-1]
    assert np.allclose(k.sum(axis=0)[..., : d // 2], 0, atol=1e-6)          # zero-sum in time
    assert np.allclose(k[0, ..., d // 2:], k[1, ..., d // 2:])               # appearance: same per frame
    static = np.ones((1, 8, 32, 32, 3), np.float32) * 0.3
    out = model.TokenReelViT(cfg).apply({"params": params}, jnp.asarray(static), capture_intermediates=True,
                                        mutable=["intermediates"])[1]["intermediates"]["embedding"]["__call__"][0]
    bias = np.asarray(params["embedding"]["bias"])
    assert np.allclose(np.asarray(out)[..., : d // 2], bias[: d // 2], atol=1e-5)   # a still clip: nothing


def test_supervit_run_trains_every_operating_point(tmp_path):
    pixels, labels = toy_motion_set(64, seed=2)
    write_npz(tmp_path / "train.npz", pixels, labels)
    write_npz(tmp_path / "val.npz", *toy_motion_set(24, seed=3))
    out = tmp_path / "super.safetensors"
    report = train.train(train.parse_args([
        "--train", str(tmp_path / "train.npz"), "--val", str(tmp_path / "val.npz"), "--out", str(out),
        "--tiny", "--steps", "12", "--batch", "8", "--log-every", "4", "--no-augment",
        "--sizes", "4x16x16", "--keep-rates", "1.0", "0.5", "--keep-layers", "0"]))
    assert [p["geometry"] for p in report["operating_points"]] == [[8, 32, 32]] * 2 + [[4, 16, 16]] * 2
    assert set(report["val_accuracy_by_point"]) == {"8x32x32@1", "8x32x32@0.5", "4x16x16@1", "4x16x16@0.5"}
    cfg, _, _, _ = export.load(str(out))
    assert (cfg.num_frames, cfg.height, cfg.width) == (8, 32, 32)      # weights keep the base geometry


def render_l_shape(frames: int, size: int, angle_step: float, scale_step: float = 0.0, shift=(0.0, 0.0)):
    """An L (two bars, rotationally asymmetric) of luminance 200 on 40, turned by angle_step
    radians per frame about the frame's centre (positive = clockwise on screen, where y points
    down), scaled by (1 + scale_step) per frame and moved by `shift` pixels per frame."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    clips = np.full((frames, size, size, 3), 40, np.uint8)
    for t in range(frames):
        a = angle_step * t
        s = (1 + scale_step) ** t
        u, v = x - size / 2 - shift[0] * t, y - size / 2 - shift[1] * t
        # Undo the turn (clockwise on screen is +angle in x-right, y-down coordinates).
        ru, rv = (np.cos(a) * u + np.sin(a) * v) / s, (-np.sin(a) * u + np.cos(a) * v) / s
        inside = ((np.abs(rv) < 2.5) & (ru > -8) & (ru < 9)) | ((np.abs(ru + 6) < 2.5) & (rv > -2.5) & (rv < 8))
        clips[t][inside] = 200
    return clips


def test_motion_moments_read_each_motion_and_ignore_polarity():
    cw = render_l_shape(8, 48, 0.15)[None]
    ccw = render_l_shape(8, 48, -0.15)[None]
    right = render_l_shape(8, 48, 0.0, shift=(1.5, 0.0))[None]
    down = render_l_shape(8, 48, 0.0, shift=(0.0, 1.5))[None]
    grow = render_l_shape(8, 48, 0.0, scale_step=0.08)[None]
    m = {k: train.motion_moments(c)[0] for k, c in
         dict(cw=cw, ccw=ccw, right=right, down=down, grow=grow).items()}
    mean_x, mean_y, div, curl = range(4)
    assert m["cw"][curl] > 0 > m["ccw"][curl], m
    assert m["right"][mean_x] > 0 and abs(m["right"][mean_y]) < 0.2 * m["right"][mean_x], m
    assert m["down"][mean_y] > 0 and abs(m["down"][mean_x]) < 0.2 * m["down"][mean_y], m
    assert m["grow"][div] > 0 and abs(m["grow"][curl]) < 0.2 * m["grow"][div], m
    # The polarity of the clip does not matter; a mirror or time reversal turns the signs as they
    # turn the labels.
    assert np.allclose(train.motion_moments(255 - cw)[0], m["cw"], atol=1e-5)
    assert np.allclose(train.motion_moments(cw[:, :, :, ::-1])[0][[mean_x, curl]], -m["cw"][[mean_x, curl]], atol=1e-5)
    assert np.allclose(train.motion_moments(cw[:, ::-1])[0], -m["cw"], atol=1e-5)


def test_token_motion_is_local_and_sums_to_the_curl():
    right = render_l_shape(8, 48, 0.0, shift=(1.5, 0.0))[None]
    e = train.token_motion(right, (2, 8, 8)).reshape(4, 6, 6, 2)       # T' x H' x W' tokens
    assert e[..., 0].sum() > 0 and abs(e[..., 1].sum()) < 0.2 * e[..., 0].sum()
    # Only tokens the L's edges pass through move; the flat background and inside give nothing.
    assert (np.abs(e[..., 0]) < 1e-6).mean() > 0.4
    # Frame pairs that straddle two tubelets are not in either token: a 3-frame clip has one pair.
    assert np.allclose(train.token_motion(right[:, :3], (2, 8, 8))[:, 6 * 6:], 0)
    # Position-weighted sum over tokens = the curl about the centre: the direction of a rotation.
    y, x = train.unit_centres(6)[:, None], train.unit_centres(6)[None, :]
    for angle, sign in ((0.15, 1), (-0.15, -1)):
        g = train.token_motion(render_l_shape(8, 48, angle)[None], (2, 8, 8)).reshape(4, 6, 6, 2)
        assert sign * (x * g[..., 1] - y * g[..., 0]).sum() > 0
    assert np.allclose(train.token_motion(255 - right, (2, 8, 8)), train.token_motion(right, (2, 8, 8)), atol=1e-5)


def test_flow_init_reads_each_motion_at_step_zero():
    """Untrained, the wired channels of the pooled features already have the sign of the clip's
    curl, mean flow and divergence, and inverting the clip's polarity does not change them."""
    from tokenreel_ref import model
    args = train.parse_args(["--train", "-", "--out", "-", "--tubelet", "2,8,8", "--hidden", "48", "--layers", "3",
                             "--heads", "2", "--mlp", "128", "--tokens", "4", "--tl-loc", "2"])
    cfg = train.default_config(8, 48, 48, 10, args)
    clips = dict(cw=render_l_shape(8, 48, 0.15), ccw=render_l_shape(8, 48, -0.15),
                 right=render_l_shape(8, 48, 0.0, shift=(1.5, 0.0)), left=render_l_shape(8, 48, 0.0, shift=(-1.5, 0.0)),
                 down=render_l_shape(8, 48, 0.0, shift=(0.0, 1.5)), up=render_l_shape(8, 48, 0.0, shift=(0.0, -1.5)),
                 grow=render_l_shape(8, 48, 0.0, scale_step=0.08), shrink=render_l_shape(8, 48, 0.0, scale_step=-0.07))
    pixels = np.stack(list(clips.values()))
    pixels = np.concatenate([pixels, 255 - pixels])
    norm = {"type": "zero_centered"}
    params, wired, ch = train.flow_init(model.init_params(cfg, seed=0), cfg, pixels, norm, blocks=2)
    _, state = model.TokenReelViT(cfg, 1.0, ()).apply({"params": params}, model.normalize(pixels, norm), mutable=["intermediates"])
    pooled = np.asarray(state["intermediates"]["pooled"][0])
    read = {name: pooled[:, c] - pooled[:, ch["zero"]] for name, c in ch.items()}
    for half in (slice(0, 8), slice(8, 16)):                                 # as rendered, inverted
        got = {name: dict(zip(clips, v[half])) for name, v in read.items()}
        assert got["curl"]["cw"] > 0 > got["curl"]["ccw"], got["curl"]
        assert got["ex"]["right"] > 0 > got["ex"]["left"], got["ex"]
        assert got["ey"]["down"] > 0 > got["ey"]["up"], got["ey"]
        assert got["div"]["grow"] > 0 > got["div"]["shrink"], got["div"]
    # The wiring is recorded for the trainer: every touched tensor, the embedding's wired columns.
    k = np.asarray(params["embedding"]["kernel"])
    assert wired[("embedding", "kernel")].shape == k.shape and wired[("embedding", "kernel")][..., ch["curl"]].all()
    assert not wired[("embedding", "kernel")].all()


def test_flow_init_run_keeps_the_wiring_fixed_for_flow_freeze(tmp_path):
    from tokenreel_ref import model
    for freeze in ("1", "0"):
        out, _ = tiny_run(tmp_path, f"flow{freeze}", 48, 3, ["--steps", "4", "--batch", "8", "--lr", "1e-2", "--warmup", "0",
                                                            "--flow-init", "2", "--flow-freeze", freeze, "--seed", "0"], FLOW_MODEL)
        cfg, trained, _, norm = export.load(str(out))
        pixels = np.load(tmp_path / "train.npz")["pixels"]
        start, wired, _ = train.flow_init(model.init_params(cfg, seed=0), cfg, pixels, norm, blocks=2, seed=0)
        for path, mask in wired.items():
            before, after = start, trained
            for key in path:
                before, after = before[key], after[key]
            before, after = np.asarray(before), np.asarray(after)
            if freeze == "1":
                assert np.array_equal(before[mask], after[mask]), path
            if (~mask).any():
                assert not np.allclose(before[~mask], after[~mask]), path     # the rest trains
        emb = np.asarray(trained["embedding"]["kernel"])[wired[("embedding", "kernel")]]
        start_emb = np.asarray(start["embedding"]["kernel"])[wired[("embedding", "kernel")]]
        assert np.array_equal(emb, start_emb) == (freeze == "1")
    # Continuing a wired model (--init) keeps its wiring as saved instead of redoing it.
    again, _ = tiny_run(tmp_path, "again", 48, 3, ["--steps", "3", "--batch", "8", "--lr", "1e-2", "--warmup", "0",
                                                  "--flow-init", "2", "--seed", "0", "--init", str(tmp_path / "flow1.safetensors")],
                       FLOW_MODEL)
    saved, continued = export.load(str(tmp_path / "flow1.safetensors"))[1], export.load(str(again))[1]
    mask = wired[("embedding", "kernel")]
    assert np.array_equal(np.asarray(saved["embedding"]["kernel"])[mask], np.asarray(continued["embedding"]["kernel"])[mask])
    assert not np.allclose(np.asarray(saved["embedding"]["kernel"])[~mask], np.asarray(continued["embedding"]["kernel"])[~mask])
    # A TokenLearner before layer 2 would pool the positions block 1 multiplies by: refused.
    with pytest.raises(SystemExit, match="no earlier than layer 2"):
        tiny_run(tmp_path, "early", 48, 3, ["--steps", "1", "--flow-init", "2"])


def test_motion_targets_are_the_same_in_numpy_and_in_the_jitted_step():
    import jax
    import jax.numpy as jnp
    clips = np.stack([render_l_shape(8, 48, 0.15), render_l_shape(8, 48, 0.0, shift=(1.5, 0.5))])
    clips = (clips.astype(np.int32) + np.random.default_rng(0).integers(0, 9, clips.shape)).astype(np.uint8)
    for f in (train.motion_moments, lambda c, xp: train.token_motion(c, (2, 8, 8), xp)):
        want = f(clips, np)
        got = np.asarray(jax.jit(lambda c: f(c, jnp))(clips))
        assert got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_smooth_posemb_init_is_smooth_and_trainable_shape():
    from tokenreel_ref import model
    cfg = train.tiny_config(8, 32, 32, 10)                          # grid 4 x 4 x 4
    base = model.init_params(cfg, seed=0)
    params = train.smooth_posemb_init(base, cfg, 0.5, 1.0, seed=0)
    pe = np.asarray(params["Transformer"]["posembed_input"]["pos_embedding"])
    assert pe.shape == np.asarray(base["Transformer"]["posembed_input"]["pos_embedding"]).shape
    grid = pe[0].reshape(cfg.grid + (pe.shape[-1],))
    fields = np.abs(grid).max(axis=(0, 1, 2)) > 0.2
    assert fields.sum() == round(0.5 * pe.shape[-1])
    temporal = fields & (grid.std(axis=0).mean(axis=(0, 1)) > 0.1)
    assert temporal.any() and np.allclose(grid[..., temporal].std(axis=(1, 2)), 0, atol=1e-6)   # time only
    spatial = fields & ~temporal
    assert spatial.any() and np.allclose(grid[..., spatial].std(axis=0), 0, atol=1e-6)         # space only
    # Neighbouring tokens differ by less than the field's range: smooth, not noise.
    assert np.abs(np.diff(grid[..., spatial], axis=2)).max() < 0.75 * np.ptp(grid[..., spatial], axis=(1, 2)).max()


@pytest.mark.parametrize("seed, options", [
    (4, ["--aux-weight", "1", "--posemb-init", "0.25"]),
    (5, ["--token-aux-weight", "1", "--token-aux-layer", "0",
         "--sizes", "4x16x16", "--keep-rates", "1", "0.5", "--keep-layers", "0"]),
], ids=["clip", "token"])
def test_aux_run_exports_the_model_only(tmp_path, seed, options):
    out, report = tiny_run(tmp_path, "aux", 48, seed, ["--steps", "8", "--batch", "8", "--log-every", "4"] + options)
    assert report["steps"] == 8 and np.isfinite(report["last_loss"])
    with open(out, "rb") as f:
        header = f.read(8 + int.from_bytes(f.read(8), "little"))
    assert b"aux_head" not in header
    export.load(str(out))


def test_shake_moves_frames_by_subpixel_offsets_and_keeps_labels():
    clip = render_l_shape(6, 40, 0.0)                                  # a still L
    assert np.array_equal(train.shake_clip(clip, np.zeros((6, 2))), clip)   # no offset: untouched
    shifts = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.5, 0.0], [-0.4, 0.3], [1.5, 1.5]])
    shaken = train.shake_clip(clip, shifts)
    assert np.array_equal(shaken[1][:, 1:], clip[1][:, :-1])               # one pixel right
    assert np.array_equal(shaken[2][:-1], clip[2][1:])                     # one pixel up
    # The object's centroid follows each offset to a tenth of a pixel.
    def centroid(frame):
        m = frame[..., 0].astype(np.float64) - 40
        y, x = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
        return np.array([(m * x).sum(), (m * y).sum()]) / m.sum()
    for f in range(6):
        assert np.allclose(centroid(shaken[f]) - centroid(clip[f]), shifts[f], atol=0.1), f
    names = train.MOTION10
    aug = train.Augmenter(names, np.random.default_rng(0), shake=1.0)
    clips = np.stack([clip] * 4)
    out, labels = aug(clips, np.full(4, names.index("static"), np.int32))
    assert (labels == names.index("static")).all()


def import_probe(name: str):
    """A script of training/probes as a module."""
    import importlib
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "probes"))
    return importlib.import_module(name)


def test_token_motion_probe_runs_and_reports_the_baseline(tmp_path, capsys):
    token_motion = import_probe("token_motion")
    write_npz(tmp_path / "a.npz", *toy_motion_set(8, seed=8))
    write_npz(tmp_path / "b.npz", *toy_motion_set(4, seed=9))
    token_motion.main(["--train", str(tmp_path / "a.npz"), "--val", str(tmp_path / "b.npz"), "--steps", "5",
                       "--dim", "16", "--hidden", "32"])
    out = capsys.readouterr().out
    assert "held-out error of predicting zero" in out and out.count("held-out error") == 6, out


def test_readout_probe_reads_a_saved_model(tmp_path, capsys):
    readout = import_probe("readout")
    weights, _ = tiny_run(tmp_path, "probe", 24, 10, ["--steps", "2", "--batch", "8"])
    write_npz(tmp_path / "val.npz", *toy_motion_set(6, seed=11))
    report = readout.main(["--model", str(weights), "--train", str(tmp_path / "train.npz"),
                           "--val", str(tmp_path / "val.npz"), "--block", "0"])
    out = capsys.readouterr().out
    assert "tokens after block 0 -> their own motion" in out and len(report["token_motion_explained"]) == 2
    assert "pooled_curl_direction" not in report                # the toy set has no rotation clips
    # A wired model, untrained (learning rate 0): its own curl channel reads rotations it never saw.
    wired, _ = tiny_run(tmp_path, "wired", 24, 10, ["--steps", "1", "--batch", "8", "--lr", "0", "--flow-init", "2"], FLOW_MODEL)
    turns = np.stack([render_l_shape(8, 32, a) for a in (0.12, 0.15, 0.18, -0.12, -0.15, -0.18)])
    write_npz(tmp_path / "rot.npz", np.concatenate([turns, 255 - turns]), np.array([7, 7, 7, 8, 8, 8] * 2, np.int32))
    wired_report = readout.main(["--model", str(wired), "--train", str(tmp_path / "rot.npz"), "--val", str(tmp_path / "rot.npz"),
                                 "--block", "0", "--flow-init", "2"])
    assert wired_report["wired_curl_direction"] == 1.0, wired_report
    with pytest.raises(SystemExit, match="TokenLearner replaces"):
        readout.main(["--model", str(weights), "--train", str(tmp_path / "train.npz"), "--val", str(tmp_path / "val.npz"),
                      "--block", "1"])
