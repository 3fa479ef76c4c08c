"""Constants and small helpers shared by both tracks of :mod:`engine.transfer` (no heavy imports here)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.core.contract import Result, Tracker

if TYPE_CHECKING:
    from engine.transfer import Config

TOPICS_CSV = Path(__file__).parents[1] / "datasets" / "transfer_topics.csv"
TOPICS_PER_CLASS = 50  # sentences per class in transfer_topics.csv
MAX_TEXT_ROWS = 2000  # the encoder reads every row; more would make a run slow
MAX_CLASSES = 20
MONITOR_IMAGES = 250  # images track: test images scored after every epoch for the live curves
PRETRAIN_VERSION = 1  # bump when the CNN or its pretraining changes, so old cache files are not reused
STRATEGY_LABELS = {"scratch": "From scratch", "feature_extraction": "Feature extraction (frozen)",
                   "finetune_last": "Fine-tune last blocks", "finetune": "Fine-tune"}


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


def _stopped_early(config: Config, tracker: Tracker) -> Result:
    return Result(history=tracker.history(), metrics={"epochs_run": 0}, stopped=True,
                  info={"track": config.track, "strategies": [], "class_names": [], "seed": config.seed,
                        "labels_per_class": config.labels_per_class})


def _label(name: str, info: dict) -> str:
    if name == "finetune":
        return "Fine-tune top layer" if info["track"] == "text" else "Fine-tune all (smaller backbone lr)"
    if name == "finetune_last":
        return f"Fine-tune last {info.get('finetune_blocks', 1)} block(s)"
    if name == "scratch" and info["track"] == "text":
        return "From scratch (bag of words)"
    return STRATEGY_LABELS[name]
