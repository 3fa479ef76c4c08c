"""The network the XAI page explains: an MLP on a table, beside a linear baseline on the same split."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from torch import nn

from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.data import Table, load_upload, sklearn_table, split, table_from_csv
from engine.core.device import pick, seeded
from engine.core.explain import permutation_importance
from engine.core.train import accuracy, count_parameters, fit, mlp, predict, r2
from engine.xai.config import Config


def load_table(config: Config) -> Table:
    if config.dataset == "upload":
        return table_from_csv(load_upload(config.upload), config.target)
    return sklearn_table(config.dataset)


@dataclass
class Prepared:
    """A table split into train / validation / test rows, standardised on the training rows."""

    table: Table
    X: np.ndarray  # (n, d) standardised features
    y: np.ndarray  # (n,) class ids, or standardised regression targets
    train: np.ndarray
    val: np.ndarray  # validation rows watch over-fitting live
    test: np.ndarray

    @property
    def classify(self) -> bool:
        return self.table.task == "classification"


def prepare(config: Config) -> Prepared:
    table = load_table(config)
    classify = table.task == "classification"
    strat = table.y if classify else None
    rest_idx, test_idx = split(len(table.y), config.test_fraction, config.seed, strat)
    tr, va = split(len(rest_idx), 0.2, config.seed, strat[rest_idx] if strat is not None else None)
    train_idx, val_idx = rest_idx[tr], rest_idx[va]
    mean, std = table.X[train_idx].mean(0), table.X[train_idx].std(0) + 1e-8
    y = table.y.astype(np.int64 if classify else np.float32)
    if not classify:  # standardised targets: the same learning rate suits every regression table
        y = (y - y[train_idx].mean()) / (y[train_idx].std() + 1e-8)
    return Prepared(table, (table.X - mean) / std, y, train_idx, val_idx, test_idx)


def train_network(config: Config, data: Prepared, progress: ProgressFn) -> tuple[nn.Module, Tracker, int]:
    """The MLP trained with live train/validation curves; also the epoch whose weights it keeps."""
    dev = pick()
    t = lambda a: torch.as_tensor(a, device=dev)
    X_tr, y_tr, X_val, y_val = t(data.X[data.train]), t(data.y[data.train]), t(data.X[data.val]), t(data.y[data.val])
    n_out = len(data.table.classes()) if data.classify else 1
    model = mlp(data.X.shape[1], n_out, [config.width] * config.hidden_layers, config.activation, config.dropout).to(
        dev
    )
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    if data.classify:
        loss_fn = nn.CrossEntropyLoss()

        def evaluate(m):
            out_tr, out_val = m(X_tr), m(X_val)
            return {
                "val_loss": loss_fn(out_val, y_val).item(),
                "train_accuracy": accuracy(out_tr, y_tr),
                "val_accuracy": accuracy(out_val, y_val),
            }
    else:
        mse = nn.MSELoss()
        loss_fn = lambda out, target: mse(out.squeeze(-1), target)

        def evaluate(m):
            out_val = m(X_val).squeeze(-1)
            return {
                "val_loss": mse(out_val, y_val).item(),
                "train_r2": r2(m(X_tr).squeeze(-1), y_tr),
                "val_r2": r2(out_val, y_val),
            }

    best: dict[str, Any] = {"loss": float("inf"), "state": None, "epoch": 0}

    def evaluate_and_keep_best(m):  # early stopping: the epoch with the lowest validation loss is kept
        metrics = evaluate(m)
        if config.keep_best and metrics["val_loss"] < best["loss"]:
            best.update(loss=metrics["val_loss"], state=copy.deepcopy(m.state_dict()), epoch=len(tracker.rows) + 1)
        return metrics

    tracker = Tracker(progress, config.epochs)
    fit(
        model,
        X_tr,
        y_tr,
        loss_fn=loss_fn,
        epochs=config.epochs,
        lr=config.learning_rate,
        batch_size=config.batch_size,
        tracker=tracker,
        evaluate=evaluate_and_keep_best,
        seed=config.seed,
        optimizer=config.optimizer,
    )
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    return model.cpu().eval(), tracker, best["epoch"] or len(tracker.rows)


def outputs(model: nn.Module, X: np.ndarray, classify: bool) -> np.ndarray:
    """Predicted class ids, or predicted (standardised) values."""
    out = predict(model, torch.as_tensor(X, dtype=torch.float32))
    return out.argmax(1).numpy() if classify else out.squeeze(-1).numpy()


def loss_on(model: nn.Module, X: np.ndarray, y: np.ndarray, classify: bool) -> float:
    """Log-loss (classes) or mean squared error in standard deviations (values) on the given rows."""
    out = predict(model, torch.as_tensor(X, dtype=torch.float32))
    if classify:
        return nn.functional.cross_entropy(out, torch.as_tensor(y)).item()
    return nn.functional.mse_loss(out.squeeze(-1), torch.as_tensor(y)).item()


def score(classify: bool, y: np.ndarray, pred: np.ndarray) -> float:
    """Accuracy for classes, R² for values."""
    if classify:
        return float((pred == y).mean())
    return r2(torch.as_tensor(pred), torch.as_tensor(y))


def held_out_metrics(model: nn.Module, data: Prepared, seed: int) -> tuple[dict, np.ndarray, tuple]:
    """The network and a linear baseline on the held-out rows; also the test predictions and importances."""
    X_test, y_test = data.X[data.test], data.y[data.test]
    fit_idx = np.concatenate([data.train, data.val])
    linear = LogisticRegression(max_iter=2000) if data.classify else Ridge(alpha=1.0)
    linear.fit(data.X[fit_idx], data.y[fit_idx])
    pred = outputs(model, X_test, data.classify)
    kind = "accuracy" if data.classify else "r2"
    metrics = {
        f"test_{kind}": score(data.classify, y_test, pred),
        f"baseline_test_{kind}": float(linear.score(X_test, y_test)),
    }
    if data.classify:  # always guessing the most common training class: the floor any model must beat
        metrics["majority_accuracy"] = float((y_test == np.bincount(data.y[data.train]).argmax()).mean())
    importance = permutation_importance(lambda X: loss_on(model, X, y_test, data.classify), X_test, seed=seed)
    return metrics, pred, importance


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the MLP with live train/validation curves, then a linear baseline on the same split."""
    data = prepare(config)
    with seeded(config.seed):  # the seed alone decides weights and dropout, whatever ran before
        model, tracker, best_epoch = train_network(config, data, progress)
    metrics, pred, importance = held_out_metrics(model, data, config.seed)
    metrics.update(
        epochs_run=len(tracker.rows),
        best_epoch=best_epoch,
        parameters=count_parameters(model),
        n_train=len(data.train),
        n_test=len(data.test),
    )
    background = np.random.default_rng(config.seed).choice(data.train, min(100, len(data.train)), replace=False)
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=tuple(list(metrics)[:2]),
        models={"mlp": model},
        stopped=tracker.stopped,
        arrays={
            "X_test": data.X[data.test],
            "X_test_raw": data.table.X[data.test],
            "y_test": data.y[data.test],
            "pred_test": pred,
            "background": data.X[background],
            "permutation_importance": importance[0],
            "permutation_error": importance[1],
        },
        info={
            "task": data.table.task,
            "feature_names": data.table.feature_names,
            "class_names": data.table.class_names,
            "title": data.table.title,
        },
    )
