"""A byte-level BPE tokenizer trained on the synthetic corpus, wrapped as a ``transformers`` fast tokenizer.

RoBERTa (Liu et al., 2019) reads text as bytes: GPT-2's byte-level BPE starts from the 256 byte
symbols, so any text has a spelling and nothing is ever ``<unk>``, and then learns merges of the most
frequent adjacent pairs. ``Ġ`` is how the byte of a space is shown: a piece that starts with it
begins a word. Frequent words become one piece (``Ġthe``); rare ones split (``Ġbe rks``).

``train_tokenizer`` trains one on sentences given as lists of words (Hugging Face ``tokenizers``;
nothing is downloaded) with RoBERTa's special tokens at RoBERTa's ids, and wraps it as a
``PreTrainedTokenizerFast`` that adds ``<s> ... </s>`` like ``roberta-base``'s own tokenizer.
``encode_words`` encodes word lists with any such tokenizer (``roberta-base``'s too) and returns,
for every id, the index of its word (None for the special tokens): what ties sub-word pieces back
to the words the grammar talks about.

    tok = train_tokenizer(corpus.train, vocab_size=1_000)
    ids, word_ids = encode_words(tok, [["the", "bavoks", "klorn", "."]])
"""
from __future__ import annotations

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")      # RoBERTa's ids 0, 1, 2, 3, 4


def train_bpe(sentences, vocab_size: int = 1_000, min_frequency: int = 2):
    """A ``tokenizers.Tokenizer``: byte-level BPE of at most ``vocab_size`` ids (specials included)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    if vocab_size <= 256 + len(SPECIALS):
        raise ValueError(f"vocab_size must exceed the 256 bytes and {len(SPECIALS)} special tokens, got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((" ".join(s) for s in sentences), trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=True)
    return tok


def as_transformers(tok, max_len: int = 512):
    """Wrap a ``tokenizers.Tokenizer`` as a ``transformers`` fast tokenizer with RoBERTa's special tokens."""
    from transformers import PreTrainedTokenizerFast
    ids = [tok.token_to_id(t) for t in SPECIALS]
    if ids != list(range(len(SPECIALS))):
        raise ValueError(f"the special tokens must have ids 0..4 in the order {SPECIALS}, got {ids}")
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", cls_token="<s>", pad_token="<pad>",
                                   eos_token="</s>", sep_token="</s>", unk_token="<unk>", mask_token="<mask>",
                                   model_max_length=max_len, clean_up_tokenization_spaces=False)


def train_tokenizer(sentences, vocab_size: int = 1_000, max_len: int = 512, min_frequency: int = 2):
    """``train_bpe`` then ``as_transformers``: a ready ``transformers`` tokenizer."""
    return as_transformers(train_bpe(sentences, vocab_size, min_frequency), max_len)


def encode_words(tokenizer, sentences, max_len: int | None = None) -> tuple[list, list]:
    """``(ids, word_ids)`` per sentence (a list of words), ``<s> ... </s>`` included; ``max_len`` truncates.

    ``word_ids[t]`` is the index of the word id ``t`` belongs to (None for special tokens).
    """
    if not sentences:
        return [], []
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True, truncation=max_len is not None,
                    max_length=max_len, verbose=False)
    return [list(x) for x in enc["input_ids"]], [enc.word_ids(i) for i in range(len(sentences))]


def decode_words(tokenizer, ids) -> list[str]:
    """The words of ``ids`` (special tokens dropped): the inverse of ``encode_words`` for one sentence."""
    return tokenizer.decode(ids, skip_special_tokens=True).split()


def pieces(tokenizer, word: str) -> list[str]:
    """How one word (after a space, as inside a sentence) is split."""
    return tokenizer.convert_ids_to_tokens(tokenizer([word], is_split_into_words=True,
                                                     add_special_tokens=False)["input_ids"])


def split_stats(tokenizer, sentences) -> dict:
    """How words split: the share of word types and of running words that take more than one piece, and the
    mean number of pieces per word."""
    counts: dict = {}
    for s in sentences:
        for w in s:
            counts[w] = counts.get(w, 0) + 1
    n_pieces = {w: len(pieces(tokenizer, w)) for w in counts}
    running = sum(counts.values())
    return {"word_types": len(counts), "types_split": sum(n > 1 for n in n_pieces.values()) / len(counts),
            "words_split": sum(counts[w] for w, n in n_pieces.items() if n > 1) / running,
            "pieces_per_word": sum(counts[w] * n for w, n in n_pieces.items()) / running,
            "vocab_size": len(tokenizer)}
