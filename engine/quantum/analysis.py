"""Quantum analysis, run in the worker after training: exact SHAP of the quantum model and of its classical
baseline (the circuit is simulated with torch)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result


def _shap_rows(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """Test rows and background rows sized so n * 2^d * background stays within about a second of simulation."""
    a, config = result.arrays, result.config
    rng = np.random.default_rng(config.seed)
    X = a["X_test"][rng.choice(len(a["X_test"]), min(config.explain_rows, len(a["X_test"])), replace=False)]
    d = X.shape[1]
    budget = max(400, int(4e5 / 2 ** max(0, config.n_qubits - 4)))
    n_bg = int(min(20, max(1, budget // (len(X) * 2**d))))
    background = (
        a["X_train"][rng.choice(len(a["X_train"]), n_bg, replace=False)]
        if n_bg > 1
        else a["X_train"].mean(0, keepdims=True)
    )
    return X[: max(5, budget // (2**d * n_bg))], background


def explain(result: Result):
    """SHAP values of both models' class probabilities on the same test rows, side by side (exact Shapley)."""
    if result.config.mode == "circuit_lab":
        return None
    import torch

    from engine.core.explain import explain_function

    X, background = _shap_rows(result)
    info = result.info
    out = {}
    for title, name in (("Quantum model", "qnn"), ("Classical baseline", "baseline")):

        def f(Z, model=result.models[name]):
            with torch.no_grad():
                return np.concatenate(
                    [torch.softmax(model(torch.as_tensor(Z[i : i + 4096])), 1).numpy() for i in range(0, len(Z), 4096)]
                )

        out[title] = explain_function(
            f,
            X,
            background,
            feature_names=list(info["feature_names"]),
            output_names=[f"P({c})" for c in info["class_names"]],
        )
    return out
