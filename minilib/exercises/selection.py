"""Exercise of chapter 1 ("Selection and averaging"): a query that shares the weight between two keys."""
from __future__ import annotations

import torch

from ..attention import attention
from .feedback import feedback, verdict


def check_shared_query(q, keys, pair=(2, 3), together=0.9, each=0.4) -> bool:
    """``q`` [d]: with plain dot-product scores (``scale=1``) against ``keys`` [n, d], the two keys in
    ``pair`` must get at least ``together`` of the weight, and at least ``each`` apiece."""
    if q is None:
        feedback("Not answered yet: replace None by your query, e.g. [x, y, z]. Hint: section 4 shows how "
                 "to share weight between two keys.")
        return False
    keys = torch.as_tensor(keys, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64).reshape(-1)
    if q.shape != (keys.shape[1],) or not torch.isfinite(q).all():
        feedback(f"q needs exactly {keys.shape[1]} finite numbers (the key dimension), got {q.tolist()}.")
        return False
    values = torch.eye(len(keys), dtype=torch.float64)                 # the output is the weights themselves
    w = attention(q[None], keys, values, scale=1.0)[0]
    a, b = (float(w[i]) for i in pair)
    if a + b < together:
        return verdict(False, "", f"k{pair[0]} and k{pair[1]} get only {a + b:.3f} together (need >= {together}): "
                                  "make q point towards both of them, and make it longer.")
    return verdict(min(a, b) >= each, f"Correct! weights = {w.numpy().round(4)}",
                   f"The weights on k{pair[0]}, k{pair[1]} are {a:.3f}, {b:.3f} (each needs >= {each}): one "
                   "dominates; balance their scores.")
