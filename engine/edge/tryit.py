"""Try it on the edge page: the same input through the original network and its compressed versions, with each
answer's latency measured on this machine, and SHAP for the original beside the smallest float version.

Rebuilt from the edge run's own stored weights and info alone (never the run it started from, never the store):
``info["networks"]`` holds each stored model's layers (``engine.edge.layers``: the original, whether trained here,
an XAI MLP or a NAS winner; the pruned copy with its compacted sizes; the distilled student) and
``info["try_rows"]`` the test rows to start from and SHAP's background rows. Dynamic int8 quantization has no
weights of its own in the store: it is applied again to the rebuilt original (deterministic), as the run did. The
ONNX file is not rebuilt here. Runs stored before info kept the networks rebuild a network trained here from the
settings.

Latency is measured as the run measured it (``engine.edge.evaluate``: untimed warm-up calls, then timed calls at
batch 1, on one thread) for every version alike: in the app process PyTorch would otherwise spread int8's small
kernels over every core, each call waiting on threads other work keeps busy.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.train import mlp
from engine.core.tryit import Answer, TryItUnavailable, bars, explain_output, heatmap, restore, softmax, tensors
from engine.core.tryit import waterfall as shap_waterfall
from engine.edge import evaluate as M
from engine.edge.config import Config

WARMUP, REPEATS = 5, 30  # per answer: enough for a steady median, little enough to answer at once


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
    surviving neurons, so its sizes are read off the tensors). For runs stored before info kept the networks."""
    state = tensors(weights, prefix)
    indices = sorted({int(k.split(".")[0]) for k in state})
    layers: list[nn.Module] = []
    for i in range(indices[-1] + 1):
        w = state.get(f"{i}.weight")
        layers.append(nn.Linear(w.shape[1], w.shape[0]) if w is not None else nn.ReLU())
    return restore(nn.Sequential(*layers), weights, prefix)


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    from engine.edge.techniques import quantize_dynamic

    if "networks" in info:
        stored, X_test, background = _from_info(weights, info)
        feature_names, class_names, side = info["feature_names"], info["class_names"], info["image_side"]
    elif config.start_from == "finished_run":
        raise TryItUnavailable(
            "This run was stored before Edge AI runs kept their networks' shapes, so Try it cannot rebuild a model "
            "that started from another run. Train it again to try it."
        )
    else:
        stored, X_test, background, feature_names, class_names, side = _trained_here(config, weights)
    if "original" not in stored:
        raise TryItUnavailable("This run's original network cannot be rebuilt here.")
    models = {"Original (float32)": stored["original"]}
    if config.dynamic_int8:
        models["Dynamic int8"] = quantize_dynamic(models["Original (float32)"]).eval()
    if "pruned" in stored:
        models[f"Pruned ({config.sparsity:.0%})"] = stored["pruned"]
    if "student" in stored:
        models["Distilled student"] = stored["student"]
    bundle = Bundle(models, list(feature_names), list(class_names), side, X_test, background)
    answer(bundle, {"row": bundle.X_test[0]})  # warm-up: SHAP's first call, int8 kernels
    return bundle


def _from_info(weights: bytes, info: dict) -> tuple[dict[str, nn.Module], np.ndarray, torch.Tensor]:
    """The stored models built from their recorded layers, and the recorded rows."""
    from engine.edge.layers import build

    present = {k.split(".")[0] for k in _keys(weights)}
    models = {}
    for name, described in info["networks"].items():
        if name in present:
            try:
                models[name] = restore(build(described), weights, name)
            except ValueError as e:
                raise TryItUnavailable(f"This run's {name} network cannot be rebuilt here ({e}).") from None
    rows = info["try_rows"]
    X_test = np.asarray(rows["test"], dtype=np.float32)
    return models, X_test, torch.as_tensor(np.asarray(rows["background"], dtype=np.float32))


def _trained_here(config: Config, weights: bytes):
    """A run stored before info kept the networks: its MLP trained here, rebuilt from the settings."""
    from engine.edge.source import rows_of

    data = rows_of(config.start_from, config.seed)
    original = mlp(data["X_train"].shape[1], len(data["class_names"]), [config.hidden_width] * 2, "relu")
    stored = {"original": restore(original, weights, "original")}
    present = {k.split(".")[0] for k in _keys(weights)}
    stored.update({name: linear_chain(weights, name) for name in ("pruned", "student") if name in present})
    rng = np.random.default_rng(config.seed)
    background = torch.as_tensor(data["X_train"][rng.choice(len(data["X_train"]), 30, replace=False)])
    return stored, data["X_test"], background, data["feature_names"], data["class_names"], data["image_side"]


def _keys(weights: bytes) -> list[str]:
    from safetensors.torch import load as load_safetensors

    return list(load_safetensors(weights))


def examples(bundle: Bundle) -> list[dict]:
    return [{"row": r} for r in bundle.X_test[:5]]


_THREADS = threading.Lock()


@contextlib.contextmanager
def one_thread():
    """PyTorch on one thread for the timed calls, as in the run's worker (the setting is the process's: the lock
    keeps two answers from restoring each other's value)."""
    with _THREADS:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _latency_ms(model: nn.Module, x: torch.Tensor) -> float:
    """Median milliseconds per call at batch 1, measured like the run measured its variants."""
    predict = M.predictor(M.Variant("", "torch", model, b""))
    return float(np.median(M.latencies(predict, x.numpy(), WARMUP, REPEATS)) * 1000)


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["row"]`` (d,) as the models take it, or ``inputs["image"]`` (8, 8) for digits."""
    raw = inputs["image"] if "image" in inputs else inputs["row"]
    x = torch.as_tensor(np.asarray(raw, dtype=np.float32).reshape(1, -1))
    probs, latency = {}, {}
    with one_thread():  # every version alike
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
        f"Time for this one answer (median of {REPEATS})",
        "Measured on this machine as the run measured it: warm, one row at a time, one thread. A tiny network can "
        "be slower in int8, which converts each input to int8 and back at every call.",
        y_title="milliseconds",
    )
    exps = _explanations(bundle, x, probs, figs)
    return Answer(
        summary=summary,
        prediction={n: dict(zip(bundle.class_names, p.tolist())) for n, p in probs.items()},
        explanation=exps,
        figures=figs,
        tables={},
    )


def _explanations(bundle: Bundle, x: torch.Tensor, probs: dict, figs: dict) -> dict:
    """SHAP of the original and the smallest float copy for the input ``x`` (1, d), each for its own answer; their
    pictures are added to ``figs``."""
    exps = {}
    floats = [n for n in bundle.models if n != "Dynamic int8"]
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
    return exps
