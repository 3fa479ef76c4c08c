"""Self-supervised learning, worker side: pixel SHAP of the probe and of the supervised network (needs torch and
the models), and which test digits it explains."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result

SHAP_DIGITS = 4


def shap_digits(result: Result) -> np.ndarray:
    """The test digits SHAP explains (indices into the test set), the same for both models."""
    return np.random.default_rng(result.config.seed).choice(len(result.arrays["y_test"]), SHAP_DIGITS, replace=False)


def explain(result: Result):
    """Pixel SHAP of the probe on the pretrained encoder and of the supervised network, for the same test digits."""
    import torch
    from torch import nn

    from engine.core.explain import explain_torch

    a, models = result.arrays, result.models
    rows = shap_digits(result)
    X, background = torch.as_tensor(a["X_test"][rows]), torch.as_tensor(a["background"])  # (4|30, 1, 8, 8)
    candidates: dict[str, nn.Module] = {
        "Self-supervised encoder + linear probe": nn.Sequential(models["encoder"], models["probe"])
    }
    if "supervised" in models:
        candidates["Supervised on the same labels"] = models["supervised"]
    out = {}
    for title, model in candidates.items():
        out[title] = explain_torch(model, X, background, output_names=result.info["class_names"])  # (4, 1, 8, 8, 10)
    return out


def measure(result: Result) -> dict:
    """``shap_digits``: the test digits the SHAP charts show (a stored explanation keeps only values and names)."""
    return {"shap_digits": shap_digits(result)}
