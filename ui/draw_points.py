"""A drawing pad on a Plotly chart: click to add a point, drag a loop to fill a region with points, undo, clear.

The pad is a scatter of faint grid dots (the 41 x 41 grid a drawing snaps to, see :mod:`engine.gan.drawing`); Streamlit
reports the dots a click or a loop selects (``st.plotly_chart(on_select=...)``), and they join the drawing. The
drawing is one setting of the page's form (its text is what the link carries), so the form, the link and a stored
run all hold the same thing. Nothing a visitor typed is shown: a drawing's text is only ever decoded to numbers.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.gan.drawing import LEVELS, MAX_POINTS, DrawingError, check, encode, groups, parse
from ui.form import set_setting, setting

GROUP_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
PAD_LIMIT = 1.08  # the pad shows [-limit, limit]², a little beyond the grid so its edge dots are easy to hit


def pad_figure(points: np.ndarray):
    """The grid dots (trace 0, what a click selects) and the drawn points coloured by group (trace 1)."""
    import plotly.graph_objects as go

    ticks = np.linspace(-1, 1, LEVELS)
    xx, yy = np.meshgrid(ticks, ticks)
    faint = dict(marker=dict(opacity=0.3))
    dots = go.Scatter(
        x=xx.ravel(),
        y=yy.ravel(),
        mode="markers",
        name="grid",
        marker=dict(size=6, color="#9e9e9e", opacity=0.3),
        selected=faint,
        unselected=faint,
        hovertemplate="click to add a point at (%{x:.2f}, %{y:.2f})<extra></extra>",
        showlegend=False,
    )
    label = groups(points) if len(points) else np.zeros(0, dtype=int)
    colours = [GROUP_COLOURS[k % len(GROUP_COLOURS)] for k in label]
    solid = dict(marker=dict(opacity=1))
    drawn = go.Scatter(
        x=points[:, 0],
        y=points[:, 1],
        mode="markers",
        name="your points",
        marker=dict(size=11, color=colours, line=dict(width=1, color="white")),
        selected=solid,
        unselected=solid,
        hovertemplate="drawn point (%{x:.2f}, %{y:.2f})<extra></extra>",
        showlegend=False,
    )
    fig = go.Figure([dots, drawn])
    fig.update_xaxes(range=[-PAD_LIMIT, PAD_LIMIT], title="x1", constrain="domain", fixedrange=True)
    fig.update_yaxes(range=[-PAD_LIMIT, PAD_LIMIT], title="x2", scaleanchor="x", fixedrange=True)
    fig.update_layout(height=460, margin=dict(l=40, r=10, t=30, b=40))  # click mode and drag mode: Streamlit's
    return fig


def _picked(state) -> list[tuple[float, float]]:
    """The grid dots a click or a loop selected (drawn points and the rest are left out)."""
    try:
        chosen = state["selection"]["points"]
    except (KeyError, TypeError):
        return []
    return [(float(p["x"]), float(p["y"])) for p in chosen if p.get("curve_number", 0) == 0 and "x" in p]


def _current(name: str) -> np.ndarray:
    """The drawing the form holds now; a drawing that cannot be read is cleared, with a message."""
    try:
        return parse(setting(name, "drawing", "") or "")
    except DrawingError as e:
        set_setting(name, "drawing", "")
        st.session_state[f"{name}._pad_note"] = str(e)
        return np.zeros((0, 2), dtype=np.float32)


def _take_selection(name: str, points: np.ndarray) -> np.ndarray:
    """Add what the pad's last click or loop selected (once: the same selection read again adds nothing)."""
    picked = _picked(st.session_state.get(f"{name}._pad"))
    seen_key = f"{name}._pad_seen"
    signature = tuple(picked)
    if not picked or signature == st.session_state.get(seen_key):
        st.session_state[seen_key] = signature
        return points
    st.session_state[seen_key] = signature
    new = np.concatenate([points, np.asarray(picked, dtype=np.float32)])
    if len(new) > MAX_POINTS:
        st.session_state[f"{name}._pad_note"] = (
            f"That loop would make {len(new):,} points; at most {MAX_POINTS} fit in a link, so it was not added. "
            "Draw a smaller loop, or click single points."
        )
        return points
    set_setting(name, "drawing", encode(new))
    return parse(setting(name, "drawing"))


def drawing_pad(name: str) -> dict | None:
    """The pad with Undo and Clear; returns ``{"drawing": text}`` when it can be learned, else None after saying why."""
    points = _take_selection(name, _current(name))

    def undo():
        set_setting(name, "drawing", (setting(name, "drawing", "") or "")[:-2])

    def clear():
        set_setting(name, "drawing", "")

    st.markdown(
        "**Draw the data:** click on the chart to add a point. To fill a region, pick **Lasso Select** (the loop at "
        "the chart's top right) and draw a loop around it."
    )
    st.plotly_chart(
        pad_figure(points),
        on_select="rerun",
        selection_mode=("points", "lasso", "box"),
        key=f"{name}._pad",
        width="stretch",
        config={"displayModeBar": True, "displaylogo": False, "modeBarButtonsToRemove": ["toImage"]},
    )
    undo_col, clear_col, _ = st.columns([1, 1, 4])
    undo_col.button("Undo last point", key=f"{name}._pad_undo", on_click=undo, disabled=not len(points))
    clear_col.button("Clear", key=f"{name}._pad_clear", on_click=clear, disabled=not len(points))
    note = st.session_state.pop(f"{name}._pad_note", None)
    if note:
        st.warning(note, icon=":material/gesture:")
    try:
        check(points)
    except DrawingError as e:
        (st.info if len(points) == 0 else st.warning)(str(e), icon=":material/draw:")
        return None
    k = int(groups(points).max()) + 1
    st.caption(
        f"{len(points)} points in {k} group{'s' if k > 1 else ''} (one colour each). Each point becomes a small blob "
        "of data (its width is the spread setting); coverage counts whether the generator reaches every group."
    )
    return {"drawing": setting(name, "drawing")}
