"""Try it on the XAI page: one row of your own through the trained MLP, with its exact SHAP waterfall.

The rebuilt model is the run's MLP (weights from the store); the table, its split and its standardisation are
recomputed from the run's settings (``prepare`` is deterministic for a seed), so a person types values in the
table's own units and the nearest training rows are real rows of that table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.core.data import DataError
from engine.core.explain import explain_torch
from engine.core.train import mlp
from engine.core.tryit import Answer, TryItUnavailable, bars, restore, softmax
from engine.core.tryit import waterfall as shap_waterfall
from engine.xai.config import Config
from engine.xai.mlp import prepare

NEIGHBOURS = 5


@dataclass
class Bundle:
    model: torch.nn.Module
    feature_names: list[str]
    class_names: list[str] | None  # None for a regression table
    mean: np.ndarray  # (d,) standardisation of the features, from the training rows
    std: np.ndarray
    y_mean: float  # regression: the target's training mean and spread (the network predicts standardised values)
    y_std: float
    background: torch.Tensor  # (m, d) standardised training rows: SHAP's reference
    X_train_raw: np.ndarray  # (n, d) training rows in the table's units (nearest rows, slider ranges)
    y_train: np.ndarray  # (n,) their labels or values
    X_test_raw: np.ndarray  # (t, d) test rows: where the sliders start
    ranking: list[int] | None = None  # features by mean |SHAP| over the first test rows, most influential first

    @property
    def classify(self) -> bool:
        return self.class_names is not None

    def _tensor(self, raw: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((np.asarray(raw, dtype=np.float32) - self.mean) / self.std, dtype=torch.float32)


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    """The run's MLP and the data around it, rebuilt from its settings and stored weights."""
    try:
        data = prepare(config)
    except DataError as err:
        raise TryItUnavailable(f"The data this run learned from is no longer here ({err}).") from err
    table = data.table
    classify = table.task == "classification"
    n_out = len(table.classes()) if classify else 1
    model = mlp(data.X.shape[1], n_out, [config.width] * config.hidden_layers, config.activation, config.dropout)
    restore(model, weights, "mlp")
    train_raw = table.X[data.train].astype(np.float32)
    mean, std = train_raw.mean(0), train_raw.std(0) + 1e-8
    y_train_raw = table.y[data.train].astype(np.float64)
    background = np.random.default_rng(config.seed).choice(data.train, min(100, len(data.train)), replace=False)
    bundle = Bundle(
        model,
        list(table.feature_names),
        list(table.classes()) if classify else None,
        mean,
        std,
        0.0 if classify else float(y_train_raw.mean()),
        1.0 if classify else float(y_train_raw.std() + 1e-8),
        torch.as_tensor(data.X[background], dtype=torch.float32),
        train_raw,
        table.y[data.train],
        table.X[data.test].astype(np.float32),
    )
    exp = explain_torch(model, bundle._tensor(bundle.X_test_raw[:20]), bundle.background)  # also warms SHAP up
    values = np.abs(np.asarray(exp.values)).reshape(min(20, len(bundle.X_test_raw)), len(bundle.feature_names), -1)
    bundle.ranking = [int(j) for j in np.argsort(-values.mean((0, 2)))]
    return bundle


def examples(bundle: Bundle) -> list[dict]:
    """A few inputs (test rows) for benchmarks and tests."""
    return [{"row": r} for r in bundle.X_test_raw[:5]]


def predict_row(bundle: Bundle, row: np.ndarray) -> np.ndarray:
    """Class probabilities (C,) or the predicted value (1,) in the target's units, for one raw row."""
    with torch.no_grad():
        out = bundle.model(bundle._tensor(row[None]))[0].numpy()
    return softmax(out) if bundle.classify else out * bundle.y_std + bundle.y_mean


def nearest(bundle: Bundle, row: np.ndarray, k: int = NEIGHBOURS) -> pd.DataFrame:
    """The k training rows closest to ``row`` (Euclidean distance on standardised features)."""
    z = (bundle.X_train_raw - bundle.mean) / bundle.std
    d = np.sqrt(((z - (row - bundle.mean) / bundle.std) ** 2).sum(1))
    idx = np.argsort(d)[:k]
    names = bundle.class_names
    label = [names[int(y)] for y in bundle.y_train[idx]] if names is not None else bundle.y_train[idx]
    frame = pd.DataFrame(bundle.X_train_raw[idx], columns=bundle.feature_names)
    frame.insert(0, "distance", np.round(d[idx], 3))
    frame.insert(0, "true class" if bundle.classify else "true value", label)
    return frame


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["row"]``: one row of feature values in the table's units."""
    row = np.asarray(inputs["row"], dtype=np.float32).reshape(-1)
    pred = predict_row(bundle, row)
    exp = explain_torch(
        bundle.model,
        bundle._tensor(row[None]),
        bundle.background,
        feature_names=bundle.feature_names,
        output_names=bundle.class_names,
        data=row[None].astype(np.float64),
    )
    prediction: dict[str, float] | float
    if bundle.class_names is not None:  # a classifier (``bundle.classify``)
        k = int(pred.argmax())
        summary = {"Prediction": f"{bundle.class_names[k]} ({pred[k]:.0%})"}
        prediction = dict(zip(bundle.class_names, pred.tolist()))
        what = f"the network's score (logit) for {bundle.class_names[k]}"
        probabilities = bars(
            bundle.class_names,
            pred,
            "Class probabilities",
            "The network's probability for each class, for the row above.",
            x_title="class",
        )
        figs = {"Class probabilities": probabilities}
    else:
        k, prediction = None, float(pred[0])
        summary = {"Prediction": f"{prediction:.4g}"}
        what = "the network's output (in standard deviations from the average)"
        figs = {}
    waterfall = shap_waterfall(exp, k, f"Why: SHAP waterfall of {what}")
    figs = {"SHAP waterfall": waterfall, **figs}
    summary["SHAP check"] = f"base + sum of SHAP = output within {exp.additivity_error:.1g}"
    return Answer(
        summary=summary,
        prediction=prediction,
        explanation=exp,
        figures=figs,
        tables={"Nearest training rows": nearest(bundle, row)},
    )


def rebuild_model(config: dict, info: dict, weights: bytes) -> dict:
    """This run's MLP and the rows it was judged on, rebuilt from its stored settings and safetensors weights, for a
    run that starts from it (Edge AI). ``info`` is not needed here (one signature for every source technique).

    Returns ``model`` (float32, trainable: standardised rows (n, d) -> outputs), ``classify``, the split rows
    ``X_train``/``y_train``, ``X_val``/``y_val``, ``X_test``/``y_test`` (float32, standardised as the model takes
    them), ``raw_test`` (the test rows in the table's units), ``feature_names``, ``class_names`` (empty for a
    regression table) and ``title``. Raises ConfigError when the settings no longer validate and DataError when
    the table is gone; weights that do not fit the settings raise RuntimeError.
    """
    from safetensors.torch import load as load_safetensors

    from engine.core.config import validate

    xai = validate(Config, config)
    data = prepare(xai)
    n_out = len(data.table.classes()) if data.classify else 1
    model = mlp(data.X.shape[1], n_out, [xai.width] * xai.hidden_layers, xai.activation, xai.dropout)
    state = {k.removeprefix("mlp."): v for k, v in load_safetensors(weights).items() if k.startswith("mlp.")}
    model.load_state_dict(state)
    X = data.X.astype(np.float32)
    return {
        "model": model,
        "classify": data.classify,
        **{f"X_{part}": X[getattr(data, part)] for part in ("train", "val", "test")},
        **{f"y_{part}": data.y[getattr(data, part)] for part in ("train", "val", "test")},
        "raw_test": data.table.X[data.test],
        "feature_names": list(data.table.feature_names),
        "class_names": list(data.table.classes()) if data.classify else [],
        "title": data.table.title,
    }
