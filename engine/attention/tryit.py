"""Try it on the attention page: your own sequence (brackets, marked letters, a review, or a drawn digit) through
the trained transformer and its comparisons, with every head's attention map and per-token SHAP for that input.

The task's vocabulary and the models' shapes come from the run's settings (the task is regenerated from its
seed); the weights from the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.attention.analysis import _predicted_logit, token_shapley
from engine.attention.config import TASK_LABELS, Config
from engine.attention.tasks import make_task
from engine.attention.training import build_models
from engine.core.explain import make_explanation
from engine.core.tryit import Answer, TryItUnavailable, bars, figure, restore, softmax, token_bars

PERMUTATIONS = 8  # antithetic permutation pairs for the token SHAP of one input
NAMES = {
    "transformer": "Transformer",
    "baseline": "No attention (averaged embeddings)",
    "transformer_no_pe": "Transformer without positional encoding",
}


@dataclass
class Bundle:
    task: str
    models: dict[str, torch.nn.Module]
    vocab: list[str]
    class_names: list[str]
    max_len: int  # tokens per sequence the model was built for (its positional table)
    row_width: int  # digits: 8 pixels per row; 0: token ids
    examples: list  # test inputs to start from: texts, or (8, 8) images

    @property
    def chars(self) -> bool:
        """Tokens are single characters (brackets, marked letters): typed without spaces."""
        return self.task in ("first_marked", "contains_x", "brackets")


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    task, _train, _val, test = make_task(config.task, config.seq_len, config.train_examples, config.seed)
    models = {name: restore(model, weights, name) for name, model in build_models(config, task).items()}
    if task.row_width:
        examples = [task.X[i] for i in test[:10]]
    else:
        sep = "" if config.task in ("first_marked", "contains_x", "brackets") else " "
        examples = [sep.join(task.tokens(int(i))) for i in test[:10]]
    bundle = Bundle(
        config.task, models, list(task.vocab), list(task.class_names), int(task.X.shape[1]), task.row_width, examples
    )
    answer(bundle, {"image": examples[0]} if task.row_width else {"text": examples[0]})  # warm-up
    return bundle


def examples(bundle: Bundle) -> list[dict]:
    """A few inputs (test sequences) for benchmarks and tests."""
    return [{"image": e} if bundle.row_width else {"text": e} for e in bundle.examples[:5]]


def encode(bundle: Bundle, text: str) -> tuple[torch.Tensor, list[str]]:
    """A typed sequence -> token ids (1, T) and its tokens; unknown tokens or a too-long input raise for the person."""
    tokens = [c for c in text if not c.isspace()] if bundle.chars else text.lower().replace(",", " , ").split()
    if not tokens:
        raise TryItUnavailable("Type a sequence first.")
    unknown = sorted({t for t in tokens if t not in bundle.vocab[1:]})
    if unknown:
        known = " ".join(bundle.vocab[1:]) if len(bundle.vocab) < 40 else f"{len(bundle.vocab) - 1} words"
        raise TryItUnavailable(f"The model never saw {', '.join(map(repr, unknown[:5]))}; it knows: {known}.")
    if len(tokens) > bundle.max_len:
        raise TryItUnavailable(f"This model reads at most {bundle.max_len} tokens, but the input has {len(tokens)}.")
    index = {w: i for i, w in enumerate(bundle.vocab)}
    ids = [index[t] for t in tokens] + [0] * (bundle.max_len - len(tokens) if bundle.task == "sentiment" else 0)
    return torch.as_tensor([ids]), tokens


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["text"]`` (a typed sequence) or, for digits, ``inputs["image"]`` (8, 8) in [0, 1]; with
    ``inputs["real"]`` (a sentence, and ``layer``, ``head`` counted from 1), the real pretrained model beside
    this run's toy (``real_answer``)."""
    if "real" in inputs:
        return real_answer(bundle, inputs)
    if bundle.row_width:
        x = torch.as_tensor(np.clip(np.asarray(inputs["image"], dtype=np.float32), 0, 1).reshape(1, 8, 8))
        tokens = [f"row {t + 1}" for t in range(8)]
    else:
        x, tokens = encode(bundle, str(inputs["text"]))
    transformer = bundle.models["transformer"]
    with torch.no_grad():
        logits, maps = transformer(x, return_attention=True)  # maps: per block (1, heads, T+1, T+1)
        probs = {n: softmax(m(x)[0].numpy()) for n, m in bundle.models.items()}
    k = int(probs["transformer"].argmax())
    summary = {NAMES[n]: f"{bundle.class_names[int(p.argmax())]} ({p.max():.0%})" for n, p in probs.items()}
    exp = _token_shap(bundle, x, tokens, k)
    figs = {
        "Token SHAP": token_bars(
            exp,
            f"Which tokens made the transformer say {bundle.class_names[k]}",
            unit=f"logit of {bundle.class_names[k]}",
        ),
        "Class probabilities": _comparison(bundle, probs),
    }
    shown = ["[CLS]", *tokens]
    n = len(shown)
    for b, weights in enumerate(maps):
        for h in range(weights.shape[1]):
            figs[f"Attention: block {b + 1}, head {h + 1}"] = attention_map(
                weights[0, h, :n, :n].numpy(), shown, f"Block {b + 1}, head {h + 1}: where each token looks"
            )
    return Answer(
        summary=summary,
        prediction={n: dict(zip(bundle.class_names, p.tolist())) for n, p in probs.items()},
        explanation=exp,
        figures=figs,
    )


REAL_EXAMPLES = [
    "The cat sat on the mat, and then the cat went to sleep.",
    "The food was not good, but the music was wonderful!",
    "Paris is the capital of France; Berlin is the capital of Germany.",
]


def real_examples(bundle: Bundle) -> list[str]:
    """Sentences to start the real model from: a few of its own kind, then the toy's test inputs (text tasks)."""
    return REAL_EXAMPLES + ([] if bundle.row_width else [str(e) for e in bundle.examples[:3]])


def toy_look(bundle: Bundle, text: str) -> tuple[list[str], np.ndarray, str]:
    """The toy's tokens ([CLS] first), its attention (blocks, heads, T, T) on ``text`` (or on its own first
    example when it cannot read ``text``) and a note saying which input it read."""
    note = ""
    if bundle.row_width:
        x = torch.as_tensor(np.asarray(bundle.examples[0], dtype=np.float32).reshape(1, 8, 8))
        tokens = [f"row {t + 1}" for t in range(8)]
        note = "The toy reads 8x8 digits (one token per pixel row), not words: it is shown on its first test digit."
    else:
        try:
            x, tokens = encode(bundle, text)
        except TryItUnavailable as err:
            x, tokens = encode(bundle, str(bundle.examples[0]))
            note = (
                f"The toy cannot read your sentence ({err}), so it is shown on its own example: {bundle.examples[0]}."
            )
    with torch.no_grad():
        _, maps = bundle.models["transformer"](x, return_attention=True)
    n = len(tokens) + 1
    return ["[CLS]", *tokens], np.stack([m[0, :, :n, :n].numpy() for m in maps]).astype(np.float64), note


def real_answer(bundle: Bundle, inputs: dict) -> Answer:
    """One sentence through the real pretrained model (every head measured, rollout to the sentence embedding)
    and the same input through this run's toy transformer, measured the same way."""
    from engine.attention import pretrained, views

    try:
        real = pretrained.look(str(inputs["real"]))
    except ValueError as err:
        raise TryItUnavailable(str(err)) from err
    layers, heads = real.attention.shape[:2]
    layer = int(np.clip(int(inputs.get("layer", 1)), 1, layers))
    head = int(np.clip(int(inputs.get("head", 1)), 1, heads))
    labels = pretrained.head_labels(pretrained.head_measures(real.attention, real.tokens))
    toy_tokens, toy_att, note = toy_look(bundle, real.sentence)
    toy_labels = pretrained.head_labels(pretrained.head_measures(toy_att, toy_tokens))
    block, toy_head = min(layer, toy_att.shape[0]), min(head, toy_att.shape[1])
    figs = _real_figures(real, labels, layer, head, toy_tokens, toy_att, toy_labels, block, toy_head, note)
    chosen = labels[layer - 1][head - 1]
    typed = sum(1 for row in labels for k in row if k)
    toy_typed = sum(1 for row in toy_labels for k in row if k)
    summary = {  # short values: a metric shows about 15 characters
        f"Layer {layer}, head {head} looks at": pretrained.SHORT[chosen[0]] if chosen else "no one place",
        "Share of its attention": f"{chosen[1]:.0%}" if chosen else "spread out",
        "Heads with a type: real · toy": f"{typed}/{layers * heads} · {toy_typed}/{toy_att[:, :, 0, 0].size}",
    }
    return Answer(
        summary=summary,
        prediction={"tokens": real.tokens, "labels": labels, "toy_tokens": toy_tokens, "toy_labels": toy_labels},
        figures=figs,
        tables={"Head types found on this input (measured, not assumed)": views.head_type_table(labels, toy_labels)},
        pairs=[  # the two grids are drawn full width, between these
            (f"Real model: layer {layer}, head {head}", f"Toy model: block {block}, head {toy_head}"),
            ("Real model: what the sentence embedding is made of", "Toy model: what its answer is read from"),
        ],
    )


def _real_figures(real, labels, layer, head, toy_tokens, toy_att, toy_labels, block, toy_head, note) -> dict:
    from engine.attention import pretrained, views

    def said(found) -> str:
        if not found:
            return "No single kind of place takes most of its weight on this input."
        return f"Measured on this input: {found[1]:.0%} of its attention goes to {pretrained.KINDS[found[0]]}."

    layers, heads = real.attention.shape[:2]
    toy_n = toy_att.shape[0] * toy_att.shape[1]
    shares = pretrained.embedding_shares(real.attention)
    toy_shares = pretrained.rollout(toy_att)[0]
    return {
        f"Real model: layer {layer}, head {head}": views.token_map(
            real.attention[layer - 1, head - 1],
            real.tokens,
            f"Real model (MiniLM): layer {layer}, head {head}",
            "Each row is a word piece and where it looks (a row adds up to 1). " + said(labels[layer - 1][head - 1]),
        ),
        f"Toy model: block {block}, head {toy_head}": views.token_map(
            toy_att[block - 1, toy_head - 1],
            toy_tokens,
            f"Toy model (this run): block {block}, head {toy_head}",
            (note + " " if note else "")
            + "The toy's head in the same place (its last one when it has fewer). "
            + said(toy_labels[block - 1][toy_head - 1]),
        ),
        views.REAL_GRID_TITLE: views.head_grid(
            real.attention,
            labels,
            f"All {layers * heads} heads of the real model ({layers} layers x {heads} heads)",
            "Each small square is one head's map on your sentence (rows look, columns are looked at); the word on it "
            "is the type measured on this input (prev/next: the previous/next word, CLS/SEP: the start/end marker, "
            "same: the same word, punct: punctuation, self: itself). Click a square (or pick a layer and head above) "
            "to open it.",
            clickable=True,
        ),
        "Every head of the toy model": views.head_grid(
            toy_att,
            toy_labels,
            f"All {toy_n} heads of the toy model",
            "The toy transformer this run trained, measured the same way.",
            row_name="block",
        ),
        "Real model: what the sentence embedding is made of": views.share_bars(
            shares,
            real.tokens,
            "Attention rollout: what the real model's sentence embedding is made of",
            rollout_caption(shares, real.tokens),
        ),
        "Toy model: what its answer is read from": views.share_bars(
            toy_shares,
            toy_tokens,
            "Attention rollout: what the toy's answer ([CLS]) is made of",
            "The same rollout for the toy, which reads its answer from [CLS]: each token's share of what reaches it.",
        ),
    }


def rollout_caption(shares: np.ndarray, tokens: list[str]) -> str:
    """The real model's rollout caption: the markers' share and the top word, quoted (it may be a full stop)."""
    text = (
        "Attention followed through all layers, counting the skip connections (Abnar & Zuidema's rollout), "
        f"then averaged over the tokens as MiniLM pools them. The start and end markers take "
        f"{shares[0] + shares[-1]:.0%}"
    )
    if len(shares) <= 2:
        return text + "."
    return text + f"; the word with the largest share is “{tokens[1 + int(np.argmax(shares[1:-1]))]}”."


def _token_shap(bundle: Bundle, x: torch.Tensor, tokens: list[str], k: int):
    """Shapley values of the tokens for the transformer's logit of class k (a removed token becomes padding)."""
    pixel_rows = bool(bundle.row_width)
    score = _predicted_logit(bundle.models["transformer"], x, k, pixel_rows)
    present = np.ones(x.shape[1], bool) if pixel_rows else x[0].numpy() != 0
    values, base = token_shapley(score, present, PERMUTATIONS, seed=0)
    full = score(present[None].astype(np.int64))[0]
    values = values[present]  # (tokens,)
    return make_explanation(
        values[None],
        np.array([base]),
        np.asarray(tokens)[None],
        [f"{t} ({i + 1})" for i, t in enumerate(tokens)],
        None,
        abs(base + values.sum() - full),
        f"Permutation SHAP over tokens ({PERMUTATIONS} permutations; exact sums)",
    )


def _comparison(bundle: Bundle, probs: dict):
    return bars(
        bundle.class_names,
        {NAMES[n]: p for n, p in probs.items()},
        f"{TASK_LABELS[bundle.task]}: every model's answer",
        "The transformer beside the models trained with it, on your input.",
        x_title="class",
    )


def attention_map(weights: np.ndarray, tokens: list[str], title: str):
    """One head's attention weights (T+1, T+1) on your input: rows are queries, columns the positions they look at."""
    from engine.attention.views import attention_trace

    idx = list(range(len(tokens)))
    return figure(
        [attention_trace(weights, tokens)],
        "Each row is a token (or [CLS], which the answer is read from) and its attention over the "
        "positions of your input (a row adds up to 1).",
        title=title,
        xaxis=dict(title="key position (looked at)", tickvals=idx, ticktext=[str(i) for i in idx]),
        yaxis=dict(
            title="query (looking)",
            autorange="reversed",
            tickvals=idx,
            ticktext=[f"{i} {t}" for i, t in enumerate(tokens)],
        ),
    )
