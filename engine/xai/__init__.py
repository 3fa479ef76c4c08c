"""Explainable AI: train an MLP on real tabular data, compare it with a linear baseline, explain it with SHAP.

The reference package: every technique has this shape. ``config`` (settings, presets, metrics, estimate; no
torch), ``mlp`` (the algorithm: ``run``), ``analysis`` (worker side: SHAP of the trained network), ``views``
(the pictures, pure functions of the stored run) and ``summary`` (the "What just happened" text).
"""

from engine.core.contract import lazy
from engine.xai.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.xai.summary import describe
from engine.xai.views import explain_figures, figures, live_figure

explain = lazy("engine.xai.analysis", "explain")
run = lazy("engine.xai.mlp", "run")
rebuild_model = lazy("engine.xai.tryit", "rebuild_model")  # a run that starts from one of these (edge)

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
    "rebuild_model",
    "run",
]
