"""Images track: a small CNN pretrained on scikit-learn's digits, then four strategies on a new digit task.

The CNN is pretrained once per source setting with rotation/shift augmentation and cached as checksummed
safetensors (rebuilt when damaged). On the target task four strategies train side by side through
:func:`engine.core.train.fit`, on the same augmented mini-batches:

- ``scratch``: the same CNN, freshly initialised; every layer learns.
- ``feature_extraction``: the pretrained blocks frozen, a new head learns.
- ``finetune_last``: the last ``finetune_blocks`` blocks learn (at ``backbone_lr_scale`` of the rate) with the head.
- ``finetune``: every block learns gently, the new head at the full rate.

Also the label-efficiency sweep (accuracy vs labels per class for all four).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.device import pick, seeded
from engine.core.train import SideBySide, SummedLoss, count_parameters, fit, predict
from engine.transfer.config import Config
from engine.transfer.data import IMAGES_LEFT_TO_TEST, cache_path, digit_tasks, labelled_split

BLOCKS = ("block1", "block2", "block3")
STRATEGIES = ("scratch", "feature_extraction", "finetune_last", "finetune")
MONITOR_IMAGES = 250  # test images scored after every epoch for the live curves
SWEEP_BUDGETS = (1, 3, 10, 30, 75)


def small_cnn(n_classes: int) -> nn.Sequential:
    """Three blocks + a head, every activation its own module (SHAP's DeepExplainer stays exact)."""
    return nn.Sequential(
        OrderedDict(
            block1=nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),  # (B, 16, 4, 4)
            block2=nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),  # (B, 32, 2, 2)
            block3=nn.Sequential(nn.Flatten(), nn.Linear(128, 64), nn.ReLU()),  # (B, 64): the features
            head=nn.Linear(64, n_classes),
        )
    )


def augment(x, rotation: float, shift: int, gen):
    """Random rotation (degrees) and integer pixel shift of a batch x (B, 1, 8, 8)."""
    if rotation == 0 and shift == 0:
        return x
    n = len(x)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(rotation)
    move = torch.randint(-shift, shift + 1, (n, 2), generator=gen).float() * (2 / x.shape[-1])  # pixels -> [-1, 1]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, move[:, 0]], 1), torch.stack([sin, cos, move[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)  # (B, 8, 8, 2)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


class Augment(nn.Module):
    """Random rotation and shift of every training batch (:func:`augment`); does nothing in eval mode."""

    def __init__(self, rotation: float, shift: int, seed: int):
        super().__init__()
        self.rotation, self.shift = rotation, shift
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, x):
        return augment(x, self.rotation, self.shift, self.gen) if self.training else x


# --- the pretrained network and its cache ------------------------------------------------------------------


def _checksum(state: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_cached(path: Path, n_classes: int):
    """(the cached pretrained CNN, its info), or None when the file is missing, unreadable, or fails its checksum."""
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


def pretrain(config: Config, X_src: np.ndarray, y_src: np.ndarray, tracker: Tracker, dev):
    """Train the CNN on the source task with augmentation (fixed seed, so every run shares the cache).

    Returns (model, info), or None when the person pressed Stop (asked once per pretraining epoch).
    """
    started = time.perf_counter()
    order = np.random.default_rng(0).permutation(len(y_src))
    hold, fit_idx = order[: len(order) // 10], order[len(order) // 10 :]  # 10 % held out: the source accuracy
    with seeded(0, dev):  # fixed initial weights: the cached network never depends on the run's seed
        model = small_cnn(int(y_src.max()) + 1).to(dev)
    X, y = torch.as_tensor(X_src, device=dev), torch.as_tensor(y_src, device=dev)

    def pretraining(step, total, *_a, **_k):  # its rows are not the run's history
        return tracker.phase("Pretraining the network on the source digits", step / total)

    silent = Tracker(pretraining, config.pretrain_epochs)
    if fit(
        nn.Sequential(Augment(config.rotation, config.shift, seed=0), model),
        X[fit_idx],
        y[fit_idx],
        loss_fn=F.cross_entropy,
        epochs=config.pretrain_epochs,
        lr=3e-3,
        batch_size=64,
        tracker=silent,
        seed=0,
    ):
        return None
    accuracy = float((predict(model, X[hold]).argmax(1).cpu().numpy() == y_src[hold]).mean())
    return model.cpu().eval(), {"source_accuracy": accuracy, "pretrain_seconds": time.perf_counter() - started}


def pretrained_network(config: Config, X_src, y_src, tracker: Tracker, dev):
    """(the pretrained CNN, info): from the cache, or pretrained now and cached; None when stopped meanwhile."""
    path = cache_path(config)
    cached = load_cached(path, int(y_src.max()) + 1)
    if cached is not None:
        return cached[0], {**cached[1], "path": str(path), "from_cache": True, "rebuilt": False}
    rebuilt = path.exists()  # a file was there, but damaged
    built = pretrain(config, X_src, y_src, tracker, dev)
    if built is None:
        return None
    save_cached(path, *built)
    return built[0], {**built[1], "path": str(path), "from_cache": False, "rebuilt": rebuilt}


# --- the four strategies -----------------------------------------------------------------------------------


def strategies(pretrained: nn.Module, n_classes: int, config: Config, seed: int) -> tuple[dict, list]:
    """Fresh models for the four strategies (all from the same seed) and their optimiser groups."""
    models, groups = {}, []
    trained = {
        "scratch": BLOCKS,
        "feature_extraction": (),
        "finetune": BLOCKS,
        "finetune_last": BLOCKS[len(BLOCKS) - config.finetune_blocks :],
    }
    for name in STRATEGIES:
        with seeded(seed):  # every strategy's new weights from the same seed
            model = small_cnn(n_classes) if name == "scratch" else copy.deepcopy(pretrained)
            model.head = nn.Linear(64, n_classes)  # a new head for the new classes
        for block in BLOCKS:
            for p in getattr(model, block).parameters():
                p.requires_grad_(block in trained[name])
        backbone = [p for b in BLOCKS for p in getattr(model, b).parameters() if p.requires_grad]
        scale = 1.0 if name == "scratch" else config.backbone_lr_scale
        groups += [{"params": list(model.head.parameters()), "lr": config.learning_rate}]
        groups += [{"params": backbone, "lr": config.learning_rate * scale}] if backbone else []
        models[name] = model
    return models, groups


def train(config: Config, models: dict, groups: list, data: tuple, tracker: Tracker, seed: int) -> SideBySide:
    """All four strategies on the same augmented mini-batches; ``tracker`` gets each one's loss and accuracy on a
    fixed sample of test images after every epoch (scoring all of them every epoch would dominate the run)."""
    X_tr, y_tr, X_watch, y_watch = data
    side = SideBySide(models)
    loss_fn = SummedLoss(list(models))

    def evaluate(m) -> dict:
        correct = (
            (m(X_watch).argmax(-1) == y_watch).float().mean(1)
        )  # (4,) accuracy per strategy (eval: no augmentation)
        return {
            **{f"loss_{n}": v for n, v in loss_fn.epoch_means().items()},
            **{f"accuracy_{n}": c.item() for n, c in zip(models, correct)},
        }

    fit(
        nn.Sequential(Augment(config.rotation, config.shift, seed), side),
        X_tr,
        y_tr,
        loss_fn=loss_fn,
        epochs=config.epochs,
        lr=config.learning_rate,
        batch_size=64,
        tracker=tracker,
        evaluate=evaluate,
        params=groups,
        seed=seed,
    )
    return side.cpu().eval()


def sweep(config: Config, pretrained: nn.Module, X: np.ndarray, y: np.ndarray, tracker: Tracker) -> dict:
    """Accuracy vs labels per class for all four strategies (one seeded split per budget)."""
    budgets = [k for k in SWEEP_BUDGETS if k <= int(np.bincount(y).min()) - IMAGES_LEFT_TO_TEST]
    out: dict[str, list] = {"labels_per_class": [], **{name: [] for name in STRATEGIES}}
    for j, k in enumerate(budgets):
        tr, te = labelled_split(y, k, config.seed + k)
        models, groups = strategies(pretrained, int(y.max()) + 1, config, config.seed + k)
        side = SideBySide(models)
        fit(
            nn.Sequential(Augment(config.rotation, config.shift, config.seed + k), side),
            torch.as_tensor(X[tr]),
            torch.as_tensor(y[tr]),
            loss_fn=SummedLoss(list(models)),
            epochs=config.epochs,
            lr=config.learning_rate,
            batch_size=64,
            tracker=Tracker(None, config.epochs),
            params=groups,
            seed=config.seed + k,
        )
        for name, model in side.models.items():
            out[name].append(float((predict(model, torch.as_tensor(X[te])).argmax(1).numpy() == y[te]).mean()))
        out["labels_per_class"].append(k)
        if tracker.tick(config.epochs + j + 1):
            break
    return out


def augmented_examples(X_src: np.ndarray, config: Config) -> np.ndarray:
    """Four source images (first column) beside seven random rotations/shifts of each: (4, 8, 8, 8)."""
    gen = torch.Generator().manual_seed(config.seed)
    show = torch.as_tensor(X_src[:4])  # (4, 1, 8, 8)
    copies = [augment(show, config.rotation, config.shift, gen)[:, 0] for _ in range(7)]
    return torch.stack([show[:, 0], *copies], 1).numpy()


def stopped_before_training(config: Config, tracker: Tracker) -> Result:
    """Stop was pressed before any strategy trained (while pretraining): nothing to compare yet."""
    return Result(
        config=config,
        history=tracker.history(),
        metrics={"epochs_run": 0},
        headline=("epochs_run",),
        stopped=True,
        info={"strategies": [], "class_names": []},
    )


def run(config: Config, progress: ProgressFn) -> Result:
    """The images track: pretrain (or load) the CNN, then the four strategies on K labelled images per digit."""
    tracker = Tracker(progress, config.epochs + (len(SWEEP_BUDGETS) if config.sweep else 0))
    if tracker.phase("Loading the digits and the pretrained network"):
        return stopped_before_training(config, tracker)
    dev = pick()
    X_src, y_src, X_tgt, y_tgt, classes = digit_tasks(config.source)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        built = pretrained_network(config, X_src, y_src, tracker, dev)
        if built is None:
            return stopped_before_training(config, tracker)
        pretrained, source = built
        train_idx, test_idx = labelled_split(y_tgt, config.labels_per_class, config.seed)
        watch = np.sort(np.random.default_rng(config.seed).permutation(len(test_idx))[:MONITOR_IMAGES])
        t = lambda a: torch.as_tensor(a, device=dev)
        data = (t(X_tgt[train_idx]), t(y_tgt[train_idx]), t(X_tgt[test_idx][watch]), t(y_tgt[test_idx][watch]))
        models, groups = strategies(pretrained.to(dev), len(classes), config, config.seed)
        counts = {
            k: {"trainable": count_parameters(m, True), "frozen": count_parameters(m, False)} for k, m in models.items()
        }
        side = train(config, models, groups, data, tracker, config.seed)
        curve = sweep(config, pretrained.cpu(), X_tgt, y_tgt, tracker) if config.sweep and not tracker.stopped else None
    return package(
        config,
        tracker,
        side,
        pretrained.cpu().eval(),
        source,
        counts,
        (X_src, X_tgt, y_tgt, classes, train_idx, test_idx),
        curve,
    )


def package(
    config: Config, tracker: Tracker, side: SideBySide, pretrained, source: dict, counts: dict, data, curve: dict | None
) -> Result:
    """Test every strategy on all held-out images and gather what the views draw."""
    X_src, X_tgt, y_tgt, classes, train_idx, test_idx = data
    y_test = y_tgt[test_idx]
    preds = {name: predict(m, torch.as_tensor(X_tgt[test_idx])).argmax(1).numpy() for name, m in side.models.items()}
    metrics = {f"accuracy_{k}": float((p == y_test).mean()) for k, p in preds.items()}
    metrics.update(
        source_accuracy=float(source["source_accuracy"]),
        n_labelled=len(train_idx),
        n_test=len(test_idx),
        n_classes=len(classes),
        labels_per_class=config.labels_per_class,
        epochs_run=len(tracker.rows),
    )
    rng = np.random.default_rng(config.seed)
    background = (
        X_tgt[rng.choice(train_idx, 50, replace=False)]
        if len(train_idx) >= 50
        else X_src[rng.choice(len(X_src), 50, replace=False)]
    )  # (50, 1, 8, 8) SHAP's reference images
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        stopped=tracker.stopped,
        headline=("accuracy_feature_extraction", "accuracy_finetune", "accuracy_scratch"),
        models={"pretrained": pretrained, **side.models},
        arrays={
            "X_test": X_tgt[test_idx],
            "y_test": y_test,
            "train_idx": train_idx,
            "background": background,
            "augmented": augmented_examples(X_src, config),
            **{f"pred_{k}": p for k, p in preds.items()},
            **({"sweep": curve} if curve else {}),
        },
        info={
            "class_names": classes,
            "strategies": list(STRATEGIES),
            "parameter_counts": counts,
            "cache": source,
            "sweep_strategies": list(STRATEGIES),
        },
    )
