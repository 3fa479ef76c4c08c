"""Images track: a small CNN pretrained on scikit-learn's digits, then four strategies on a new digit task.

Pretrained weights are cached as checksummed safetensors (rebuilt when damaged). Also the image label-efficiency
sweep and pixel SHAP, pretrained vs from scratch.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.core import charts
from engine.core.contract import Result, Tracker
from engine.core.data import data_dir
from engine.transfer.common import (MONITOR_IMAGES, PRETRAIN_VERSION, _counts, _label, _labelled_split, _predict,
                                    _stopped_early, _tick, _train_epoch)

if TYPE_CHECKING:
    from engine.transfer import Config


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
