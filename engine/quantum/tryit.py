"""Try it on the quantum page: any point of your own through the trained quantum classifier (and its classical
twin): the circuit's measured expectation values <Z> per qubit, the class probabilities, and exact SHAP.

The hybrid model is rebuilt from the run's settings (same circuit, same simulator choice) and its stored weights;
the data comes back from the seed. The circuit lab has no trained model: it has no Try it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from engine.core.explain import explain_function
from engine.core.train import count_parameters, mlp
from engine.core.tryit import Answer, bars, figure, restore
from engine.core.tryit import waterfall as shap_waterfall
from engine.quantum.config import Config

if TYPE_CHECKING:
    from engine.quantum.qnn import HybridQNN

BACKGROUND = 16  # training rows SHAP fills absent inputs from (exact Shapley: 2^d subsets x these rows)


@dataclass
class Bundle:
    qnn: HybridQNN
    baseline: torch.nn.Module
    feature_names: list[str]
    class_names: list[str]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    background: np.ndarray  # (BACKGROUND, d)
    surface: tuple | None  # 2-D sets: (xs, ys, P(class 1) on the grid) of the quantum model

    @property
    def two_d(self) -> bool:
        return len(self.feature_names) == 2


def unavailable(config: Config) -> str | None:
    if config.mode == "circuit_lab":
        return "The circuit lab trains no model: change its gates in the settings and press Train to see the state."
    return None


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    from engine.core.data import grid_2d
    from engine.quantum.qnn import baseline_hidden, build_model, choose_simulator, load_data, make_qnode

    data = load_data(config)
    n_in, n_classes = len(data.feature_names), len(data.class_names)
    sim, diff, _reason = choose_simulator(config.n_qubits, config.simulator)
    qnn = build_model(config, make_qnode(config, sim, diff))
    hidden = baseline_hidden(count_parameters(qnn, trainable=True), n_in, n_classes)
    restore(qnn, weights, "qnn")
    baseline = restore(mlp(n_in, n_classes, [hidden], activation="tanh"), weights, "baseline")
    n = len(data.y_train)
    pick = np.random.default_rng(config.seed).choice(n, min(BACKGROUND, n), replace=False)
    bundle = Bundle(
        qnn,
        baseline,
        list(data.feature_names),
        list(data.class_names),
        data.X_train,
        data.y_train,
        data.X_test,
        data.X_train[pick],
        None,
    )
    if bundle.two_d:
        xx, yy, points = grid_2d(np.concatenate([data.X_train, data.X_test]), steps=40)
        with torch.no_grad():
            p1 = torch.softmax(qnn(torch.as_tensor(points)), 1)[:, 1].numpy().reshape(xx.shape)
        bundle.surface = (xx[0], yy[:, 0], p1)
    return bundle


def examples(bundle: Bundle) -> list[dict]:
    return [{"row": r} for r in bundle.X_test[:5]]


def _probabilities(model, Z: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(np.asarray(Z, dtype=np.float32))), 1).double().numpy()


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["row"]``: one input (d,) (2-D sets: a point of the plane; tables: principal components)."""
    x = np.asarray(inputs["row"], dtype=np.float32).reshape(1, -1)
    q, c = _probabilities(bundle.qnn, x)[0], _probabilities(bundle.baseline, x)[0]
    with torch.no_grad():
        expvals = bundle.qnn.quantum(bundle.qnn.circuit_input(torch.as_tensor(x)))[0].double().numpy()  # (qubits,)
    k = int(q.argmax())
    exp = explain_function(
        lambda Z: _probabilities(bundle.qnn, Z)[:, k],
        x,
        bundle.background,
        feature_names=bundle.feature_names,
        method_note=f"P({bundle.class_names[k]})",
    )
    summary = {
        "Quantum model": f"{bundle.class_names[k]} ({q[k]:.0%})",
        "Classical baseline": f"{bundle.class_names[int(c.argmax())]} ({c.max():.0%})",
        "SHAP check": f"base + sum of SHAP = output within {exp.additivity_error:.1g}",
    }
    figs = {}
    if bundle.two_d:
        figs["Your point on the plane"] = plane_figure(bundle, x[0])
    figs["Measured expectation values"] = bars(
        [f"qubit {i}" for i in range(len(expvals))],
        expvals,
        "The circuit's output: <Z> per qubit",
        "Each qubit's Pauli-Z expectation value for your input, from +1 (certainly 0) to -1 (certainly 1); the "
        "classifier's scores are read from these.",
        x_title="qubit",
        y_title="<Z>",
    )
    figs["Class probabilities"] = bars(
        bundle.class_names,
        {"Quantum model": q, "Classical baseline": c},
        "Both models' answers",
        "The quantum classifier beside its classical twin.",
        x_title="class",
    )
    figs["SHAP waterfall"] = shap_waterfall(
        exp, None, f"Why the quantum model says {bundle.class_names[k]} (SHAP of P({bundle.class_names[k]}))"
    )
    return Answer(
        summary=summary,
        prediction={
            "quantum": dict(zip(bundle.class_names, q.tolist())),
            "classical": dict(zip(bundle.class_names, c.tolist())),
            "expectation_values": expvals.tolist(),
        },
        explanation=exp,
        figures=figs,
    )


def plane_figure(bundle: Bundle, point: np.ndarray):
    """The quantum model's P(class 1) over the plane, the training points, and your point; clickable."""
    import plotly.graph_objects as go

    if bundle.surface is None:
        raise ValueError("Only a run on a 2-D data set has a plane to draw.")
    xs, ys, p1 = bundle.surface
    gx, gy = np.meshgrid(np.linspace(xs[0], xs[-1], 26), np.linspace(ys[0], ys[-1], 26))
    traces = [
        go.Heatmap(
            x=xs,
            y=ys,
            z=p1,
            colorscale="RdBu_r",
            zmin=0,
            zmax=1,
            opacity=0.6,
            colorbar=dict(title=f"P({bundle.class_names[1]})"),
            hoverinfo="skip",
        ),
        go.Scatter(
            x=gx.ravel(),
            y=gy.ravel(),
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker=dict(size=14, color="rgba(0,0,0,0.01)"),
            name="click to try",
        ),
        *[
            go.Scatter(
                x=bundle.X_train[bundle.y_train == j, 0],
                y=bundle.X_train[bundle.y_train == j, 1],
                mode="markers",
                name=f"training: {name}",
                marker=dict(size=5, line=dict(width=0.5)),
            )
            for j, name in enumerate(bundle.class_names)
        ],
        go.Scatter(
            x=[point[0]],
            y=[point[1]],
            mode="markers",
            name="your point",
            marker=dict(size=16, symbol="star", color="#2ca02c", line=dict(width=1, color="white")),
        ),
    ]
    return figure(
        traces,
        "The background is the quantum model's probability of the second class; click anywhere "
        "to put your point there.",
        title="Your point on the plane",
        xaxis_title="x1",
        yaxis=dict(title="x2", scaleanchor="x"),
        clickmode="event+select",
    )
