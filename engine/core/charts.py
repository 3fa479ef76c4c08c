"""Shared Plotly chart builders: pure functions, data in, ``go.Figure`` out (no Streamlit, no globals).

A figure's plain-language caption ("what this shows") travels in ``fig.layout.meta["caption"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.core.explain import global_importance

if TYPE_CHECKING:
    import torch

TEMPLATE = "plotly_white"
DIVERGING = "RdBu_r"


def captioned(fig: go.Figure, caption: str) -> go.Figure:
    """Attach the plain-language caption and the house style (margins a figure already set are kept)."""
    fig.update_layout(meta={"caption": caption}, template=TEMPLATE)
    if fig.layout.margin.t is None:
        fig.update_layout(margin=dict(l=10, r=10, t=50, b=10))
    return fig


def wrap_label(text: object, width: int = 14) -> str:
    """A label broken into lines of about ``width`` characters (``<br>``) instead of cut off: for colour-bar titles
    and other narrow places."""
    import textwrap

    return "<br>".join(textwrap.wrap(str(text), width, break_long_words=False)) or str(text)


def caption_of(fig: go.Figure) -> str:
    meta = fig.layout.meta
    return meta.get("caption", "") if isinstance(meta, dict) else ""


# Legends sit in one row above the plot area (never over the x-axis title); the top margin leaves room for it.
LEGEND_ABOVE = dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom")


def right_axis(**settings: Any) -> dict:
    """A second y-axis on the right with its own round ticks. Plotly's default for an overlaying axis is
    ``tickmode="sync"``, which lines its ticks up with the left axis's gridlines and so labels them 41.8, 126.2."""
    return dict(overlaying="y", side="right", tickmode="auto", nticks=6, showgrid=False) | settings


def tick_text(value: float) -> str:
    """A tick label a person reads at a glance: 0.05, 2, 1,000, 20k, 1.5M (never 2e+04 or a bare minor '5')."""
    v = float(value)
    if v >= 1e9:
        return f"{v / 1e9:.3g}B"
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:,.0f}" if v >= 1 and v == round(v) else f"{v:.3g}"


def log_ticks(values: Sequence[float], at_data: bool = False) -> list[float]:
    """Tick positions for a log axis over ``values``: the data's own values (``at_data``: a sweep's few points,
    thinned where two would crowd), else round numbers: powers of ten over more than three decades, 1-2-5 over one
    to three, 1-2-3-5 over less (and every digit where that would leave fewer than two ticks)."""
    v = np.asarray([x for x in np.ravel(np.asarray(values, dtype=float)) if np.isfinite(x) and x > 0])
    if not len(v):
        return []
    lo, hi = float(v.min()), float(v.max())
    if at_data:
        kept: list[float] = []
        for x in np.unique(v):
            if not kept or np.log10(x / kept[-1]) >= 0.12:
                kept.append(float(x))
        return kept
    decades = np.log10(hi / lo)
    steps = [(1,)] if decades > 3 else [(1, 2, 5)] if decades > 1 else [(1, 2, 3, 5)]
    inside: list[float] = []
    for mantissas in [*steps, tuple(range(1, 10))]:
        ticks = [
            float(f"{m * 10.0**e:.12g}")
            for e in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
            for m in mantissas
        ]
        inside = [t for t in ticks if lo / 1.05 <= t <= hi * 1.05]
        if len(inside) >= 2:
            break
    return inside or [lo]


def log_axis(values: Sequence[float], *, at_data: bool = False, **settings: Any) -> dict:
    """A log-scale axis with readable labels (:func:`log_ticks`, :func:`tick_text`) in place of Plotly's bare minor
    ticks ("2", "5" between decades): ``update_layout(xaxis=log_axis(sizes, title="weights"))``. Use it for every
    log axis; ``settings`` are the axis's other properties."""
    ticks = log_ticks(values, at_data)
    return dict(type="log", tickmode="array", tickvals=ticks, ticktext=[tick_text(t) for t in ticks]) | settings


def _scale_group(name: str, values: pd.Series) -> str:
    """Which axis a metric belongs on: 'loss', 'fraction' (every value between 0 and 1: accuracy, epsilon,
    success rate) or 'value' (everything larger: returns, lengths, counts)."""
    if "loss" in name:
        return "loss"
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return "fraction" if len(v) == 0 or (v.min() >= 0 and v.max() <= 1) else "value"


AXIS_TITLES = {"loss": "loss", "fraction": "share / rate (0 to 1)", "value": "score"}


def _axis_title(group: str, legend: list[str]) -> str:
    """A learning-curve axis's title: the one curve's own name when the axis holds one (client drift is no
    "score"), short enough to stay beside its own panel; else the group's word."""
    if group != "fraction" and len(legend) == 1 and len(legend[0]) <= 24:
        return legend[0]
    return AXIS_TITLES[group]


def learning_curves(
    history: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    title="Learning curves",
    x: str = "step",
    unit: str = "",
    caption: str = "",
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per metric column over ``x`` (``names``: a column's legend text, else its name in words); ``unit``
    titles the x-axis with what a step counts (the run's ``config.step_unit()``: "epoch", "round"), else ``x``.
    Metrics on different scales never share an axis: losses, 0-1 shares
    (accuracy, epsilon) and larger numbers (returns) form groups; two groups get a left and a right axis (with
    round ticks of its own), three get one panel each, stacked over a shared x-axis."""
    columns = [c for c in (columns or history.columns) if c != x and c in history]
    unit = unit or x.replace("_", " ")
    groups: dict[str, list[str]] = {}
    for c in columns:
        groups.setdefault(_scale_group(c, history[c]), []).append(c)
    order = [g for g in ("loss", "value", "fraction") if g in groups]
    panels = len(order) >= 3
    if panels:
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=len(order), cols=1, shared_xaxes=True, vertical_spacing=0.06)
    else:
        fig = go.Figure()
    legend = {c: (names or {}).get(c) or c.replace("_", " ") for c in columns}
    titles = [_axis_title(g, [legend[c] for c in groups[g]]) for g in order]
    for i, group in enumerate(order):
        for c in groups[group]:
            trace = go.Scatter(  # a first live row is a dot: one point draws no line
                x=history[x], y=history[c], mode="lines" if len(history) > 1 else "markers", name=legend[c]
            )
            if panels:
                fig.add_trace(trace, row=i + 1, col=1)
            else:
                fig.add_trace(trace.update(yaxis="y2" if i else "y"))
    layout: dict[str, Any] = dict(title=title, hovermode="x unified", legend=LEGEND_ABOVE)
    if panels:
        for i, text in enumerate(titles):
            fig.update_yaxes(title_text=text, nticks=5, row=i + 1, col=1)
        fig.update_xaxes(title_text=unit, row=len(order), col=1)
        layout.update(height=220 * len(order) + 120)
    else:
        layout.update(xaxis_title=unit)
        if len(order) == 2:
            layout.update(yaxis=dict(title=titles[0]), yaxis2=right_axis(title=titles[1]))
    fig.update_layout(**layout, margin=dict(l=10, r=10, t=90, b=10))
    return captioned(fig, caption or f"How the training numbers moved, {unit} by {unit}.")


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], *, title="Confusion matrix"
) -> go.Figure:
    k = len(labels)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    fig = go.Figure(
        go.Heatmap(
            z=cm,
            x=list(labels),
            y=list(labels),
            colorscale="Blues",
            text=cm,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed")
    return captioned(fig, "Rows are the true classes, columns the model's guesses: the diagonal is what it got right.")


def bar(names: Sequence[str], values: Sequence[float], *, title: str, caption: str, x_title: str = "") -> go.Figure:
    fig = go.Figure(go.Bar(x=list(names), y=list(values), text=[f"{v:.3g}" for v in values], textposition="auto"))
    fig.update_layout(title=title, yaxis_title=x_title)
    return captioned(fig, caption)


def decision_boundary(
    xx: np.ndarray, yy: np.ndarray, zz: np.ndarray, X: np.ndarray, y: np.ndarray, *, title: str, caption: str = ""
) -> go.Figure:
    """Class-1 probability (or class id) over a 2-D grid with the data points on top."""
    fig = go.Figure(
        go.Contour(
            x=xx[0],
            y=yy[:, 0],
            z=zz,
            colorscale=DIVERGING,
            opacity=0.7,
            showscale=False,
            contours=dict(start=0, end=1, size=0.1) if zz.max() <= 1 else None,
        )
    )
    for label in np.unique(y):
        m = y == label
        fig.add_trace(
            go.Scatter(
                x=X[m, 0],
                y=X[m, 1],
                mode="markers",
                name=f"class {label}",
                marker=dict(size=6, line=dict(width=0.5, color="white")),
            )
        )
    fig.update_layout(title=title, xaxis_title="x1", yaxis_title="x2")
    return captioned(fig, caption or "Background colour: what the model predicts at each point; dots: the data.")


# One class-colour mapping for every panel that shows labelled points: class k is CLASS_COLORS[k]. The colours are
# dark, the probability surface under them pale (class-0 blue -> white -> class-1 red), so a dot stands out on
# either side of the boundary and a wrongly classified dot still reads as its own class.
CLASS_COLORS = ("#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#35978f")
SURFACE = [[0.0, "#c6dbef"], [0.5, "#f7f7f7"], [1.0, "#fcc5b0"]]


def class_color(label: int) -> str:
    return CLASS_COLORS[int(label) % len(CLASS_COLORS)]


def class_points(
    X: np.ndarray, y: np.ndarray, class_names: Sequence[str] | None = None, *, show_legend: bool = True
) -> list[go.Scatter]:
    """One scatter trace per class, coloured by :data:`CLASS_COLORS` with a white rim."""
    X, y = np.asarray(X), np.asarray(y)
    return [
        go.Scatter(
            x=X[y == k, 0],
            y=X[y == k, 1],
            mode="markers",
            legendgroup=f"class{k}",
            name=str(class_names[k]) if class_names is not None else f"class {k}",
            showlegend=show_legend,
            marker=dict(size=7, color=class_color(k), line=dict(width=1, color="white")),
        )
        for k in np.unique(y)
    ]


def class_surface(
    xx: np.ndarray,
    yy: np.ndarray,
    zz: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    title: str,
    class_names: Sequence[str] | None = None,
    caption: str = "",
) -> go.Figure:
    """A two-class decision surface: P(class 1) on the pale :data:`SURFACE` scale (0.5 boundary drawn), the points
    in their :data:`CLASS_COLORS`. Use it wherever classes appear in several panels, so colours stay consistent."""
    fig = go.Figure(
        go.Contour(
            x=xx[0],
            y=yy[:, 0],
            z=zz,
            colorscale=SURFACE,
            zmin=0,
            zmax=1,
            showscale=False,
            contours=dict(start=0, end=1, size=0.1),
            line=dict(width=0.5, color="white"),
            hovertemplate="x1 %{x:.2f}, x2 %{y:.2f}: P(class 1) = %{z:.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Contour(
            x=xx[0],
            y=yy[:, 0],
            z=zz,
            showscale=False,
            contours_coloring="none",
            hoverinfo="skip",
            contours=dict(start=0.5, end=0.5, size=1),
            line=dict(width=2, color="#444"),
            name="boundary (P = 0.5)",
            showlegend=False,
        )
    )
    for trace in class_points(X, y, class_names):
        fig.add_trace(trace)
    fig.update_layout(title=title, xaxis_title="x1", yaxis_title="x2")
    return captioned(
        fig,
        caption
        or "Background: the model's probability of class 1 at each point (blue: class 0, "
        "red: class 1, dark line: the boundary); dots: the data in their class colours.",
    )


def play_controls(
    ticks, duration_ms: int, y: float = -0.1, active: int = 0, prefix: str = "step ", from_start: bool = False
) -> dict:
    """Layout for an animated figure whose frames are named ``str(tick)``: Play/Pause buttons and a slider.

    Use as ``fig.update_layout(**play_controls(ticks, 250))``; ``from_start`` replays from the first frame.
    """
    play = dict(frame=dict(duration=duration_ms, redraw=True), fromcurrent=not from_start, transition=dict(duration=0))
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate")
    return dict(
        updatemenus=[
            dict(
                type="buttons",
                x=0,
                y=y,
                xanchor="left",
                direction="left",
                buttons=[
                    dict(label="▶ Play", method="animate", args=[None, play]),
                    dict(label="⏸ Pause", method="animate", args=[[None], pause]),
                ],
            )
        ],
        sliders=[
            dict(
                active=active,
                x=0.2,
                len=0.8,
                y=y + 0.03,
                currentvalue=dict(prefix=prefix),
                steps=[
                    dict(
                        label=str(t),
                        method="animate",
                        args=[
                            [str(t)],
                            dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0)),
                        ],
                    )
                    for t in ticks
                ],
            )
        ],
    )


# --- SHAP views -------------------------------------------------------------------------------------------


def _single_output(exp, output: int | None):
    """Slice a multi-output Explanation down to one output (the model's logit for one class)."""
    if np.ndim(exp.values) == 3:
        return exp[:, :, 0 if output is None else output]
    return exp


def shap_bar(exp, output: int | None = None, *, title="Global importance (mean |SHAP|)", max_features=15) -> go.Figure:
    e = _single_output(exp, output)
    imp = global_importance(e)
    order = np.argsort(imp)[-max_features:]
    names = np.asarray(e.feature_names)[order]
    fig = go.Figure(go.Bar(x=imp[order], y=names, orientation="h", marker_color="#1f77b4"))
    fig.update_layout(
        title=title, xaxis_title="mean |SHAP value| (impact on model output)", height=max(300, 28 * len(order) + 120)
    )
    return captioned(fig, "Longer bars: features that move the model's output the most, on average over the rows.")


def shap_beeswarm(
    exp, output: int | None = None, *, title="Beeswarm: every row's SHAP values", max_features=15
) -> go.Figure:
    e = _single_output(exp, output)
    values, data = np.asarray(e.values), np.asarray(e.data, dtype=float)
    imp = global_importance(e)
    order = np.argsort(imp)[-max_features:]
    rng = np.random.default_rng(0)
    fig = go.Figure()
    for rank, j in enumerate(order):
        col = data[:, j]
        span = np.ptp(col) or 1.0
        fig.add_trace(
            go.Scatter(
                x=values[:, j],
                y=rank + rng.uniform(-0.3, 0.3, len(col)),
                mode="markers",
                showlegend=False,
                marker=dict(
                    color=(col - col.min()) / span,
                    colorscale="Bluered",
                    size=6,
                    opacity=0.8,
                    colorbar=dict(title="feature value", tickvals=[0, 1], ticktext=["low", "high"])
                    if rank == len(order) - 1
                    else None,
                    showscale=rank == len(order) - 1,
                ),
                customdata=col,
                hovertemplate=f"{e.feature_names[j]} = %{{customdata:.3g}}<br>SHAP %{{x:.3g}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="SHAP value (push on the model's output)",
        yaxis=dict(tickvals=list(range(len(order))), ticktext=list(np.asarray(e.feature_names)[order])),
        height=max(320, 30 * len(order) + 120),
    )
    fig.add_vline(x=0, line_color="grey")
    return captioned(
        fig,
        "Each dot is one row. Right of zero pushes the output up, left pushes it down; "
        "red dots have high feature values, blue low.",
    )


def shap_waterfall(exp, row: int, output: int | None = None, *, max_features=10) -> go.Figure:
    e = _single_output(exp, output)[row]
    values, names = np.asarray(e.values), list(e.feature_names)
    data = np.asarray(e.data, dtype=float)
    order = np.argsort(np.abs(values))[::-1]
    top, rest = order[:max_features], order[max_features:]
    labels = [f"{names[j]} = {data[j]:.3g}" for j in top] + ([f"{len(rest)} other features"] if len(rest) else [])
    steps = list(values[top]) + ([values[rest].sum()] if len(rest) else [])
    base = float(np.asarray(e.base_values))
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=["base value", *labels[::-1], "model output"],
            x=[base, *steps[::-1], 0],
            measure=["absolute", *["relative"] * len(steps), "total"],
            increasing=dict(marker_color="#d62728"),
            decreasing=dict(marker_color="#1f77b4"),
            text=[f"{base:.3g}", *[f"{s:+.3g}" for s in steps[::-1]], f"{base + sum(steps):.3g}"],
        )
    )
    fig.update_layout(title=f"Waterfall for row {row}", height=max(320, 30 * len(labels) + 160), showlegend=False)
    return captioned(
        fig,
        "Start at the average output (base value); each feature of this row adds (red) or "
        "subtracts (blue) its SHAP value, ending at the model's output for the row.",
    )


def shap_dependence(exp, feature: int, output: int | None = None) -> go.Figure:
    e = _single_output(exp, output)
    values, data = np.asarray(e.values), np.asarray(e.data, dtype=float)
    # colour by the feature that interacts most (largest |corr| of its values with this feature's SHAP)
    others = [j for j in range(values.shape[1]) if j != feature]
    varies = np.ptp(values[:, feature]) > 0  # all-zero attributions (a model that learned nothing) have no correlation
    corr = [
        abs(np.corrcoef(data[:, j], values[:, feature])[0, 1]) if varies and np.ptp(data[:, j]) else 0.0 for j in others
    ]
    inter = others[int(np.argmax(np.nan_to_num(corr)))] if others else feature
    fig = go.Figure(
        go.Scatter(
            x=data[:, feature],
            y=values[:, feature],
            mode="markers",
            marker=dict(
                color=data[:, inter],
                colorscale="Bluered",
                size=7,
                colorbar=dict(title=wrap_label(e.feature_names[inter], 14)),
            ),
        )
    )
    fig.update_layout(
        title=f"Dependence: {e.feature_names[feature]}",
        xaxis_title=f"{e.feature_names[feature]} value",
        yaxis_title="SHAP value",
    )
    return captioned(
        fig,
        f"How the value of {e.feature_names[feature]} changes its push on the output; colour "
        f"shows {e.feature_names[inter]}, the feature it interacts with most.",
    )


def image_attribution(
    values: np.ndarray,
    image: np.ndarray | None = None,
    *,
    title="Pixel attributions",
    caption: str = "",
    limit: float | None = None,
) -> go.Figure:
    """A diverging heatmap of per-pixel SHAP values (H, W), with the image as faint contours when given. The colour
    range is ±``limit`` (default: the largest |value|); give several figures one limit so their colours compare."""
    v = np.asarray(values, dtype=float)
    lim = float(limit or np.abs(v).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=v, colorscale=DIVERGING, zmin=-lim, zmax=lim, colorbar=dict(title="SHAP")))
    if image is not None:
        fig.add_trace(
            go.Contour(
                z=np.asarray(image, dtype=float),
                showscale=False,
                contours_coloring="lines",
                colorscale=[[0, "black"], [1, "black"]],
                line=dict(width=1),
                ncontours=4,
                hoverinfo="skip",
            )
        )
    fig.update_layout(title=title, yaxis=dict(autorange="reversed", scaleanchor="x"), xaxis=dict(constrain="domain"))
    return captioned(fig, caption or "Red pixels push the prediction up, blue pixels push it down.")


def image_attribution_slider(
    values: np.ndarray,
    images: np.ndarray,
    *,
    labels: Sequence[str] | None = None,
    title: str = "Pixel attributions",
    caption: str = "",
    limit: float | None = None,
) -> go.Figure:
    """:func:`image_attribution` for several examples, values and images (n, H, W), one at a time: a slider (and
    Play) picks the example; ``labels`` name the slider's steps (default 1..n). Every example shares one colour
    range, ±``limit`` (default: the largest |value| of all of them)."""
    values, images = np.asarray(values, dtype=float), np.asarray(images, dtype=float)
    labels = [str(t) for t in (labels if labels is not None else range(1, len(values) + 1))]
    limit = float(limit or np.abs(values).max()) or 1.0
    fig = image_attribution(values[0], images[0], title=title, caption=caption, limit=limit)
    fig.frames = [
        go.Frame(data=image_attribution(v, im, limit=limit).data, name=t) for v, im, t in zip(values, images, labels)
    ]
    fig.update_layout(**play_controls(labels, 800, y=-0.05, prefix="example "))
    return fig


def montage_array(
    images: np.ndarray, cols: int, shape: tuple[int, int] | None = None, gap: float = np.nan
) -> np.ndarray:
    """Tile images (n, H, W), or flat ones (n, H*W) with ``shape``, into one array, one ``gap`` pixel between."""
    images = np.asarray(images, dtype=float)
    h, w = shape or images.shape[1:3]
    images = images.reshape(len(images), h, w)
    rows = -(-len(images) // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), gap)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = img
    return out


def image_montage(
    images: np.ndarray,
    cols: int,
    *,
    shape: tuple[int, int] | None = None,
    title: str = "",
    caption: str = "",
    row_labels: Sequence[str] | None = None,
    zmin: float = 0.0,
    zmax: float = 1.0,
    colorscale: str = "Greys",
    height: int | None = None,
) -> go.Figure:
    """A grid of grey images (n, H, W) or flat (n, H*W) with ``shape``, ``cols`` per row; ``row_labels``
    name the rows on the y-axis (e.g. the training step each row was drawn at)."""
    images = np.asarray(images, dtype=float)
    h, w = shape or images.shape[1:3]
    fig = go.Figure(
        go.Heatmap(
            z=montage_array(images, cols, (h, w)),
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            showscale=False,
            hoverinfo="skip",
        )
    )
    yaxis = dict(autorange="reversed", scaleanchor="x", visible=row_labels is not None)
    if row_labels is not None:
        yaxis.update(
            tickvals=[(h - 1) / 2 + (h + 1) * k for k in range(len(row_labels))],
            ticktext=list(row_labels),
            showgrid=False,
            zeroline=False,
        )
    fig.update_layout(title=title, yaxis=yaxis, xaxis_visible=False, **({"height": height} if height else {}))
    return captioned(fig, caption or "Each tile is one image.")


def image_grid(
    images: np.ndarray,
    cols: int,
    *,
    titles: Sequence[str] = (),
    title: str = "",
    caption: str = "",
    zmin: float = 0.0,
    zmax: float = 1.0,
    colorscale: str = "Greys",
) -> go.Figure:
    """Grey images (n, H, W) in a grid of small panels, ``cols`` per row, each with its own short title above it
    (labels that never overlap a neighbouring image, unlike text drawn onto a montage)."""
    from plotly.subplots import make_subplots

    images = np.asarray(images, dtype=float)
    rows = max(1, -(-len(images) // cols))
    height = 90 + 105 * rows
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[str(t) for t in titles] or None,
        horizontal_spacing=0.02,
        vertical_spacing=min(0.3, 26 / max(height - 90, 1)),
    )
    for k, img in enumerate(images):
        fig.add_trace(
            go.Heatmap(z=img, colorscale=colorscale, zmin=zmin, zmax=zmax, showscale=False, hoverinfo="skip"),
            row=k // cols + 1,
            col=k % cols + 1,
        )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed")
    for k in range(rows * cols):  # square pixels in every panel
        fig.update_yaxes(scaleanchor=f"x{k + 1 if k else ''}", row=k // cols + 1, col=k % cols + 1)
    fig.update_annotations(font_size=11)
    if not len(images):
        fig.add_annotation(text="None", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=80, b=10))  # room for both titles
    return captioned(fig, caption or "Each panel is one image.")


def importance_comparison(
    names: Sequence[str],
    shap_importance: np.ndarray,
    permutation: np.ndarray,
    permutation_err: np.ndarray,
    loss_name: str = "loss",
) -> go.Figure:
    """SHAP mean |value| beside permutation importance with its error bars, each in its own units."""
    from plotly.subplots import make_subplots

    order = np.argsort(shap_importance)
    labels = np.asarray(names)[order]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("SHAP: mean |value|", f"Permutation: rise in test {loss_name}"),
    )
    fig.add_trace(
        go.Bar(y=labels, x=np.asarray(shap_importance)[order], orientation="h", name="SHAP", marker_color="#1f77b4"),
        1,
        1,
    )
    fig.add_trace(
        go.Bar(
            y=labels,
            x=np.asarray(permutation)[order],
            orientation="h",
            name="Permutation",
            marker_color="#ff7f0e",
            error_x=dict(type="data", array=2 * np.asarray(permutation_err)[order]),
        ),
        1,
        2,
    )
    fig.update_layout(
        title="Which inputs matter: SHAP and permutation importance",
        showlegend=False,
        height=max(320, 30 * len(names) + 140),
    )
    return captioned(
        fig,
        "Two independent ways to rank inputs. SHAP splits each prediction among the inputs; "
        "permutation importance shuffles one input on the test rows and measures how much worse "
        f"the {loss_name} gets (bars: ± 2 standard errors over repeats; a bar whose error "
        "reaches zero is not clearly important). When both rank an input high, trust it more.",
    )


# --- comparing runs ---------------------------------------------------------------------------------------


RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")  # one per compared run (up to 6)


def overlay_curves(
    histories: Mapping[str, pd.DataFrame], metric: str, *, label: str = "", x: str = "step", unit: str = ""
) -> go.Figure:
    """One line per run for the same per-step metric, on one chart: ``histories`` maps a short run label (the
    legend) to that run's history; runs without the metric are left out. ``label``: the metric as a person reads it;
    ``unit``: what a step counts (the runs' ``config.step_unit()``), the x-axis title (else ``x``)."""
    label = label or metric.replace("_", " ").capitalize()
    unit = unit or x.replace("_", " ")
    fig = go.Figure()
    for i, (run, history) in enumerate(histories.items()):
        if metric not in history or x not in history:
            continue
        fig.add_trace(
            go.Scatter(
                x=history[x],
                y=history[metric],
                mode="lines",
                name=run,
                line=dict(color=RUN_COLORS[i % len(RUN_COLORS)], width=2),
                hovertemplate=f"{run}<br>{unit} %{{x}}: %{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"{label}, by run",
        xaxis_title=unit,
        yaxis_title=label,
        hovermode="closest",
        height=380,
        legend=LEGEND_ABOVE,  # above the plot: a legend below it covers the x-axis title
        margin=dict(l=10, r=10, t=90, b=10),
    )
    return captioned(fig, f"{label} for each selected run, {unit} by {unit}: one colour per run.")


def settings_vs_metric(
    settings: pd.DataFrame, values: Sequence[float], *, metric_label: str, run_labels: Sequence[str] | None = None
) -> go.Figure:
    """Each run's settings against one result number. ``settings``: one row per run, one column per setting (its
    plain label); ``values``: the metric of each run. Settings that are the same in every run are left out. Two or
    more varying settings: parallel coordinates (one line per run, coloured by the metric); one: a scatter of the
    metric against it; none: the metric of each run. Text settings become evenly spaced ticks."""
    values = [float(v) for v in values]
    varying = [c for c in settings.columns if settings[c].astype(str).nunique() > 1]
    names = list(run_labels) if run_labels is not None else [f"run {i + 1}" for i in range(len(values))]
    if len(varying) >= 2:
        dimensions = [_parallel_axis(c, settings[c]) for c in varying]
        dimensions.append(dict(label=metric_label, values=values))
        fig = go.Figure(
            go.Parcoords(
                dimensions=dimensions,
                line=dict(color=values, colorscale="Viridis", showscale=True, colorbar=dict(title=metric_label)),
                labelangle=-12,
                labelside="top",
                labelfont=dict(size=12),
                rangefont=dict(size=10),
            )
        )
        fig.update_layout(
            title=dict(text=f"Settings against {metric_label}", y=0.98, yanchor="top"),
            height=460,
            margin=dict(l=60, r=60, t=130, b=30),
        )
        caption = (
            f"One line per run, through its settings to its {metric_label} (the last axis, and the colour). "
            "Drag along an axis to pick out runs."
        )
    else:
        x = settings[varying[0]].tolist() if varying else names
        fig = go.Figure(
            go.Scatter(
                x=x,
                y=values,
                mode="markers",
                text=names,
                marker=dict(size=11, color=values, colorscale="Viridis", showscale=False),
                hovertemplate="%{text}<br>%{x}: %{y:.4g}<extra></extra>",
            )
        )
        fig.update_layout(
            title=f"{varying[0] if varying else 'Run'} against {metric_label}",
            xaxis_title=varying[0] if varying else "run",
            yaxis_title=metric_label,
            height=400,
        )
        caption = (
            f"Each dot is one run: its {varying[0]} and its {metric_label}."
            if varying
            else f"These runs used the same settings; each dot is one run's {metric_label}."
        )
    return captioned(fig, caption)


def _parallel_axis(label: str, column: pd.Series) -> dict:
    """One axis of a parallel-coordinates chart: numbers as they are, text (and yes/no) as evenly spaced ticks."""
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all() and not column.map(lambda v: isinstance(v, bool)).any():
        return dict(label=label, values=numeric.astype(float).tolist())
    levels = sorted(column.astype(str).unique())
    code = {v: i for i, v in enumerate(levels)}
    return dict(
        label=label,
        values=[code[v] for v in column.astype(str)],
        tickvals=list(range(len(levels))),
        ticktext=levels,
    )


def compare_importance(
    importances: Mapping[str, tuple[Sequence[str], np.ndarray]], max_features: int = 15
) -> go.Figure:
    """Global SHAP importance (mean |value|) per feature, one bar group per run."""
    names = list(dict.fromkeys(n for feats, _ in importances.values() for n in feats))
    total = {n: 0.0 for n in names}
    for feats, values in importances.values():
        for n, v in zip(feats, values):
            total[n] += float(v)
    keep = sorted(names, key=lambda n: total[n])[-max_features:]
    fig = go.Figure()
    for label, (feats, values) in importances.items():
        lookup = dict(zip(feats, np.asarray(values, dtype=float)))
        fig.add_trace(go.Bar(y=keep, x=[lookup.get(n, 0.0) for n in keep], orientation="h", name=label))
    fig.update_layout(
        title="SHAP global importance by run",
        barmode="group",
        xaxis_title="mean |SHAP value|",
        height=max(320, 40 * len(keep) + 120),
        legend=dict(orientation="h", y=-0.15),
    )
    return captioned(fig, "Do the runs rely on the same inputs? Each bar is a feature's average impact in one run.")


# --- the network itself (issue 18: "see the network") --------------------------------------------------------

MAX_BLOCKS = 20  # deeper modules fold into their parents until the diagram has at most this many blocks
KIND_COLOURS = {
    "conv": "#9ecae1",
    "linear": "#fdae6b",
    "embedding": "#fdd0a2",
    "norm": "#dadaeb",
    "attention": "#bcbddc",
    "pool": "#a1d99b",
    "activation": "#f2f2f2",
    "other": "#e5e5e5",
}


def _kind(module) -> str:
    name = type(module).__name__.lower()
    for kind in ("conv", "linear", "embedding", "norm", "attention", "pool"):
        if kind in name:
            return kind
    if name in (
        "relu",
        "tanh",
        "elu",
        "gelu",
        "sigmoid",
        "leakyrelu",
        "softmax",
        "silu",
        "dropout",
        "flatten",
        "unflatten",
        "identity",
    ):
        return "activation"
    return "other"


def _settings(module) -> str:
    """A short description of a layer's own settings, e.g. '64 → 10' or '1 → 32, 3x3'."""
    m, name = module, type(module).__name__
    if hasattr(m, "in_features") and hasattr(m, "out_features"):
        return f"{m.in_features} → {m.out_features}"
    if hasattr(m, "in_channels") and hasattr(m, "kernel_size"):
        k = "x".join(map(str, m.kernel_size)) if isinstance(m.kernel_size, tuple) else str(m.kernel_size)
        return f"{m.in_channels} → {m.out_channels}, {k}"
    if hasattr(m, "num_embeddings"):
        return f"{m.num_embeddings} × {m.embedding_dim}"
    if name.startswith("Dropout"):
        return f"p={m.p:g}"
    if hasattr(m, "normalized_shape") or hasattr(m, "num_features"):
        return " × ".join(map(str, getattr(m, "normalized_shape", None) or (m.num_features,)))
    if "Pool" in name and hasattr(m, "kernel_size"):
        k = m.kernel_size
        return "x".join(map(str, k)) if isinstance(k, tuple) else f"{k}x{k}" if "2d" in name else str(k)
    if _kind(m) == "activation":
        return ""
    text = m.extra_repr() if not list(m.children()) else ""
    return text if len(text) <= 32 else text[:31] + "…"


def _first_tensor(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((t for t in map(_first_tensor, value) if t is not None), None)
    if isinstance(value, dict):
        return next((t for t in map(_first_tensor, value.values()) if t is not None), None)
    return None


def _own_parameters(m) -> bool:
    return any(True for _ in m.parameters(recurse=False))


def _blocks(module: torch.nn.Module) -> list[tuple[str, torch.nn.Module, bool]]:
    """(dotted name, module, whole subtree?) for the diagram's blocks: the deepest level with at most
    ``MAX_BLOCKS`` blocks. A layer with weights of its own (e.g. attention) is one block with everything inside
    it; the root's own weights (e.g. a positional table) become a block of their own."""
    named: list[tuple[str, torch.nn.Module]] = []
    atoms: list[str] = []
    for n, m in module.named_modules():
        if n and not any(n.startswith(a + ".") for a in atoms):
            named.append((n, m))
            if _own_parameters(m) or not list(m.children()):
                atoms.append(n)
    if not named:
        return [("", module, True)]
    depth = lambda n: n.count(".") + 1
    for limit in range(max(depth(n) for n, _ in named), 0, -1):
        blocks = [(n, m, True) for n, m in named if depth(n) == limit or (depth(n) < limit and n in atoms)]
        blocks += [("", module, False)] if _own_parameters(module) else []
        if len(blocks) <= MAX_BLOCKS or limit == 1:
            return blocks
    return []


def layer_summary(module, example=None) -> tuple[list[dict], str]:
    """The network as blocks: [{name, layer, settings, kind, output, parameters}], in the order a forward pass
    on ``example`` (a batch, or None) calls them, and a note ('' or why shapes are missing).

    ``parameters`` counts each parameter tensor once, in the first block that holds it, so the blocks add up to
    ``sum(p.numel() for p in module.parameters())``; ``output`` is the block's output shape per example (the
    batch dimension left out), '' when not traced.
    """
    blocks, seen = _blocks(module), set()
    rows: list[dict[str, Any]] = []
    for name, m, whole in blocks:
        params = m.parameters() if whole else m.parameters(recurse=False)
        count = 0
        for p in params:
            if id(p) not in seen:
                seen.add(id(p))
                count += p.numel()
        label = name or type(module).__name__
        own = ", ".join(f"{n} {' × '.join(map(str, p.shape))}" for n, p in m.named_parameters(recurse=False))
        rows.append(
            {
                "name": label if whole else f"{label} (own weights)",
                "layer": type(m).__name__ if whole else f"{type(m).__name__}: own weights",
                "settings": _settings(m) if whole else own[:40],
                "kind": _kind(m),
                "output": "",
                "parameters": int(count),
                "order": len(rows) + 10_000,
            }
        )
    note = "no example input to trace shapes with" if example is None else ""
    if example is not None:
        note = _trace(module, example, blocks, rows)
    rows.sort(key=lambda r: r["order"])
    return [{k: v for k, v in r.items() if k != "order"} for r in rows], note


def _trace(module, example, blocks, rows) -> str:
    """Run ``example`` through ``module`` with a forward hook on every whole block; fill output shapes and the
    call order in ``rows``. Returns '' or the reason the trace failed (the diagram then has no shapes)."""
    import torch

    calls: list[int] = []

    def hook(i):
        def record(_m, _inputs, output):
            t = _first_tensor(output)
            if not rows[i]["output"] and t is not None:
                rows[i]["output"] = " × ".join(map(str, t.shape[1:])) or "1"
                rows[i]["order"] = len(calls)
                calls.append(i)

        return record

    handles = [m.register_forward_hook(hook(i)) for i, (_, m, whole) in enumerate(blocks) if whole]
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(example)
        return ""
    except Exception as e:  # a model whose forward takes something else: the diagram keeps its counts
        for i, r in enumerate(rows):
            r["output"], r["order"] = "", i  # no partial shapes: the blocks in module order
        return f"shapes not traced ({type(e).__name__})"
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()


def example_input(module):
    """A small dummy batch the module's first layer accepts (zeros), or None when that cannot be guessed."""
    import torch

    first = next((m for m in module.modules() if _own_parameters(m) and not list(m.children())), None)
    if first is None:
        return None
    if hasattr(first, "num_embeddings"):
        return torch.zeros(2, 8, dtype=torch.long)  # (B, T) token ids
    if hasattr(first, "in_features"):
        return torch.zeros(2, first.in_features)
    if hasattr(first, "in_channels") and hasattr(first, "kernel_size"):
        spatial = (8,) * len(first.kernel_size) if isinstance(first.kernel_size, tuple) else (8,)
        return torch.zeros(2, first.in_channels, *spatial)  # (B, C, 8, ...): the size this project's images have
    return None


def model_diagram(module, input_shape=None, *, title: str = "The network", dtype=None):
    """A Plotly diagram of a torch module: one block per layer, top to bottom in the order the forward pass calls
    them, with each block's output shape and weights, and the total. ``input_shape`` is one example's shape
    (without the batch dimension); None guesses it from the first layer."""
    import torch

    if input_shape is not None:
        example = torch.zeros(2, *input_shape, dtype=dtype or torch.float32)
    else:
        example = example_input(module)
    rows, note = layer_summary(module, example)
    return diagram_figure(rows, title=title, note=note)


def shape_words(output: str) -> str:
    """A block's output shape per example in words: '8 × 32' -> '8 tokens × 32 numbers each' (sequence models),
    '4 × 8 × 8' -> '4 maps of 8 × 8' (image models), '10' -> '10 numbers'."""
    dims = output.split(" × ")
    if len(dims) == 1:
        return f"{dims[0]} number{'s' * (dims[0] != '1')}"
    if len(dims) == 2:
        return f"{dims[0]} tokens × {dims[1]} numbers each"
    if len(dims) == 3:
        return f"{dims[0]} maps of {dims[1]} × {dims[2]}"
    return output


def diagram_figure(rows: list[dict], *, title: str, note: str = "") -> go.Figure:
    """Draw :func:`layer_summary` rows: labelled blocks with arrows on the left, weights per block as bars on the
    right; ``layout.meta["total_parameters"]`` holds the total."""
    from plotly.subplots import make_subplots

    n, total = len(rows), sum(r["parameters"] for r in rows)
    ys = list(range(n, 0, -1))  # first block on top
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.62, 0.38], horizontal_spacing=0.02)
    for r, y in zip(rows, ys):
        _diagram_block(fig, r, y, top=y == n)
    fig.add_trace(
        go.Bar(
            x=[r["parameters"] for r in rows],
            y=ys,
            orientation="h",
            marker_color="#6baed6",
            text=[f"{r['parameters']:,}" if r["parameters"] else "" for r in rows],
            textposition="outside",
            textangle=0,
            cliponaxis=False,
            customdata=[[r["name"], r["output"] or "not traced", r["parameters"] / max(total, 1)] for r in rows],
            hovertemplate="%{customdata[0]}<br>output per example: %{customdata[1]}<br>"
            "%{x:,} weights (%{customdata[2]:.1%} of all)<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(visible=False, range=[0, 1], row=1, col=1)
    fig.update_xaxes(
        title_text="weights in the block", row=1, col=2, range=[0, max([r["parameters"] for r in rows] + [1]) * 1.3]
    )
    fig.update_yaxes(visible=False, range=[0.4, n + 0.6])
    fig.update_layout(
        title=f"{title}: {total:,} weights in {n} block{'s' * (n != 1)}",
        height=120 + 40 * n,
        margin=dict(l=10, r=10, t=50, b=40),
        bargap=0.25,
    )
    caption = (
        "Layers top to bottom in the order the input flows through them, each with its settings and the "
        "shape it passes on for one example (→). Bars: how many weights each block holds."
    )
    fig = captioned(fig, caption + (f" Output shapes are missing: {note}." if note else ""))
    fig.layout.meta = {**fig.layout.meta, "total_parameters": total}
    return fig


def _diagram_block(fig: go.Figure, r: dict, y: int, top: bool) -> None:
    """One block of :func:`diagram_figure` at height ``y``: its box, its words, its path and the arrow from the
    block above (none on the ``top`` block)."""
    fig.add_shape(
        type="rect",
        x0=0,
        x1=1,
        y0=y - 0.38,
        y1=y + 0.38,
        row=1,
        col=1,
        line=dict(color="#555", width=1),
        fillcolor=KIND_COLOURS.get(r["kind"], KIND_COLOURS["other"]),
    )
    settings = f" ({r['settings']})" if r["settings"] else ""
    shape = f" → {shape_words(r['output'])}" if r["output"] else ""
    words = dict(y=y, xref="x", yref="y", showarrow=False)
    fig.add_annotation(
        x=0.03, xanchor="left", font=dict(size=11), text=f"<b>{r['layer']}</b>{settings}{shape}", **words
    )
    if not r["name"].isdigit() and "own weights" not in r["name"]:  # a nested layer's path (enc.layers.0.linear1)
        fig.add_annotation(x=0.97, xanchor="right", font=dict(size=9, color="#666"), text=r["name"], **words)
    if not top:
        fig.add_annotation(
            x=0.5,
            y=y + 0.38,
            ax=0.5,
            ay=y + 0.62,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowwidth=1,
            text="",
        )


def cosine_heatmap(z: np.ndarray, labels: Sequence | np.ndarray, hover: str) -> go.Heatmap:
    """A (n, n) cosine-similarity heatmap trace on the diverging scale, -1 to 1; ``hover`` names the pair, e.g.
    "positions %{y} and %{x}"."""
    return go.Heatmap(
        z=z,
        x=labels,
        y=labels,
        colorscale=DIVERGING,
        zmin=-1,
        zmax=1,
        colorbar=dict(title="cosine"),
        hovertemplate=f"{hover}: %{{z:.2f}}<extra></extra>",
    )
