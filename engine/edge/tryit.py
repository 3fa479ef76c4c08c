"""Try it on the edge page: the same input through the original network and its compressed versions, with each
answer's latency measured on this machine, and SHAP for the original beside the smallest float version.

Rebuilt from the stored weights: the original, the pruned copy (its compacted layer sizes read off the weights)
and the distilled student. Dynamic int8 quantization has no weights of its own in the store: it is applied again
to the rebuilt original (deterministic), as the run did. The ONNX file is not rebuilt here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.train import mlp
from engine.core.tryit import Answer, bars, explain_output, heatmap, restore, softmax, tensors
from engine.core.tryit import waterfall as shap_waterfall
from engine.edge.config import Config

LATENCY_REPEATS = 15


@dataclass
class Bundle:
    models: dict[str, nn.Module]  # name for people -> model taking (1, d) rows
    feature_names: list[str]
    class_names: list[str]
    image_side: int | None
    X_test: np.ndarray  # (n, d) rows as the models take them (digits: pixels in [0, 1]; tables: standardised)
    background: torch.Tensor  # (30, d)


def linear_chain(weights: bytes, prefix: str) -> nn.Sequential:
    """A Linear/ReLU chain shaped like the stored ``prefix`` weights (a compacted pruned network keeps only its
    surviving neurons, so its sizes are read off the tensors)."""
    state = tensors(weights, prefix)
    indices = sorted({int(k.split(".")[0]) for k in state})
    layers: list[nn.Module] = []
    for i in range(indices[-1] + 1):
        w = state.get(f"{i}.weight")
        layers.append(nn.Linear(w.shape[1], w.shape[0]) if w is not None else nn.ReLU())
    return restore(nn.Sequential(*layers), weights, prefix)


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    from engine.edge.source import load_finished, rows_of
    from engine.edge.techniques import quantize_dynamic

    if config.start_from == "finished_run":
        start = load_finished(config)
        data = dict(
            X_test=start.X_test,
            X_train=start.X_train,
            feature_names=start.feature_names,
            class_names=start.class_names,
            image_side=start.image_side,
        )
        original = start.model
    else:
        data = rows_of(config.start_from, config.seed)
        original = mlp(data["X_train"].shape[1], len(data["class_names"]), [config.hidden_width] * 2, "relu")
    models = {"Original (float32)": restore(original, weights, "original")}
    if config.dynamic_int8:
        models["Dynamic int8"] = quantize_dynamic(models["Original (float32)"]).eval()
    stored = {k.split(".")[0] for k in _keys(weights)}
    if "pruned" in stored:
        models[f"Pruned ({config.sparsity:.0%})"] = linear_chain(weights, "pruned")
    if "student" in stored:
        models["Distilled student"] = linear_chain(weights, "student")
    rng = np.random.default_rng(config.seed)
    background = torch.as_tensor(data["X_train"][rng.choice(len(data["X_train"]), 30, replace=False)])
    bundle = Bundle(
        models, list(data["feature_names"]), list(data["class_names"]), data["image_side"], data["X_test"], background
    )
    answer(bundle, {"row": bundle.X_test[0]})  # warm-up: SHAP's first call, int8 kernels
    return bundle


def _keys(weights: bytes) -> list[str]:
    from safetensors.torch import load as load_safetensors

    return list(load_safetensors(weights))


def examples(bundle: Bundle) -> list[dict]:
    return [{"row": r} for r in bundle.X_test[:5]]


def _latency_ms(model: nn.Module, x: torch.Tensor) -> float:
    times = []
    with torch.no_grad():
        for _ in range(LATENCY_REPEATS):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["row"]`` (d,) as the models take it, or ``inputs["image"]`` (8, 8) for digits."""
    raw = inputs["image"] if "image" in inputs else inputs["row"]
    x = torch.as_tensor(np.asarray(raw, dtype=np.float32).reshape(1, -1))
    probs, latency = {}, {}
    for name, model in bundle.models.items():
        with torch.no_grad():
            probs[name] = softmax(model(x)[0].numpy())
        latency[name] = _latency_ms(model, x)
    summary = {
        name: f"{bundle.class_names[int(p.argmax())]} ({p.max():.0%}), {latency[name]:.2f} ms"
        for name, p in probs.items()
    }
    figs = {}
    if bundle.image_side:
        figs["Your input"] = heatmap(
            x.numpy().reshape(bundle.image_side, -1), "Your digit", "The 8x8 image every version reads (ink 0-1)."
        )
    figs["Answers"] = bars(
        bundle.class_names,
        probs,
        "The same input, every version",
        "Each version's probability for every class: compression should leave the answer alone.",
        x_title="class",
    )
    figs["Latency"] = bars(
        list(latency),
        list(latency.values()),
        "Time for this one answer (median of 15)",
        "Measured on this machine, one row at a time, one thread.",
        y_title="milliseconds",
    )
    exps = {}
    floats = [n for n, m in bundle.models.items() if n != "Dynamic int8"]
    for name in (floats[0], floats[-1]) if len(floats) > 1 else floats[:1]:  # original and the smallest float copy
        k = int(probs[name].argmax())
        exp = explain_output(
            bundle.models[name],
            x,
            bundle.background,
            k,
            feature_names=bundle.feature_names,
            data=x.numpy().astype(np.float64),
        )
        exps[name] = exp
        title = f"{name}: why '{bundle.class_names[k]}'"
        figs[f"SHAP: {name}"] = (
            heatmap(
                np.asarray(exp.values).reshape(bundle.image_side, -1),
                title,
                "Red pixels push this version's score for its answer up, blue down.",
                diverging=True,
            )
            if bundle.image_side
            else shap_waterfall(exp, None, title)
        )
    return Answer(
        summary=summary,
        prediction={n: dict(zip(bundle.class_names, p.tolist())) for n, p in probs.items()},
        explanation=exps,
        figures=figs,
        tables={},
    )
