"""NAS analysis, run in the worker after the search: a gradient-boosting surrogate that predicts an architecture's
accuracy from its choices, explained with SHAP (TreeExplainer), and its cross-validated check (``measure``), so the
charts only draw stored numbers."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.nas.config import MIN_TRIALS_TO_EXPLAIN, SPACE
from engine.nas.views import DECISIONS, unique_trials

FEATURES = [
    d if isinstance(SPACE[d][0], (int, float)) else f"{d} ({', '.join(f'{i}={o}' for i, o in enumerate(SPACE[d]))})"
    for d in DECISIONS
]


def surrogate_data(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """Encoded choices (n, decisions) and accuracies (n,) of each architecture trained, once each."""
    from engine.nas.space import encode

    u = unique_trials(result.history)
    X = np.array([encode({d: r[d] for d in DECISIONS}) for _, r in u.iterrows()]).reshape(-1, len(DECISIONS))
    return X, u.accuracy.to_numpy(float)


def surrogate(seed: int):
    """A small, unfitted gradient-boosting model from encoded choices to accuracy."""
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=150, max_depth=2, learning_rate=0.05, random_state=seed)


def explain(result: Result):
    """SHAP (TreeExplainer) of the surrogate over every architecture trained: which choices moved accuracy."""
    import shap

    from engine.core.explain import additivity_error, make_explanation

    X, y = surrogate_data(result)
    if len(y) < MIN_TRIALS_TO_EXPLAIN:
        return None
    model = surrogate(result.config.seed).fit(X, y)
    explainer = shap.TreeExplainer(model)
    values = np.asarray(explainer.shap_values(X), dtype=np.float64)  # (n, decisions)
    base = np.full(len(X), float(np.ravel(explainer.expected_value)[0]))
    error = additivity_error(values[..., None], base[:, None], model.predict(X)[:, None])
    return make_explanation(
        values,
        base,
        X,
        FEATURES,
        None,
        error,
        f"TreeExplainer on a gradient-boosting surrogate fitted to {len(y)} architectures",
    )


def measure(result: Result) -> dict:
    """The surrogate check the Explain tab draws: each architecture's measured accuracy beside the surrogate's
    prediction when that architecture was held out (k-fold cross-validation), and the R² of those predictions.
    Nothing when too few architectures were trained to explain."""
    from sklearn.model_selection import KFold, cross_val_predict

    X, y = surrogate_data(result)
    if len(y) < MIN_TRIALS_TO_EXPLAIN:
        return {}
    folds = KFold(min(5, len(y)), shuffle=True, random_state=result.config.seed)
    pred = cross_val_predict(surrogate(result.config.seed), X, y, cv=folds)
    r2 = 1 - ((y - pred) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12)
    return {"surrogate_accuracy": y, "surrogate_prediction": np.asarray(pred, float), "surrogate_r2": float(r2)}
