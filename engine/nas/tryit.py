"""Try it on the NAS page: your drawn digit through the best architecture the search found, with pixel SHAP.

The network is rebuilt from the winning architecture (kept in the run's info) and its stored weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.tryit import Answer, TryItUnavailable, bars, heatmap, read_digit, restore
from engine.nas.config import Config
from engine.nas.space import build, check

CLASSES = [str(d) for d in range(10)]


@dataclass
class Bundle:
    model: torch.nn.Module
    architecture: dict
    X_test: np.ndarray  # (n, 1, 8, 8) held-out digits to start from
    y_test: np.ndarray
    background: torch.Tensor  # (30, 1, 8, 8) training digits: SHAP's reference


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    from engine.nas.search import load_digits

    if not info.get("best_architecture"):
        raise TryItUnavailable(
            "This stored run does not say which architecture won, so its network cannot be "
            "rebuilt (runs stored before Try it existed). Train it again to try it."
        )
    arch = check(info["best_architecture"])
    model = restore(build(arch), weights, "best")
    data = load_digits(config.seed)
    pick = np.random.default_rng(config.seed).choice(len(data.y_train), 30, replace=False)
    bundle = Bundle(model, arch, data.X_test.cpu().numpy(), data.y_test.cpu().numpy(), data.X_train.cpu()[pick])
    answer(bundle, {"image": bundle.X_test[0, 0]})  # warm-up: SHAP's first call
    return bundle


def examples(bundle: Bundle) -> list[dict]:
    """A few held-out digits for benchmarks and tests."""
    return [{"image": im[0]} for im in bundle.X_test[:5]]


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["image"]``: an (8, 8) digit, 0 = blank, 1 = full ink."""
    digit = read_digit(bundle.model, bundle.background, inputs)
    x, probs, k, exp = digit.x, digit.probs, digit.k, digit.explanation
    values = np.asarray(exp.values).reshape(8, 8)
    arch = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in bundle.architecture.items())
    figs = {
        "Your digit": heatmap(x[0, 0].numpy(), "Your digit", "The 8x8 image the network reads (ink 0-1)."),
        "Class probabilities": bars(
            CLASSES,
            probs,
            "The best architecture's answer",
            f"The searched network ({arch}): its probability for each digit.",
            x_title="digit",
        ),
        "SHAP: pixels": heatmap(
            values,
            f"Pixels behind '{k}' (SHAP of its score)",
            "Red pixels push the predicted digit's score up, blue pixels push it down; with "
            "the base value they add up to the score.",
            diverging=True,
        ),
    }
    summary = {
        "Best architecture says": f"{k} ({probs[k]:.0%})",
        "SHAP check": f"base + sum of SHAP = output within {exp.additivity_error:.1g}",
    }
    return Answer(summary=summary, prediction=dict(zip(CLASSES, probs.tolist())), explanation=exp, figures=figs)
