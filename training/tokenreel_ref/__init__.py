"""TokenReel's Flax reference: a ViViT + TokenLearner classifier with Scenic's parameter tree.

`model.TokenReelViT` builds the network from a `config.ModelConfig`; `export.save` writes its
parameters as safetensors with the `__metadata__` documented in docs/model-format.md.
"""
