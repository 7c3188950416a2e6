"""Model hyper-parameters, as stored (JSON) in the safetensors `__metadata__["config"]`.

The keys are the schema of docs/model-format.md; the Swift `ModelConfig` decodes the same JSON.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Optional


@dataclasses.dataclass(frozen=True)
class TokenLearnerConfig:
    version: str = "1.1"          # "1.1" (MLP + softmax) or "1.0" (4 convs + sigmoid, sum pooling)
    num_tokens: int = 8           # S, learned tokens per temporal slice
    loc: int = 0                  # inserted before encoderblock_{loc}
    use_tokenfuse: bool = False   # TokenLearner + TokenFuser at every layer >= loc (v1.1 only)
    bottleneck_dim: int = 64      # hidden width of the v1.1 `token_masking` MLP (Scenic default)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    num_frames: int               # T of the input clip
    height: int                   # H of the input clip
    width: int                    # W of the input clip
    tubelet: tuple                # (t, h, w) of the 3-D patch convolution (Scenic patches.size is (h, w, t))
    hidden_size: int              # D
    num_layers: int
    num_heads: int
    mlp_dim: int
    num_classes: int
    classifier: str = "gap"       # gap | gmp | gsp | token ('token' only without TokenLearner)
    representation_size: Optional[int] = None   # pre_logits Dense + tanh when set
    tokenlearner: Optional[TokenLearnerConfig] = None
    layer_norm_epsilon: float = 1e-6

    # Derived sizes ---------------------------------------------------------------------------
    @property
    def grid(self) -> tuple:
        """(T', H', W'): tubelets along time, height, width (VALID convolution, floor)."""
        t, h, w = self.tubelet
        return (self.num_frames // t, self.height // h, self.width // w)

    @property
    def num_patches(self) -> int:
        tp, hp, wp = self.grid
        return tp * hp * wp

    def validate(self) -> None:
        t, h, w = self.tubelet
        if min(t, h, w) < 1 or self.num_frames < t or self.height < h or self.width < w:
            raise ValueError(f"tubelet {self.tubelet} does not fit the input {self.num_frames}x{self.height}x{self.width}")
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        if self.classifier not in ("gap", "gmp", "gsp", "token"):
            raise ValueError(f"unknown classifier {self.classifier!r}")
        tl = self.tokenlearner
        if tl is not None:
            if self.classifier == "token":
                raise ValueError("classifier 'token' is not supported with TokenLearner (as in Scenic)")
            if tl.version not in ("1.0", "1.1"):
                raise ValueError(f"unknown TokenLearner version {tl.version!r}")
            if not 0 <= tl.loc < self.num_layers:
                raise ValueError("tokenlearner.loc must be a layer index")
            if tl.version == "1.0" and self.grid[1] != self.grid[2]:
                raise ValueError("TokenLearner v1.0 needs a square token grid")
            if tl.use_tokenfuse and tl.version != "1.1":
                raise ValueError("TokenFuser is only supported with TokenLearner v1.1")

    # JSON --------------------------------------------------------------------------------------
    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        d["tubelet"] = list(self.tubelet)
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "ModelConfig":
        d = json.loads(text)
        tl = d.pop("tokenlearner", None)
        d["tubelet"] = tuple(d["tubelet"])
        return ModelConfig(tokenlearner=TokenLearnerConfig(**tl) if tl else None, **d)
