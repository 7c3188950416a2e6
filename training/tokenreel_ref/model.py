"""ViViT + TokenLearner classifier in Flax, with Scenic's exact parameter tree.

Written for TokenReel from the paper and Scenic's documented structure (token_learner/model.py,
vivit/model.py, baselines/vit.py); parameter names and shapes are checked against
/work/shared/reference/scenic-param-trees.txt by training/tests.

Dimension legend: B clips, T frames, H x W pixels, C=3 channels; (t, h, w) tubelet;
T'=T//t, H'=H//h, W'=W//w; N = T'H'W' tokens (+1 with the 'token' classifier); D width;
S learned tokens per temporal slice; K classes.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from . import keep as keeping
from .config import ModelConfig

xavier = nn.initializers.xavier_uniform()
tiny_normal = nn.initializers.normal(stddev=1e-6)


class MlpBlock(nn.Module):
    """Dense_0 -> gelu (tanh approximation) -> Dense_1."""
    mlp_dim: int
    out_dim: int

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.mlp_dim, kernel_init=xavier, bias_init=tiny_normal, name="Dense_0")(x)
        x = nn.gelu(x)  # approximate=True
        return nn.Dense(self.out_dim, kernel_init=xavier, bias_init=tiny_normal, name="Dense_1")(x)


class EncoderBlock(nn.Module):
    """Pre-LN transformer block: x + MHA(LN(x)), then x + MLP(LN(x)). [B, N, D] -> [B, N, D].

    With keep_rate < 1 (token keeping, keep.py) the tokens are pruned to [B, k, D] between the
    attention residual and the MLP, ranked by the attention probabilities of this block (within
    each of keep_groups equal slices of the tokens when keep_groups > 1)."""
    mlp_dim: int
    num_heads: int
    eps: float
    keep_rate: float = 1.0
    keep_cls: bool = False
    keep_groups: int = 1

    @nn.compact
    def __call__(self, x):
        ln = nn.LayerNorm(epsilon=self.eps, name="LayerNorm_0")(x)
        mha = nn.MultiHeadDotProductAttention(
            num_heads=self.num_heads, kernel_init=xavier, deterministic=True,
            name="MultiHeadDotProductAttention_0")
        y = mha(ln, ln)
        x = x + y
        if self.keep_rate < 1.0:
            p = mha.variables["params"]
            q = jnp.einsum("bnd,dhk->bnhk", ln, p["query"]["kernel"]) + p["query"]["bias"]
            k = jnp.einsum("bnd,dhk->bnhk", ln, p["key"]["kernel"]) + p["key"]["bias"]
            w = nn.dot_product_attention_weights(q, k)                                # [B, H, N, N]
            x, margin = keeping.keep_tokens(x, w, self.keep_rate, self.keep_cls, self.keep_groups)
            self.sow("intermediates", "keep_margin", margin)
        y = nn.LayerNorm(epsilon=self.eps, name="LayerNorm_1")(x)
        y = MlpBlock(self.mlp_dim, x.shape[-1], name="MlpBlock_0")(y)
        return x + y


class TokenLearnerV11(nn.Module):
    """[B', P, D] -> [B', S, D]: softmax over the P positions of LN-MLP masks, weighted sum of x."""
    num_tokens: int
    bottleneck_dim: int
    eps: float

    @nn.compact
    def __call__(self, x):
        m = nn.LayerNorm(epsilon=self.eps, name="LayerNorm_0")(x)
        m = MlpBlock(self.bottleneck_dim, self.num_tokens, name="token_masking")(m)   # [B', P, S]
        m = jax.nn.softmax(jnp.swapaxes(m, 1, 2), axis=-1)                            # [B', S, P]
        return jnp.einsum("bsp,bpd->bsd", m, x)


class TokenLearnerV10(nn.Module):
    """[B', P, D] (square grid) -> [B', S, D]: 4 convs 3x3 (gelu between), sigmoid, sum pooling."""
    num_tokens: int
    eps: float

    @nn.compact
    def __call__(self, x):
        b, p, d = x.shape
        g = int(round(p ** 0.5))
        assert g * g == p, "TokenLearner v1.0 needs a square grid"
        m = nn.LayerNorm(epsilon=self.eps, name="LayerNorm_0")(x.reshape(b, g, g, d))
        for i in range(4):
            m = nn.Conv(self.num_tokens, (3, 3), padding="SAME", use_bias=False, name=f"Conv_{i}")(m)
            if i < 3:
                m = nn.gelu(m)
        m = nn.sigmoid(m.reshape(b, p, self.num_tokens))                             # [B', P, S]
        return jnp.einsum("bps,bpd->bsd", m, x)


class TokenFuser(nn.Module):
    """(tokens [B', S, D], original [B', P, D]) -> [B', P, D] (the caller adds the residual)."""
    bottleneck_dim: int
    eps: float

    @nn.compact
    def __call__(self, tokens, original):
        s = tokens.shape[1]
        t = nn.LayerNorm(epsilon=self.eps, name="fuser_mix_norm1")(tokens)
        t = jnp.swapaxes(t, 1, 2)                                                     # [B', D, S]
        t = nn.Dense(s, kernel_init=nn.initializers.zeros, name="Dense_0")(t)
        t = jnp.swapaxes(t, 1, 2)                                                     # [B', S, D]
        t = nn.LayerNorm(epsilon=self.eps, name="fuser_mix_norm2")(t)
        o = nn.LayerNorm(epsilon=self.eps, name="LayerNorm_0")(original)
        mix = nn.sigmoid(MlpBlock(self.bottleneck_dim, s, name="token_masking")(o))  # [B', P, S]
        return jnp.einsum("bsd,bps->bpd", t, mix)


class PositionEmbedding(nn.Module):
    @nn.compact
    def __call__(self, x):
        pe = self.param("pos_embedding", nn.initializers.normal(stddev=0.02), (1,) + x.shape[1:])
        return x + pe


class Encoder(nn.Module):
    """`Transformer`: position embedding, blocks with TokenLearner/TokenFuser, encoder_norm."""
    cfg: ModelConfig
    keep_rate: float = 1.0
    keep_layers: tuple = ()

    @nn.compact
    def __call__(self, x):
        cfg, tl, eps = self.cfg, self.cfg.tokenlearner, self.cfg.layer_norm_epsilon
        tslices = cfg.grid[0]
        x = PositionEmbedding(name="posembed_input")(x)

        # P = H'W' positions per slice, or fewer (the same in every slice) after per-slice keeping.
        def learn(k, x):                              # [B, T'P, D] -> ([B*T', P, D], [B*T', S, D])
            b, n, d = x.shape
            xs = x.reshape(b * tslices, n // tslices, d)
            if tl.version == "1.1":
                y = TokenLearnerV11(tl.num_tokens, tl.bottleneck_dim, eps, name=f"TokenLearnerModuleV11_{k}")(xs)
            else:
                y = TokenLearnerV10(tl.num_tokens, eps, name=f"TokenLearnerModule_{k}")(xs)
            return xs, y

        for lyr in range(cfg.num_layers):
            rate = self.keep_rate if lyr in self.keep_layers else 1.0
            block = EncoderBlock(cfg.mlp_dim, cfg.num_heads, eps, rate, cfg.classifier == "token",
                                 keeping.keep_groups(cfg, lyr), name=f"encoderblock_{lyr}")
            b, n, d = x.shape
            if tl is not None and tl.use_tokenfuse and lyr >= tl.loc:
                k = lyr - tl.loc
                residual, y = learn(k, x)
                y = block(y.reshape(b, -1, d)).reshape(b * tslices, tl.num_tokens, d)
                y = TokenFuser(tl.bottleneck_dim, eps, name=f"TokenFuser_{k}")(y, residual)
                x = (y + residual).reshape(b, n, d)
            elif tl is not None and lyr == tl.loc:
                _, y = learn(0, x)
                x = block(y.reshape(b, -1, d))
            else:
                x = block(x)
                self.sow("intermediates", f"block_{lyr}", x)     # [B, N, D], for the trainer's token head
        return nn.LayerNorm(epsilon=eps, name="encoder_norm")(x)


class TokenReelViT(nn.Module):
    """Clips [B, T, H, W, 3] (already normalised) -> logits [B, K]."""
    cfg: ModelConfig
    keep_rate: float = 1.0        # token keeping (keep.py); 1.0 = off
    keep_layers: tuple = ()

    @nn.compact
    def __call__(self, clips):
        cfg = self.cfg
        t, h, w = cfg.tubelet
        x = nn.Conv(cfg.hidden_size, (t, h, w), strides=(t, h, w), padding="VALID", name="embedding")(clips)
        b = x.shape[0]
        x = x.reshape(b, -1, cfg.hidden_size)                                         # [B, N, D], t-major
        if cfg.classifier == "token":
            cls = self.param("cls", nn.initializers.zeros, (1, 1, cfg.hidden_size))
            x = jnp.concatenate([jnp.tile(cls, (b, 1, 1)), x], axis=1)
        x = Encoder(cfg, self.keep_rate, tuple(self.keep_layers), name="Transformer")(x)
        if cfg.classifier == "token":
            x = x[:, 0]
        else:
            x = {"gap": jnp.mean, "gmp": jnp.max, "gsp": jnp.sum}[cfg.classifier](x, axis=1)
        self.sow("intermediates", "pooled", x)       # [B, D], for the trainer's auxiliary head
        if cfg.representation_size is not None:
            x = jnp.tanh(nn.Dense(cfg.representation_size, name="pre_logits")(x))
        return nn.Dense(cfg.num_classes, kernel_init=nn.initializers.zeros, name="output_projection")(x)


def init_params(cfg: ModelConfig, seed: int = 0):
    """Scenic-style initialisation (zero head kernel, zero fuser mixing kernel)."""
    cfg.validate()
    model = TokenReelViT(cfg)
    x = jnp.zeros((1, cfg.num_frames, cfg.height, cfg.width, 3), jnp.float32)
    return model.init(jax.random.PRNGKey(seed), x)["params"]


def perturb_params(params, seed: int, scale: float = 0.1):
    """Adds noise to every parameter so no part of the network is trivial (zero-init head,
    zero fuser kernel, unit LayerNorm scales). Used for test fixtures and the placeholder model."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    out = []
    for k, leaf in zip(keys, leaves):
        fan = leaf.shape[0] if leaf.ndim >= 2 else 1
        std = scale if leaf.ndim < 2 else max(scale, (1.0 / fan) ** 0.5)
        out.append(leaf + std * jax.random.normal(k, leaf.shape, leaf.dtype))
    return jax.tree_util.tree_unflatten(tree, out)


def apply(cfg: ModelConfig, params, clips, keep_rate: float = 1.0, keep_layers=(), with_margins: bool = False):
    """Logits [B, K]. With keep_rate < 1, token keeping at `keep_layers` (keep.py); with_margins
    also returns {layer: [B] score gap between the last kept and the first dropped token}."""
    if keep_rate != 1.0 or keep_layers:
        keep_layers = keeping.check_keeping(cfg, keep_rate, keep_layers)
    m = TokenReelViT(cfg, float(keep_rate), tuple(keep_layers))
    if not with_margins:
        return m.apply({"params": params}, clips)
    logits, state = m.apply({"params": params}, clips, mutable=["intermediates"])
    blocks = state.get("intermediates", {}).get("Transformer", {})
    margins = {int(k.split("_")[-1]): v["keep_margin"][0] for k, v in blocks.items()
               if k.startswith("encoderblock_") and "keep_margin" in v}
    return logits, margins


def normalize(pixels, normalization: dict):
    """RGB24 [..., 3] uint8 -> float32, as documented in docs/model-format.md."""
    import numpy as np
    x = pixels.astype(np.float32) / np.float32(255.0)
    kind = normalization.get("type", "zero_centered")
    if kind == "zero_centered":
        return x * np.float32(2.0) - np.float32(1.0)
    if kind == "unit":
        return x
    if kind == "mean_std":
        return (x - np.asarray(normalization["mean"], np.float32)) / np.asarray(normalization["std"], np.float32)
    raise ValueError(f"unknown normalization {kind!r}")
