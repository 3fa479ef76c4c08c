"""Explainable AI: train an MLP on real tabular data, compare it with a linear baseline, explain it with SHAP.

The reference package: every technique has this shape. ``config`` (settings, presets, metrics, estimate; no
torch), ``mlp`` (the algorithm: ``run``), ``views`` (figures, SHAP, the "What just happened" text).
"""

from engine.core.contract import lazy
from engine.xai.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.xai.views import describe, explain, explain_figures, figures, live_figure

run = lazy("engine.xai.mlp", "run")

__all__ = [
    "METRICS",
    "PRESETS",
    "PRESET_LABELS",
    "Config",
    "describe",
    "estimate_seconds",
    "explain",
    "explain_figures",
    "figures",
    "live_figure",
    "run",
]
