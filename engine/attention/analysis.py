"""Attention, worker side: token SHAP of the trained transformer, and the reference positional encoding the
charts show when a run used none (both need torch or the model)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result

EXPLAIN_ROWS = 32  # test sequences SHAP explains (the drawn examples first)


def token_shapley(score, present: np.ndarray, permutations: int, seed: int) -> tuple[np.ndarray, float]:
    """Shapley values of one sequence's tokens: ``score(keep)`` maps keep-masks (n, T) (1 = token present,
    0 = removed) to scores (n,); only the ``present`` (T,) tokens take part (padding never does).
    Returns (values (T,), base value = score of the empty sequence).
    """
    from engine.core.explain import shapley_permutation

    idx = np.flatnonzero(present)

    def on_tokens(masks: np.ndarray) -> np.ndarray:  # (m, players) -> (m, T) keep-masks
        keep = np.zeros((len(masks), len(present)), dtype=np.int64)
        keep[:, idx] = masks > 0.5
        return score(keep)

    values = np.zeros(len(present))
    values[idx], base, _ = shapley_permutation(on_tokens, len(idx), permutations=permutations, seed=seed)
    return values, base


def _predicted_logit(model, x, target: int, pixel_rows: bool):
    """keep-masks (n, T) -> the logit of class ``target`` for x (1, T) with the removed tokens blanked."""
    import torch

    def score(keep: np.ndarray) -> np.ndarray:
        mask = torch.as_tensor(keep)  # (n, T)
        inputs = x * mask[..., None].float() if pixel_rows else x * mask  # removed -> blank row / padding id
        with torch.no_grad():
            return (
                torch.cat([model(inputs[k : k + 1024])[:, target] for k in range(0, len(inputs), 1024)])
                .numpy()
                .astype(np.float64)
            )

    return score


def explain(result: Result):
    """SHAP per token by removal: how much each token moves the score of the class the model predicted.

    A removed token is replaced by padding, which attention then ignores (a removed digit row is blanked), so
    a token's SHAP value is its average effect on the predicted class's logit when it joins the sequence
    (:func:`token_shapley`). Values are (rows, tokens) for the first EXPLAIN_ROWS test sequences, the drawn
    examples first; the base value is the score of the empty sequence.
    """
    import shap
    import torch

    a, pixel_rows = result.arrays, bool(result.info["row_width"])
    model = result.models["transformer"].eval()
    rows = np.concatenate([a["examples"], np.setdiff1d(np.arange(len(a["y_test"])), a["examples"])])[:EXPLAIN_ROWS]
    T = a["X_test"].shape[1]
    permutations = int(np.clip(8000 // (len(rows) * (T + 1)), 2, 16)) // 2 * 2  # about 8,000 model calls
    values, base, errors = np.zeros((len(rows), T)), np.zeros(len(rows)), []
    for r, i in enumerate(rows):
        x = torch.as_tensor(a["X_test"][i])[None]  # (1, T) token ids or (1, T, 8) pixel rows
        score = _predicted_logit(model, x, int(a["pred_test"][i]), pixel_rows)
        present = np.ones(T, bool) if pixel_rows else a["X_test"][i] != 0
        values[r], base[r] = token_shapley(score, present, permutations, result.config.seed + r)
        errors.append(abs(base[r] + values[r].sum() - score(present[None].astype(np.int64))[0]))
    if pixel_rows:  # digit rows are fixed features: the generic SHAP views (bar, beeswarm...) apply
        data, names = a["X_test"][rows].mean(-1), [f"row {t + 1} (ink)" for t in range(T)]
    else:  # token positions mean different words in every sentence: drawn by explain_figures instead
        data, names = a["X_test"][rows], None
    out = shap.Explanation(values=values, base_values=base, data=np.asarray(data, dtype=float), feature_names=names)
    out.additivity_error = float(max(errors))
    out.method = f"Permutation SHAP over tokens ({permutations} permutations per sequence; exact sums)"
    return out


def measure(result: Result) -> dict:
    """``sinusoidal_encoding``: the fixed sine/cosine table the positional-encoding charts show for reference when
    this run used none (its own table is all zeros), in the shape of the run's table."""
    if result.config.positional_encoding != "none":
        return {}
    from engine.attention.models import sinusoidal_encoding

    rows, width = result.arrays["positional_encoding"].shape
    return {"sinusoidal_encoding": sinusoidal_encoding(rows, width).numpy()}
