"""Explainable AI pictures: learning curves, confusion matrix or predicted vs true, SHAP vs permutation importance.

Pure functions of a stored run (no torch, no models); the words are in ``summary``, SHAP in ``analysis``.
"""

from __future__ import annotations

import numpy as np

from engine.core import charts
from engine.core.contract import Result


def figures(result: Result) -> dict:
    h, info, a = result.history, result.info, result.arrays
    score = "accuracy" if info["task"] == "classification" else "r2"
    figs = {
        "Loss": charts.learning_curves(
            h,
            ["loss", "val_loss"],
            names={"loss": "training loss", "val_loss": "validation loss"},
            title="Training and validation loss",
            unit=result.config.step_unit(),
            caption="Training loss should fall; when validation loss turns up while "
            "training loss keeps falling, the network is over-fitting.",
        ),
        score.capitalize(): charts.learning_curves(
            h,
            [f"train_{score}", f"val_{score}"],
            title=f"Training and validation {score}",
            unit=result.config.step_unit(),
            names={
                f"train_{score}": f"training {score.replace('r2', 'R²')}",
                f"val_{score}": f"validation {score.replace('r2', 'R²')}",
            },
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


def live_figure(snapshot):
    return None  # the live learning curves say it all
