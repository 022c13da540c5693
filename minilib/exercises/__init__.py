"""Exercise checkers: each tells the learner right or wrong (and why), and each is tested in ``tests/``
to accept the solution and to reject at least one wrong answer.

- ``feedback``         how a checker talks: wrapped messages, a True/False verdict, never a traceback
- ``selection``        chapter 1: a query that shares the weight between two keys
- ``building``         chapter 2: the head split and merge; the causal mask of a key/value cache
- ``masking``          chapter 3 and Lab 3: a masked softmax, the leak along a sentence, zero-then-renormalise
- ``beyond_softmax``   chapter 4: a sigmoid bias whose weights sum to exactly 1
- ``dot_vs_additive``  Lab 1: the parameters additive scores add; signal or seed noise
- ``qkv_sharing``      Lab 2: self-scores of a model that shares Q and K
- ``segmentation``     Lab 5: ECE by hand; the precision a calibrated posterior expects of itself
- ``bert_from_scratch``  chapter 5: the layer-norm backward, graded against autograd
- ``explanation``      chapter 6: leave one out by masking a word's pieces instead of deleting them
- ``roberta``          Lab 6: the nearest-noun rule, a baseline for agreement that attractors defeat
"""
