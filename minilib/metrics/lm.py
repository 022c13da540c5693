"""Language-model metrics: loss, perplexity, and the causality (leak) probe."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def perplexity(loss_nats: float) -> float:
    """exp(mean cross-entropy in nats per token)."""
    return math.exp(loss_nats)


def token_loss(logits, targets, reduction: str = "mean"):
    """Cross-entropy (in float32) of logits [..., V] against targets [...], over positions whose target is not
    -100 (padding, unmasked MLM positions): what every model's ``forward`` returns as its loss."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100,
                           reduction=reduction)


@torch.no_grad()
def evaluate(model, batches, device=None) -> dict:
    """Token-weighted mean loss over ``batches`` (every target counts once) and its perplexity."""
    model.eval()
    device = device or next(model.parameters()).device
    total, count = 0.0, 0
    for idx, targets, pad_mask in batches:
        idx, targets, pad_mask = idx.to(device), targets.to(device), pad_mask.to(device)
        logits, _ = model(idx, pad_mask=pad_mask)
        total += float(token_loss(logits, targets, reduction="sum"))
        count += int((targets != -100).sum())
    loss = total / max(1, count)
    return {"loss": loss, "ppl": perplexity(loss), "tokens": count}


@torch.no_grad()
def sequence_loss(model, ids, device=None) -> float:
    """Mean loss (nats/token) of one encoded sentence ``[<START>, ..., <STOP>]`` under ``model``."""
    model.eval()
    device = device or next(model.parameters()).device
    row = torch.tensor(ids[: model.config.block_size + 1], device=device)[None]
    _, loss = model(row[:, :-1], row[:, 1:])
    return float(loss)


def _replace_future(idx, t, vocab_size, generator):
    """A copy of idx whose tokens after position t are all different from the original ones."""
    out = idx.clone()
    shift = torch.randint(1, vocab_size, out[:, t + 1:].shape, generator=generator).to(idx.device)
    out[:, t + 1:] = (out[:, t + 1:] + shift) % vocab_size
    return out


@torch.no_grad()
def leak_probe(model, idx, t, *, per_layer=False, seed=0):
    """How much do positions <= t depend on the tokens after t? (0 for a causal model.)

    Replaces every token after position ``t`` and returns the largest absolute change
    of the logits at positions ``0..t``. With ``per_layer=True`` returns a list: the
    largest change of each block's output (the residual stream) at those positions.
    """
    if not 0 <= t < idx.shape[1] - 1:
        raise ValueError(f"t must satisfy 0 <= t < T - 1 = {idx.shape[1] - 1} (there must be a future to change), got {t}")
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    other = _replace_future(idx.cpu(), t, model.config.vocab_size, g).to(idx.device)
    try:
        if not per_layer:
            a, _ = model(idx)
            b, _ = model(other)
            return float((a[:, : t + 1] - b[:, : t + 1]).abs().max())
        outs = []
        hooks = [blk.register_forward_hook(lambda m, i, o: outs.append(o[0])) for blk in model.blocks]
        try:
            model(idx)
            model(other)
        finally:
            for h in hooks:
                h.remove()
        n = len(model.blocks)
        return [float((outs[i][:, : t + 1] - outs[n + i][:, : t + 1]).abs().max()) for i in range(n)]
    finally:
        model.train(was_training)


@torch.no_grad()
def prefix_loss(model, batches, device=None) -> dict:
    """Loss when every position is predicted from its prefix alone (the input truncated after it).

    This is what a model faces when it generates. For a causal model it equals the usual
    teacher-forced loss (``evaluate``); a model that peeks at the future loses that help here.
    Costs one forward pass per position.
    """
    model.eval()
    device = device or next(model.parameters()).device
    total, count = 0.0, 0
    for idx, targets, pad_mask in batches:
        idx, targets, pad_mask = idx.to(device), targets.to(device), pad_mask.to(device)
        for t in range(idx.shape[1]):
            keep = targets[:, t] != -100
            if not keep.any():
                continue
            logits, _ = model(idx[keep, : t + 1], pad_mask=pad_mask[keep, : t + 1])
            total += float(F.cross_entropy(logits[:, -1].float(), targets[keep, t], reduction="sum"))
            count += int(keep.sum())
    loss = total / max(1, count)
    return {"loss": loss, "ppl": perplexity(loss), "tokens": count}
