"""SHAP explanations for torch models and plain functions, always with a measured additivity error.

SHAP promises local accuracy: base value + sum of SHAP values = the model's output. We use the explainer
that keeps it where the model allows: DeepExplainer (exact on plain MLPs/CNNs), then GradientExplainer
(attention, functional or reused activations; approximate), and exact or permutation-sampled Shapley values
(computed here in NumPy) for anything that is only a function or a set of on/off parts (words, tokens).
Each Explanation carries ``additivity_error`` and ``method`` attributes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np

EXACT_TOLERANCE = 1e-3  # max |base + sum(shap) - output| we accept from DeepExplainer before falling back


def make_explanation(values, base, data, feature_names, output_names, error, method):
    """A shap.Explanation carrying its measured ``additivity_error`` and the ``method`` that made it."""
    import shap

    exp = shap.Explanation(
        values=values,
        base_values=base,
        data=data,
        feature_names=list(feature_names) if feature_names is not None else None,
        output_names=list(output_names) if output_names is not None else None,
    )
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


TRUST_FRACTION = 0.05  # an additivity gap above 5% of the outputs' range makes the values a rough guide only


def additive_by_construction(method: str) -> bool:
    """Shapley values from enumerated or sampled feature orders add up exactly whatever their accuracy."""
    return "Permutation" in method or method.startswith("Exact Shapley")


def output_scale(exp) -> float:
    """The range of the explained outputs (base value + sum of SHAP values) over rows and outputs."""
    values = np.asarray(exp.values, dtype=np.float64)
    n = len(values)
    k = values.shape[-1] if exp.output_names is not None else 1
    totals = values.reshape(n, -1, k).sum(1) + np.asarray(exp.base_values, dtype=np.float64).reshape(n, -1)[:, :k]
    spread = float(np.ptp(totals)) if totals.size else 0.0
    return spread if spread > 1e-12 else max(float(np.abs(totals).max(initial=0.0)), 1e-12)


def plain_note(exp) -> str:
    """The sentence an Explain tab opens with, for someone who has never heard of SHAP; the explainer and its
    accuracy check (:func:`additivity_note`) are the details for experts."""
    level, _ = additivity_note(exp)
    text = (
        "These charts show how much each input pushed the model's answer up or down: a long bar is an input "
        "that mattered a lot (SHAP values)."
    )
    if level == "warning":
        text += " Here the amounts are only rough: read them as a ranking of the inputs, not as exact shares."
    return text


def additivity_note(exp) -> tuple[str, str]:
    """What the explanation's sums say about its accuracy, in words: ("caption" | "warning", text).

    A check that holds by construction (exact or permutation Shapley values) is not presented as a check;
    a real gap (DeepExplainer, GradientExplainer, TreeExplainer) above TRUST_FRACTION of the outputs' range
    is a warning that says what it means.
    """
    error, method = getattr(exp, "additivity_error", None), getattr(exp, "method", "SHAP")
    if error is None:
        return "", ""
    if additive_by_construction(method):
        text = (
            f"Explainer: {method}. Values from feature orders add up to the model's output by construction, "
            "so their sum is no test of accuracy."
        )
        spread = getattr(exp, "spread", None)
        if spread is not None:
            text += f" Sampling leaves each value uncertain by about ±{spread:.2g} (standard error)."
        elif "Exact" not in method:
            text += " Each value is an estimate from sampled orders: small differences between inputs may be noise."
        return "caption", text
    scale = output_scale(exp)
    if error <= TRUST_FRACTION * scale:
        return "caption", (
            f"Explainer: {method}. Local-accuracy check: base value + sum of SHAP values matches the "
            f"model's output to within {error:.2g} ({error / scale:.1%} of the outputs' range)."
        )
    return "warning", (
        f"These SHAP values are only approximate ({method}): base value + their sum misses the "
        f"model's output by up to {error:.2g}, {error / scale:.0%} of the range of its outputs. Read "
        "them as a rough ranking of the inputs, not as exact contributions."
    )


def explain_torch(
    model,
    X,
    background,
    *,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    data: np.ndarray | None = None,
    method: str = "auto",
    gradient_samples: int = 200,
):
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


def shapley_permutation(
    f: Callable[[np.ndarray], np.ndarray],
    n_players: int,
    *,
    permutations: int = 10,
    seed: int = 0,
    with_error: bool = False,
) -> tuple:
    """Shapley values of a set function by antithetic permutation sampling (SHAP's permutation algorithm).

    ``f(masks)`` maps 0/1 masks (m, n_players) (1 = the player is present: a word kept, a token unmasked, a
    feature taken from the row) to scores (m,). Each permutation adds the players one at a time and credits
    each with the change in score; a permutation and its reverse are used together to cut the variance. Every
    permutation's credits sum to f(all) - f(none), so the values add up exactly. Plain NumPy: none of SHAP's
    numba start-up (6-20 s per process). Returns (values (n_players,), f(none), f(all)), and with
    ``with_error`` also each value's standard error over the antithetic pairs (the sampling noise).
    """
    rng = np.random.default_rng(seed)
    orders = []
    for _ in range(max(1, permutations // 2)):
        order = rng.permutation(n_players)
        orders += [order, order[::-1]]
    masks = np.zeros((len(orders), n_players + 1, n_players))  # (permutations, prefix length 0..n, players)
    for i, order in enumerate(orders):
        for j in range(1, n_players + 1):
            masks[i, j, order[:j]] = 1.0
    out = np.asarray(f(masks.reshape(-1, n_players)), dtype=np.float64).reshape(len(orders), n_players + 1)
    credits = np.zeros((len(orders), n_players))
    for i, order in enumerate(orders):
        credits[i, order] = np.diff(out[i])
    values, f_none, f_all = credits.mean(0), float(out[:, 0].mean()), float(out[:, -1].mean())
    if not with_error:
        return values, f_none, f_all
    pairs = credits.reshape(-1, 2, n_players).mean(1)  # a permutation and its reverse are one draw
    error = pairs.std(0, ddof=1) / np.sqrt(len(pairs)) if len(pairs) > 1 else np.full(n_players, np.nan)
    return values, f_none, f_all, error


def exact_shapley(
    f: Callable[[np.ndarray], np.ndarray], X: np.ndarray, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact interventional Shapley values of ``f`` (n, d) -> (n, k) by enumerating all 2^d feature subsets.

    Returns (values (n, d, k), base (k,)). A coalition keeps the row's features in it and takes the others
    from each background row; its value is the mean output. One batched call: n * 2^d * len(background) rows.
    """
    n, d = X.shape
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(bool)  # (2^d, d)
    mixed = np.where(masks[None, :, None, :], X[:, None, None, :], background[None, None, :, :])  # (n, 2^d, B, d)
    out = np.asarray(f(mixed.reshape(-1, d).astype(np.float32)), dtype=np.float64)
    v = out.reshape(n, 2**d, len(background), -1).mean(2)  # (n, 2^d, k) coalition values
    size = masks.sum(1)
    values = np.zeros((n, d, v.shape[-1]))
    for i in range(d):
        without = ~masks[:, i]
        weight = np.array([math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d) for s in size[without]])
        with_i = np.flatnonzero(without) + (1 << i)  # the same subset plus feature i
        values[:, i] = np.einsum("c,nck->nk", weight, v[:, with_i] - v[:, without])
    return values, v[0, 0]


EXACT_MAX_FEATURES = 10


def explain_function(
    f: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    background: np.ndarray,
    *,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    seed: int = 0,
    permutations: int = 10,
    method_note: str = "",
):
    """Model-agnostic SHAP for ``f``: (n, d) -> (n,) or (n, k). Additive by construction.

    Up to EXACT_MAX_FEATURES features the Shapley values are exact (every feature subset, features outside a
    subset taken from each background row); beyond that, antithetic permutation sampling per row.
    ``f`` receives float32 rows, as models usually expect.
    """
    user_f = f
    f = lambda Z: user_f(np.asarray(Z, dtype=np.float32))
    X = np.asarray(X, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    out = np.asarray(f(X), dtype=np.float64).reshape(len(X), -1)  # (n, k)
    if X.shape[1] <= EXACT_MAX_FEATURES:
        values, base = exact_shapley(lambda Z: np.asarray(f(Z)).reshape(len(Z), -1), X, background)
        name = f"Exact Shapley values ({len(background)} background rows)"
    else:
        values, errors = np.zeros((*X.shape, out.shape[1])), np.zeros((*X.shape, out.shape[1]))
        for r, x in enumerate(X):
            for k in range(out.shape[1]):

                def coalition(masks, x=x, k=k):  # (m, d) -> (m,): mean output with absent features from background
                    mixed = np.where(masks[:, None, :] > 0.5, x[None, None, :], background[None, :, :])
                    res = np.asarray(f(mixed.reshape(-1, X.shape[1]))).reshape(len(masks), len(background), -1)
                    return res[..., k].mean(1)

                values[r, :, k], _, _, errors[r, :, k] = shapley_permutation(
                    coalition, X.shape[1], permutations=permutations, seed=seed + r, with_error=True
                )
        base = np.asarray(f(background), dtype=np.float64).reshape(len(background), -1).mean(0)
        name = f"Permutation sampling ({permutations} permutations, {len(background)} background rows)"
    error = additivity_error(values, base, out)
    if out.shape[1] == 1:
        values, base_values, output_names = values[..., 0], np.full(len(X), base[0]), None
    else:
        base_values = np.broadcast_to(base, (len(X), out.shape[1])).copy()
    exp = make_explanation(
        values, base_values, X, feature_names, output_names, error, name + (f"; {method_note}" if method_note else "")
    )
    if X.shape[1] > EXACT_MAX_FEATURES:
        exp.spread = float(np.nanmean(errors))
    return exp


def explanations(explanation) -> dict:
    """Always a {title: Explanation} dict (a single Explanation is titled "SHAP")."""
    if explanation is None:
        return {}
    return dict(explanation) if isinstance(explanation, dict) else {"SHAP": explanation}


def global_importance(exp) -> np.ndarray:
    """Mean |SHAP| per feature over the rows (and over outputs when there are several): the one ranking of
    features every view uses. An image explanation without feature names keeps its pixel grid."""
    v = np.abs(np.asarray(exp.values, dtype=float)).mean(0)
    if v.ndim > 1 and (exp.output_names is not None or exp.feature_names is not None):
        v = v.reshape(len(v), -1).mean(-1)
    return v


def tabular_importances(explanation) -> dict[str, tuple[list[str], np.ndarray]]:
    """{title: (feature names, mean |SHAP|)} for each tabular Explanation of a run (images are skipped)."""
    return {
        t: (list(e.feature_names), global_importance(e))
        for t, e in explanations(explanation).items()
        if e.feature_names is not None and np.ndim(e.data) == 2
    }


def permutation_importance(
    loss: Callable[[np.ndarray], float], X: np.ndarray, seed: int = 0, repeats: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Rise in ``loss`` when each column is shuffled: (mean, standard error) per feature over ``repeats``.

    Measured on a loss (log-loss, squared error) rather than accuracy, because a loss also sees confidence;
    the standard error says when a small test set cannot tell two features apart.
    """
    rng = np.random.default_rng(seed)
    base = loss(X)
    rises = np.zeros((repeats, X.shape[1]))
    for j in range(X.shape[1]):
        for r in range(repeats):
            Xp = X.copy()
            Xp[:, j] = rng.permutation(Xp[:, j])
            rises[r, j] = loss(Xp) - base
    return rises.mean(0), rises.std(0, ddof=1) / np.sqrt(repeats) if repeats > 1 else np.zeros(X.shape[1])


def clearly_ahead(mean: np.ndarray, err: np.ndarray, k: int = 2) -> list[int]:
    """The features whose importance is clearly (by two standard errors) above zero and above every feature
    ranked after them, best first, at most ``k``; empty when the measurement cannot tell them apart."""
    order = list(np.argsort(mean)[::-1])
    out = []
    for i, j in enumerate(order[:k]):
        rest = order[i + 1 :]
        runner_up = max((mean[r] + 2 * err[r] for r in rest), default=-np.inf)
        if mean[j] - 2 * err[j] > max(0.0, runner_up) if i == 0 else mean[j] - 2 * err[j] > 0:
            out.append(int(j))
        else:
            break
    return out
