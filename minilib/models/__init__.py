"""Models whose attention is a config choice.

- ``gpt``   ``GPTConfig`` and ``MiniGPT``: a small decoder-only transformer (nanoGPT's layout)
"""
from .gpt import MLP, Block, GPTConfig, MiniGPT

__all__ = ["GPTConfig", "MiniGPT", "Block", "MLP"]
