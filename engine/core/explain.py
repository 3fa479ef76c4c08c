"""SHAP explanations for torch models and plain functions, always with a measured additivity error.

SHAP promises local accuracy: base value + sum of SHAP values = the model's output. We use the explainer
that keeps it where the model allows: DeepExplainer (exact on plain MLPs/CNNs), then GradientExplainer
(attention, functional or reused activations; approximate), and a permutation explainer for anything
that is only a function. Each Explanation carries ``additivity_error`` and ``method`` attributes.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np

EXACT_TOLERANCE = 1e-3  # max |base + sum(shap) - output| we accept from DeepExplainer before falling back


def make_explanation(values, base, data, feature_names, output_names, error, method):
    """A shap.Explanation carrying its measured ``additivity_error`` and the ``method`` that made it."""
    import shap

    exp = shap.Explanation(values=values, base_values=base, data=data,
                           feature_names=list(feature_names) if feature_names is not None else None,
                           output_names=list(output_names) if output_names is not None else None)
    exp.additivity_error = float(error)
    exp.method = method
    return exp


def _normalise(sv, n_outputs: int) -> np.ndarray:
    """SHAP returns (n, *features, k) or a list of k arrays; always give (n, *features, k)."""
    if isinstance(sv, list):
        sv = np.stack(sv, axis=-1)
    sv = np.asarray(sv, dtype=np.float64)
    if n_outputs == 1 and sv.shape[-1] != 1:
        sv = sv[..., None]
    return sv


def additivity_error(values: np.ndarray, base: np.ndarray, output: np.ndarray) -> float:
    """max |base + sum of SHAP values - output| over rows and outputs; values are (n, *features, k)."""
    n, k = values.shape[0], values.shape[-1]
    total = values.reshape(n, -1, k).sum(1) + np.broadcast_to(base, (n, k))
    return float(np.abs(total - output.reshape(n, k)).max())


def explain_torch(model, X, background, *, feature_names: Sequence[str] | None = None,
                  output_names: Sequence[str] | None = None, data: np.ndarray | None = None,
                  method: str = "auto", gradient_samples: int = 200):
    """Explain ``model``'s raw outputs (logits, not probabilities) on rows ``X``.

    ``method``: "auto" tries DeepExplainer and falls back to GradientExplainer when it errors or its
    additivity error exceeds EXACT_TOLERANCE; "deep" or "gradient" force one. Output names give the
    last axis when the model has several outputs; a single output is squeezed away.
    """
    import shap
    import torch

    model.eval()
    with torch.no_grad():
        out = model(X).detach().cpu().numpy().reshape(len(X), -1)  # (n, k)
    k = out.shape[1]
    result = None
    if method in ("auto", "deep"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                explainer = shap.DeepExplainer(model, background)
                sv = _normalise(explainer.shap_values(X, check_additivity=False), k)
            base = np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)[:k]
            error = additivity_error(sv, base, out)
            if error <= EXACT_TOLERANCE or method == "deep":
                result = (sv, base, error, "DeepExplainer (exact)")
        except Exception:
            if method == "deep":
                raise
    if result is None:
        explainer = shap.GradientExplainer(model, background)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sv = _normalise(explainer.shap_values(X, nsamples=gradient_samples, rseed=0), k)
        with torch.no_grad():
            base = model(background).detach().cpu().numpy().reshape(len(background), -1).mean(0)
        result = (sv, base, additivity_error(sv, base, out), "GradientExplainer (approximate)")
    sv, base, error, name = result
    if k == 1:
        sv, out_names = sv[..., 0], None
        base_values = np.full(len(X), base[0])
    else:
        out_names = output_names
        base_values = np.broadcast_to(base, (len(X), k)).copy()
    rows = data if data is not None else X.detach().cpu().numpy()
    return make_explanation(sv, base_values, rows, feature_names, out_names, error, name)


def explain_function(f: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray, *,
                     feature_names: Sequence[str] | None = None, seed: int = 0, max_evals: int | None = None):
    """Model-agnostic SHAP (permutation explainer) for ``f``: (n, d) -> (n,). Additive by construction."""
    import shap

    X = np.asarray(X, dtype=np.float64)
    masker = shap.maskers.Independent(np.asarray(background, dtype=np.float64), max_samples=len(background))
    explainer = shap.explainers.Permutation(f, masker, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = explainer(X, max_evals=max_evals or max(2 * X.shape[1] + 1, 10 * X.shape[1]), silent=True)
    values = np.asarray(raw.values, dtype=np.float64)
    base = np.asarray(raw.base_values, dtype=np.float64).reshape(len(X))
    error = float(np.abs(values.sum(1) + base - np.asarray(f(X)).reshape(len(X))).max())
    return make_explanation(values, base, X, feature_names, None, error, "Permutation (model-agnostic)")


def global_importance(exp) -> np.ndarray:
    """Mean |SHAP| per feature (averaged over outputs when there are several)."""
    v = np.abs(np.asarray(exp.values))
    v = v.mean(0)
    return v.mean(-1) if v.ndim > 1 and exp.output_names is not None else v


def tabular_importances(explanation) -> dict[str, tuple[list[str], np.ndarray]]:
    """{title: (feature names, mean |SHAP|)} for each tabular Explanation of a run (images are skipped)."""
    from engine.core.pipeline import explanations

    return {t: (list(e.feature_names), global_importance(e)) for t, e in explanations(explanation).items()
            if e.feature_names is not None and np.ndim(e.data) == 2}


def permutation_importance(score: Callable[[np.ndarray], float], X: np.ndarray, seed: int = 0,
                           repeats: int = 5) -> np.ndarray:
    """Drop in ``score`` when each column is shuffled (mean over repeats): a model-agnostic check on SHAP."""
    rng = np.random.default_rng(seed)
    base = score(X)
    drops = np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        for _ in range(repeats):
            Xp = X.copy()
            Xp[:, j] = rng.permutation(Xp[:, j])
            drops[j] += (base - score(Xp)) / repeats
    return drops
