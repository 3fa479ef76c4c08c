"""One run end to end: validate settings, train, draw figures, explain, package an ``Outcome``.

The job workers, the CLI and the benchmarks all call :func:`execute`, so they run exactly the same code.
An Outcome holds no torch objects (weights travel as safetensors bytes), so the app process that receives
it never needs to import torch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.core.config import validate
from engine.core.contract import ProgressFn, phase_snapshot
from engine.core.explain import explanations


@dataclass
class Outcome:
    technique: str
    config: dict[str, Any]
    status: str  # "done" | "stopped"
    metrics: dict[str, float]
    history: pd.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)  # title -> plotly Figure
    explanation: Any = None  # shap.Explanation or {title: shap.Explanation}
    explain_figures: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # "What just happened"
    architecture: dict[str, str] = field(default_factory=dict)
    weights: bytes | None = None  # safetensors
    seconds: float = 0.0
    device: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    headline: list[str] = field(default_factory=list)  # metric names shown first (the Result's headline)
    downloads: dict[str, dict] = field(default_factory=dict)  # label -> {file_name, mime, data (bytes), note}
    diagrams: dict[str, Any] = field(default_factory=dict)  # model name -> plotly diagram of its layers (charts)
    run_id: str = ""  # the run store's id (also the share id) once recorded


def weights_bytes(models: dict) -> bytes | None:
    """All models' parameters and buffers in one safetensors blob, keys prefixed by model name."""
    from safetensors.torch import save

    tensors = {}
    for name, model in models.items():
        state = model.state_dict() if hasattr(model, "state_dict") else {}
        for key, t in state.items():
            tensors[f"{name}.{key}"] = t.detach().cpu().contiguous()
    return save(tensors) if tensors else None


def execute(technique: str, values: dict[str, Any], progress: ProgressFn | None = None, keep=None) -> Outcome:
    """Run ``technique`` with settings ``values``; raises ConfigError, DataError or RunError for the person.

    ``keep(result)``, if given, receives the raw Result (with its torch models) before it is packaged.
    """
    import engine
    from engine.core.device import describe, seed_everything

    module = engine.load(technique)
    config = validate(module.Config, values)
    seed_everything(config.seed)
    started = time.perf_counter()
    progress = progress or (lambda *_a, **_k: False)
    result = module.run(config, progress)  # the job panel says "Preparing…" until run's first step or phase
    if keep is not None:
        keep(result)
    # After run, a Stop changes nothing (the run is over), so these may answer it; before run they must not: a
    # worker acknowledges Stop on the first progress call that sees it, and only ``run`` can act on it.
    progress(0, 0, {}, phase_snapshot("Drawing the charts"))
    figures = module.figures(result)
    progress(0, 0, {}, phase_snapshot("Explaining the model's answers (SHAP)"))
    explanation = module.explain(result)
    extra = module.explain_figures(result, explanation)
    metrics = dict(result.metrics)
    errors = [getattr(e, "additivity_error", None) for e in explanations(explanation).values()]
    errors = [e for e in errors if e is not None]
    if errors:
        metrics["shap_additivity_error"] = max(errors)
    return Outcome(
        technique=technique,
        config=result.config.model_dump(),
        status="stopped" if result.stopped else "done",
        metrics=metrics,
        history=result.history,
        figures=figures,
        explanation=explanation,
        explain_figures=extra,
        text=module.describe(result),
        architecture={k: str(m) for k, m in result.models.items()},
        weights=weights_bytes(result.models),
        seconds=time.perf_counter() - started,
        device=describe(),
        info=result.info,
        headline=list(result.headline),
        downloads=downloads(module, result),
        diagrams=diagrams(result),
    )


def downloads(module, result) -> dict[str, dict]:
    """The technique's own files for the Details tab (optional ``views.downloads(result)``), checked here.

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


def diagrams(result) -> dict[str, Any]:
    """A diagram of each trained torch model (its layers, output shapes and weights; ``charts.model_diagram``),
    drawn here where torch is loaded. A model's input shape comes from ``result.info["input_shapes"][name]``
    when the technique gives one, else from its first layer."""
    from engine.core.charts import model_diagram

    shapes = result.info.get("input_shapes") or {}
    return {
        name: model_diagram(m, shapes.get(name), title=f"Network: {name.replace('_', ' ')}")
        for name, m in result.models.items()
        if hasattr(m, "named_modules")
    }
