"""Charts and words drawn when a run is read, from the data it stored (never from rendered pictures).

A run keeps what it measured (``Outcome``: metrics, history, arrays, info, SHAP values, layer tables, weights);
:func:`draw` turns that into the figures, the explanation figures, the "What just happened" text and the network
diagrams with the technique's pure functions (``views.figures``, ``views.explain_figures``,
``summary.describe``), in the app, when the run is read. So a better chart or a plainer sentence reaches every
stored run, old ones included. Drawings are cached per run id (a result link opened by many visitors is drawn
once) in a small process-wide cache. Nothing here imports torch.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.core.contract import Result

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from engine.core.config import TechniqueConfig
    from engine.core.pipeline import Outcome

log = logging.getLogger(__name__)
CACHED_RUNS = 32  # drawings kept for this many run ids (each a few hundred kB of Plotly objects)


@dataclass(frozen=True)
class Drawn:
    """What a person sees of one run: drawn from its data (or, for runs stored before data was kept, as stored)."""

    figures: dict[str, go.Figure] = field(default_factory=dict)
    explain_figures: dict[str, go.Figure] = field(default_factory=dict)
    text: str = ""
    diagrams: dict[str, go.Figure] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # charts that could not be drawn from this run's data, in words


_cache: OrderedDict[str, Drawn] = OrderedDict()
_lock = threading.Lock()


def config_of(technique: str, values: dict[str, Any]) -> TechniqueConfig:
    """The technique's Config for stored settings: settings removed since are ignored, new ones get defaults."""
    from pydantic import ValidationError

    import engine

    cls = engine.load(technique).Config
    known = {k: v for k, v in values.items() if k in cls.model_fields}
    try:
        return cls.model_validate(known)
    except ValidationError:  # a bound tightened since the run: show the run as it ran
        return cls.model_construct(**{**cls().model_dump(), **known})


def result_of(outcome: Outcome) -> Result:
    """The stored run as a ``Result`` without models: what the pure figure and summary functions read."""
    return Result(
        config=config_of(outcome.technique, outcome.config),
        history=outcome.history,
        metrics=dict(outcome.metrics),
        headline=tuple(outcome.headline),
        arrays=outcome.arrays,
        info=outcome.info,
        stopped=outcome.status == "stopped",
    )


def _attempt(what: str, make, problems: list[str], empty):
    try:
        return make()
    except Exception as e:  # an old run lacking data a newer chart needs: the rest of the run still shows
        log.exception("could not draw %s", what)
        problems.append(f"The {what} could not be drawn from this run's stored data ({type(e).__name__}).")
        return empty


def _draw(outcome: Outcome) -> Drawn:
    import engine
    from engine.core.charts import diagram_figure

    module = engine.load(outcome.technique)
    result = result_of(outcome)
    problems: list[str] = []
    figures = _attempt("charts", lambda: module.figures(result), problems, {})
    extra = _attempt("explanation charts", lambda: module.explain_figures(result, outcome.explanation), problems, {})
    text = _attempt("summary", lambda: module.describe(result), problems, "")
    diagrams = {
        name: diagram_figure(d["rows"], title=f"Network: {name.replace('_', ' ')}", note=d.get("note", ""))
        for name, d in outcome.layers.items()
    }
    return Drawn(figures, extra, text, diagrams, tuple(problems))


def draw(outcome: Outcome) -> Drawn:
    """The run's charts and words, drawn from its data; cached per run id."""
    if outcome.legacy is not None:
        return outcome.legacy
    key = outcome.run_id
    if key:
        with _lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
    drawn = _draw(outcome)
    if key:
        with _lock:
            _cache[key] = drawn
            while len(_cache) > CACHED_RUNS:
                _cache.popitem(last=False)
    return drawn


def forget(run_id: str) -> None:
    """Drop a run's drawing (a deleted run)."""
    with _lock:
        _cache.pop(run_id, None)
