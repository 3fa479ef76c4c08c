"""Explainable AI: train an MLP on real tabular data, compare it with a linear baseline, explain it with SHAP.

The reference technique: every other module follows the same shape (Config, PRESETS, run, figures,
explain, explain_figures, describe, estimate_seconds).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from engine.core import charts
from engine.core.config import TechniqueConfig
from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.data import Table, load_upload, sklearn_table, split, table_from_csv

TITLE = "Explainable AI"
SUMMARY = "Train a neural network on real tabular data, then see which inputs drove each prediction with SHAP."


class Config(TechniqueConfig):
    dataset: Literal["breast_cancer", "wine", "iris", "diabetes", "upload"] = Field(
        "breast_cancer", description="The table to learn from: one of scikit-learn's bundled sets, or your own CSV.")
    upload: str = Field("", description="Your uploaded CSV (set by the upload box).", json_schema_extra={"form": False})
    target: str = Field("", max_length=60, description="The column of your CSV to predict.",
                        json_schema_extra={"form": False})
    hidden_layers: int = Field(2, ge=1, le=4, description="How many hidden layers the network has.")
    width: int = Field(32, ge=4, le=256, description="Neurons in each hidden layer.")
    activation: Literal["relu", "tanh", "gelu", "leaky_relu"] = Field(
        "relu", description="The non-linearity between layers.")
    dropout: float = Field(0.1, ge=0.0, le=0.5, description="Share of neurons switched off at random while "
                           "training, to reduce over-fitting.", json_schema_extra={"widget": "slider"})
    epochs: int = Field(60, ge=1, le=500, description="Passes over the training data.")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="Adam adapts each weight's step size; plain SGD "
                                              "(with momentum) is simpler and more sensitive to the learning rate.")
    learning_rate: float = Field(0.003, ge=1e-5, le=1.0, description="Step size of the optimiser. "
                                 "Too high and training diverges.", json_schema_extra={"log": True})
    batch_size: int = Field(64, ge=8, le=512, description="Rows per optimisation step.")
    test_fraction: float = Field(0.25, ge=0.1, le=0.5, description="Share of rows held out to test the model.",
                                 json_schema_extra={"widget": "slider"})
    explain_rows: int = Field(60, ge=10, le=300, description="How many test rows SHAP explains (more is slower).")

    @model_validator(mode="after")
    def _upload_needs_target(self):
        if self.dataset == "upload" and not (self.upload and self.target):
            raise ValueError("Upload a CSV and choose its target column to use your own data.")
        return self


PRESETS = {
    "quick": {"epochs": 40, "width": 32, "hidden_layers": 2, "explain_rows": 50},
    "better": {"epochs": 200, "width": 64, "hidden_layers": 3, "explain_rows": 150, "learning_rate": 0.001},
}


def load_table(config: Config) -> Table:
    if config.dataset == "upload":
        return table_from_csv(load_upload(config.upload), config.target)
    return sklearn_table(config.dataset)


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the MLP with live train/validation curves, then a linear baseline on the same split."""
    import torch
    from torch import nn
    from sklearn.linear_model import LogisticRegression, Ridge

    from engine.core.device import pick
    from engine.core.explain import permutation_importance
    from engine.core.train import accuracy, count_parameters, fit, mlp, predict, r2

    table = load_table(config)
    classify = table.task == "classification"
    strat = table.y if classify else None
    rest_idx, test_idx = split(len(table.y), config.test_fraction, config.seed, strat)
    tr, va = split(len(rest_idx), 0.2, config.seed, strat[rest_idx] if classify else None)
    train_idx, val_idx = rest_idx[tr], rest_idx[va]  # validation rows watch over-fitting live

    mean, std = table.X[train_idx].mean(0), table.X[train_idx].std(0) + 1e-8
    Xs = (table.X - mean) / std
    y = table.y.astype(np.int64 if classify else np.float32)
    y_mean, y_std = (0.0, 1.0) if classify else (float(y[train_idx].mean()), float(y[train_idx].std() + 1e-8))
    ys = y if classify else (y - y_mean) / y_std

    dev = pick()
    t = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
    X_tr, y_tr, X_val, y_val = t(Xs[train_idx]), t(ys[train_idx]), t(Xs[val_idx]), t(ys[val_idx])
    n_out = len(table.class_names) if classify else 1
    model = mlp(table.X.shape[1], n_out, [config.width] * config.hidden_layers, config.activation,
                config.dropout).to(dev)
    if classify:
        loss_fn = nn.CrossEntropyLoss()
        def evaluate(m):
            out_tr, out_val = m(X_tr), m(X_val)
            return {"val_loss": loss_fn(out_val, y_val).item(), "train_accuracy": accuracy(out_tr, y_tr),
                    "val_accuracy": accuracy(out_val, y_val)}
    else:
        mse = nn.MSELoss()
        loss_fn = lambda out, target: mse(out.squeeze(-1), target)  # noqa: E731
        def evaluate(m):
            out_val = m(X_val).squeeze(-1)
            return {"val_loss": mse(out_val, y_val).item(), "train_r2": r2(m(X_tr).squeeze(-1), y_tr),
                    "val_r2": r2(out_val, y_val)}

    tracker = Tracker(progress, config.epochs)
    fit(model, X_tr, y_tr, loss_fn=loss_fn, epochs=config.epochs, lr=config.learning_rate,
        batch_size=config.batch_size, tracker=tracker, evaluate=evaluate, seed=config.seed,
        optimizer=config.optimizer)
    model = model.cpu().eval()

    X_test, y_test = torch.as_tensor(Xs[test_idx]), ys[test_idx]
    out_test = predict(model, X_test)
    fit_idx = np.concatenate([train_idx, val_idx])
    if classify:
        baseline = LogisticRegression(max_iter=2000).fit(Xs[fit_idx], ys[fit_idx])
        pred = out_test.argmax(1).numpy()
        metrics = {"test_accuracy": float((pred == y_test).mean()),
                   "baseline_test_accuracy": float(baseline.score(Xs[test_idx], y_test))}
        score = lambda X: float((predict(model, torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()  # noqa: E731
                                 == y_test).mean())
    else:
        baseline = Ridge(alpha=1.0).fit(Xs[fit_idx], ys[fit_idx])
        pred = out_test.squeeze(-1).numpy()
        metrics = {"test_r2": r2(torch.as_tensor(pred), torch.as_tensor(y_test)),
                   "baseline_test_r2": float(baseline.score(Xs[test_idx], y_test))}
        score = lambda X: r2(predict(model, torch.as_tensor(X, dtype=torch.float32)).squeeze(-1),  # noqa: E731
                             torch.as_tensor(y_test))
    metrics.update(epochs_run=len(tracker.rows), parameters=count_parameters(model),
                   n_train=len(train_idx), n_test=len(test_idx))
    rng = np.random.default_rng(config.seed)
    return Result(
        history=tracker.history(), metrics=metrics, models={"mlp": model}, stopped=tracker.stopped,
        arrays={"X_test": Xs[test_idx], "X_test_raw": table.X[test_idx], "y_test": y_test, "pred_test": pred,
                "background": Xs[rng.choice(train_idx, min(100, len(train_idx)), replace=False)],
                "permutation_importance": permutation_importance(score, Xs[test_idx], seed=config.seed)},
        info={"task": table.task, "feature_names": table.feature_names, "class_names": table.class_names,
              "title": table.title, "explain_rows": config.explain_rows, "seed": config.seed})


def figures(result: Result) -> dict:
    h, info, a = result.history, result.info, result.arrays
    score = "accuracy" if info["task"] == "classification" else "r2"
    figs = {
        "Loss": charts.learning_curves(h, ["loss", "val_loss"], title="Training and validation loss",
                                       caption="Training loss should fall; when validation loss turns up while "
                                               "training loss keeps falling, the network is over-fitting."),
        score.capitalize(): charts.learning_curves(h, [f"train_{score}", f"val_{score}"],
                                                   title=f"Training and validation {score}"),
    }
    if info["task"] == "classification":
        figs["Confusion matrix"] = charts.confusion_matrix(a["y_test"], a["pred_test"], info["class_names"],
                                                           title="Confusion matrix on the test set")
    else:
        import plotly.graph_objects as go
        fig = go.Figure(go.Scatter(x=a["y_test"], y=a["pred_test"], mode="markers"))
        lo, hi = float(np.min(a["y_test"])), float(np.max(a["y_test"]))
        fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line=dict(dash="dash", color="grey"))
        fig.update_layout(title="Predicted vs true (test set, standardised units)", xaxis_title="true",
                          yaxis_title="predicted")
        figs["Predicted vs true"] = charts.captioned(fig, "Points on the dashed line are perfect predictions.")
    return figs


def explain(result: Result):
    """SHAP values of the MLP's raw outputs (class logits or the regression value) on test rows."""
    import torch

    from engine.core.explain import explain_torch

    a, info = result.arrays, result.info
    n = min(info["explain_rows"], len(a["X_test"]))
    rows = np.random.default_rng(info["seed"]).choice(len(a["X_test"]), n, replace=False)
    return explain_torch(result.models["mlp"], torch.as_tensor(a["X_test"][rows]),
                         torch.as_tensor(a["background"]), feature_names=info["feature_names"],
                         output_names=info["class_names"], data=a["X_test_raw"][rows])


def explain_figures(result: Result, explanation) -> dict:
    from engine.core.explain import global_importance

    return {"SHAP vs permutation importance": charts.importance_comparison(
        result.info["feature_names"], global_importance(explanation), result.arrays["permutation_importance"])}


def _verdict(model: float, baseline: float) -> str:
    return "beat" if model > baseline + 1e-9 else "matched" if abs(model - baseline) <= 1e-9 else "did not beat"


def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    top = np.asarray(info["feature_names"])[np.argsort(result.arrays["permutation_importance"])[::-1][:2]]
    if info["task"] == "classification":
        verdict = _verdict(m["test_accuracy"], m["baseline_test_accuracy"])
        score = (f"{m['test_accuracy']:.1%} of the {m['n_test']} held-out rows right, and {verdict} "
                 f"logistic regression ({m['baseline_test_accuracy']:.1%})")
    else:
        verdict = _verdict(m["test_r2"], m["baseline_test_r2"])
        score = (f"a test R² of {m['test_r2']:.2f} (1.0 is perfect), and {verdict} linear regression "
                 f"({m['baseline_test_r2']:.2f})")
    stopped = " You stopped it early." if result.stopped else ""
    return (f"A {len(result.history)}-epoch network with {m['parameters']:,} weights learned from "
            f"{m['n_train']} rows of {info['title']}. It got {score}.{stopped} Shuffling "
            f"**{top[0]}** or **{top[1]}** hurts the model most: those are the inputs it leans on.")


def estimate_seconds(config: Config) -> float:
    rows = 569 if config.dataset == "upload" else {"breast_cancer": 569, "wine": 178, "iris": 150,
                                                   "diabetes": 442}[config.dataset]
    steps = math.ceil(rows * (1 - config.test_fraction) * 0.8 / config.batch_size) * config.epochs
    size = config.width * config.hidden_layers / 64
    return 1.0 + steps * 4e-4 * (1 + size) + config.explain_rows * 0.008
