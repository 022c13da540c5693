"""A sub-word tokenizer trained on a corpus, which remembers the word each piece came from.

Whole-word masking needs words that span several tokens. The course's word-level tokenizer
never splits a word, so this module trains a sub-word vocabulary with Hugging Face's
``tokenizers`` library (installed with ``transformers``; nothing is downloaded): frequent
words stay whole, rarer ones become pieces (``Dr u b rez``). The model is the *unigram*
language model of SentencePiece (Kudo, 2018; used by ALBERT, T5 and XLNet), not BERT's
WordPiece: the library's WordPiece and BPE trainers break ties between equally frequent
merges in an order that changes from one process to the next, so their vocabularies are not
reproducible, while the unigram trainer's is (tested). Encoding returns the ids and, for
each id, the index of its word in the sentence (``word_ids``; -1 for the special tokens),
which is what ``MLMBatches(strategy="whole_word")`` needs.

The special tokens keep ``Tokenizer``'s ids (``<PAD>`` 0, ``<START>`` 1, ``<STOP>`` 2,
``<UNK>`` 3) and ``<MASK>`` is 4, so batches, masking and models work unchanged.

    sub = SubwordTokenizer.train(corpus.train, vocab_size=600)
    batches, word_ids = subword_batches(sub, corpus.train, batch_size=32, max_len=64)
    data = MLMBatches(batches, tokenizer=sub, mask_id=sub.mask_id, vocab_size=sub.vocab_size,
                      strategy="whole_word", word_ids=word_ids)
"""
from __future__ import annotations

import json

from .batches import make_batches
from .mlm import encoder_rows
from .tokenizer import SPECIALS, Tokenizer


def _tokenizers():
    try:
        import tokenizers
    except ImportError as e:                          # pragma: no cover - installed with transformers
        raise ImportError("SubwordTokenizer needs Hugging Face's `tokenizers`: pip install tokenizers "
                          "(it comes with transformers)") from e
    return tokenizers


class SubwordTokenizer:
    """Sub-word ids for sentences given as lists of words, with the word each id belongs to."""

    pad_id, start_id, stop_id, unk_id, mask_id = 0, 1, 2, 3, 4
    SPECIALS = (*SPECIALS, Tokenizer.MASK)

    def __init__(self, hf_tokenizer):
        self.hf = hf_tokenizer
        ids = [hf_tokenizer.token_to_id(t) for t in self.SPECIALS]
        if ids != list(range(len(self.SPECIALS))):
            raise ValueError(f"the special tokens must have ids 0..4 in the order {self.SPECIALS}, got {ids}")

    @classmethod
    def train(cls, sentences, vocab_size: int = 600) -> "SubwordTokenizer":
        """Learn a unigram sub-word vocabulary of at most ``vocab_size`` ids (specials included) from word lists."""
        tk = _tokenizers()
        if vocab_size <= len(cls.SPECIALS):
            raise ValueError(f"vocab_size must exceed the {len(cls.SPECIALS)} special tokens, got {vocab_size}")
        hf = tk.Tokenizer(tk.models.Unigram())
        hf.pre_tokenizer = tk.pre_tokenizers.WhitespaceSplit()
        trainer = tk.trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=list(cls.SPECIALS),
                                             unk_token=Tokenizer.UNK, show_progress=False)
        hf.train_from_iterator((" ".join(s) for s in sentences), trainer)
        return cls(cls._canonical(hf))

    @classmethod
    def _canonical(cls, hf, decimals=3):
        """The same unigram model, reproducible: the trainer's scores vary in their last digits from one process
        to the next, and characters it must keep get scores offset by 1e-4 in a random order. Scores rounded to
        ``decimals``, pieces ordered by score and then text, give the same ids and splits every time."""
        tk = _tokenizers()
        special = set(cls.SPECIALS)
        pieces = [(t, round(score, decimals)) for t, score in json.loads(hf.to_str())["model"]["vocab"]
                  if t not in special]
        vocab = [(t, 0.0) for t in cls.SPECIALS] + sorted(pieces, key=lambda p: (-p[1], p[0]))
        out = tk.Tokenizer(tk.models.Unigram(vocab, unk_id=cls.unk_id, byte_fallback=False))
        out.pre_tokenizer = tk.pre_tokenizers.WhitespaceSplit()
        return out

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def __len__(self):
        return self.vocab_size

    def encode_batch(self, sentences, add_special: bool = True) -> tuple[list, list]:
        """``(ids, word_ids)`` for each sentence (a list of words); ``add_special`` wraps in ``<START> ... <STOP>``."""
        ids, words = [], []
        for enc in self.hf.encode_batch([list(s) for s in sentences], is_pretokenized=True, add_special_tokens=False):
            i, w = list(enc.ids), [-1 if x is None else x for x in enc.word_ids]
            if add_special:
                i, w = [self.start_id, *i, self.stop_id], [-1, *w, -1]
            ids.append(i)
            words.append(w)
        return ids, words

    def encode(self, words, add_special: bool = True) -> tuple[list, list]:
        ids, word_ids = self.encode_batch([words], add_special)
        return ids[0], word_ids[0]

    def pieces(self, word: str) -> list[str]:
        """How one word is split into pieces."""
        return self.hf.encode([word], is_pretokenized=True, add_special_tokens=False).tokens

    def decode(self, ids) -> list[str]:
        """The pieces of ``ids`` (specials included)."""
        return [self.hf.id_to_token(int(i)) for i in ids]

    def __repr__(self):
        return f"SubwordTokenizer(unigram, vocab_size={self.vocab_size})"


def subword_batches(tokenizer: SubwordTokenizer, sentences, *, batch_size=32, max_len=64, seed=0, **kw):
    """Padded batches of ``sentences`` (``make_batches``) and, for each batch, the word ids of its encoder rows
    (``[B, T+1]``, -1 at specials and padding): the ``word_ids`` argument of ``MLMBatches``.

    The word ids are batched by the same ``make_batches`` call on rows of the same lengths with the same
    seed, so they land exactly where their tokens do.
    """
    import torch
    ids, words = tokenizer.encode_batch(sentences)
    batches = make_batches(ids, batch_size=batch_size, max_len=max_len, pad_id=tokenizer.pad_id, seed=seed, **kw)
    word_batches = make_batches(words, batch_size=batch_size, max_len=max_len, pad_id=-1, seed=seed, **kw)
    word_ids = []
    for b, w in zip(batches, word_batches):
        rows, mask = encoder_rows(b)
        wid, wmask = encoder_rows(w)
        if not torch.equal(mask, wmask):
            raise RuntimeError("token and word-id batches do not line up")   # make_batches is deterministic
        word_ids.append(wid.masked_fill(~mask, -1))
    return batches, word_ids
