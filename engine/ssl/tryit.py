"""Try it on the self-supervised page: your digit through the pretrained encoder, its nearest training digits in
the learned representation, and the linear probe's answer with its pixel SHAP (encoder + probe as one network).

Encoder and probe are rebuilt from the stored weights; the digits come back from the run's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.tryit import Answer, figure, heatmap, read_digit, restore
from engine.ssl.common import FEATURES, encoder, load_digits
from engine.ssl.config import Config

CLASSES = [str(d) for d in range(10)]
NEIGHBOURS = 8


@dataclass
class Bundle:
    network: torch.nn.Sequential  # encoder then probe: (B, 1, 8, 8) -> (B, 10)
    encoder: torch.nn.Module
    X_train: torch.Tensor  # (n, 1, 8, 8) the unlabelled pool: where neighbours come from
    y_train: np.ndarray
    H_train: torch.Tensor  # (n, 128) unit-length representations of the pool
    X_test: np.ndarray  # (m, 1, 8, 8) held-out digits to start from
    background: torch.Tensor  # (30, 1, 8, 8)


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    f = restore(encoder(), weights, "encoder")
    probe = restore(torch.nn.Linear(FEATURES, len(CLASSES)), weights, "probe")
    data = load_digits(config.seed)
    with torch.no_grad():
        H = torch.nn.functional.normalize(f(data.X_train), dim=1)
    pick = np.random.default_rng(config.seed).choice(len(data.y_train), 30, replace=False)
    bundle = Bundle(
        torch.nn.Sequential(f, probe).eval(), f, data.X_train, data.y_train, H, data.X_test.numpy(), data.X_train[pick]
    )
    answer(bundle, {"image": bundle.X_test[0, 0]})  # warm-up: SHAP's first call
    return bundle


def examples(bundle: Bundle) -> list[dict]:
    return [{"image": im[0]} for im in bundle.X_test[:5]]


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["image"]``: an (8, 8) digit, 0 = blank, 1 = full ink."""
    digit = read_digit(bundle.network, bundle.background, inputs)
    x, probs, k, exp = digit.x, digit.probs, digit.k, digit.explanation
    with torch.no_grad():
        h = torch.nn.functional.normalize(bundle.encoder(x), dim=1)  # (1, 128)
        sim, idx = (h @ bundle.H_train.T)[0].topk(NEIGHBOURS)
    labels = [str(int(bundle.y_train[i])) for i in idx]
    figs = {
        "Your digit": heatmap(x[0, 0].numpy(), "Your digit", "The 8x8 image the encoder reads (ink 0-1)."),
        "Nearest neighbours": neighbours_figure(bundle.X_train[idx, 0].numpy(), sim.numpy(), labels),
        "SHAP: pixels": heatmap(
            np.asarray(exp.values).reshape(8, 8),
            f"Pixels behind the probe's '{k}'",
            "Red pixels push the probe's score for its answer up, blue pixels push it down "
            "(SHAP through encoder and probe).",
            diverging=True,
        ),
    }
    agree = sum(label == str(k) for label in labels)
    summary = {
        "Linear probe says": f"{k} ({probs[k]:.0%})",
        "Nearest neighbours": f"{agree} of {NEIGHBOURS} are {k}s",
        "SHAP check": f"base + sum of SHAP = output within {exp.additivity_error:.1g}",
    }
    return Answer(
        summary=summary,
        prediction={"probe": dict(zip(CLASSES, probs.tolist())), "neighbours": labels},
        explanation=exp,
        figures=figs,
    )


def neighbours_figure(images: np.ndarray, similarity: np.ndarray, labels: list[str]):
    """The closest training digits in the encoder's representation, side by side (one gap column between)."""
    import plotly.graph_objects as go

    strip = np.full((8, len(images) * 9 - 1), np.nan)
    for j, im in enumerate(images):
        strip[:, j * 9 : j * 9 + 8] = im
    ticks = [j * 9 + 3.5 for j in range(len(images))]
    return figure(
        [go.Heatmap(z=strip, colorscale="Greys", zmin=0, zmax=1, showscale=False, hoverinfo="skip")],
        "Training digits whose representations point the same way as yours (cosine similarity); their "
        "true labels are shown, which pretraining never saw.",
        title="Nearest training digits in the learned representation",
        height=220,
        xaxis=dict(
            tickvals=ticks,
            ticktext=[f"{lab} ({s:.2f})" for lab, s in zip(labels, similarity)],
            title="true digit (similarity)",
        ),
        yaxis=dict(autorange="reversed", showticklabels=False, scaleanchor="x"),
    )
