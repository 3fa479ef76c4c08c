"""Try it on the federated page: the same input through the global (federated) model, the centralised model and
one client's local-only model, with SHAP for the global and the client's model side by side.

The three networks are rebuilt from the run's settings and stored weights; the server's held-out rows are
regenerated from the seed (the same split as the run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.tryit import Answer, bars, explain_output, heatmap, restore, softmax
from engine.core.tryit import waterfall as shap_waterfall
from engine.federated.config import Config
from engine.federated.fedavg import initial_model, load_data


@dataclass
class Bundle:
    models: dict[str, torch.nn.Module]  # "global", "centralized", "local_<k>"
    labels: dict[str, str]
    feature_names: list[str]
    class_names: list[str]
    image_shape: tuple[int, int] | None  # (8, 8) for digits; None for a table (standardised features)
    X_test: np.ndarray  # (m, d) the server's held-out rows: where inputs start
    background: torch.Tensor  # (30, d) held-out rows: SHAP's reference


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    _X_tr, _y_tr, X_te, _y_te, names, classes, shape = load_data(config.dataset, config.seed)
    client = f"local_{config.explain_client}"
    models = {
        name: restore(initial_model(config, X_te.shape[1], len(classes)), weights, name)
        for name in ("global", "centralized", client)
    }
    labels = {
        "global": "Federated (global) model",
        "centralized": "Centralised model (all data pooled)",
        client: f"Client {config.explain_client}'s local-only model",
    }
    background = X_te[np.random.default_rng(config.seed + 1).choice(len(X_te), 30, replace=False)]
    bundle = Bundle(
        models, labels, list(names), list(classes), tuple(shape) if shape else None, X_te, torch.as_tensor(background)
    )
    answer(bundle, {"row": X_te[0]})  # warm-up: SHAP's first call
    return bundle


def examples(bundle: Bundle) -> list[dict]:
    """A few held-out rows for benchmarks and tests."""
    return [{"row": r} for r in bundle.X_test[:5]]


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["row"]``: one input (d,) as the models read it (digits: 64 pixels in [0, 1], row by row;
    breast cancer: standardised measurements). Digits may come as ``inputs["image"]`` (8, 8) instead."""
    raw = inputs["image"] if "image" in inputs else inputs["row"]
    x = torch.as_tensor(np.asarray(raw, dtype=np.float32).reshape(1, -1))
    with torch.no_grad():
        probs = {n: softmax(m(x)[0].numpy()) for n, m in bundle.models.items()}
    summary = {bundle.labels[n]: f"{bundle.class_names[int(p.argmax())]} ({p.max():.0%})" for n, p in probs.items()}
    figs = {}
    if bundle.image_shape:
        figs["Your input"] = heatmap(
            x.numpy().reshape(bundle.image_shape), "Your digit", "The 8x8 image every model reads (ink 0-1)."
        )
    figs["Class probabilities"] = bars(
        bundle.class_names,
        {bundle.labels[n]: p for n, p in probs.items()},
        "The same input, three models",
        "Each model's probability for every class: the federated model beside the one "
        "trained on all data pooled and one client's model trained on its data alone.",
        x_title="class",
    )
    exps = {}
    for name in ("global", next(n for n in bundle.models if n.startswith("local_"))):
        k = int(probs[name].argmax())
        exp = explain_output(
            bundle.models[name],
            x,
            bundle.background,
            k,
            feature_names=bundle.feature_names,
            data=x.numpy().astype(np.float64),
        )
        exps[name] = exp
        title = f"{bundle.labels[name]}: why '{bundle.class_names[k]}'"
        figs[f"SHAP: {bundle.labels[name]}"] = (
            heatmap(
                np.asarray(exp.values).reshape(bundle.image_shape),
                title,
                "Red pixels push this model's score for its answer up, blue pixels push it down.",
                diverging=True,
            )
            if bundle.image_shape
            else shap_waterfall(exp, None, title)
        )
    return Answer(
        summary=summary,
        prediction={n: dict(zip(bundle.class_names, p.tolist())) for n, p in probs.items()},
        explanation=exps,
        figures=figs,
    )
