"""Data: the synthetic language with exact probabilities, corpora, tokenizers, batches and floors.

- ``lexicon``    the words: English function words plus seeded pseudo-words
- ``rules``      the grammar as data: symbols, rules, probabilities
- ``grammar``    ``SyntheticLanguage``: the rules compiled into a stack machine with exact probabilities
- ``tokenizer``  ``Tokenizer``: word- or character-level vocabularies
- ``corpora``    ``load_corpus``: the synthetic corpus (cached), Python's own docs, local files, downloads
- ``downloads``  files from the network, pinned by size and SHA-256 (a wrong file is refused, never cached)
- ``batches``    ``make_batches``: padded next-token batches (``Batch``)
- ``mlm``        masked-language-modelling batches: BERT's 80/10/10 rule; static, dynamic, whole-word
- ``subword``    ``SubwordTokenizer``: sub-words (Hugging Face ``tokenizers``, unigram) that keep their word, for whole-word masking
- ``floor``      ``true_loss``: the best possible loss on the very targets a model is scored on
- ``mlm_floor``  ``mlm_floor``: the exact p(hidden word | rest of the sentence), the floor of an MLM loss
- ``segmentation``  lab 5's task: run-on streams of sentences joined by "and", frozen hashed features, batches
- ``segment_posterior``  the Bayes-optimal p(boundary after token i | stream), by dynamic programming
- ``minimal_pairs``  ``minimal_pairs``: grammatical/ungrammatical sentence pairs that differ in one word, with the
                 words that decide (agreement across clauses, pronouns, closing marks), found by the grammar

    corpus = load_corpus()                      # the synthetic language, paper scale, cached
    tok = corpus.tokenizer(max_size=8000)       # the whole lexicon fits: no <UNK>
    batches = make_batches(encode_corpus(corpus, tok)["train"], batch_size=32, max_len=100)
"""
from .batches import Batch, encode_corpus, make_batches
from .corpora import (CORPORA, PAPER_TRAIN_TOKENS, Corpus, CorpusStats, corpus_stats, default_cache_dir, load_corpus,
                      read_text_file, split_sentences)
from .downloads import PINNED, CorpusUnavailableError
from .floor import FloorLoss, floor_logprobs, true_loss
from .grammar import Estimate, SyntheticLanguage
from .minimal_pairs import CONSTRUCTIONS, MinimalPair, counterpart, find_pairs, minimal_pairs, split_pairs
from .mlm import MLMBatch, MLMBatches, mask_tokens
from .subword import SubwordTokenizer, subword_batches
from .segment_posterior import boundary_posterior
from .segmentation import SegmentationTask, Stream, hashed_features, make_streams, segmentation_batches
from .mlm_floor import MLMFloor, floor_batches, floor_positions, masked_word_logprobs, mlm_floor
from .tokenizer import Tokenizer

__all__ = ["Batch", "encode_corpus", "make_batches", "CORPORA", "PAPER_TRAIN_TOKENS", "PINNED", "Corpus",
           "CorpusStats", "CorpusUnavailableError", "corpus_stats", "default_cache_dir", "load_corpus",
           "read_text_file", "split_sentences", "FloorLoss", "floor_logprobs", "true_loss", "Estimate",
           "SyntheticLanguage", "Tokenizer", "MLMBatch", "MLMBatches", "mask_tokens", "MLMFloor", "floor_batches",
           "floor_positions", "masked_word_logprobs", "mlm_floor",
           "SubwordTokenizer", "subword_batches", "boundary_posterior", "SegmentationTask", "Stream",
           "hashed_features", "make_streams", "segmentation_batches",
           "CONSTRUCTIONS", "MinimalPair", "counterpart", "find_pairs", "minimal_pairs", "split_pairs"]
