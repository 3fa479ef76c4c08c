"""The Try it inputs, one function per technique: ``<technique>(name, bundle) -> inputs`` (None: nothing to ask).

Each draws its widgets (keys start with ``<name>.try.``) and returns the dict that technique's
``engine/<name>/tryit.answer`` takes. Streamlit-only; the engine never sees a widget.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import streamlit as st

from engine.core.export import markdown_text

VISIBLE_FEATURES = 5  # sliders shown before "all features"


def _slider_range(values: np.ndarray) -> tuple[float, float, float]:
    """(lowest, highest, step) for a feature's slider: its training range padded by a tenth, on a grid of about
    200 steps. The bounds are exact decimals on that grid (0.612, never 0.6120000000000001): the browser sends
    the value it shows, and Streamlit resets a value that falls outside the bounds to the slider's default."""
    lo, hi = float(values.min()), float(values.max())
    pad = 0.1 * (hi - lo) or 1.0
    lo, hi = lo - pad, hi + pad
    step = float(f"{(hi - lo) / 200:.2g}")
    return _on_grid(lo, step), _on_grid(hi, step), step


def _on_grid(value: float, step: float) -> float:
    """The multiple of ``step`` nearest ``value``, written with no more decimals than ``step`` has."""
    places = max(0, -int(Decimal(repr(step)).as_tuple().exponent))
    return round(round(value / step) * step, places)


def _feature_slider(name: str, bundle, start: int, j: int, value: float) -> float:
    lo, hi, step = _slider_range(bundle.X_train_raw[:, j])
    value = float(min(max(_on_grid(float(value), step), lo), hi))
    return st.slider(
        markdown_text(bundle.feature_names[j]),  # an uploaded column's name: a label is Markdown
        lo,
        hi,
        value,
        step,
        key=f"{name}.try.{start}.{j}",
        help="Move it to see how the prediction and its explanation change.",
    )


def xai(name: str, bundle) -> dict:
    """A slider per feature, starting from a chosen test row; the most influential features first."""
    n_test = len(bundle.X_test_raw)
    start = st.number_input(
        "Start from test row",
        0,
        n_test - 1,
        0,
        key=f"{name}.try.start",
        help="The sliders start at this held-out row's values; move them to ask 'what if?'.",
    )
    row = bundle.X_test_raw[start].astype(np.float64)
    order = bundle.ranking
    values = row.copy()
    st.caption("Feature values in the table's own units. The top slider is the feature that moves this model most.")
    cols = st.columns(min(VISIBLE_FEATURES, len(order)))
    for k, j in enumerate(order[:VISIBLE_FEATURES]):
        with cols[k % len(cols)]:
            values[j] = _feature_slider(name, bundle, start, j, row[j])
    if len(order) > VISIBLE_FEATURES:
        with st.expander(f"All {len(order)} features"):
            rest = st.columns(3)
            for k, j in enumerate(order[VISIBLE_FEATURES:]):
                with rest[k % 3]:
                    values[j] = _feature_slider(name, bundle, start, j, row[j])
    return {"row": values}


# --- shared input widgets ----------------------------------------------------------------------------------


def start_image_text(index: int, digits: Sequence[str] | None = None) -> str:
    """What the chosen start image is, in words: 'test image 1 (a 3)'. ``index`` counts from 0 (the number box's
    value), so the first image is number 0; ``digits`` name each image's true digit, when known."""
    return f"test image {index}" + (f" (a {digits[index]})" if digits is not None else "")


def digit_editor(name: str, images: np.ndarray, digits: Sequence[str] | None = None) -> np.ndarray:
    """An 8x8 grid of ink values 0-16 (scikit-learn's digits scale), starting from a chosen test image; ``digits``
    name each image's true digit (shown next to the choice). Returns the image (8, 8) in [0, 1]."""
    import pandas as pd

    start = st.number_input(
        "Start from test image number",  # a position in the test set, not the digit drawn: the caption names that
        0,
        len(images) - 1,
        0,
        key=f"{name}.try.digit",
        help="The grid starts as this held-out image; edit any cell to redraw it.",
    )
    st.caption(f"Starting from {start_image_text(int(start), digits)}.")
    cells = pd.DataFrame(
        np.rint(np.asarray(images[start]).reshape(8, 8) * 16).astype(int), columns=[str(c + 1) for c in range(8)]
    )
    st.caption("Draw by editing the grid: 0 is blank paper, 16 is full ink.")
    edited = st.data_editor(
        cells,
        key=f"{name}.try.grid.{start}",
        num_rows="fixed",
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(c, min_value=0, max_value=16, step=1, required=True) for c in cells.columns
        },
    )
    return np.clip(edited.to_numpy(dtype=np.float32), 0, 16) / 16


def example_text(name: str, examples: list[str], label: str, help: str, area: bool = False) -> str:
    """A text box starting from a chosen example (examples are shown as plain text, never Markdown)."""
    pick = st.selectbox(
        "Start from a test example",
        range(len(examples)),
        key=f"{name}.try.example",
        format_func=lambda i: examples[i][:90],
    )
    box = st.text_area if area else st.text_input
    return box(label, value=examples[pick], key=f"{name}.try.text.{pick}", max_chars=1000, help=help)


def selected_point(key: str):
    """(x, y) of the point last clicked on the selectable chart ``key``, or None."""
    state = st.session_state.get(key)
    points = (state or {}).get("selection", {}).get("points", []) if hasattr(state, "get") else []
    if not points:
        return None
    return float(points[0]["x"]), float(points[0]["y"])


# --- per technique -----------------------------------------------------------------------------------------


def transfer(name: str, bundle) -> dict:
    """Text: your sentence. Images: your digit on an 8x8 grid."""
    if bundle.track == "text":
        return {
            "sentence": example_text(
                name,
                bundle.examples,
                "Your sentence",
                area=True,
                help="Type anything; every trained strategy classifies it.",
            )
        }
    digits = None if bundle.y_test is None else [bundle.class_names[int(k)] for k in bundle.y_test]
    return {"image": digit_editor(name, bundle.X_test[:, 0], digits)}


REAL_MODE = "A real pretrained model (MiniLM) beside it"
TOY_MODE = "The model this run trained"


def attention(name: str, bundle) -> dict:
    """Type or edit a sequence (digits: draw on the grid); or look inside the real pretrained model."""
    linked = "look" in st.query_params  # a link to a sentence in the real model opens on it
    mode = st.radio(
        "Look inside",
        [TOY_MODE, REAL_MODE],
        index=1 if linked else 0,
        key=f"{name}.try.mode",
        horizontal=True,
        help="The real model is all-MiniLM-L6-v2, a sentence encoder trained on about a billion sentence pairs "
        "(6 layers x 12 heads); it runs beside the toy transformer this run trained.",
    )
    from engine.attention import pretrained

    if mode == REAL_MODE:
        if not pretrained.loaded():
            with st.spinner("Loading the pretrained model (once per server, a few seconds)…"):
                pretrained.model()
        return real_model(name, bundle)
    pretrained.warm_up()  # ready by the time the person switches to the real model
    for param in ("look", "layer", "head"):
        st.query_params.pop(param, None)
    if bundle.row_width:
        return {"image": digit_editor(name, np.asarray(bundle.examples))}
    hint = {
        "first_marked": "letters a-j with one X and one Y, e.g. abXcdeYfghij",
        "brackets": "a string of ( and ), e.g. (()())((()))()()()",
        "sentiment": "a short review, e.g. the food was not good",
    }[bundle.task]
    return {
        "text": example_text(
            name, bundle.examples, "Your sequence", help=f"Type {hint}; at most {bundle.max_len} tokens."
        )
    }


def _head_from_click(name: str) -> None:
    """A click on the small-multiples chart opens that head: head h of layer l fills the square [h, h+1) x [l, l+1)."""
    clicked = selected_point(f"{name}.try.grid")
    if clicked is not None and st.session_state.get(f"{name}.try._grid_clicked") != clicked:
        st.session_state[f"{name}.try._grid_clicked"] = clicked
        st.session_state[f"{name}.try.head"] = int(np.clip(int(clicked[0]) + 1, 1, 12))
        st.session_state[f"{name}.try.layer"] = int(np.clip(int(clicked[1]) + 1, 1, 6))


def _linked_int(param: str, top: int) -> int:
    try:
        return int(np.clip(int(st.query_params.get(param, 1)), 1, top))
    except ValueError:
        return 1


def _use_example(examples: list[str], pick_key: str, text_key: str) -> None:
    """A picked example replaces the sentence in the box."""
    if st.session_state.get(pick_key) is not None:
        st.session_state[text_key] = examples[st.session_state[pick_key]]


def real_model(name: str, bundle) -> dict:
    """A sentence (typed, or from the examples) and a layer and head of the real model; kept in the page address
    (``look``, ``layer``, ``head``) so the view has its own link."""
    from engine.attention.tryit import real_examples

    examples, text_key, pick_key = real_examples(bundle), f"{name}.try.real.text", f"{name}.try.real.example"
    # The sentence lives in its own state, set once (from a link or the first example) and by picking an example:
    # choosing a layer or head never puts an example back over what the person typed.
    st.session_state.setdefault(text_key, (st.query_params.get("look") or examples[0])[:500])
    st.caption("Type any English sentence (up to about 60 word pieces). Head types are measured on it, not assumed.")
    _head_from_click(name)
    st.selectbox(
        "Start from an example",
        range(len(examples)),
        index=None,
        placeholder="Pick an example sentence",
        key=pick_key,
        format_func=lambda i: examples[i],
        on_change=_use_example,
        args=(examples, pick_key, text_key),
    )
    text = st.text_input(
        "Your sentence",
        key=text_key,
        max_chars=500,
        help="Every head of the real model reads it; the toy reads it too when it knows its words.",
    )
    st.session_state.setdefault(f"{name}.try.layer", _linked_int("layer", 6))
    st.session_state.setdefault(f"{name}.try.head", _linked_int("head", 12))
    left, right = st.columns(2)
    layer = left.selectbox("Layer", range(1, 7), key=f"{name}.try.layer", help="1 reads the words; 6 is the top.")
    head = right.selectbox("Head", range(1, 13), key=f"{name}.try.head", help="One of the 12 heads of that layer.")
    st.query_params.update({"look": text[:500], "layer": str(layer), "head": str(head)})
    return {"real": text, "layer": layer, "head": head}


def gan(name: str, bundle) -> dict:
    """Latent sliders (starting from a seeded random point); 2-D sets: a click on the plane is scored too."""
    n = bundle.config.latent_size
    seed = st.number_input(
        "Random starting point (seed)",
        0,
        10_000,
        0,
        key=f"{name}.try.seed",
        help="A new seed draws a new latent point; the sliders then move it.",
    )
    start = np.clip(np.random.default_rng(int(seed)).standard_normal(n), -3, 3)
    z = start.copy()

    def latent_slider(j: int) -> float:
        return st.slider(
            f"z{j + 1}",
            -3.0,
            3.0,
            float(round(start[j], 1)),
            0.1,
            key=f"{name}.try.{seed}.z{j}",
            help="One of the random numbers the generator turns into a sample.",
        )

    shown = min(n, 4)
    for j, col in enumerate(st.columns(shown)):
        with col:
            z[j] = latent_slider(j)
    if n > shown:
        with st.expander(f"All {n} latent numbers"):
            for j in range(shown, n):
                z[j] = latent_slider(j)
    out = {"z": z}
    if bundle.two_d:
        out["point"] = selected_point(f"{name}.try.plane")
    return out


SELECTABLE = {
    "gan": ("Latent point → sample", "plane"),  # technique -> (figure title, key suffix): clicks read back
    "quantum": ("Your point on the plane", "plane"),
    "attention": ("Every head of the real model", "grid"),  # engine.attention.views.REAL_GRID_TITLE
}


def nas(name: str, bundle) -> dict:
    """Your digit on the 8x8 grid, through the best architecture."""
    return {"image": digit_editor(name, bundle.X_test[:, 0], [str(int(k)) for k in bundle.y_test])}


def federated(name: str, bundle) -> dict:
    """Digits: your digit on the grid. A table: one slider per (standardised) measurement, from a held-out row."""
    if bundle.image_shape:
        return {"image": digit_editor(name, bundle.X_test.reshape(-1, *bundle.image_shape))}
    return standardised_row(name, bundle)


def standardised_row(name: str, bundle) -> dict:
    """One slider per standardised measurement, starting from a held-out row (``bundle.X_test``)."""
    start = st.number_input(
        "Start from held-out row",
        0,
        len(bundle.X_test) - 1,
        0,
        key=f"{name}.try.start",
        help="The sliders start at this row of the server's test data.",
    )
    row = bundle.X_test[start].astype(np.float64)
    st.caption("Measurements in standard deviations from the training mean (0 is average), as the models read them.")
    cols = st.columns(3)
    for j, feature in enumerate(bundle.feature_names):
        with cols[j % 3]:
            row[j] = st.slider(
                markdown_text(feature),
                -5.0,
                5.0,
                float(np.clip(round(row[j], 2), -5, 5)),
                0.05,
                key=f"{name}.try.{start}.{j}",
            )
    return {"row": row}


def ssl(name: str, bundle) -> dict:
    """Your digit on the grid, through the pretrained encoder."""
    return {"image": digit_editor(name, bundle.X_test[:, 0])}


def quantum(name: str, bundle) -> dict:
    """A slider per input, starting from a held-out point; on the plane, a click moves the point there."""
    keys = [f"{name}.try.x{j}" for j in range(len(bundle.feature_names))]
    clicked = selected_point(f"{name}.try.plane") if bundle.two_d else None
    if clicked is not None and st.session_state.get(f"{name}.try._clicked") != clicked:
        st.session_state[f"{name}.try._clicked"] = clicked  # a new click: the sliders follow it
        for key, value in zip(keys, clicked):
            st.session_state[key] = float(np.clip(round(value, 2), -4.0, 4.0))
    start = bundle.X_test[0]
    row = np.zeros(len(keys))
    cols = st.columns(min(len(keys), 4))
    for j, key in enumerate(keys):
        with cols[j % len(cols)]:
            st.session_state.setdefault(key, float(np.clip(round(float(start[j]), 2), -4.0, 4.0)))
            row[j] = st.slider(
                str(bundle.feature_names[j]),
                -4.0,
                4.0,
                step=0.01,
                key=key,
                help="The input the circuit encodes as qubit rotations.",
            )
    return {"row": row}


def rl(name: str, bundle) -> dict:
    """CartPole's start state: one slider per number, within the limits the episode allows; a grid world's table-
    based agent: the cell to start from."""
    from engine.rl.tryit import LIMITS, TableBundle

    if isinstance(bundle, TableBundle):
        return {"cell": grid_cell(name, bundle.layout["cells"])}

    st.caption("Set where the cart and pole start; the trained network then plays greedily from there.")
    state = []
    for col, (feature, limit) in zip(st.columns(4), LIMITS.items()):
        with col:
            step = round(limit / 50, 4)
            state.append(
                st.slider(feature, -0.9 * limit, 0.9 * limit, 0.0, step, key=f"{name}.try.{feature}", format="%.3f")
            )
    return {"state": state}


def grid_cell(name: str, cells: list[str]) -> list[int]:
    """A free cell of the map to start from (row, column), the start cell first."""
    free = [(r, c) for r, row in enumerate(cells) for c, kind in enumerate(row) if kind in ".S"]
    free.sort(key=lambda rc: cells[rc[0]][rc[1]] != "S")
    st.caption(
        "Pick a cell to start the trained agent from; it then plays with exploration off. Try cells it rarely "
        "visits from the start, or ones next to a hole."
    )
    row, col = st.selectbox(
        "Start cell",
        free,
        format_func=lambda rc: f"row {rc[0]}, column {rc[1]}" + (" (the start)" if cells[rc[0]][rc[1]] == "S" else ""),
        key=f"{name}.try.cell",
    )
    return [row, col]


def edge(name: str, bundle) -> dict:
    """Digits: your digit on the grid; a table: one slider per standardised measurement."""
    if bundle.image_side:
        return {"image": digit_editor(name, bundle.X_test.reshape(-1, bundle.image_side, bundle.image_side))}
    return standardised_row(name, bundle)
