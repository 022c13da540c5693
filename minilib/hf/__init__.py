"""The Hugging Face bridge: the course's synthetic language through ``transformers`` and ``tokenizers``.

Needs ``transformers`` (``pip install minilib[hf]``; it also comes with the ``viz`` extra's bertviz).
Nothing here downloads anything unless asked to (``hub.load_pretrained(..., offline=False)``).

- ``tokenizer``   ``train_tokenizer``: a byte-level BPE (RoBERTa's kind) trained on word lists, wrapped as a
                  ``transformers`` fast tokenizer; ``encode_words`` (ids and each id's word), ``pieces``,
                  ``split_stats``
- ``batches``     ``mlm_batches`` (masked by ``DataCollatorForLanguageModeling``), ``classification_batches``
- ``models``      ``roberta_config``, ``masked_lm``, ``classifier`` (optionally from a masked LM's encoder),
                  ``eager`` (attention weights on), ``ForTrain`` (a Hugging Face model for ``minilib.train.train``)
- ``scoring``     ``class_probs``, ``mlm_loss``, ``unigram_loss`` (the context-free baseline), ``pseudo_log_likelihood``
                  (BLiMP-style preferences)
- ``attention``   ``attentions`` of one sentence, ``edited_attention``: a layer's attention made uniform or permuted
- ``importance``  word importances of a classifier's answer: attention, gradient x input, leave-one-out;
                  ``interventions``
- ``hub``         ``load_pretrained("roberta-base")`` from the Hub, the cache or a folder, or ``HubUnavailableError``

    tok = train_tokenizer(corpus.train, vocab_size=500)
    mlm = masked_lm(roberta_config(tok, hidden=64, layers=2, heads=4))
"""
from .attention import EDITS, attentions, edited_attention, permute_rows, uniform_rows
from .batches import CollatedMLM, classification_batches, mlm_batches, padded
from .hub import HubUnavailableError, load_pretrained
from .importance import explain, interventions
from .models import ForTrain, classifier, eager, masked_lm, n_params, roberta_config
from .scoring import class_probs, mlm_loss, pseudo_log_likelihood, unigram_loss
from .tokenizer import (SPECIALS, as_transformers, decode_words, encode_words, pieces, split_stats, train_bpe,
                        train_tokenizer)

__all__ = ["EDITS", "attentions", "edited_attention", "permute_rows", "uniform_rows", "CollatedMLM",
           "classification_batches", "mlm_batches", "padded", "HubUnavailableError", "load_pretrained",
           "explain", "interventions", "ForTrain", "classifier", "eager", "masked_lm", "n_params",
           "roberta_config", "class_probs", "mlm_loss", "pseudo_log_likelihood", "unigram_loss", "SPECIALS",
           "as_transformers", "decode_words", "encode_words", "pieces", "split_stats", "train_bpe",
           "train_tokenizer"]
