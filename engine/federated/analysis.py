"""Federated learning analysis, run in the worker after the rounds: SHAP of the global model and of one client's
local-only model (torch)."""

from __future__ import annotations

from engine.core.contract import Result
from engine.federated.views import local_title


def explain(result: Result):
    """SHAP of the global model and of one client's local-only model on the same held-out samples."""
    import torch

    from engine.core.explain import explain_torch

    a, info, k = result.arrays, result.info, result.config.explain_client
    X, background = torch.as_tensor(a["X_explain"]), torch.as_tensor(a["background"])
    kw = dict(feature_names=info["feature_names"], output_names=info["class_names"], data=a["X_explain"])
    return {
        "Global model": explain_torch(result.models["global"], X, background, **kw),
        local_title(result): explain_torch(result.models[f"local_{k}"], X, background, **kw),
    }
