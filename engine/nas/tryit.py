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


def rebuild_model(config: dict, info: dict, weights: bytes, architecture: dict | None = None) -> dict:
    """This run's best network and the digits it was judged on, rebuilt from its stored settings, info and
    safetensors weights, for a run that starts from it (Edge AI).

    The winner is ``info["best_architecture"]``, or, for runs stored before info kept it, read back from
    ``architecture["best"]`` (the network as PyTorch prints it). Returns ``model`` (trainable: (n, 1, 8, 8) images
    in [0, 1] -> (n, 10) logits), ``architecture``, the search's own split ``X_train``/``y_train``,
    ``X_val``/``y_val``, ``X_test``/``y_test`` (numpy; images (n, 1, 8, 8) float32), ``class_names`` and
    ``title``. Raises RunError when the winner or its weights cannot be rebuilt.
    """
    from safetensors.torch import load as load_safetensors

    from engine.core.contract import RunError
    from engine.nas.search import load_digits

    arch = dict(info.get("best_architecture") or {})
    if not arch:
        text = (architecture or {}).get("best", "")
        if not text:
            raise RunError("That NAS run does not record its best architecture.")
        arch = architecture_from_text(text)
    net = build(arch)
    state = {k.removeprefix("best."): v for k, v in load_safetensors(weights).items() if k.startswith("best.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise RunError(f"That NAS run's weights do not fit its architecture: {str(e).splitlines()[0]}") from None
    d = load_digits(int(config.get("seed", 0)))  # the split its winner was tested on
    split = {name: getattr(d, name).cpu().numpy() for name in ("X_train", "y_train", "X_val", "y_val", "X_test")}
    return {
        "model": net,
        "architecture": arch,
        **split,
        "y_test": d.y_test.cpu().numpy(),
        "class_names": list(CLASSES),
        "title": "8x8 handwritten digits",
    }


def architecture_from_text(text: str) -> dict:
    """Read the NAS decisions back from ``str(model)`` of a ``space.build`` network (a plain text parse)."""
    import re

    from engine.nas.config import SPACE

    convs = re.findall(r"Conv2d\((\d+), (\d+), kernel_size=\((\d+),", text)
    linears = re.findall(r"Linear\(in_features=(\d+), out_features=(\d+)", text)
    dropout = re.search(r"Dropout\(p=([0-9.]+)", text)
    activation = re.search(r"\b(ReLU|Tanh|ELU)\(", text)
    return {
        "conv_blocks": len(convs),
        "filters": int(convs[0][1]) if convs else SPACE["filters"][0],
        "kernel_size": int(convs[0][2]) if convs else SPACE["kernel_size"][0],
        "pooling": "max" if "MaxPool2d" in text else "avg" if "AvgPool2d" in text else "none",
        "dense_layers": len(linears) - 1,
        "dense_width": int(linears[0][1]) if len(linears) > 1 else SPACE["dense_width"][0],
        "activation": activation.group(1).lower() if activation else "relu",
        "dropout": float(dropout.group(1)) if dropout else 0.0,
    }
