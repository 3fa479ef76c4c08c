"""Quantum pictures: circuit diagrams, the lab's state, the classifier's curves and boundaries, and the two models'
SHAP side by side. Pure functions of a Result's stored data (no torch, no models).

Circuits are drawn as real figures (:func:`circuit_figure`): wires are horizontal lines, gates labelled boxes,
a CNOT a control dot joined by a vertical line to a target circle. Classes keep one colour everywhere
(``charts.CLASS_COLORS``), on a pale decision surface they stand out from.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from engine.core import charts
from engine.core.contract import Result

# --- circuit diagrams ---------------------------------------------------------------------------------------

MAX_COLUMNS = 16  # a longer circuit wraps onto further, evenly filled rows, so gates stay readable when narrow
BOX = 0.36  # half the width and height of a gate box, in columns / wire spacings
SHORT = {
    "Hadamard": "H",
    "PauliX": "X",
    "PauliY": "Y",
    "PauliZ": "Z",
    "StatePrep": "amplitudes",
    "AmplitudeEmbedding": "amplitudes",
    "MottonenStatePreparation": "amplitudes",
    "MultiRZ": "ZZ",
    "IsingZZ": "ZZ",
}
CONTROLLED = {"CNOT": "target", "CZ": "control", "SWAP": "swap"}  # two-qubit gates drawn as symbols on a link


def circuit_columns(ops: list[dict]) -> list[int]:
    """Greedy layering: each gate takes the first column after every earlier gate on the wires it spans."""
    free: dict[int, int] = {}
    columns = []
    for op in ops:
        span = range(min(op["wires"]), max(op["wires"]) + 1)  # a link crosses the wires between its ends too
        column = max(free.get(w, 0) for w in span)
        free.update(dict.fromkeys(span, column + 1))
        columns.append(column)
    return columns


def _hover(op: dict) -> str:
    wires = ", ".join(str(w) for w in op["wires"])
    angles = f"({', '.join(f'{p:.3g}' for p in op['params'])})" if op["params"] else ""
    return f"{op['name']}{angles} on qubit{'s' if len(op['wires']) > 1 else ''} {wires}"


def circuit_figure(ops: list[dict], n_wires: int, *, title: str, caption: str, measure: bool = False) -> go.Figure:
    """A circuit as a figure. ``ops``: [{"name", "wires", "params"}] in time order; ``measure`` adds <Z> boxes.

    Shapes carry names the tests read: "wire", "gate" (a box), "link" (a CNOT/CZ/SWAP's vertical line),
    "measure"; control dots, CNOT targets and SWAP crosses are marker traces of those names.
    """
    columns = circuit_columns(ops)
    n_cols = max(columns, default=-1) + 1
    if measure:
        ops = ops + [{"name": "<Z>", "wires": [w], "params": []} for w in range(n_wires)]
        columns = columns + [n_cols] * n_wires
        n_cols += 1
    rows = max(1, math.ceil(n_cols / MAX_COLUMNS))
    width = max(1, math.ceil(n_cols / rows))  # columns per row
    span = max(width, 6)  # a short circuit keeps gate-sized boxes instead of stretching over the whole width

    def at(column: int, wire: int) -> tuple[float, float]:  # (x, y): wire 0 on top, each row below the last
        row, x = divmod(column, width)
        return float(x), -float(wire + row * (n_wires + 1))

    fig = go.Figure()
    symbols: dict[str, tuple[list, list]] = {"control": ([], []), "target": ([], []), "swap": ([], [])}
    labels: tuple[list, list, list, list] = ([], [], [], [])  # x, y, text, hover
    for row in range(rows):
        for w in range(n_wires):
            y = at(row * width, w)[1]
            line = dict(color="#555", width=1.5)
            fig.add_shape(type="line", x0=-0.6, x1=span - 0.4, y0=y, y1=y, name="wire", layer="below", line=line)
    for op, column in zip(ops, columns):
        _draw_op(fig, op, column, at, symbols, labels)
    _add_marks(fig, symbols, labels)
    ticks = [at(row * width, w) for row in range(rows) for w in range(n_wires)]
    fig.update_layout(
        title=title,
        showlegend=False,
        plot_bgcolor="white",
        height=90 + 46 * rows * (n_wires + 1),
        xaxis=dict(visible=False, range=[-0.9, span - 0.3], fixedrange=True),
        yaxis=dict(
            range=[ticks[-1][1] - 0.7, 0.7],
            fixedrange=True,
            showgrid=False,
            zeroline=False,
            tickvals=[y for _, y in ticks],
            ticktext=[f"q{w} |0⟩" for _ in range(rows) for w in range(n_wires)],
        ),
    )
    return charts.captioned(fig, caption)


def _add_marks(fig: go.Figure, symbols: dict[str, tuple[list, list]], labels: tuple[list, list, list, list]) -> None:
    """The marker traces of :func:`circuit_figure` (control dots, CNOT targets, SWAP crosses) and its gate words."""
    for kind, (xs, ys) in symbols.items():
        if xs:
            style = _SYMBOL_STYLE[kind]
            fig.add_trace(
                go.Scatter(x=xs, y=ys, mode="markers", name=kind, hoverinfo="skip", showlegend=False, marker=style)
            )
    fig.add_trace(
        go.Scatter(
            x=labels[0],
            y=labels[1],
            text=labels[2],
            hovertext=labels[3],
            mode="text",
            name="labels",
            hoverinfo="text",
            showlegend=False,
            textfont=dict(size=12, color="#111"),
        )
    )


_SYMBOL_STYLE = {
    "control": dict(symbol="circle", size=11, color="#111"),
    "target": dict(symbol="circle-cross-open", size=24, color="#111", line=dict(width=2)),
    "swap": dict(symbol="x-thin-open", size=14, color="#111", line=dict(width=2.5)),
}


def _draw_op(fig: go.Figure, op: dict, column: int, at, symbols: dict, labels: tuple) -> None:
    """One gate: a link with symbols for CNOT/CZ/SWAP, else a labelled box over the wires it acts on."""
    wires = op["wires"]
    if op["name"] in CONTROLLED and len(wires) == 2:
        (x, y0), (_, y1) = at(column, wires[0]), at(column, wires[1])
        fig.add_shape(
            type="line", x0=x, x1=x, y0=y0, y1=y1, name="link", layer="below", line=dict(color="#111", width=2)
        )
        first, second = ("control", CONTROLLED[op["name"]]) if op["name"] != "SWAP" else ("swap", "swap")
        for kind, y in ((first, y0), (second, y1)):
            symbols[kind][0].append(x)
            symbols[kind][1].append(y)
        return
    x, top = at(column, min(wires))
    bottom = at(column, max(wires))[1]
    kind = "measure" if op["name"] == "<Z>" else "gate"
    fig.add_shape(
        type="rect",
        x0=x - BOX,
        x1=x + BOX,
        y0=bottom - BOX,
        y1=top + BOX,
        name=kind,
        layer="below",
        fillcolor="#eef3fb" if kind == "gate" else "#f4f4f4",
        line=dict(color="#2d3e50", width=1.2),
    )
    labels[0].append(x)
    labels[1].append((top + bottom) / 2)
    name = SHORT.get(op["name"], op["name"][:6])
    angle = f"<br>{op['params'][0]:.2f}" if len(op["params"]) == 1 else ""  # one angle fits inside the box
    labels[2].append("⟨Z⟩" if kind == "measure" else name + angle)
    labels[3].append("measure Pauli-Z" if kind == "measure" else _hover(op))


# --- circuit lab --------------------------------------------------------------------------------------------


def _lab_figures(result: Result) -> dict:
    a, info, m, shots = result.arrays, result.info, result.metrics, result.config.shots
    basis = info["basis"]
    figs = {
        "Circuit diagram": circuit_figure(
            info["circuit"],
            int(m["n_qubits"]),
            title="Your circuit",
            caption="Time runs left to right; each line is a qubit, starting in |0⟩. Boxes are one-qubit gates (hover "
            "for angles); a dot joined to ⊕ is a CNOT: it flips the target qubit when the dot's qubit is 1.",
        )
    }
    amp = go.Figure(
        [
            go.Bar(x=basis, y=a["amplitudes_real"], name="real part"),
            go.Bar(x=basis, y=a["amplitudes_imag"], name="imaginary part"),
        ]
    )
    amp.update_layout(title="State amplitudes", barmode="group", yaxis_title="amplitude", yaxis_range=[-1, 1])
    figs["Amplitudes"] = charts.captioned(
        amp,
        "The quantum state is one complex number per basis state; its squared size is the chance of "
        "measuring that outcome. Qubit 0 is the leftmost bit.",
    )
    probs = go.Figure(go.Bar(x=basis, y=a["probabilities"], name="exact"))
    if "sampled" in a:
        noise = 2 * np.sqrt(a["probabilities"] * (1 - a["probabilities"]) / shots)
        probs.add_trace(
            go.Bar(
                x=basis,
                y=a["sampled"],
                name=f"measured {shots:,} times",
                error_y=dict(type="data", array=noise, visible=True),
            )
        )
    probs.update_layout(title="Measurement probabilities", barmode="group", yaxis_title="probability")
    figs["Probabilities"] = charts.captioned(
        probs,
        "Exact probabilities next to the share of outcomes in simulated measurements. Error bars: "
        "±2 standard errors expected from sampling alone; more shots shrink them.",
    )
    return figs


# --- classifier -----------------------------------------------------------------------------------------------


def _training_figure(result: Result) -> go.Figure:
    h, m = result.history, result.metrics
    curves = charts.learning_curves(
        h,
        ["loss", "test_loss", "train_accuracy", "test_accuracy"],
        title="Quantum model: loss and accuracy per epoch",
        unit=result.config.step_unit(),
        names={
            "loss": "training loss",
            "test_loss": "test loss",
            "train_accuracy": "training accuracy",
            "test_accuracy": "test accuracy",
        },
    )
    for y, name, dash in (
        (m["baseline_test_accuracy"], "classical baseline, final test accuracy", "dot"),
        (m["chance_accuracy"], "guessing the most common class", "dash"),
    ):
        curves.add_trace(
            go.Scatter(
                x=[h["step"].min(), h["step"].max()],
                y=[y] * 2,
                mode="lines",
                yaxis="y2",
                name=name,
                line=dict(dash=dash, color="grey"),
            )
        )
    return charts.captioned(
        curves,
        "The loss should fall and the accuracies rise above the dashed chance line. The dotted line is the "
        f"test accuracy the classical baseline reached after {m['baseline_epochs']} epochs.",
    )


def _boundaries_figure(result: Result) -> go.Figure:
    from plotly.subplots import make_subplots

    a, m, names = result.arrays, result.metrics, result.info["class_names"]
    X = np.concatenate([a["X_train"], a["X_test"]])
    y = np.concatenate([a["y_train"], a["y_test"]])
    fig = make_subplots(
        1,
        2,
        horizontal_spacing=0.06,
        shared_yaxes=True,
        subplot_titles=(
            f"Quantum model ({m['parameters']} parameters): {m['test_accuracy']:.0%} test",
            f"Classical MLP ({m['baseline_parameters']} parameters): {m['baseline_test_accuracy']:.0%} test",
        ),
    )
    for col, key in ((1, "grid_qnn"), (2, "grid_baseline")):
        panel = charts.class_surface(a["grid_xx"], a["grid_yy"], a[key], X, y, title="", class_names=names)
        for trace in panel.data:
            trace.showlegend = col == 1 and trace.type == "scatter"
            fig.add_trace(trace, 1, col)
    fig.update_layout(title="Decision boundaries, side by side", height=460, legend=dict(orientation="h", y=-0.12))
    return charts.captioned(
        fig,
        "Background: each model's probability of class 1 at every point (blue: class 0, red: class 1, dark "
        "line: the boundary); dots: the data in their class colours. Compare the shapes the quantum circuit "
        "and the classical network draw.",
    )


def _classifier_figures(result: Result) -> dict:
    a, info, m, config = result.arrays, result.info, result.metrics, result.config
    figs = {"Training": _training_figure(result)} if len(result.history) else {}
    if "grid_qnn" in a:
        figs["Decision boundaries"] = _boundaries_figure(result)
    else:
        figs["Confusion matrix"] = charts.confusion_matrix(
            a["y_test"], a["pred_test"], info["class_names"], title="Quantum model: confusion matrix (test set)"
        )
    figs["Circuit diagram"] = circuit_figure(
        info["circuit"],
        config.n_qubits,
        measure=True,
        title=f"The trained circuit ({config.n_qubits} qubits, {config.n_layers} layers, one test example)",
        caption="Time runs left to right, one line per qubit. The embedding rotations carry this example's inputs, "
        "Rot boxes hold trained angles (hover a box for its numbers), a dot joined to ⊕ is a CNOT that "
        "entangles two qubits, and ⟨Z⟩ is each qubit's measurement, fed to the classical layer.",
    )
    names = ["quantum (circuit angles + input scales)", "classical layers of the hybrid", "classical baseline MLP"]
    values = [m["quantum_parameters"], m["classical_parameters"], m["baseline_parameters"]]
    figs["Parameters"] = charts.bar(
        names,
        values,
        title="Trainable parameters",
        caption="The baseline MLP gets about as many trainable numbers as the "
        "whole hybrid quantum model, so the comparison is fair.",
    )
    return figs


def figures(result: Result) -> dict:
    """Circuit lab: diagram, amplitudes, probabilities. Classifier: curves, boundaries, circuit, parameters."""
    return _lab_figures(result) if result.config.mode == "circuit_lab" else _classifier_figures(result)


def live_figure(snapshot: dict):
    """The quantum model's current decision surface (2-D data) with the training points, redrawn as it trains."""
    xx, yy = np.meshgrid(snapshot["x"], snapshot["y"])
    fig = charts.class_surface(
        xx,
        yy,
        np.asarray(snapshot["z"]),
        np.asarray(snapshot["points"]),
        np.asarray(snapshot["labels"]),
        title=f"Quantum model's decision surface, epoch {snapshot['epoch']}",
    )
    return charts.captioned(fig, "The probability of class 1 the circuit gives each point, as it learns.")


# --- SHAP views ---------------------------------------------------------------------------------------------


def explain_figures(result: Result, explanation) -> dict:
    """Do the two models lean on the same inputs? Mean |SHAP| per feature, side by side."""
    if not explanation:
        return {}
    from engine.core.explain import global_importance

    fig = charts.compare_importance(
        {title: (list(e.feature_names), global_importance(e)) for title, e in explanation.items()}
    )
    fig.update_layout(title="Which inputs each model relies on (mean |SHAP|)")
    return {
        "Quantum vs classical: input importance": charts.captioned(
            fig,
            "Each bar is an input's average effect on the predicted class probabilities. Similar bars: both models "
            "learned to use the inputs alike.",
        )
    }
