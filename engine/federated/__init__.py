"""Federated learning: train one model across many clients whose data never leaves them.

Anchors: McMahan et al. 2017 (FedAvg: client fraction C, local epochs E, local batch B; IID vs pathological
non-IID shards), Li et al. 2020 (FedProx: the proximal term mu against client drift), Hsu et al. 2019 (Dirichlet
label skew), and Flower (flower.ai), which runs the same client code on real machines: see ``flower/`` at the
repository root. ``config`` (settings, presets, metrics; no torch), ``partition`` (how data is split, NumPy only),
``fedavg`` (the rounds, the baselines: ``run``), ``analysis`` (in the worker after the rounds: SHAP of the global
and a local-only model), ``views`` (the figures, drawn from the stored data) and ``summary`` (the "What just
happened" text).
"""

from engine.core.contract import lazy
from engine.federated.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.federated.summary import describe
from engine.federated.views import explain_figures, figures, live_figure

run = lazy("engine.federated.fedavg", "run")
explain = lazy("engine.federated.analysis", "explain")

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
