"""The trained model Edge AI starts from: a network trained here, or a finished XAI or NAS run from the run store.

Every start gives the same thing: a float32 ``nn.Module`` mapping rows (n, d) to logits (n, k), and the train /
validation / test rows it is judged on. Stored weights are safetensors (never a pickle); a NAS image model is
wrapped so it also takes flat rows of 64 pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.config import ConfigError, validate
from engine.core.contract import RunError, Tracker
from engine.core.data import digits, sklearn_table, split
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
        raw, y, names, classes = table.X, table.y, table.feature_names, table.class_names
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
    torch.manual_seed(config.seed)
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


def load_finished(config: Config) -> Start:
    """A finished run of the XAI or NAS page, rebuilt from its stored settings and safetensors weights."""
    from safetensors.torch import load

    from engine.core.store import RunStore

    store = RunStore()
    row = store.get(config.source_run)
    if row is None:
        raise RunError("No stored run has this id: it may be mistyped, or the run was deleted.")
    if row["technique"] not in ("xai", "nas"):
        raise RunError(f"Edge AI starts from an Explainable AI or NAS run; this one is a {row['technique']} run.")
    blob = store.weights(config.source_run)
    if row["status"] not in ("done", "stopped") or blob is None:
        raise RunError(f"That run has no trained weights to start from (it {row['status']}).")
    tensors = load(blob)  # safetensors: plain tensors, nothing executed
    start = from_xai(row, tensors) if row["technique"] == "xai" else from_nas(store, row, tensors)
    start.model.eval()
    return start


def _prefixed(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def from_xai(row: dict, tensors: dict) -> Start:
    """The XAI page's MLP on its own table and split (``prepare`` rebuilds both from the stored settings)."""
    from engine.xai.config import Config as XaiConfig
    from engine.xai.mlp import prepare

    try:
        xai = validate(XaiConfig, row["config"])
    except ConfigError as e:
        raise RunError(f"That run's settings no longer validate: {e}") from None
    data = prepare(xai)
    if not data.classify:
        raise RunError(
            "Edge AI compresses classifiers, and that run predicts a number (regression). "
            "Pick a run on a classification table (breast cancer, wine, iris)."
        )
    model = mlp(
        data.X.shape[1], len(data.table.class_names), [xai.width] * xai.hidden_layers, xai.activation, xai.dropout
    )
    model.load_state_dict(_prefixed(tensors, "mlp"))
    X = data.X.astype(np.float32)
    return Start(
        model=model,
        X_train=X[data.train],
        y_train=data.y[data.train],
        X_val=X[data.val],
        y_val=data.y[data.val],
        X_test=X[data.test],
        y_test=data.y[data.test],
        raw_test=data.table.X[data.test],
        feature_names=list(data.table.feature_names),
        class_names=list(data.table.class_names),
        title="your uploaded table" if xai.dataset == "upload" else data.table.title,  # no user text in prose
        origin=f"the Explainable AI run {row['id'][:8]}…",
    )


def from_nas(store, row: dict, tensors: dict) -> Start:
    """The NAS page's best architecture (rebuilt by ``engine.nas.space.build``), on the NAS run's own digits split,
    wrapped to take flat 64-pixel rows."""
    from engine.nas.search import load_digits
    from engine.nas.space import build

    net = build(nas_architecture(store, row["id"]))
    try:
        net.load_state_dict(_prefixed(tensors, "best"))
    except RuntimeError as e:
        raise RunError(f"That NAS run's weights do not fit its architecture: {str(e).splitlines()[0]}") from None
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), net)  # (n, 64) -> (n, 1, 8, 8) -> (n, 10)
    d = load_digits(int(row["config"].get("seed", 0)))  # the split its winner was tested on
    names = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
    flat = {name: getattr(d, name).cpu().numpy() for name in names}
    for name in ("X_train", "X_val", "X_test"):
        flat[name] = flat[name].reshape(len(flat[name]), -1).astype(np.float32)  # (n, 64)
    return Start(
        model=model,
        **flat,
        raw_test=flat["X_test"],
        feature_names=PIXELS,
        class_names=[str(i) for i in range(10)],
        title="8x8 handwritten digits",
        origin=f"the NAS run {row['id'][:8]}… (its best architecture)",
        image_side=8,
    )


def nas_architecture(store, run_id: str) -> dict:
    """The winner's architecture: ``info["best_architecture"]`` when the store keeps it, else read from its layers."""
    outcome = store.load_outcome(run_id)
    arch = (getattr(outcome, "info", None) or {}).get("best_architecture")
    if arch:
        return dict(arch)
    text = (outcome.architecture or {}).get("best", "")
    if not text:
        raise RunError("That NAS run does not record its best architecture.")
    return architecture_from_text(text)


def architecture_from_text(text: str) -> dict:
    """Read the NAS decisions back from ``str(model)`` of a ``space.build`` network (a plain text parse)."""
    from engine.nas.config import SPACE

    convs = re.findall(r"Conv2d\((\d+), (\d+), kernel_size=\((\d+),", text)
    linears = re.findall(r"Linear\(in_features=(\d+), out_features=(\d+)", text)
    dropout = re.search(r"Dropout\(p=([0-9.]+)", text)
    activation = re.search(r"\b(ReLU|Tanh|ELU)\(", text)
    return {
        "conv_blocks": len(convs),
        "filters": int(convs[0][1]) if convs else SPACE["filters"][0],
        "kernel_size": int(convs[0][2]) if convs else SPACE["kernel_size"][0],
        "pooling": "max" if "MaxPool2d" in text else "avg" if "AvgPool2d" in text else "none",
        "dense_layers": len(linears) - 1,
        "dense_width": int(linears[0][1]) if len(linears) > 1 else SPACE["dense_width"][0],
        "activation": activation.group(1).lower() if activation else "relu",
        "dropout": float(dropout.group(1)) if dropout else 0.0,
    }


def start_model(config: Config, tracker: Tracker) -> Start:
    """Train the baseline here, or load the finished run the person picked."""
    if config.start_from == "finished_run":
        return load_finished(config)
    return train_baseline(config, tracker)
