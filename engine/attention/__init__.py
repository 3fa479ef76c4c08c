"""Attention & transformers: train a small transformer classifier and look inside it.

Built up in the seed's three steps, each written out from its equations in ``engine/attention/models.py``:

1. **Self-attention** (``attention``, ``SelfAttention``): queries, keys and values are learned projections
   of the input (Q = X Wq, K = X Wk, V = X Wv); scores = Q K^T / sqrt(d); a softmax over the keys turns each
   row of scores into weights that sum to 1; the output is weights V. Padding keys get zero weight.
2. **The transformer block** (``MultiHeadAttention``, ``TransformerBlock``): several heads side by side, each
   in its own slice of the embedding, then a feed-forward network, with residual connections, dropout and
   layer normalisation (post-norm as in the original paper, pre-norm as an option).
3. **A classifier** (``TransformerClassifier``): token embeddings + a positional encoding (sinusoidal,
   learned or none), a learned ``[CLS]`` token in front, 1-4 blocks, and a softmax head on ``[CLS]``.

It trains side by side with a no-attention baseline (``AveragedEmbeddingBaseline``: token embeddings
averaged, then an MLP), which sees which tokens occur but not their order, and, when asked, the same
transformer without positional encoding, which cannot see order either. The tasks (``tasks.py``) are
generated (which marked token comes first, associative recall, balanced brackets, sentiment with negation)
or come with scikit-learn (8x8 digits read as 8 row-tokens); every task has one label per sequence.
This module holds the technique contract: Config, PRESETS, run, figures, explain, describe.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from engine.attention.tasks import SequenceTask, make_task
from engine.core import charts
from engine.core.config import TechniqueConfig
from engine.core.contract import ProgressFn, Result, Tracker

TITLE = "Attention & transformers"
SUMMARY = ("Train a small transformer and look inside: what each attention head looks at, and why word order "
           "needs positional encoding.")


class Config(TechniqueConfig):
    task: Literal["first_marked", "recall", "brackets", "sentiment", "digits"] = Field(
        "first_marked", description="What the transformer learns. 'first_marked': which of two marked tokens "
        "comes first; 'recall': find the value paired with a key; 'brackets': are the brackets balanced; "
        "'sentiment': short reviews where 'not' flips the meaning; 'digits': handwritten digits read row by row.")
    seq_len: int = Field(12, ge=4, le=32, description="Tokens per generated sequence (bracket strings have at "
                         "least 20, digits always 8 rows, and sentences are as long as they are).",
                         title="Sequence length")
    train_examples: int = Field(1000, ge=200, le=20000, description="How many sequences to learn from "
                                "(digits use scikit-learn's 1,797 images instead).")
    embedding_size: int = Field(32, ge=8, le=128, description="Length of the vector that represents each token. "
                                "Must be divisible by the number of heads.")
    n_heads: int = Field(2, ge=1, le=8, description="Attention heads per block: each head can look at a "
                         "different part of the sequence.", title="Attention heads")
    n_layers: int = Field(2, ge=1, le=4, description="Transformer blocks stacked on top of each other.",
                          title="Transformer blocks")
    ffn_size: int = Field(64, ge=8, le=512, description="Width of the feed-forward network inside each block.",
                          title="Feed-forward size")
    dropout: float = Field(0.0, ge=0.0, le=0.5, description="Share of attention weights and activations "
                           "switched off at random while training, to reduce over-fitting.",
                           json_schema_extra={"widget": "slider"})
    positional_encoding: Literal["sinusoidal", "learned", "none"] = Field(
        "sinusoidal", description="How the model is told where each token sits: fixed sine waves, a learned "
        "vector per position, or nothing (then the model sees a bag of tokens).")
    layer_norm: Literal["post", "pre"] = Field(
        "post", description="Where layer normalisation sits in each block: after the residual sum (as in the "
        "original transformer) or before attention and the feed-forward network (steadier for deep stacks).")
    compare_without_pe: bool = Field(True, description="Also train the same transformer with positional "
                                     "encoding switched off, to see how much order matters (skipped when "
                                     "positional encoding is already 'none').",
                                     title="Also train without positional encoding")
    epochs: int = Field(6, ge=1, le=300, description="Passes over the training sequences.")
    learning_rate: float = Field(0.003, ge=1e-5, le=0.1, description="Step size of the Adam optimiser. Too high "
                                 "and training diverges.", json_schema_extra={"log": True})
    batch_size: int = Field(64, ge=8, le=512, description="Sequences per optimisation step.")

    @model_validator(mode="after")
    def _heads_divide_embedding(self):
        if self.embedding_size % self.n_heads:
            fits = [h for h in range(1, 9) if self.embedding_size % h == 0]
            raise ValueError(
                f"`embedding_size` must be divisible by `n_heads` so every head gets an equal slice, but got "
                f"embedding_size={self.embedding_size} and n_heads={self.n_heads}. With this embedding size "
                f"use {', '.join(map(str, fits))} heads, or pick an embedding size that is a multiple of "
                f"{self.n_heads}.")
        return self


PRESETS = {
    "quick": {"epochs": 6, "train_examples": 1000, "embedding_size": 32, "n_heads": 2, "n_layers": 2,
              "ffn_size": 64, "dropout": 0.0, "learning_rate": 0.003, "compare_without_pe": True},
    "better": {"epochs": 20, "train_examples": 3000, "embedding_size": 64, "n_heads": 4, "n_layers": 2,
               "ffn_size": 128, "dropout": 0.1, "learning_rate": 0.002, "compare_without_pe": True},
}

EXAMPLES = 4  # test sequences shown in the attention maps and explained with SHAP
EXPLAIN_ROWS = 32  # test sequences SHAP explains (the first EXAMPLES are drawn one by one)


# --- Training ----------------------------------------------------------------------------------------------

def run(config: Config, progress: ProgressFn) -> Result:
    """Train the transformer, the averaged-embedding baseline (and the no-PE transformer) side by side.

    All models see the same mini-batches in the same order; after every epoch the tracker gets each
    model's training loss and validation accuracy, and every few epochs a live attention map.
    """
    import torch
    from torch import nn

    from engine.attention.models import AveragedEmbeddingBaseline, TransformerClassifier
    from engine.core.device import pick
    from engine.core.train import count_parameters

    task, train_idx, val_idx, test_idx = make_task(config.task, config.seq_len, config.train_examples, config.seed)
    dev = pick()
    dtype = torch.float32 if task.row_width else torch.long
    t = lambda idx: torch.as_tensor(task.X[idx], dtype=dtype, device=dev)  # noqa: E731
    X_tr, X_val, X_test = t(train_idx), t(val_idx), t(test_idx)
    y_tr = torch.as_tensor(task.y[train_idx], device=dev)
    y_val, y_test = task.y[val_idx], task.y[test_idx]

    # fork the RNG so the seed fixes weights and dropout without touching anyone else's random state
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(config.seed)

        def transformer(positional_encoding: str):
            return TransformerClassifier(
                len(task.class_names), task.X.shape[1], config.embedding_size, config.n_heads, config.n_layers,
                config.ffn_size, config.dropout, positional_encoding, config.layer_norm,
                vocab_size=len(task.vocab), row_width=task.row_width)

        models = {"transformer": transformer(config.positional_encoding),
                  "baseline": AveragedEmbeddingBaseline(len(task.class_names), config.embedding_size,
                                                        config.ffn_size, len(task.vocab), task.row_width)}
        if config.compare_without_pe and config.positional_encoding != "none":
            models["transformer_no_pe"] = transformer("none")
        models = {k: m.to(dev) for k, m in models.items()}
        optimisers = {k: torch.optim.Adam(m.parameters(), lr=config.learning_rate) for k, m in models.items()}
        prefix = {"transformer": "", "baseline": "baseline_", "transformer_no_pe": "no_pe_"}
        loss_fn = nn.CrossEntropyLoss()
        gen = torch.Generator().manual_seed(config.seed)
        tracker = Tracker(progress, config.epochs)
        live_every = max(1, config.epochs // 12)
        n = len(X_tr)
        for epoch in range(1, config.epochs + 1):
            order = torch.randperm(n, generator=gen).to(dev)
            totals = {k: torch.zeros((), device=dev) for k in models}
            for m in models.values():
                m.train()
            for start in range(0, n, config.batch_size):
                idx = order[start:start + config.batch_size]
                for name, m in models.items():
                    loss = loss_fn(m(X_tr[idx]), y_tr[idx])
                    optimisers[name].zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(m.parameters(), 1.0)
                    optimisers[name].step()
                    totals[name] += loss.detach() * len(idx)
            row = {}
            for name, m in models.items():
                row[f"{prefix[name]}loss"] = (totals[name] / n).item()
                row[f"{prefix[name]}val_accuracy"] = float((_predict(m, X_val).argmax(1) == y_val).mean())
            live = None
            if epoch % live_every == 0 or epoch == config.epochs:
                live = _live_payload(models["transformer"], X_test[:1], task, test_idx[0])
            if tracker.step(epoch, live=live, **row):
                break

    models = {k: m.cpu().eval() for k, m in models.items()}
    X_test = X_test.cpu()
    preds = {k: _predict(m, X_test).argmax(1) for k, m in models.items()}
    metrics = {"test_accuracy": float((preds["transformer"] == y_test).mean()),
               "baseline_test_accuracy": float((preds["baseline"] == y_test).mean())}
    if "transformer_no_pe" in models:
        metrics["test_accuracy_no_positional_encoding"] = float((preds["transformer_no_pe"] == y_test).mean())
    metrics.update(
        chance_accuracy=float(np.bincount(y_test).max() / len(y_test)), epochs_run=len(tracker.rows),
        parameters=count_parameters(models["transformer"]), baseline_parameters=count_parameters(models["baseline"]),
        n_train=len(train_idx), n_test=len(test_idx), sequence_length=int(task.X.shape[1]))

    # a few test examples to look inside: alternate the classes so both answers are shown
    examples = _pick_examples(y_test, EXAMPLES, config.seed)
    with torch.no_grad():
        _, maps = models["transformer"](X_test[examples], return_attention=True)
    attention_maps = torch.stack(maps, 1).numpy()  # (examples, layers, heads, T+1, T+1)
    pe = models["transformer"].positional.table.detach().numpy()  # (T+1, d)
    return Result(
        history=tracker.history(), metrics=metrics, models=models, stopped=tracker.stopped,
        arrays={"X_test": task.X[test_idx], "y_test": y_test, "pred_test": preds["transformer"],
                "baseline_pred_test": preds["baseline"], "examples": examples, "attention": attention_maps,
                "positional_encoding": pe},
        info={"task": config.task, "task_title": task.title, "class_names": task.class_names,
              "vocab": task.vocab, "row_width": task.row_width,
              "tokens": [["[CLS]", *task.tokens(test_idx[i])] for i in examples],
              "positional_encoding": config.positional_encoding, "layer_norm": config.layer_norm,
              "n_layers": config.n_layers, "n_heads": config.n_heads, "embedding_size": config.embedding_size,
              "seed": config.seed})


def _predict(model, X, batch_size: int = 2048) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]).cpu().numpy()


def _pick_examples(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` test indices, cycling through the classes so different answers appear."""
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(y == c)).tolist() for c in np.unique(y)]
    picked: list[int] = []
    while len(picked) < min(k, len(y)):
        for members in by_class:
            if members and len(picked) < k:
                picked.append(members.pop())
    return np.array(picked)


def _live_payload(model, x, task: SequenceTask, index: int) -> dict:
    """The last block's first head on one test sequence, small enough to send every few epochs."""
    import torch

    model.eval()
    with torch.no_grad():
        _, maps = model(x, return_attention=True)
    n = 1 + len(task.tokens(int(index)))
    return {"tokens": ["[CLS]", *task.tokens(int(index))],
            "weights": np.round(maps[-1][0, 0, :n, :n].cpu().numpy(), 3).tolist()}


def live_figure(payload: dict):
    """The attention map of one test sequence as training goes on."""
    return _heatmap_figure(np.asarray(payload["weights"]), payload["tokens"],
                           "Attention while training (last block, head 1)",
                           "Each row is a token asking 'where should I look?'; the colours in that row are its "
                           "attention weights over the tokens (they add up to 1). Watch them sharpen as the "
                           "model learns.")


# --- Figures -----------------------------------------------------------------------------------------------

def _heatmap_figure(weights: np.ndarray, tokens: list[str], title: str, caption: str):
    import plotly.graph_objects as go

    idx = list(range(len(tokens)))
    fig = go.Figure(go.Heatmap(z=weights, x=idx, y=idx, zmin=0, zmax=1, colorscale="Blues",
                               colorbar=dict(title="weight"), text=_pair_labels(tokens),
                               hovertemplate="%{text}: %{z:.2f}<extra></extra>"))
    axis = dict(tickvals=idx, ticktext=tokens, tickangle=0)
    fig.update_layout(title=title, xaxis=dict(title="key (looked at)", **axis),
                      yaxis=dict(title="query (looking)", autorange="reversed", **axis))
    return charts.captioned(fig, caption)


def _room_for_menu(fig, caption: str):
    """Caption the figure, then keep a top margin tall enough for the title and the example menu."""
    fig = charts.captioned(fig, caption)
    fig.update_layout(margin=dict(t=140))
    return fig


def _example_label(result: Result, e: int) -> str:
    """The menu entry for example ``e``: its text, or for digit images the digit it shows."""
    info, a = result.info, result.arrays
    if info["row_width"]:
        return f"Example {e + 1}: a handwritten {info['class_names'][a['y_test'][a['examples'][e]]]}"
    text = " ".join(info["tokens"][e][1:])
    return f"Example {e + 1}: {text if len(text) <= 40 else text[:39] + '…'}"


def _pair_labels(tokens: list[str]) -> list[list[str]]:
    """Hover text for an attention map: 'query → key' with the tokens' places."""
    return [[f"{q} ({i}) looks at {k} ({j})" for j, k in enumerate(tokens)] for i, q in enumerate(tokens)]


def attention_maps_figure(result: Result):
    """Every layer (rows) and head (columns) for one example, with a dropdown to pick the example."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    maps, info, a = result.arrays["attention"], result.info, result.arrays
    n_ex, L, H = maps.shape[:3]
    fig = make_subplots(rows=L, cols=H, subplot_titles=[f"block {layer + 1} · head {head + 1}"
                                                        for layer in range(L) for head in range(H)],
                        horizontal_spacing=0.04, vertical_spacing=0.08 if L > 1 else 0.1)
    buttons = []
    for e in range(n_ex):
        tokens = info["tokens"][e]
        n = len(tokens)
        text = _pair_labels(tokens)
        for layer in range(L):
            for head in range(H):
                fig.add_trace(go.Heatmap(
                    z=maps[e, layer, head, :n, :n], zmin=0, zmax=1, colorscale="Blues", visible=(e == 0),
                    showscale=(layer == 0 and head == 0), colorbar=dict(title="weight"), text=text,
                    hovertemplate=f"block {layer + 1} head {head + 1}<br>%{{text}}: %{{z:.2f}}<extra></extra>"),
                    row=layer + 1, col=head + 1)
        visible = [i // (L * H) == e for i in range(n_ex * L * H)]
        ticks = {}
        for k in range(L * H):
            suffix = "" if k == 0 else str(k + 1)
            ticks.update({f"xaxis{suffix}.tickvals": list(range(n)), f"xaxis{suffix}.ticktext": tokens,
                          f"yaxis{suffix}.tickvals": list(range(n)), f"yaxis{suffix}.ticktext": tokens})
        truth, pred = info["class_names"][a["y_test"][a["examples"][e]]], \
            info["class_names"][a["pred_test"][a["examples"][e]]]
        buttons.append(dict(label=_example_label(result, e), method="update",
                            args=[{"visible": visible},
                                  {**ticks, "title.text": f"Attention maps · example {e + 1} (answer: {truth}; "
                                                          f"model says: {pred})"}]))
    fig.update_layout(**buttons[0]["args"][1])
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-60 if max(len(t) for t in info["tokens"]) > 12 else 0, tickfont=dict(size=9))
    fig.update_yaxes(tickfont=dict(size=9))
    fig.update_layout(updatemenus=[dict(buttons=buttons, direction="down", x=0, y=1.0, xanchor="left",
                                        yanchor="bottom", pad=dict(b=30), showactive=True)],
                      title=dict(x=0.01, y=0.98, yanchor="top"), height=max(440, 300 * L + 140))
    return _room_for_menu(fig, "Each small map is one attention head: row = the token that is looking, "
                                 "column = the token it looks at, darker = more attention (each row adds up "
                                 "to 1). The [CLS] row is what the classifier reads its answer from. Pick "
                                 "another example in the menu.")


def positional_encoding_figures(result: Result) -> dict:
    """The positional-encoding matrix and the cosine similarity between positions it induces."""
    import plotly.graph_objects as go

    kind = result.info["positional_encoding"]
    pe = result.arrays["positional_encoding"]
    note = ""
    if kind == "none":
        from engine.attention.models import sinusoidal_encoding

        from_table = sinusoidal_encoding(pe.shape[0], pe.shape[1]).numpy()
        pe, kind, note = from_table, "sinusoidal", " (this run used none: showing the sinusoidal one for reference)"
    positions = np.arange(pe.shape[0])
    matrix = go.Figure(go.Heatmap(z=pe, x=np.arange(pe.shape[1]), y=positions, colorscale=charts.DIVERGING,
                                  zmid=0, colorbar=dict(title="value"),
                                  hovertemplate="position %{y}, dimension %{x}: %{z:.2f}<extra></extra>"))
    matrix.update_layout(title=f"Positional encoding ({kind}){note}", xaxis_title="embedding dimension",
                         yaxis=dict(title="position (0 = [CLS])", autorange="reversed"))
    unit = pe / np.maximum(np.linalg.norm(pe, axis=1, keepdims=True), 1e-9)
    sim = unit @ unit.T  # (T, T) cosine similarity between position vectors
    similarity = go.Figure(go.Heatmap(z=sim, x=positions, y=positions, colorscale=charts.DIVERGING, zmin=-1, zmax=1,
                                      colorbar=dict(title="cosine"),
                                      hovertemplate="positions %{y} and %{x}: %{z:.2f}<extra></extra>"))
    similarity.update_layout(title=f"How alike positions look ({kind} encoding){note}", xaxis_title="position",
                             yaxis=dict(title="position", autorange="reversed", scaleanchor="x"))
    what = ("Fixed sine waves of different speeds: fast waves (left columns) tell neighbours apart, slow waves "
            "(right columns) tell far-apart positions apart." if kind == "sinusoidal" else
            "One vector per position, learned during training together with everything else.")
    return {"Positional encoding": charts.captioned(matrix, "Each row is the vector added to the token at that "
                                                            "position. " + what),
            "Position similarity": charts.captioned(similarity, "Cosine similarity between the position vectors: "
                                                                "1 means two positions look identical to the "
                                                                "model, 0 unrelated. A dark diagonal fading "
                                                                "outwards means nearby positions look alike.")}


def figures(result: Result) -> dict:
    h, m = result.history, result.metrics
    loss_cols = [c for c in ("loss", "baseline_loss", "no_pe_loss") if c in h]
    acc_cols = [c for c in ("val_accuracy", "baseline_val_accuracy", "no_pe_val_accuracy") if c in h]
    names = ["transformer", "baseline (averaged embeddings)"]
    values = [m["test_accuracy"], m["baseline_test_accuracy"]]
    if "test_accuracy_no_positional_encoding" in m:
        names.append("transformer without positional encoding")
        values.append(m["test_accuracy_no_positional_encoding"])
    comparison = charts.bar(names, values, title="Test accuracy", x_title="share of test sequences right",
                            caption=f"Share of the {m['n_test']} held-out sequences each model got right; guessing "
                                    f"the most common answer gets {m['chance_accuracy']:.0%}. The baseline "
                                    "only sees which tokens occur, not their order.")
    comparison.add_hline(y=m["chance_accuracy"], line_dash="dash", line_color="grey", annotation_text="chance")
    figs = {
        "Test accuracy": comparison,
        "Loss": charts.learning_curves(h, loss_cols, title="Training loss",
                                       caption="Cross-entropy on the training sequences, per epoch: lower is "
                                               "better. A model that cannot see order stalls early on order "
                                               "tasks."),
        "Validation accuracy": charts.learning_curves(h, acc_cols, title="Validation accuracy",
                                                      caption="Share of validation sequences (not used for "
                                                              "training) each model gets right, per epoch."),
        "Attention maps": attention_maps_figure(result),
    }
    figs.update(positional_encoding_figures(result))
    a = result.arrays
    figs["Confusion matrix"] = charts.confusion_matrix(a["y_test"], a["pred_test"], result.info["class_names"],
                                                       title="Transformer: confusion matrix on the test set")
    return figs


# --- Explain -----------------------------------------------------------------------------------------------

def token_shapley(score, present: np.ndarray, permutations: int, seed: int) -> tuple[np.ndarray, float]:
    """Shapley values of one sequence's tokens: ``score(keep)`` maps keep-masks (n, T) (1 = token present,
    0 = removed) to scores (n,); only the ``present`` (T,) tokens take part (padding never does).
    Returns (values (T,), base value = score of the empty sequence).
    """
    from engine.core.explain import shapley_permutation

    idx = np.flatnonzero(present)

    def on_tokens(masks: np.ndarray) -> np.ndarray:  # (m, players) -> (m, T) keep-masks
        keep = np.zeros((len(masks), len(present)), dtype=np.int64)
        keep[:, idx] = masks > 0.5
        return score(keep)

    values = np.zeros(len(present))
    values[idx], base, _ = shapley_permutation(on_tokens, len(idx), permutations=permutations, seed=seed)
    return values, base


def explain(result: Result):
    """SHAP per token by removal: how much each token moves the score of the class the model predicted.

    A removed token is replaced by padding, which attention then ignores (a removed digit row is
    blanked), so a token's SHAP value is its average effect on the predicted class's logit when it joins
    the sequence (:func:`token_shapley`). Values are (rows, tokens) for the first EXPLAIN_ROWS test
    sequences, the drawn examples first; the base value is the score of the empty sequence.
    """
    import shap
    import torch

    a, info = result.arrays, result.info
    model = result.models["transformer"].eval()
    rows = np.concatenate([a["examples"], np.setdiff1d(np.arange(len(a["y_test"])), a["examples"])])
    rows = rows[:EXPLAIN_ROWS]
    T = a["X_test"].shape[1]
    permutations = int(np.clip(8000 // (len(rows) * (T + 1)), 2, 16)) // 2 * 2  # about 8,000 model calls
    values, base, errors = np.zeros((len(rows), T)), np.zeros(len(rows)), []
    for r, i in enumerate(rows):
        x = torch.as_tensor(a["X_test"][i])[None]  # (1, T) token ids or (1, T, 8) pixel rows
        target = int(a["pred_test"][i])

        def predicted_logit(keep: np.ndarray, x=x, target=target) -> np.ndarray:
            keep = torch.as_tensor(keep)  # (n, T)
            inputs = x * keep[..., None].float() if info["row_width"] else x * keep  # removed -> blank / padding
            with torch.no_grad():
                return torch.cat([model(inputs[k:k + 1024])[:, target] for k in range(0, len(inputs), 1024)]
                                 ).numpy().astype(np.float64)

        present = np.ones(T, bool) if info["row_width"] else a["X_test"][i] != 0
        values[r], base[r] = token_shapley(predicted_logit, present, permutations, info["seed"] + r)
        full = predicted_logit(present[None].astype(np.int64))[0]
        errors.append(abs(base[r] + values[r].sum() - full))
    if info["row_width"]:  # digit rows are fixed features: the generic SHAP views (bar, beeswarm...) apply
        data, names = a["X_test"][rows].mean(-1), [f"row {t + 1} (ink)" for t in range(T)]
    else:  # token positions mean different words in every sentence: drawn by explain_figures instead
        data, names = a["X_test"][rows], None
    out = shap.Explanation(values=values, base_values=base, data=np.asarray(data, dtype=float), feature_names=names)
    out.additivity_error = float(max(errors))
    out.method = f"Permutation SHAP over tokens ({permutations} permutations per sequence; exact sums)"
    return out


def explain_figures(result: Result, explanation) -> dict:
    """Per example: the attention [CLS] pays to each token next to each token's SHAP attribution."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if explanation is None:
        return {}
    a, info = result.arrays, result.info
    maps = a["attention"]  # (examples, layers, heads, T+1, T+1)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=False, vertical_spacing=0.18,
                        subplot_titles=["Attention: how much [CLS] looks at each token (last block, heads averaged)",
                                        "SHAP: how much each token pushed the predicted class"])
    buttons = []
    n_ex = len(a["examples"])
    for e in range(n_ex):
        tokens = info["tokens"][e][1:]
        n = len(tokens)
        pred = int(a["pred_test"][a["examples"][e]])
        weights = maps[e, -1, :, 0, 1:n + 1].mean(0)  # [CLS] row, real tokens only
        shap_values = np.asarray(explanation.values)[e, :n]
        x = list(range(n))
        fig.add_trace(go.Bar(x=x, y=weights, marker_color="#1f77b4", visible=e == 0, name="attention",
                             customdata=tokens, hovertemplate="%{customdata}: %{y:.2f}<extra></extra>"), 1, 1)
        fig.add_trace(go.Bar(x=x, y=shap_values, visible=e == 0, name="SHAP",
                             marker_color=np.where(shap_values >= 0, "#d62728", "#1f77b4").tolist(),
                             customdata=tokens, hovertemplate="%{customdata}: %{y:+.3f}<extra></extra>"), 2, 1)
        truth = info["class_names"][a["y_test"][a["examples"][e]]]
        layout = {"xaxis.tickvals": x, "xaxis.ticktext": tokens, "xaxis2.tickvals": x, "xaxis2.ticktext": tokens,
                  "title.text": f"Example {e + 1}: answer {truth}, model says {info['class_names'][pred]}"}
        buttons.append(dict(label=_example_label(result, e), method="update",
                            args=[{"visible": [i // 2 == e for i in range(2 * n_ex)]}, layout]))
    fig.update_layout(**buttons[0]["args"][1])
    fig.update_layout(showlegend=False, height=620, title=dict(x=0.01, y=0.98, yanchor="top"),
                      updatemenus=[dict(buttons=buttons, direction="down", x=0, y=1.0, xanchor="left",
                                        yanchor="bottom", pad=dict(b=40))])
    fig.update_yaxes(title_text="weight", row=1, col=1)
    fig.update_yaxes(title_text="SHAP value", row=2, col=1)
    caption = ("Top: where the classifier token looked. Bottom: SHAP, how much each token changed the score of "
               "the predicted class (red pushes it up, blue down). They answer different questions: attention "
               "says where information was read from, SHAP says which tokens the answer depends on. A token can "
               "get little attention and still matter (its information may have reached [CLS] through another "
               f"token in an earlier block). SHAP method: {getattr(explanation, 'method', 'SHAP')}.")
    figs = {"Attention vs SHAP": _room_for_menu(fig, caption)}
    if not info["row_width"]:
        figs["Tokens that matter most"] = token_importance_figure(result, explanation)
    return figs


def token_importance_figure(result: Result, explanation):
    """Mean |SHAP| of each kind of token over all explained sequences."""
    vocab = result.info["vocab"]
    ids, values = np.asarray(explanation.data, dtype=int), np.abs(np.asarray(explanation.values))
    kinds = [k for k in np.unique(ids) if k != 0]
    mean = np.array([values[ids == k].mean() for k in kinds])
    order = np.argsort(mean)[::-1][:15]
    return charts.bar([vocab[kinds[j]] for j in order], mean[order].tolist(),
                      title=f"Tokens that matter most (mean |SHAP| over {len(ids)} test sequences)",
                      x_title="mean |SHAP value|",
                      caption="How much, on average, each kind of token moves the model's answer when it is "
                              "removed from a sequence. The tokens that decide the answer (the X and Y markers, "
                              "'not' and the adjectives, the brackets) should stand out; filler should not.")


# --- Words -------------------------------------------------------------------------------------------------

def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    acc, base = m["test_accuracy"], m["baseline_test_accuracy"]
    heads, epochs = info["n_heads"], m["epochs_run"]
    text = (f"A {info['n_layers']}-block transformer with {heads} attention head{'s' if heads > 1 else ''} per "
            f"block ({m['parameters']:,} weights, {info['positional_encoding']} positional encoding) trained for "
            f"{epochs} epoch{'s' if epochs != 1 else ''} on *{info['task_title']}*. It got **{acc:.1%}** of the "
            f"{m['n_test']} held-out examples right; the averaged-embedding baseline, which cannot see order, got "
            f"{base:.1%} (always giving the commonest answer gets {m['chance_accuracy']:.1%}).")
    if "test_accuracy_no_positional_encoding" in m:
        no_pe = m["test_accuracy_no_positional_encoding"]
        drop = acc - no_pe
        text += (f" The same transformer without positional encoding got {no_pe:.1%}"
                 + (f", {drop:.1%} less: without position information attention sees only a bag of tokens."
                    if drop > 0.02 else ": on this task order matters little, or the model found another cue."))
    if info["task"] == "recall" and acc < base + 0.05:
        text += (" Associative recall is learned late and then suddenly (a key must first be tied to the value "
                 "after it): try sequence length 7, 10,000 examples, embedding size 64, 4 heads, feed-forward "
                 "size 128, batch size 128 and 15-20 epochs (about a minute).")
    if result.stopped:
        text += " You stopped it early, so these numbers are from a partly trained model."
    return text + " Open the attention maps to see which tokens each head looks at."


def estimate_seconds(config: Config) -> float:
    """Rough wall time on one free CPU thread, fitted to measured runs: the quick preset trains in about 2.5 s,
    and importing SHAP, drawing and explaining add about 4 s."""
    from engine.attention.tasks import BRACKETS_MIN_LENGTH

    n, T = config.train_examples, config.seq_len
    if config.task == "digits":
        n, T = 1079, 8
    elif config.task == "sentiment":
        T = 8
    elif config.task == "recall":
        T = 2 * max(2, min((config.seq_len - 1) // 2, 16)) + 1
    elif config.task == "brackets":
        T = max(BRACKETS_MIN_LENGTH, config.seq_len - config.seq_len % 2)
    transformers = 2 if config.compare_without_pe and config.positional_encoding != "none" else 1
    per_token = 1e-6 * config.n_layers * (6 + config.embedding_size / 16)  # seconds per token, forward + backward
    return 4.0 + config.epochs * n * (T + 1) * transformers * per_token
