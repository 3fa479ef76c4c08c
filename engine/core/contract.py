"""The technique contract, written down once (the contract suite, tests/engine/test_contract.py, checks it).

Every technique is a package ``engine/<name>/`` with the same few files::

    config.py     Config(TechniqueConfig), PRESETS ("quick" first: the default, finishes fast),
                  METRICS {name: Metric} (label, format; ``measured=True`` for timings), estimate_seconds(config).
                  Light: imports no torch, so forms, links and the CLI validate settings fast.
    <algorithm>.py   run(config, progress) -> Result: the models and the loop, torch at the top, top to bottom.
                  Where one Config offers two algorithms, run() is one small visible dispatch to two modules.
    views.py      figures(result), explain(result), explain_figures(result, explanation), describe(result),
                  live_figure(snapshot): pure functions of a Result (or of a live snapshot). Optional:
                  downloads(result) -> {label: {file_name, mime, data (bytes), note}}, files the Details tab
                  offers (e.g. the compressed model); the run store keeps them with the run.
    __init__.py   the docstring (what the technique is) and the re-exports of the surface above.

The rules every technique follows:

1. ``run(config, progress)`` calls ``progress(step, total, metrics, live)`` once per epoch/round/episode
   (through :class:`Tracker`); ``metrics`` maps names to floats; ``live`` is None or a small JSON-friendly
   snapshot drawn by ``live_figure``. ``progress`` returning True means stop: ``run`` returns promptly with a
   partial ``Result(stopped=True)``. ``run`` never touches Streamlit or global state; a seed reproduces it.
2. The ``Result`` carries the ``config`` it ran with, a per-step ``history``, summary ``metrics`` and its
   ``headline``: the 1-4 metric names a person should look at first, each declared in ``METRICS``.
3. Every summary metric is a plain number; all are reproducible for a seed except those declared
   ``Metric(measured=True)`` (timings, latencies), which the reproducibility check skips.
4. ``describe`` builds every sentence from conditions checked on the run's own numbers.

The shared machinery a technique reaches for instead of writing its own (``engine.core.train``):

- ``fit(model, X, y, loss_fn=, epochs=, lr=, batch_size=, tracker=)``: the supervised loop on in-memory
  tensors (mini-batches, Adam or ``optimizer="sgd"``, one ``tracker.step`` per epoch with ``loss`` plus
  ``evaluate(model)``'s metrics, stop, NaN guard). ``snapshot=lambda model, epoch: ...`` returns the epoch's
  live snapshot (passed on as ``live``); ``clip_grad_norm=`` caps each parameter group's gradient norm
  (transformers); ``params=`` takes parameter groups (per-model learning rates). Returns True when stopped.
- ``SideBySide({name: model})`` + ``SummedLoss(names)``: several models trained by one ``fit`` on the same
  mini-batches (a model and its baselines, e.g. with and without positional encoding), each exactly as its
  own optimiser would; ``SummedLoss.epoch_means()`` inside ``evaluate`` gives per-model learning curves.
- ``Tracker.tick(step)``: ask whether to stop without recording a row (a sweep after the main training), so
  Stop works within a second in every phase. ``Tracker.phase(text, fraction)`` does the same while the run
  prepares (loading data or a pretrained model, pretraining) and names what it is doing, so the job panel shows
  "Loading the pretrained sentence encoder" with its own progress instead of an empty chart. A phase travels
  as the live snapshot ``{"phase": text, "fraction": 0-1 or None}`` (:func:`phase_snapshot`); executors keep it
  apart from the technique's own snapshot (``live_figure`` never sees it). ``pipeline.execute`` announces the
  phases after ``run`` (drawing the charts, explaining).
- ``predict``, ``accuracy``, ``r2``, ``mlp`` (activations as modules: DeepExplainer stays exact) and
  ``count_parameters``. ``fit`` also serves self-supervised losses (SimCLR, masked reconstruction: the loss
  ignores or reuses ``y``). Loops that are not mini-batch training of one objective (RL episodes, GAN
  steps, federated rounds) keep their own loop and report through ``Tracker`` all the same.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

ProgressFn = Callable[..., bool]  # progress(step, total, metrics, live=None) -> stop?


class RunError(RuntimeError):
    """A failure the person can act on (diverged training, bad data); its text is shown as is."""


class Diverged(RunError):
    pass


@dataclass(frozen=True)
class Metric:
    """How a summary metric reads to a person: its label and format, and whether it is a measurement.

    ``format``: "percent" (a 0-1 share shown as 12.3%), "number" (4 significant digits), "integer",
    "seconds", "ms" or "kb". ``measured``: a timing or size measured on this machine; not reproducible.
    """

    label: str
    format: str = "number"
    measured: bool = False
    help: str = ""

    FORMATS = ("percent", "number", "integer", "seconds", "ms", "kb")

    def text(self, value: Any) -> str:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return str(value)
        if isinstance(value, float) and not math.isfinite(value):
            return "n/a"
        return {
            "percent": f"{value:.1%}",
            "integer": f"{value:,.0f}",
            "seconds": f"{value:.2f} s",
            "ms": f"{value:.3g} ms",
            "kb": f"{value:,.1f} KB",
        }.get(self.format, f"{value:.4g}")


def metric_spec(metrics: dict[str, Metric], name: str) -> Metric:
    """The declared Metric, or a plain one labelled from the name."""
    return metrics.get(name) or Metric(name.replace("_", " ").capitalize())


@dataclass
class Result:
    """What ``run`` returns: the config, per-step history, summary metrics, headline, models and arrays."""

    config: Any  # the technique's Config the run used
    history: pd.DataFrame
    metrics: dict[str, float]
    headline: tuple[str, ...] = ()  # metric names a person looks at first (1-4), declared in METRICS
    models: dict[str, Any] = field(default_factory=dict)  # name -> torch.nn.Module
    arrays: dict[str, Any] = field(default_factory=dict)  # technique-specific data for figures/explain
    info: dict[str, Any] = field(default_factory=dict)  # names and labels derived from the data (JSON-friendly)
    stopped: bool = False


class Tracker:
    """Collects history rows, forwards them to ``progress`` and guards against NaN.

    ``tracker.step(i, loss=..., val_accuracy=...)`` returns True when the caller asked to stop.
    """

    def __init__(self, progress: ProgressFn | None, total: int):
        self.progress = progress or (lambda *_a, **_k: False)
        self.total = total
        self.rows: list[dict] = []
        self.stopped = False
        self.started = time.perf_counter()

    def step(self, step: int, live: Any = None, **metrics: float) -> bool:
        """Record one row of metrics; ``live`` is an optional snapshot for the technique's live figure."""
        metrics = {k: float(v) for k, v in metrics.items()}
        for name, value in metrics.items():
            if not math.isfinite(value):
                raise Diverged(
                    f"Training diverged: `{name}` became {value} at step {step} of {self.total}. "
                    "Try a lower learning rate or a smaller model."
                )
        self.rows.append({"step": step, **metrics})
        if self.progress(step, self.total, metrics, live):
            self.stopped = True
        return self.stopped

    def tick(self, step: int) -> bool:
        """Ask ``progress`` whether to stop without recording a row (while data loads, a model pretrains, or a
        sweep runs after the main training); ``step`` stays within 1..total. True when the caller asked to stop."""
        if self.progress(step, self.total, {}):
            self.stopped = True
        return self.stopped

    def phase(self, text: str, fraction: float | None = None) -> bool:
        """Say what the run is doing before (or between) its steps, e.g. ``"Pretraining the network", 0.4``;
        like :meth:`tick`, True when the caller asked to stop."""
        step = self.rows[-1]["step"] if self.rows else 0
        if self.progress(step, self.total if self.rows else 0, {}, phase_snapshot(text, fraction)):
            self.stopped = True
        return self.stopped

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def phase_snapshot(text: str, fraction: float | None = None) -> dict:
    """The live snapshot that announces a phase (see :meth:`Tracker.phase`)."""
    return {"phase": str(text), "fraction": None if fraction is None else min(max(float(fraction), 0.0), 1.0)}


def is_phase(live: Any) -> bool:
    return isinstance(live, dict) and "phase" in live and set(live) <= {"phase", "fraction"}


def lazy(module: str, name: str) -> Callable:
    """A function that imports ``module`` on first call: keeps torch out of a package's import."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = name
    call.__doc__ = f"Calls {module}.{name} (imported on first use)."
    return call


SURFACE = (
    "Config",
    "PRESETS",
    "METRICS",
    "estimate_seconds",
    "run",
    "figures",
    "explain",
    "explain_figures",
    "describe",
    "live_figure",
)


def check_module(module) -> list[str]:
    """Static rules a technique package must satisfy; returns what is wrong (empty when it complies)."""
    from engine.core.config import TechniqueConfig

    problems = [f"lacks {a}" for a in SURFACE if not hasattr(module, a)]
    if problems:
        return problems
    if not (isinstance(module.Config, type) and issubclass(module.Config, TechniqueConfig)):
        problems.append("Config must subclass TechniqueConfig")
    if next(iter(module.PRESETS), None) != "quick":
        problems.append('PRESETS must start with "quick"')
    for name, spec in module.METRICS.items():
        if not isinstance(spec, Metric) or spec.format not in Metric.FORMATS:
            problems.append(f"METRICS[{name!r}] must be a Metric with a known format")
    return problems


def check_result(result: Result, metrics: dict[str, Metric]) -> list[str]:
    """Rules a finished Result must satisfy (headline declared and present; plain numbers)."""
    problems = []
    if not 1 <= len(result.headline) <= 4:
        problems.append(f"headline must name 1-4 metrics, got {result.headline!r}")
    for name in result.headline:
        if name not in result.metrics:
            problems.append(f"headline metric {name!r} is not in metrics")
        if name not in metrics:
            problems.append(f"headline metric {name!r} is not declared in METRICS")
    for name, value in result.metrics.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"metric {name!r} must be a number, got {type(value).__name__}")
    if not isinstance(result.history, pd.DataFrame) or (len(result.history) and "step" not in result.history):
        problems.append("history must be a DataFrame with a step column")
    return problems


def reproducible(metrics: dict[str, Metric]) -> Callable[[str], bool]:
    """Whether a metric must be equal across two runs with the same seed (not a measurement)."""
    return lambda name: not metric_spec(metrics, name).measured and name != "shap_additivity_error"
