"""The transformer, written out from its equations, and the no-attention baseline.

Three steps, as in the seed: :func:`attention` / :class:`SelfAttention` (one head), then
:class:`MultiHeadAttention` inside a :class:`TransformerBlock`, then :class:`TransformerClassifier`
(embeddings + :class:`PositionalEncoding` + a ``[CLS]`` token + blocks + a linear head).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def attention(q, k, v, key_padding_mask=None, dropout=None):
    """Scaled dot-product attention: ``softmax(Q K^T / sqrt(d)) V``.

    q, k, v: (..., T, d). ``key_padding_mask``: (B, T) bool, True where the key is padding; those keys get
    zero weight. Returns (output (..., T, d), weights (..., T, T)); each row of weights sums to 1 over keys.
    """
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T_query, T_key)
    if key_padding_mask is not None:
        B, T = key_padding_mask.shape
        mask = key_padding_mask.view(B, *[1] * (scores.dim() - 2), T)  # broadcast over heads and queries
        scores = scores.masked_fill(mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    dropped = dropout(weights) if dropout is not None else weights
    return dropped @ v, weights


class SelfAttention(nn.Module):
    """One attention head: Q = X Wq, K = X Wk, V = X Wv; output = softmax(Q K^T / sqrt(d)) V."""

    def __init__(self, d_model: int, d_head: int | None = None):
        super().__init__()
        d_head = d_head or d_model
        self.Wq = nn.Linear(d_model, d_head, bias=False)
        self.Wk = nn.Linear(d_model, d_head, bias=False)
        self.Wv = nn.Linear(d_model, d_head, bias=False)

    def forward(self, x, key_padding_mask=None):
        # x: (B, T, d_model) -> output (B, T, d_head), weights (B, T, T)
        return attention(self.Wq(x), self.Wk(x), self.Wv(x), key_padding_mask)


class MultiHeadAttention(nn.Module):
    """``n_heads`` self-attention heads side by side, each in its own d/h slice, joined by Wo.

    Head ``i`` is a :class:`SelfAttention` whose Wq, Wk, Wv are rows ``i*d/h:(i+1)*d/h`` of this layer's
    Wq, Wk, Wv (plus biases); computing all heads in one tensor is just faster.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}).")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.Wq = nn.Linear(d_model, d_model)
        self.Wk = nn.Linear(d_model, d_model)
        self.Wv = nn.Linear(d_model, d_model)
        self.Wo = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, key_padding_mask=None):
        B, T, d = x.shape

        def split(t):  # (B, T, d) -> (B, h, T, d/h)
            return t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)

        out, weights = attention(
            split(self.Wq(x)), split(self.Wk(x)), split(self.Wv(x)), key_padding_mask, self.dropout
        )  # (B, h, T, d/h), (B, h, T, T)
        out = out.transpose(1, 2).reshape(B, T, d)  # heads concatenated: (B, T, d)
        return self.Wo(out), weights


class TransformerBlock(nn.Module):
    """Multi-head attention and a feed-forward network, each wrapped in dropout + residual + LayerNorm.

    post-norm (the original paper): x = LN(x + attn(x)); x = LN(x + ffn(x)).
    pre-norm: x = x + attn(LN(x)); x = x + ffn(LN(x)).
    """

    def __init__(self, d_model: int, n_heads: int, ffn_size: int, dropout: float = 0.0, norm_first: bool = False):
        super().__init__()
        self.attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn_size), nn.ReLU(), nn.Linear(ffn_size, d_model))
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x, key_padding_mask=None):
        # x: (B, T, d) -> (B, T, d), attention weights (B, h, T, T)
        if self.norm_first:
            a, weights = self.attn(self.norm1(x), key_padding_mask)
            x = x + self.drop(a)
            x = x + self.drop(self.ffn(self.norm2(x)))
        else:
            a, weights = self.attn(x, key_padding_mask)
            x = self.norm1(x + self.drop(a))
            x = self.norm2(x + self.drop(self.ffn(x)))
        return x, weights


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The fixed table of "Attention is all you need": PE[pos, 2i] = sin(pos / 10000^(2i/d)),
    PE[pos, 2i+1] = cos(pos / 10000^(2i/d)). Returns (max_len, d_model)."""
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]  # (T, 1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (ceil(d/2),)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : d_model // 2]
    return table


class PositionalEncoding(nn.Module):
    """A (max_len, d) table added to the embeddings so the model can tell positions apart.

    ``sinusoidal``: the fixed sine/cosine table; ``learned``: one trained vector per position;
    ``none``: zeros, so the model sees a bag of tokens.
    """

    def __init__(self, kind: str, max_len: int, d_model: int):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.5)
        else:
            self.register_buffer(
                "table",
                sinusoidal_encoding(max_len, d_model) if kind == "sinusoidal" else torch.zeros(max_len, d_model),
            )

    def forward(self, T: int):
        return self.table[:T]  # (T, d)


def token_embedding(d_model: int, vocab_size: int = 0, row_width: int = 0) -> nn.Module:
    """Token ids -> vectors (id 0 is padding, kept at zero), or each row of ``row_width`` pixels -> a vector."""
    return nn.Linear(row_width, d_model) if row_width else nn.Embedding(vocab_size, d_model, padding_idx=0)


class TransformerClassifier(nn.Module):
    """Token embeddings + positional encoding, a learned ``[CLS]`` token in front, blocks, a head on [CLS]."""

    def __init__(
        self,
        n_classes: int,
        max_len: int,
        d_model: int,
        n_heads: int,
        n_layers: int,
        ffn_size: int,
        dropout: float = 0.0,
        positional_encoding: str = "sinusoidal",
        layer_norm: str = "post",
        vocab_size: int = 0,
        row_width: int = 0,
    ):
        super().__init__()
        self.embed = token_embedding(d_model, vocab_size, row_width)
        self.row_width = row_width
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.5)
        self.positional = PositionalEncoding(positional_encoding, max_len + 1, d_model)  # +1: [CLS]
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, ffn_size, dropout, layer_norm == "pre") for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model) if layer_norm == "pre" else nn.Identity()  # pre-norm ends unnormalised
        self.head = nn.Linear(d_model, n_classes)

    def padding(self, x):
        """(B, T) True at padding tokens, or None when there is no padding (digit rows)."""
        return None if self.row_width else x == 0

    def forward(self, x, return_attention: bool = False):
        return self.from_embeddings(self.embed(x), self.padding(x), return_attention)

    def from_embeddings(self, e, key_padding_mask=None, return_attention: bool = False):
        """e: (B, T, d) token embeddings -> logits (B, classes) [and per block weights (B, h, T+1, T+1)]."""
        B, T, d = e.shape
        h = torch.cat([self.cls.expand(B, 1, d), e], dim=1) + self.positional(T + 1)  # (B, T+1, d)
        if key_padding_mask is not None:
            key_padding_mask = torch.cat([key_padding_mask.new_zeros(B, 1), key_padding_mask], dim=1)
        maps = []
        for block in self.blocks:
            h, weights = block(h, key_padding_mask)
            maps.append(weights)
        logits = self.head(self.norm(h[:, 0]))  # the answer is read off [CLS]
        return (logits, maps) if return_attention else logits


class AveragedEmbeddingBaseline(nn.Module):
    """No attention and no order: the average of the token embeddings, then an MLP."""

    def __init__(self, n_classes: int, d_model: int, hidden: int, vocab_size: int = 0, row_width: int = 0):
        super().__init__()
        self.embed = token_embedding(d_model, vocab_size, row_width)
        self.row_width = row_width
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x):
        e = self.embed(x)  # (B, T, d)
        keep = torch.ones(e.shape[:2], device=e.device) if self.row_width else (x != 0).float()  # (B, T)
        mean = (e * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp_min(1)  # (B, d)
        return self.mlp(mean)


class FromEmbeddings(nn.Module):
    """The classifier as a function of its token embeddings, with one fixed padding mask (for SHAP)."""

    def __init__(self, model: TransformerClassifier, key_padding_mask=None):
        super().__init__()
        self.model, self.key_padding_mask = model, key_padding_mask  # mask: (1, T) or None

    def forward(self, e):
        mask = None if self.key_padding_mask is None else self.key_padding_mask.expand(len(e), -1)
        return self.model.from_embeddings(e, mask)
