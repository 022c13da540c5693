"""Models whose attention is a config choice (``AttentionOptions``).

- ``gpt``    ``GPTConfig`` and ``MiniGPT``: a small decoder-only transformer (nanoGPT's layout, pre-LN)
- ``bert``   ``BERTConfig`` and ``MiniBERT``: a bidirectional MLM encoder (BERT's layout, post-LN)
- ``sizes``      the size checks both configs share
- ``hf_weights`` the same weights in Hugging Face's ``GPT2LMHeadModel`` / ``BertForMaskedLM`` and in
  ``torch.nn.MultiheadAttention`` (parity checks)
- ``segmenter``  ``SegmenterConfig`` and ``BiLSTMSegmenter``: a BiLSTM boundary tagger, with or without attention (seed 004)
"""
from .bert import BERTConfig, MiniBERT
from .gpt import MLP, Block, GPTConfig, MiniGPT
from .segmenter import BiLSTMSegmenter, SegmenterConfig

__all__ = ["GPTConfig", "MiniGPT", "Block", "MLP", "BERTConfig", "MiniBERT", "SegmenterConfig", "BiLSTMSegmenter"]
