"""Neural architecture search: let an algorithm design the network, and watch how it searches.

The search space grows out of the course's starting model (Conv2D(32, 3x3, relu) -> MaxPool -> Dense(64) ->
Dense(10)) on scikit-learn's 8x8 digits. Strategies take turns at the same budget: random search, regularised
(aging) evolution (Real et al. 2019), an RL controller trained with REINFORCE (Zoph & Le 2017) and, optionally,
Optuna's TPE. Each candidate trains for a few epochs and is cached by architecture. SHAP of a surrogate model says
which design choices mattered.

``config`` (settings, the space, presets, metrics; no torch), ``space`` (sample, mutate, ``build(arch)``),
``strategies`` (the four proposers), ``search`` (``run``), ``analysis`` (in the worker after the search: the
surrogate, its SHAP values and its cross-validated check), ``views`` (the figures, drawn from the stored data) and
``summary`` (the "What just happened" text).
"""

from engine.core.contract import lazy
from engine.nas.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.nas.summary import describe
from engine.nas.views import explain_figures, figures, live_figure

run = lazy("engine.nas.search", "run")
rebuild_model = lazy("engine.nas.tryit", "rebuild_model")  # a run that starts from one of these (edge)
explain = lazy("engine.nas.analysis", "explain")
measure = lazy("engine.nas.analysis", "measure")

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
    "measure",
    "rebuild_model",
    "run",
]
