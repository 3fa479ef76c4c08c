"""The trained model Edge AI starts from: a network trained here, or a finished XAI or NAS run.

Every start gives the same thing: a float32 ``nn.Module`` mapping rows (n, d) to logits (n, k), and the train /
validation / test rows it is judged on. A finished run comes in ``inputs["source"]`` (the app's service reads it
from the run store: settings, info, safetensors weights, never a pickle); the source technique's own
``rebuild_model`` rebuilds its network and data split. A NAS image model is wrapped so it also takes flat rows of
64 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.config import ConfigError
from engine.core.contract import RunError, Tracker
from engine.core.data import digits, sklearn_table, split
from engine.core.device import seeded
from engine.core.train import accuracy, fit, mlp
from engine.edge.config import Config

PIXELS = [f"pixel ({r},{c})" for r in range(8) for c in range(8)]  # an 8x8 digit's features, row by row


@dataclass
class Start:
    model: nn.Module  # float32, eval mode: (n, d) rows -> (n, k) logits
    X_train: np.ndarray  # (n, d) float32, the way the model takes them
    y_train: np.ndarray  # (n,) int64 class ids
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    raw_test: np.ndarray  # (n_test, d) the test rows in their original units, for SHAP views
    feature_names: list[str]
    class_names: list[str]
    title: str  # what the model learned, in words
    origin: str  # where the model came from, in words
    image_side: int | None = None  # 8 when each row is an 8x8 image
    trained_here: bool = False


class Phase:
    """Hands one training phase's rows to the run's tracker: steps continue after ``offset``, names get a prefix."""

    def __init__(self, tracker: Tracker, offset: int, prefix: str):
        self.tracker, self.offset, self.prefix = tracker, offset, prefix

    def step(self, step: int, live=None, **metrics: float) -> bool:
        return self.tracker.step(self.offset + step, live=live, **{f"{self.prefix}_{k}": v for k, v in metrics.items()})


def three_way(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train / validation / test indices: 25% test, then 20% of the rest for validation."""
    rest, test = split(len(y), 0.25, seed, y)
    tr, va = split(len(rest), 0.2, seed, y[rest])
    return rest[tr], rest[va], test


def rows_of(name: str, seed: int) -> dict:
    """Digits (pixels in [0, 1]) or a bundled table (standardised on its training rows), split three ways."""
    if name == "digits":
        images, y = digits()
        X = images.reshape(len(images), -1)  # (1797, 64)
        raw, names, classes = X, PIXELS, [str(i) for i in range(10)]
        title, side = "8x8 handwritten digits", 8
    else:
        table = sklearn_table(name)
        raw, y, names, classes = table.X, table.y, table.feature_names, table.classes()
        title, side = table.title, None
    train, val, test = three_way(y, seed)
    mean, std = (0.0, 1.0) if side else (raw[train].mean(0), raw[train].std(0) + 1e-8)
    X = ((raw - mean) / std).astype(np.float32)
    return dict(
        X_train=X[train],
        y_train=y[train],
        X_val=X[val],
        y_val=y[val],
        X_test=X[test],
        y_test=y[test],
        raw_test=raw[test],
        feature_names=names,
        class_names=classes,
        title=title,
        image_side=side,
    )


def train_baseline(config: Config, tracker: Tracker) -> Start:
    """The network to compress: an MLP with two hidden layers trained with the shared loop (live curves)."""
    data = rows_of(config.start_from, config.seed)
    X, y = torch.as_tensor(data["X_train"]), torch.as_tensor(data["y_train"])
    X_val, y_val = torch.as_tensor(data["X_val"]), torch.as_tensor(data["y_val"])
    with seeded(config.seed):  # the initial weights, from the seed alone
        model = mlp(X.shape[1], len(data["class_names"]), [config.hidden_width] * 2, "relu")
    fit(
        model,
        X,
        y,
        loss_fn=nn.CrossEntropyLoss(),
        epochs=config.epochs,
        lr=3e-3,
        batch_size=64,
        tracker=Phase(tracker, 0, "baseline"),
        evaluate=lambda m: {"val_accuracy": accuracy(m(X_val), y_val)},
        seed=config.seed,
    )
    epochs = len(tracker.rows)
    return Start(
        model=model.eval(), **data, origin=f"trained here for {epochs} epoch{'s' * (epochs != 1)}", trained_here=True
    )


def load_finished(config: Config, inputs: dict) -> Start:
    """The finished XAI or NAS run in ``inputs["source"]`` (:func:`engine.core.service.stored_source`: its
    technique, status, settings, info, layer texts and safetensors weights), rebuilt by its own technique.

    A run never opens the store: the worker is handed its source. (Try it does not need the source either: an
    edge run keeps its own networks' shapes, see ``engine.edge.tryit``.)
    """
    source = inputs.get("source")
    if source is None:
        raise RunError("No stored run has this id: it may be mistyped, or the run was deleted.")
    if source["technique"] not in ("xai", "nas"):
        raise RunError(f"Edge AI starts from an Explainable AI or NAS run; this one is a {source['technique']} run.")
    if source["status"] not in ("done", "stopped") or not source.get("weights"):
        raise RunError(f"That run has no trained weights to start from (it {source['status']}).")
    start = from_xai(source) if source["technique"] == "xai" else from_nas(source)
    start.model.eval()
    return start


def from_xai(source: dict) -> Start:
    """The XAI page's MLP on its own table and split (``engine.xai.rebuild_model``, from its stored settings)."""
    import engine

    try:
        xai = engine.load("xai").rebuild_model(source["config"], source["info"], source["weights"])
    except ConfigError as e:
        raise RunError(f"That run's settings no longer validate: {e}") from None
    if not xai["classify"]:
        raise RunError(
            "Edge AI compresses classifiers, and that run predicts a number (regression). "
            "Pick a run on a classification table (breast cancer, wine, iris)."
        )
    names = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "raw_test", "feature_names", "class_names")
    uploaded = source["config"].get("dataset") == "upload"
    return Start(
        model=xai["model"],
        **{name: xai[name] for name in names},
        title="your uploaded table" if uploaded else xai["title"],  # no user text in prose
        origin=f"the Explainable AI run {source['id'][:8]}…",
    )


def from_nas(source: dict) -> Start:
    """The NAS page's best architecture (``engine.nas.rebuild_model``) on the NAS run's own digits split, wrapped
    to take flat 64-pixel rows."""
    import engine

    nas = engine.load("nas").rebuild_model(
        source["config"], source["info"], source["weights"], source.get("architecture")
    )
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nas["model"])  # (n, 64) -> (n, 1, 8, 8) -> (n, 10)
    flat = {name: nas[name] for name in ("y_train", "y_val", "y_test")}
    for name in ("X_train", "X_val", "X_test"):
        flat[name] = nas[name].reshape(len(nas[name]), -1).astype(np.float32)  # (n, 64)
    return Start(
        model=model,
        **flat,
        raw_test=flat["X_test"],
        feature_names=PIXELS,
        class_names=list(nas["class_names"]),
        title=nas["title"],
        origin=f"the NAS run {source['id'][:8]}… (its best architecture)",
        image_side=8,
    )


def start_model(config: Config, tracker: Tracker, inputs: dict | None = None) -> Start:
    """Train the baseline here, or rebuild the finished run the person picked (``inputs["source"]``)."""
    if config.start_from == "finished_run":
        return load_finished(config, inputs or {})
    return train_baseline(config, tracker)
