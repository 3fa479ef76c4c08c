"""Explainable AI views: learning curves, confusion matrix, SHAP of the network, plain-language summary."""

from __future__ import annotations

import numpy as np

from engine.core import charts
from engine.core.contract import Result
from engine.core.export import markdown_text


def figures(result: Result) -> dict:
    h, info, a = result.history, result.info, result.arrays
    score = "accuracy" if info["task"] == "classification" else "r2"
    figs = {
        "Loss": charts.learning_curves(
            h,
            ["loss", "val_loss"],
            title="Training and validation loss",
            caption="Training loss should fall; when validation loss turns up while "
            "training loss keeps falling, the network is over-fitting.",
        ),
        score.capitalize(): charts.learning_curves(
            h, [f"train_{score}", f"val_{score}"], title=f"Training and validation {score}"
        ),
    }
    if info["task"] == "classification":
        figs["Confusion matrix"] = charts.confusion_matrix(
            a["y_test"], a["pred_test"], info["class_names"], title="Confusion matrix on the test set"
        )
    else:
        import plotly.graph_objects as go

        fig = go.Figure(go.Scatter(x=a["y_test"], y=a["pred_test"], mode="markers"))
        lo, hi = float(np.min(a["y_test"])), float(np.max(a["y_test"]))
        fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line=dict(dash="dash", color="grey"))
        fig.update_layout(
            title="Predicted vs true (test set, in standard deviations from the average)",
            xaxis_title="true",
            yaxis_title="predicted",
        )
        figs["Predicted vs true"] = charts.captioned(fig, "Points on the dashed line are perfect predictions.")
    return figs


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


def explain_figures(result: Result, explanation) -> dict:
    from engine.core.explain import global_importance

    loss = "log-loss" if result.info["task"] == "classification" else "squared error"
    return {
        "SHAP vs permutation importance": charts.importance_comparison(
            result.info["feature_names"],
            global_importance(explanation),
            result.arrays["permutation_importance"],
            result.arrays["permutation_error"],
            loss_name=loss,
        )
    }


def _verdict(model: float, baseline: float, tie: float) -> str:
    """How the network compares with the linear baseline (within ``tie`` counts as a tie)."""
    if model > baseline + tie:
        return "beat"
    return "matched" if model >= baseline - tie else "did not beat"


def _score_sentence(m: dict, task: str) -> tuple[str, bool]:
    """The test score in words, and whether the model learned anything useful."""
    if task == "classification":
        verdict = _verdict(m["test_accuracy"], m["baseline_test_accuracy"], 1 / max(m["n_test"], 1))
        text = (
            f"{m['test_accuracy']:.1%} of the {m['n_test']} held-out rows right, and {verdict} "
            f"logistic regression ({m['baseline_test_accuracy']:.1%})"
        )
        return text, m["test_accuracy"] > m.get("majority_accuracy", 0) + 1e-9
    verdict = _verdict(m["test_r2"], m["baseline_test_r2"], 0.01)
    text = (
        f"a test R² of {m['test_r2']:.2f} (1.0 is perfect, 0 is no better than always guessing the "
        f"average), and {verdict} linear regression ({m['baseline_test_r2']:.2f})"
    )
    return text, m["test_r2"] > 0.0


def _leans_on(result: Result) -> str:
    """Name only the inputs permutation importance clearly separates from the rest."""
    from engine.core.explain import clearly_ahead

    names = result.info["feature_names"]
    top = clearly_ahead(result.arrays["permutation_importance"], result.arrays["permutation_error"])
    if not top:
        return (
            " On these test rows, shuffling any one input changes the loss too little, or too similarly, "
            "to single out the inputs it leans on: see the Explain tab's SHAP ranking."
        )
    listed = " and ".join(f"**{markdown_text(names[j])}**" for j in top)
    them = "them" if len(top) > 1 else "it"
    return f" Shuffling {listed} hurts it clearly more than any other input: the model leans on {them}."


def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    score, learned = _score_sentence(m, info["task"])
    text = (
        f"A {len(result.history)}-epoch network with {m['parameters']:,} weights learned from "
        f"{m['n_train']} rows of {markdown_text(info['title'])}. It got {score}."
    )
    if result.stopped:
        text += " You stopped it early."
    if not learned:
        return text + (
            " That is no better than guessing, so the model learned nothing useful: try a smaller "
            "learning rate, the Adam optimiser, or more epochs."
        )
    return text + _leans_on(result)


def live_figure(snapshot):
    return None  # the live learning curves say it all
