"""Try it: a finished run's trained model, rebuilt from its stored safetensors weights, answering a person's input.

Each technique that supports it has ``engine/<name>/tryit.py`` with three pure functions (no Streamlit):

    load(config, weights, info) -> bundle    rebuild the trained model(s) from the config the run used and the
                                             stored weights (safetensors bytes, keys "<model>.<param>"); never
                                             a pickle, so this works on a result link and after a restart
    answer(bundle, inputs) -> Answer         the model's prediction for one input, its SHAP explanation (or
                                             per-token attributions) and Plotly figures
    examples(bundle) -> [inputs, ...]        a few inputs it answers (test rows, sentences): benchmarks, tests
    unavailable(config) -> str | None        optional: why settings that train no model have no Try it

The app caches one bundle per run id (read-only) and calls ``answer`` on every change of the inputs.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import threading
import time
from dataclasses import dataclass, field
from typing import Any


class TryItUnavailable(RuntimeError):
    """The stored run cannot rebuild its model (no weights, a stopped run, an upload that is gone); the text
    says why, for the person."""


@dataclass
class Answer:
    """One Try-it answer: headline numbers, the machine-readable prediction, the explanation and figures."""

    summary: dict[str, str]  # label -> value, shown first ("Prediction": "malignant (97%)")
    prediction: Any = None  # the prediction as numbers (class probabilities, a value, ...) for tests and callers
    explanation: Any = None  # shap.Explanation of this one input (or None)
    figures: dict[str, Any] = field(default_factory=dict)  # title -> plotly Figure
    tables: dict[str, Any] = field(default_factory=dict)  # title -> pandas DataFrame
    pairs: list[tuple[str, str]] = field(default_factory=list)  # figure titles drawn side by side, where the first is
    ms: float = 0.0  # how long answer() took, wall clock (measured)
    cpu_ms: float = 0.0  # the CPU time this thread spent on it: steadier than ms on a busy machine


def _path(technique: str) -> str | None:
    """``<technique package>.tryit`` when that module exists (found without importing it), else None."""
    import engine

    try:
        package = engine.load(technique).__name__  # the technique's package (light: no torch)
        found = importlib.util.find_spec(f"{package}.tryit") is not None
    except (KeyError, ModuleNotFoundError):
        return None
    return f"{package}.tryit" if found else None


def module(technique: str):
    """The technique's Try-it module, or None when it has none."""
    path = _path(technique)
    return importlib.import_module(path) if path else None


def available(technique: str) -> bool:
    """Whether the technique has a Try it (checked without importing it: no torch for the check)."""
    return _path(technique) is not None


def load(technique: str, config: dict, weights: bytes | None, info: dict | None = None):
    """The run's trained model(s) rebuilt from its validated config and stored weights."""
    import engine
    from engine.core.config import validate

    mod = module(technique)
    if mod is None:
        raise TryItUnavailable("This technique has no Try it yet.")
    settings = validate(engine.load(technique).Config, config)
    reason = mod.unavailable(settings) if hasattr(mod, "unavailable") else None  # e.g. a mode that trains no model
    if reason:
        raise TryItUnavailable(reason)
    if not weights:
        raise TryItUnavailable("This run stored no trained weights, so its model cannot be rebuilt.")
    return mod.load(settings, weights, info or {})


_LOCKS = threading.Lock()  # guards the creation of each bundle's own lock


def _lock_of(bundle) -> threading.Lock:
    """The bundle's own answer lock: SHAP's DeepExplainer hooks into the (shared, cached) model, so two answers
    from one rebuilt model take turns, while visitors of different runs are answered at once."""
    with _LOCKS:
        lock = getattr(bundle, "_answer_lock", None)
        if lock is None:
            lock = threading.Lock()
            object.__setattr__(bundle, "_answer_lock", lock)
        return lock


def answer(technique: str, bundle, inputs: dict) -> Answer:
    """The bundle's answer to ``inputs``, with the time it took (waiting for another answer of the same model
    included)."""
    started = time.perf_counter()
    with _lock_of(bundle):
        cpu = time.thread_time()
        out = module(technique).answer(bundle, inputs)
        out.cpu_ms = (time.thread_time() - cpu) * 1000
    out.ms = (time.perf_counter() - started) * 1000
    return out


def tensors(weights: bytes, prefix: str) -> dict:
    """The state dict of model ``prefix`` from a run's safetensors blob (keys "<prefix>.<param>")."""
    from safetensors.torch import load as load_safetensors

    everything = load_safetensors(weights)
    head = prefix + "."
    state = {k[len(head) :]: v for k, v in everything.items() if k.startswith(head)}
    if not state:
        raise TryItUnavailable(f"The stored weights hold no model named {prefix!r}.")
    return state


def restore(model, weights: bytes, prefix: str):
    """``model`` with the stored weights of ``prefix`` loaded (strictly: every shape must match), frozen, in eval."""
    try:
        model.load_state_dict(tensors(weights, prefix), strict=True)
    except RuntimeError as err:
        raise TryItUnavailable(f"The stored weights do not fit the model these settings build ({err}).") from err
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def explain_output(model, x, background, k: int, **kwargs):
    """SHAP of one output (class k) of ``model`` on input x: one backward pass per explained output, so a
    ten-class model is explained ten times faster than by ``explain_torch`` on all outputs."""
    import torch

    from engine.core.explain import explain_torch

    class Output(torch.nn.Module):  # the model's k-th output, (B, 1): a selection is linear, so SHAP stays exact
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, z):
            return self.model(z)[:, k : k + 1]

    return explain_torch(Output(), x, background, **kwargs)


def softmax(logits) -> Any:
    import numpy as np

    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


@dataclass
class DigitReading:
    """A drawn digit through a ten-class digit network (see ``read_digit``)."""

    x: Any  # (1, 1, 8, 8) tensor: the digit as the network reads it, ink clipped to 0-1
    probs: Any  # (10,) class probabilities
    k: int  # the predicted digit
    explanation: Any  # shap.Explanation of the predicted digit's score, one value per pixel


def read_digit(network, background, inputs: dict) -> DigitReading:
    """``inputs["image"]``, an (8, 8) digit (0 = blank, 1 = full ink), through ``network`` ((B, 1, 8, 8) -> (B, 10)
    logits): its class probabilities and the SHAP of the predicted digit against ``background`` digits."""
    import numpy as np
    import torch

    x = torch.as_tensor(np.clip(np.asarray(inputs["image"], dtype=np.float32), 0, 1).reshape(1, 1, 8, 8))
    with torch.no_grad():
        probs = softmax(network(x)[0].numpy())
    k = int(probs.argmax())
    return DigitReading(x, probs, k, explain_output(network, x, background, k))


# --- figures: built in one go with a lean copy of the house style ---------------------------------------------
# Applying the full "plotly_white" template deep-copies it: about 50 ms per figure on this machine, so a Try-it
# answer with four figures would spend most of its 300 ms budget there. These builders set only the template's
# layout parts that show (about 5 ms per figure).


@functools.lru_cache(maxsize=1)
def lean_template() -> dict:
    import plotly.io as pio

    from engine.core.charts import TEMPLATE

    full = pio.templates[TEMPLATE].layout
    axis = {
        k: full.xaxis[k] for k in ("automargin", "gridcolor", "linecolor", "ticks", "zerolinecolor", "zerolinewidth")
    }
    return {
        "layout": {
            "paper_bgcolor": full.paper_bgcolor,
            "plot_bgcolor": full.plot_bgcolor,
            "font": {"color": full.font.color},
            "colorway": list(full.colorway),
            "title": {"x": full.title.x},
            "xaxis": axis,
            "yaxis": axis,
            "hoverlabel": {"align": "left"},
        }
    }


def figure(traces: list, caption: str, **layout):
    """A Plotly figure with its plain-language caption (``charts.caption_of`` reads it) in the house style."""
    import plotly.graph_objects as go

    layout = {"margin": dict(l=10, r=10, t=50, b=10), **layout}
    return go.Figure(data=traces, layout=dict(template=lean_template(), meta={"caption": caption}, **layout))


def bars(names, values, title: str, caption: str, x_title: str = "", y_title: str = "probability"):
    """One bar per name, or grouped bars: ``values`` a list, or {series name: list}."""
    import plotly.graph_objects as go

    series = values if isinstance(values, dict) else {"": values}
    traces = [
        go.Bar(x=list(names), y=list(map(float, v)), name=n or None, showlegend=bool(n), texttemplate="%{y:.3g}")
        for n, v in series.items()  # the value on each bar: near-equal bars (Q-values 0.94 vs 0.95) still read
    ]
    return figure(
        traces,
        caption,
        title=title,
        barmode="group",
        xaxis_title=x_title,
        yaxis=dict(title=y_title, range=[0, 1]) if y_title == "probability" else dict(title=y_title),
    )


def heatmap(z, title: str, caption: str, diverging: bool = False, **layout):
    """An image-like heatmap (rows top to bottom); ``diverging`` centres a red-blue scale on 0 (SHAP values)."""
    import numpy as np
    import plotly.graph_objects as go

    z = np.asarray(z, dtype=float)
    colours = (
        dict(colorscale="RdBu_r", zmid=0.0, colorbar=dict(title="SHAP"))
        if diverging
        else dict(colorscale="Greys", zmin=0, zmax=1, colorbar=dict(title="ink"))
    )
    return figure(
        [go.Heatmap(z=z, **colours)],
        caption,
        title=title,
        yaxis=dict(autorange="reversed", scaleanchor="x"),
        xaxis=dict(constrain="domain"),
        **layout,
    )


def waterfall(exp, output: int | None, title: str, max_features: int = 10):
    """SHAP waterfall of one input: base value, then each feature's push (red up, blue down), to the model output."""
    import numpy as np
    import plotly.graph_objects as go

    values = np.asarray(exp.values, dtype=float)[0]
    base = np.asarray(exp.base_values, dtype=float).reshape(len(exp.values), -1)[0]
    if output is not None and values.ndim == 2:
        values, base = values[:, output], base[output]
    base = float(np.asarray(base).reshape(-1)[0])
    data, names = np.asarray(exp.data, dtype=float)[0], list(exp.feature_names)
    order = np.argsort(-np.abs(values))
    top, rest = order[:max_features], order[max_features:]
    labels = [f"{names[j]} = {data[j]:.3g}" for j in top] + ([f"{len(rest)} other features"] if len(rest) else [])
    steps = list(values[top]) + ([float(values[rest].sum())] if len(rest) else [])
    trace = go.Waterfall(
        orientation="h",
        y=["base value", *labels[::-1], "model output"],
        x=[base, *steps[::-1], 0],
        measure=["absolute", *["relative"] * len(steps), "total"],
        increasing=dict(marker_color="#d62728"),
        decreasing=dict(marker_color="#1f77b4"),
        text=[f"{base:.3g}", *[f"{v:+.3g}" for v in steps[::-1]], f"{base + sum(steps):.3g}"],
    )
    return figure(
        [trace],
        "Start at the average output over the reference rows (base value); each feature of your "
        "input adds (red) or subtracts (blue) its SHAP value, ending at the model's output.",
        title=title,
        height=max(320, 30 * len(labels) + 160),
        showlegend=False,
    )


def token_bars(exp, title: str, unit: str = "probability"):
    """A bar per token (word, bracket, pixel row) of a one-input Explanation: red raises the output, blue lowers it."""
    import numpy as np
    import plotly.graph_objects as go

    values = np.asarray(exp.values, dtype=float).reshape(-1)
    base = float(np.asarray(exp.base_values).reshape(-1)[0])
    trace = go.Bar(
        x=list(exp.feature_names), y=values, marker_color=["#d62728" if v > 0 else "#1f77b4" for v in values]
    )
    return figure(
        [trace],
        f"Red tokens raise the {unit}, blue ones lower it. Starting from the input with every token "
        f"removed ({base:.3g}), the values add up to the {unit} for the whole input "
        f"({base + values.sum():.3g}).",
        title=title,
        xaxis_title="token (position)",
        yaxis_title=f"SHAP value (change in {unit})",
    )


def examples(technique: str, bundle) -> list[dict]:
    """A few inputs the technique's Try it answers (test rows, sentences, latent points): benchmarks and tests."""
    return module(technique).examples(bundle)
