"""The technique contract, written down once.

A technique module exposes::

    TITLE: str; SUMMARY: str            # shown on the home page
    Config(TechniqueConfig)             # settings with bounds and plain descriptions
    PRESETS: dict[str, dict]            # "quick" first: the default, finishes fast
    run(config, progress) -> Result     # pure compute, seeded, stops when progress() returns True
    figures(result) -> dict[str, go.Figure]
    explain(result) -> shap.Explanation | dict[str, shap.Explanation] | None
    describe(result) -> str             # "What just happened", from the run's own numbers
    estimate_seconds(config) -> float   # shown before Train
  optional:
    explain_figures(result, explanation) -> dict[str, go.Figure]   # extra figures on the Explain tab
    live_figure(payload) -> go.Figure   # drawn live from the latest ``Tracker.step(..., live=payload)``

``progress(step, total, metrics) -> bool`` is called once per epoch/round/episode; ``True`` means stop.
``metrics`` holds floats, plus the key ``"live"`` when the run sends a small JSON-friendly snapshot
(e.g. the current generated samples) for ``live_figure``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import pandas as pd

ProgressFn = Callable[[int, int, dict], bool]


class RunError(RuntimeError):
    """A failure the person can act on (diverged training, bad data); its text is shown as is."""


class Diverged(RunError):
    pass


@dataclass
class Result:
    """What ``run`` returns: per-step history, summary metrics, trained models and technique arrays."""

    history: pd.DataFrame
    metrics: dict[str, float]
    models: dict[str, Any] = field(default_factory=dict)  # name -> torch.nn.Module
    arrays: dict[str, Any] = field(default_factory=dict)  # technique-specific data for figures/explain
    info: dict[str, Any] = field(default_factory=dict)  # names, labels, notes (JSON-friendly)
    stopped: bool = False


class Tracker:
    """Collects history rows, forwards them to ``progress`` and guards against NaN.

    ``tracker.step(i, total, loss=..., val_accuracy=...)`` returns True when the caller asked to stop.
    """

    def __init__(self, progress: ProgressFn | None, total: int):
        self.progress = progress or (lambda *_: False)
        self.total = total
        self.rows: list[dict] = []
        self.stopped = False
        self.started = time.perf_counter()

    def step(self, step: int, live=None, **metrics: float) -> bool:
        """Record one row of metrics; ``live`` is an optional snapshot for the technique's live figure."""
        metrics = {k: float(v) for k, v in metrics.items()}
        for name, value in metrics.items():
            if not math.isfinite(value):
                raise Diverged(
                    f"Training diverged: `{name}` became {value} at step {step} of {self.total}. "
                    "Try a lower learning rate or a smaller model.")
        self.rows.append({"step": step, **metrics})
        if self.progress(step, self.total, metrics if live is None else {**metrics, "live": live}):
            self.stopped = True
        return self.stopped

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


class Technique(Protocol):
    TITLE: str
    SUMMARY: str
    PRESETS: dict[str, dict]

    def run(self, config: Any, progress: ProgressFn) -> Result: ...
    def figures(self, result: Result) -> dict: ...
    def explain(self, result: Result) -> Any: ...
    def describe(self, result: Result) -> str: ...
    def estimate_seconds(self, config: Any) -> float: ...
