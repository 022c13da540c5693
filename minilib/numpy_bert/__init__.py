"""A mini-BERT from scratch in NumPy: MiniBERT's forward with a hand-written backward (seed 001, done right).

- ``softmax``      the naive and the stable softmax, log-softmax, and the softmax's Jacobian-vector product
- ``layernorm``    the one-pass (naive) and the stable layer norm, and its three-term backward
- ``linear``       a linear map (``W [out, in]`` as ``nn.Linear``) and exact GELU, with backwards
- ``embeddings``   token + position + segment embeddings; the lookup's gradient by ``np.add.at`` (two ways) and by loops
- ``attention``    multi-head self-attention, the padding mask on the scores, and its backward
- ``feedforward``  the GELU feed-forward block and its backward
- ``layer``        one post-LN encoder layer (BERT's layout) and its backward
- ``head``         the MLM head, its decoder tied to the token embedding
- ``loss``         cross-entropy over the masked positions, from a stable log-softmax
- ``model``        ``NumpyBERT``: the whole model; weights copy to and from MiniBERT; seed 001's mask bug
                   as an option
- ``gradcheck``    the backward against ``torch.autograd`` and central finite differences, per parameter

    nb = NumpyBERT.from_torch(minibert)
    out = nb.forward(ids, targets, pad_mask)
    grads = nb.backward(out)                       # keyed as minibert.named_parameters()
"""
from .attention import self_attention, self_attention_backward
from .embeddings import embed, embed_backward, embedding_grad, embedding_grad_loop, embedding_grad_rows
from .feedforward import feed_forward, feed_forward_backward
from .gradcheck import autograd_grads, finite_difference, gradient_check, rel_error, torch_reference
from .head import mlm_head, mlm_head_backward
from .layer import encoder_layer, encoder_layer_backward
from .layernorm import layer_norm, layer_norm_backward, layer_norm_naive, variance_one_pass
from .linear import gelu, gelu_backward, linear, linear_backward
from .loss import cross_entropy, cross_entropy_backward
from .model import Forward, NumpyBERT
from .softmax import log_softmax, log_softmax_naive, softmax, softmax_backward, softmax_naive

__all__ = ["self_attention", "self_attention_backward", "embed", "embed_backward", "embedding_grad",
           "embedding_grad_loop", "embedding_grad_rows", "feed_forward",
           "feed_forward_backward",
           "autograd_grads", "finite_difference", "gradient_check", "rel_error", "torch_reference", "mlm_head",
           "mlm_head_backward", "encoder_layer", "encoder_layer_backward", "layer_norm", "layer_norm_backward",
           "layer_norm_naive", "gelu", "gelu_backward", "linear", "linear_backward", "cross_entropy",
           "cross_entropy_backward", "Forward", "NumpyBERT", "log_softmax", "log_softmax_naive", "softmax",
           "softmax_backward", "softmax_naive", "variance_one_pass"]
