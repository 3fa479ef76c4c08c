"""One run end to end: validate settings, train, explain, package the run's data as an ``Outcome``.

The job workers, the CLI and the benchmarks all call :func:`execute`, so they run exactly the same code.
An Outcome is data, never pictures and never torch objects: metrics, history, the arrays and info the charts
read, SHAP values, the layer tables of the networks, weights as safetensors bytes and the technique's files. The
app draws its charts and words from that data when the run is read (:mod:`engine.core.drawing`), so the app
process never imports torch and a chart change reaches every stored run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.core.arrays import storable
from engine.core.config import validate
from engine.core.contract import ProgressFn, Result, check_result, phase_snapshot
from engine.core.explain import explanations

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from engine.core.drawing import Drawn


@dataclass
class Outcome:
    """A finished (or stopped) run as data. ``figures``, ``explain_figures``, ``text`` and ``diagrams`` are drawn
    from it on first use (:func:`engine.core.drawing.draw`, cached per run id)."""

    technique: str
    config: dict[str, Any]
    status: str  # "done" | "stopped"
    metrics: dict[str, float]
    history: pd.DataFrame
    arrays: dict[str, Any] = field(default_factory=dict)  # what the charts read (engine.core.arrays packs it)
    explanation: Any = None  # shap.Explanation or {title: shap.Explanation}
    architecture: dict[str, str] = field(default_factory=dict)  # model name -> the model as PyTorch prints it
    layers: dict[str, dict] = field(default_factory=dict)  # model name -> {"rows": layer table, "note": str}
    weights: bytes | None = None  # safetensors
    seconds: float = 0.0
    device: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    headline: list[str] = field(default_factory=list)  # metric names shown first (the Result's headline)
    downloads: dict[str, dict] = field(default_factory=dict)  # label -> {file_name, mime, data (bytes), note}
    run_id: str = ""  # the run store's id (also the share id) once recorded
    legacy: Drawn | None = None  # a run stored before runs kept their data: its charts as they were stored
    _drawn: Drawn | None = field(default=None, repr=False, compare=False)

    def drawn(self) -> Drawn:
        """The charts and words of this run (drawn once)."""
        if self._drawn is None:
            from engine.core.drawing import draw

            self._drawn = draw(self)
        return self._drawn

    @property
    def figures(self) -> dict[str, go.Figure]:
        return self.drawn().figures

    @property
    def explain_figures(self) -> dict[str, go.Figure]:
        return self.drawn().explain_figures

    @property
    def text(self) -> str:
        return self.drawn().text

    @property
    def diagrams(self) -> dict[str, go.Figure]:
        return self.drawn().diagrams


def weights_bytes(models: dict) -> bytes | None:
    """All models' parameters and buffers in one safetensors blob, keys prefixed by model name."""
    from safetensors.torch import save

    tensors = {}
    for name, model in models.items():
        state = model.state_dict() if hasattr(model, "state_dict") else {}
        for key, t in state.items():
            tensors[f"{name}.{key}"] = t.detach().cpu().contiguous()
    return save(tensors) if tensors else None


def execute(
    technique: str, values: dict[str, Any], progress: ProgressFn | None = None, keep=None, inputs=None
) -> Outcome:
    """Run ``technique`` with settings ``values``; raises ConfigError, DataError or RunError for the person.

    ``keep(result)``, if given, receives the raw Result (with its torch models) before it is packaged.
    """
    import engine
    from engine.core.device import describe, isolated_random_state

    module = engine.load(technique)
    config = validate(module.Config, values)
    with isolated_random_state(config.seed):  # the seed alone decides the run; the caller's random state is kept
        started = time.perf_counter()
        progress = progress or (lambda *_a, **_k: False)
        result = module.run(config, progress) if inputs is None else module.run(config, progress, inputs)
        if keep is not None:
            keep(result)
        return package(technique, module, result, progress, time.perf_counter() - started, describe())


def package(technique: str, module, result: Result, progress: ProgressFn, seconds: float, device: str) -> Outcome:
    """The worker's after-training steps (SHAP, the technique's own measurements and files), checked against the
    contract, then the run as data. After ``run`` a Stop changes nothing (the run is over), so these phases may
    answer it; before ``run`` they must not (only ``run`` can act on a Stop)."""
    progress(0, 0, {}, phase_snapshot("Explaining the model's answers (SHAP)"))
    explanation = module.explain(result)
    measure = getattr(module, "measure", None)
    if measure is not None:
        result.arrays.update(measure(result))
    problems = check_result(result, module.METRICS)
    if problems:
        raise TypeError(f"{technique} broke the technique contract: " + "; ".join(problems))
    metrics = dict(result.metrics)
    found = [getattr(e, "additivity_error", None) for e in explanations(explanation).values()]
    errors = [e for e in found if e is not None]
    if errors:
        metrics["shap_additivity_error"] = max(errors)
    return Outcome(
        technique=technique,
        config=result.config.model_dump(),
        status="stopped" if result.stopped else "done",
        metrics=metrics,
        history=result.history,
        arrays=storable(result.arrays),
        explanation=explanation,
        architecture={k: str(m) for k, m in result.models.items()},
        layers=layer_tables(result),
        weights=weights_bytes(result.models),
        seconds=seconds,
        device=device,
        info=result.info,
        headline=list(result.headline),
        downloads=downloads(module, result),
    )


def downloads(module, result: Result) -> dict[str, dict]:
    """The technique's own files for the Details tab (optional ``analysis.downloads(result)``), checked here.

    Each entry: label -> {"file_name", "mime", "data" (bytes), "note" (one plain sentence, may be "")}.
    """
    make = getattr(module, "downloads", None)
    if make is None:
        return {}
    files = {}
    for label, d in make(result).items():
        name = str(d.get("file_name") or "")
        if not isinstance(d.get("data"), bytes) or not name or "/" in name or "\\" in name:
            raise TypeError(f"downloads()[{label!r}] needs bytes data and a plain file_name")
        files[str(label)] = {
            "file_name": name,
            "mime": str(d.get("mime") or "application/octet-stream"),
            "data": d["data"],
            "note": str(d.get("note") or ""),
        }
    return files


def layer_tables(result: Result) -> dict[str, dict]:
    """Each trained torch model's layers, output shapes and weights (``charts.layer_summary``), measured here where
    torch is loaded; the app draws them as diagrams. A model's input shape comes from
    ``result.info["input_shapes"][name]`` when the technique gives one, else from its first layer."""
    import torch

    from engine.core.charts import example_input, layer_summary

    shapes = result.info.get("input_shapes") or {}
    tables = {}
    for name, m in result.models.items():
        if not hasattr(m, "named_modules"):
            continue
        shape = shapes.get(name)
        example = torch.zeros(2, *shape) if shape is not None else example_input(m)
        rows, note = layer_summary(m, example)
        tables[name] = {"rows": rows, "note": note}
    return tables
