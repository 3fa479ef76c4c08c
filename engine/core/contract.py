"""The technique contract, written down once: :class:`Technique` and :class:`TryIt` state it as typed protocols,
:func:`check_module` / :func:`check_tryit` check a package against them (names and signatures), ``pipeline.execute``
checks every Result with :func:`check_result`, and the contract suite (tests/engine/test_contract.py) runs all of
it over the registry.

Every technique is a package ``engine/<name>/`` with the same files, keeping compute, pictures and words apart::

    config.py     Config(TechniqueConfig), PRESETS ("quick" first: the default, finishes fast), PRESET_LABELS,
                  METRICS {name: Metric} (label, format; ``measured=True`` for timings), estimate_seconds(config).
                  Light: imports no torch, so forms, links and the CLI validate settings fast.
    <algorithm>.py   run(config, progress) -> Result: the models and the loop, torch at the top, top to bottom.
                  Where one Config offers two algorithms, run() is one small visible dispatch to two modules.
    analysis.py   the worker's after-training compute: explain(result) (SHAP), optional measure(result) -> arrays
                  a chart needs that only the trained models can give, optional downloads(result) -> files.
    views.py      pictures: figures(result), explain_figures(result, explanation), live_figure(snapshot); pure
                  functions of the stored data (no torch, no models), drawn when a run is read.
    summary.py    words: describe(result), the "What just happened" text, from the run's own numbers.
    tryit.py      Try it (:class:`TryIt`): load(config, weights, info), answer(bundle, inputs), examples(bundle).
    __init__.py   the docstring (what the technique is) and the re-exports of the surface above.

The rules every technique follows:

1. ``run(config, progress)`` calls ``progress(step, total, metrics, live)`` once per epoch/round/episode
   (through :class:`Tracker`); ``metrics`` maps names to floats; ``live`` is None or a small JSON-friendly
   snapshot drawn by ``live_figure``. ``progress`` returning True means stop: ``run`` returns promptly with a
   partial ``Result(stopped=True)``. ``run`` never touches Streamlit or global state: every random draw comes
   from generators derived from ``config.seed`` (``engine.core.device.seeded``), so a seed reproduces it and a
   run leaves the caller's random state as it found it.
2. The ``Result`` carries the ``config`` it ran with, a per-step ``history``, summary ``metrics`` and its
   ``headline``: the 1-4 metric names a person should look at first, each declared in ``METRICS``.
3. Every summary metric is a plain number; all are reproducible for a seed except those declared
   ``Metric(measured=True)`` (timings, latencies), which the reproducibility check skips.
4. A run keeps its data, never pictures: ``arrays`` (NumPy arrays, lists/dicts of arrays, JSON values) and
   ``info`` (JSON) hold everything ``views`` and ``summary`` read; they are stored with the run and the app draws
   from them when the run is read, with ``models`` empty.
5. ``describe`` builds every sentence from conditions checked on the run's own numbers.

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
import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go
    import shap
    import torch

    from engine.core.config import TechniqueConfig
    from engine.core.tryit import Answer

ProgressFn = Callable[..., bool]  # progress(step, total, metrics, live=None) -> stop?


class RunError(RuntimeError):
    """A failure the person can act on (diverged training, bad data); its text is shown as is."""


class Diverged(RunError):
    pass


@dataclass(frozen=True)
class Metric:
    """How a summary metric reads to a person: its label and format, and whether it is a measurement.

    ``format``: "percent" (a 0-1 share shown as 12.3%), "number" (4 significant digits), "integer",
    "seconds", "ms", "kb" or "ratio" (times bigger or faster, shown as 2.7x). ``measured``: a timing or size
    measured on this machine; not reproducible.
    """

    label: str
    format: str = "number"
    measured: bool = False
    help: str = ""
    out_of: str = ""  # the metric holding this count's total: a tile then reads "7 of 8", not a bare "7"

    FORMATS = ("percent", "number", "integer", "seconds", "ms", "kb", "ratio")
    # A headline metric's label is a tile's title (st.metric), cut with "..." when it does not fit. Measured in
    # Chromium, four tiles in a row at 1200 px wide (sidebar open) show 26 characters whole and clip 27; 24 leaves
    # room for wider letters. The full wording goes in ``help`` (the tile's question-mark tooltip).
    TILE_LABEL_MAX = 24

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
            "ratio": f"{value:,.1f}x",
        }.get(self.format, f"{value:.4g}")


def tile_text(spec: Metric, name: str, metrics: dict[str, Any]) -> str:
    """Metric ``name`` as its tile shows it: formatted, and "7 of 8" where ``spec.out_of`` names a stored total."""
    shown = spec.text(metrics[name])
    total = metrics.get(spec.out_of) if spec.out_of else None
    return shown if total is None else f"{shown} of {spec.text(total)}"


def metric_spec(metrics: dict[str, Metric], name: str) -> Metric:
    """The declared Metric, or a plain one labelled from the name."""
    return metrics.get(name) or Metric(name.replace("_", " ").capitalize())


# A run's stored data, by key. Each technique knows its own keys, so a value's type is not narrowed here: a
# NumPy array, a list or dict of arrays, or a plain JSON value (what engine.core.arrays stores; others are dropped).
StoredValue: TypeAlias = Any
JSONValue: TypeAlias = Any  # str | int | float | bool | None | list | dict of those
Explained: TypeAlias = "shap.Explanation | dict[str, shap.Explanation] | None"  # explain's answer
C = TypeVar("C", bound="TechniqueConfig")


@dataclass
class Result(Generic[C]):
    """What ``run`` returns: the config, per-step history, summary metrics, headline, models and the data
    (``arrays``, ``info``) its charts and words read. A Result read back from the run store has no models.
    ``Result[Config]`` types ``config`` as the technique's own Config."""

    config: C  # the technique's Config the run used
    history: pd.DataFrame
    metrics: dict[str, float]
    headline: tuple[str, ...] = ()  # metric names a person looks at first (1-4), declared in METRICS
    models: dict[str, torch.nn.Module] = field(default_factory=dict)  # only in the worker; never stored as objects
    arrays: dict[str, StoredValue] = field(default_factory=dict)  # the data the figures and summary read (stored)
    info: dict[str, JSONValue] = field(default_factory=dict)  # names and labels derived from the data (stored)
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
    call.lazy_target = (module, name)  # type: ignore[attr-defined]  # check_module reads the real signature
    return call


@runtime_checkable
class Technique(Protocol):
    """What every technique package exposes (its ``__init__`` re-exports it; see the module docstring for the
    file each member lives in). Optional members: ``measure(result) -> dict`` and ``downloads(result) -> dict``
    (analysis.py), checked by :data:`OPTIONAL` when present."""

    Config: type[TechniqueConfig]
    PRESETS: dict[str, dict[str, Any]]
    PRESET_LABELS: dict[str, str]
    METRICS: dict[str, Metric]

    def estimate_seconds(self, config: TechniqueConfig) -> float: ...
    def run(self, config: TechniqueConfig, progress: ProgressFn | None) -> Result: ...
    def explain(self, result: Result) -> Explained: ...
    def figures(self, result: Result) -> dict[str, go.Figure]: ...
    def explain_figures(self, result: Result, explanation: Explained) -> dict[str, go.Figure]: ...
    def live_figure(self, snapshot: Any) -> go.Figure | None: ...
    def describe(self, result: Result) -> str: ...


@runtime_checkable
class TryIt(Protocol):
    """A technique's ``tryit.py``: a finished run's model rebuilt from stored weights, answering a person's input.
    Optional: ``unavailable(config) -> str | None`` (why settings that train no model have no Try it)."""

    def load(self, config: TechniqueConfig, weights: bytes, info: dict[str, Any]) -> Any: ...
    def answer(self, bundle: Any, inputs: dict[str, Any]) -> Answer: ...
    def examples(self, bundle: Any) -> list[dict[str, Any]]: ...


OPTIONAL = {"measure": ("result",), "downloads": ("result",), "unavailable": ("config",)}
DATA = ("Config", "PRESETS", "PRESET_LABELS", "METRICS")


def _protocol_methods(protocol: type) -> dict[str, tuple[str, ...]]:
    """Each method of ``protocol`` and the names of its parameters (without self)."""
    return {
        name: tuple(inspect.signature(fn).parameters)[1:]
        for name, fn in vars(protocol).items()
        if inspect.isfunction(fn) and not name.startswith("_")
    }


def _target(fn: Callable) -> Callable:
    """The function a :func:`lazy` stand-in calls (imported now, for the check), else ``fn``."""
    module, name = getattr(fn, "lazy_target", ("", ""))
    return getattr(importlib.import_module(module), name) if module else fn


def _signature_problems(module, methods: dict[str, tuple[str, ...]], optional: bool = False) -> list[str]:
    problems = []
    for name, wanted in methods.items():
        if not hasattr(module, name):
            if not optional:
                problems.append(f"lacks {name}")
            continue
        fn = _target(getattr(module, name))
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind != p.VAR_KEYWORD]
        required = [p for p in params if p.default is p.empty and p.kind != p.VAR_POSITIONAL]
        if len(required) > len(wanted) or (
            len(params) < len(wanted) and not any(p.kind == p.VAR_POSITIONAL for p in params)
        ):
            got = ", ".join(p.name for p in params)
            problems.append(f"{name} must take ({', '.join(wanted)}), but takes ({got})")
    return problems


def check_module(module) -> list[str]:
    """The rules a technique package must satisfy (:class:`Technique`: names, types and signatures); returns what
    is wrong (empty when it complies)."""
    from engine.core.config import TechniqueConfig

    problems = [f"lacks {a}" for a in DATA if not hasattr(module, a)]
    problems += _signature_problems(module, _protocol_methods(Technique))
    problems += _signature_problems(module, {k: v for k, v in OPTIONAL.items() if k != "unavailable"}, True)
    if problems:
        return problems
    if not (isinstance(module.Config, type) and issubclass(module.Config, TechniqueConfig)):
        problems.append("Config must subclass TechniqueConfig")
    if next(iter(module.PRESETS), None) != "quick":
        problems.append('PRESETS must start with "quick"')
    if not set(module.PRESET_LABELS) <= set(module.PRESETS):
        problems.append("PRESET_LABELS must label only presets in PRESETS")
    for name, spec in module.METRICS.items():
        if not isinstance(spec, Metric) or spec.format not in Metric.FORMATS:
            problems.append(f"METRICS[{name!r}] must be a Metric with a known format")
    return problems


def check_tryit(module) -> list[str]:
    """The rules a technique's ``tryit`` module must satisfy (:class:`TryIt`); empty when it complies."""
    return _signature_problems(module, _protocol_methods(TryIt)) + _signature_problems(
        module, {"unavailable": OPTIONAL["unavailable"]}, True
    )


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
