"""The same weights in models nobody here wrote: what the parity tests and the chapters compare against.

``to_hf_gpt2(MiniGPT)`` gives a ``GPT2LMHeadModel``, ``to_hf_bert(MiniBERT)`` a ``BertForMaskedLM`` and
``to_torch_mha(MultiHeadAttention)`` a ``torch.nn.MultiheadAttention``, each holding exactly the minilib
module's weights, so the two implementations (ours, and one nobody here wrote) can be run on the same input.
Only the default layouts have a Hugging Face twin: dot-product scores, separate Q/K/V, -inf masking, learned
positions, GPT-2's pre-LN / BERT's post-LN.
"""
from __future__ import annotations

import torch


def _check_plain(c, norm):
    plain = dict(score="dot", qkv="separate", masking="-inf", position="learned", normaliser="softmax")
    odd = {k: getattr(c, k) for k, v in plain.items() if getattr(c, k, v) != v}
    if odd or getattr(c, "qk_norm", None) or getattr(c, "v_norm", None) or getattr(c, "norm", norm) != norm:
        raise ValueError(f"Hugging Face has no twin for these choices: {odd or 'vector norms / norm placement'}; "
                         "only the default attention has one")


def to_torch_mha(mha):
    """A ``torch.nn.MultiheadAttention`` (batch first, eval mode, frozen if ``mha`` is) with ``mha``'s weights. A shared projection
    is copied into every role it plays (Q = K: [W_qk; W_qk; W_v]; Q = K = V: [W; W; W]); the rows of each
    role come from the layer itself (``mha.rows``). Only dot-product scores without vector norms or RoPE
    have this twin."""
    odd = {k: v for k, v in (("score", mha.score), ("normaliser", mha.normaliser)) if v not in ("dot", "softmax")}
    if odd or mha.norms is not None or mha.rope or mha.d_attn != mha.d_model:
        raise ValueError(f"torch.nn.MultiheadAttention has no twin for these choices: "
                         f"{odd or 'vector norms, RoPE or an attention width other than d_model'}")
    w, b = mha.in_proj.weight, mha.in_proj.bias
    ref = torch.nn.MultiheadAttention(mha.d_model, mha.n_heads, batch_first=True, bias=b is not None,
                                      dtype=w.dtype, device=w.device)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([w[mha.rows(n)] for n in "qkv"]))
        ref.out_proj.weight.copy_(mha.out_proj.weight)
        if b is not None:
            ref.in_proj_bias.copy_(torch.cat([b[mha.rows(n)] for n in "qkv"]))
            ref.out_proj.bias.copy_(mha.out_proj.bias)
    return ref.requires_grad_(w.requires_grad).eval()          # frozen if the layer is


def to_hf_gpt2(m):
    """A ``transformers.GPT2LMHeadModel`` with ``m``'s weights (GPT-2's Conv1D stores [in, out]: transposed)."""
    import transformers
    c = m.config
    _check_plain(c, "pre")
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer, n_head=c.n_head,
        activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
        tie_word_embeddings=False, bos_token_id=None, eos_token_id=None)).eval()  # not GPT-2's 50256
    t = hf.transformer
    with torch.no_grad():
        t.wte.weight.copy_(m.tok_emb.weight)
        t.wpe.weight.copy_(m.pos_emb.weight)
        for ours, theirs in zip(m.blocks, t.h):
            theirs.ln_1.load_state_dict(ours.ln1.state_dict())
            theirs.ln_2.load_state_dict(ours.ln2.state_dict())
            theirs.attn.c_attn.weight.copy_(ours.attn.in_proj.weight.T)      # [q | k | v] columns
            theirs.attn.c_attn.bias.copy_(ours.attn.in_proj.bias)
            theirs.attn.c_proj.weight.copy_(ours.attn.out_proj.weight.T)
            theirs.attn.c_proj.bias.copy_(ours.attn.out_proj.bias)
            theirs.mlp.c_fc.weight.copy_(ours.mlp.fc.weight.T)
            theirs.mlp.c_fc.bias.copy_(ours.mlp.fc.bias)
            theirs.mlp.c_proj.weight.copy_(ours.mlp.proj.weight.T)
            theirs.mlp.c_proj.bias.copy_(ours.mlp.proj.bias)
        t.ln_f.load_state_dict(m.ln_f.state_dict())
        hf.lm_head.weight.copy_(m.head.weight)
    return hf


def to_hf_bert(m):
    """A ``transformers.BertForMaskedLM`` with ``m``'s (a MiniBERT's) weights."""
    import transformers
    c = m.config
    _check_plain(c, "post")
    hf = transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=c.vocab_size, hidden_size=c.n_embd, num_hidden_layers=c.n_layer, num_attention_heads=c.n_head,
        intermediate_size=4 * c.n_embd, max_position_embeddings=c.block_size, type_vocab_size=max(1, c.n_segments),
        hidden_act="gelu", layer_norm_eps=c.layer_norm_eps, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0)).eval()
    e = hf.bert.embeddings
    with torch.no_grad():
        e.word_embeddings.weight.copy_(m.tok_emb.weight)
        e.position_embeddings.weight.copy_(m.pos_emb.weight)
        if m.seg_emb is not None:
            e.token_type_embeddings.weight.copy_(m.seg_emb.weight)
        else:
            e.token_type_embeddings.weight.zero_()
        e.LayerNorm.load_state_dict(m.ln_emb.state_dict())
        for ours, theirs in zip(m.blocks, hf.bert.encoder.layer):
            a = theirs.attention
            for name, lin in (("q", a.self.query), ("k", a.self.key), ("v", a.self.value)):
                lin.weight.copy_(ours.attn.in_proj.weight[ours.attn.rows(name)])
                lin.bias.copy_(ours.attn.in_proj.bias[ours.attn.rows(name)])
            a.output.dense.load_state_dict(ours.attn.out_proj.state_dict())
            a.output.LayerNorm.load_state_dict(ours.ln1.state_dict())
            theirs.intermediate.dense.load_state_dict(ours.fc.state_dict())
            theirs.output.dense.load_state_dict(ours.proj.state_dict())
            theirs.output.LayerNorm.load_state_dict(ours.ln2.state_dict())
        t = hf.cls.predictions.transform
        t.dense.load_state_dict(m.head.dense.state_dict())
        t.LayerNorm.load_state_dict(m.head.ln.state_dict())
        hf.cls.predictions.decoder.weight.copy_(m.head.decoder.weight)
        hf.cls.predictions.decoder.bias.copy_(m.head.decoder.bias)
    return hf
