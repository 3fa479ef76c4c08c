"""Explainable AI, worker side: SHAP of the trained network (needs torch and the model)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result


def explain(result: Result):
    """SHAP values of the MLP's raw outputs (class logits or the regression value) on test rows."""
    import torch

    from engine.core.explain import explain_torch

    a, info = result.arrays, result.info
    n = min(result.config.explain_rows, len(a["X_test"]))
    rows = np.random.default_rng(result.config.seed).choice(len(a["X_test"]), n, replace=False)
    return explain_torch(
        result.models["mlp"],
        torch.as_tensor(a["X_test"][rows]),
        torch.as_tensor(a["background"]),
        feature_names=info["feature_names"],
        output_names=info["class_names"],
        data=a["X_test_raw"][rows],
    )
