"""Measure every variant the same way, verify exported files, pick the one to ship, and compare explanations.

Each variant is judged through one function ``predict(rows (n, d) float32) -> logits (n, k)``: its file size
(the bytes it ships as: safetensors for PyTorch variants, never a pickle; .onnx for ONNX ones), weights and
non-zeros, latency per sample at batch 1 (median and 95th percentile of timed calls after untimed warm-up calls),
throughput at a larger batch, test accuracy and agreement with the original's predictions.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.core.explain import shapley_permutation

WARMUP, REPEATS, BATCH = 30, 300, 256
ONNX_TOLERANCE = 1e-4  # a float32 ONNX file must reproduce PyTorch's logits to within this


@dataclass
class Variant:
    name: str
    kind: str  # "torch" or "onnx"
    model: Any  # nn.Module, or the ONNX file's bytes
    file: bytes  # what it ships as
    made_from: str = "original"  # the variant it was made from (ONNX files are checked against it)
    stats: dict = field(default_factory=dict)  # filled by ``measure``


# --- files --------------------------------------------------------------------------------------------------


def _quantized(key: str, t: torch.Tensor) -> dict[str, torch.Tensor]:
    """A quantized tensor as its int8 values plus scale and zero point (per tensor or per output channel)."""
    if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        scale, zero = t.q_per_channel_scales().float(), t.q_per_channel_zero_points()
    else:
        scale, zero = torch.tensor([t.q_scale()], dtype=torch.float32), torch.tensor([t.q_zero_point()])
    return {key: t.int_repr(), f"{key}.scale": scale, f"{key}.zero_point": zero.to(torch.int32)}


def file_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a PyTorch variant's file holds: float tensors as they are, int8 weights with their scales."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if key.endswith("_packed_params._packed_params"):  # a quantized Linear: (int8 weight, float bias)
            base = key.removesuffix("_packed_params._packed_params")
            weight, bias = value
            out.update(_quantized(base + "weight", weight))
            if bias is not None:
                out[base + "bias"] = bias.detach()
        elif isinstance(value, torch.Tensor):
            out.update(_quantized(key, value) if value.is_quantized else {key: value.detach()})
        elif isinstance(value, (int, float)) and not isinstance(value, bool):  # an output scale or zero point
            out[key] = torch.tensor([value], dtype=torch.float32 if isinstance(value, float) else torch.int32)
    return {k: v.contiguous() for k, v in out.items()}


def torch_file(model: nn.Module) -> bytes:
    from safetensors.torch import save

    return save(file_tensors(model))


def torch_variant(name: str, model: nn.Module, made_from: str = "original") -> Variant:
    return Variant(name, "torch", model.eval(), torch_file(model), made_from)


def is_weight(name: str) -> bool:
    """Weights and biases count as parameters; quantization scales and zero points do not."""
    return not any(part in name for part in ("scale", "zero_point"))


def weights_of(variant: Variant) -> list[np.ndarray]:
    """The parameter arrays a variant's file stores (int8 weights count one each, like float ones)."""
    if variant.kind == "torch":
        return [t.numpy() for k, t in file_tensors(variant.model).items() if is_weight(k) and t.dim() > 0]
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(variant.file).graph
    return [numpy_helper.to_array(t) for t in graph.initializer if is_weight(t.name) and len(t.dims) > 0]


# --- running ------------------------------------------------------------------------------------------------


def ort_session(data: bytes):
    """A fresh ONNX Runtime session from the file's bytes, on one thread (like a run's PyTorch)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def predictor(variant: Variant) -> Callable[[np.ndarray], np.ndarray]:
    """rows (n, d) float32 -> logits (n, k), whatever runs the variant."""
    if variant.kind == "onnx":
        session = ort_session(variant.file)
        name = session.get_inputs()[0].name
        return lambda X: session.run(None, {name: X})[0]
    model = variant.model

    def run(X: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(X)).numpy()

    return run


def latencies(f: Callable, rows: np.ndarray, warmup: int = WARMUP, repeats: int = REPEATS) -> np.ndarray:
    """Seconds per call at batch 1: ``warmup`` untimed calls first (caches, lazy set-up), then ``repeats`` timed."""
    for i in range(warmup):
        f(rows[i % len(rows)][None])
    out = np.empty(repeats)
    for i in range(repeats):
        x = rows[i % len(rows)][None]  # (1, d)
        started = time.perf_counter()
        f(x)
        out[i] = time.perf_counter() - started
    return out


def throughput(f: Callable, rows: np.ndarray, batch: int = BATCH, repeats: int = 5) -> float:
    """Samples per second at batch ``batch`` (best of ``repeats`` after one untimed call)."""
    X = np.ascontiguousarray(np.resize(rows, (batch, rows.shape[1])))  # (batch, d), rows repeated as needed
    f(X)
    best = min(_timed(f, X) for _ in range(repeats))
    return batch / max(best, 1e-9)


def _timed(f: Callable, X: np.ndarray) -> float:
    started = time.perf_counter()
    f(X)
    return time.perf_counter() - started


def measure(variant: Variant, X: np.ndarray, y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Fill ``variant.stats``; returns its test logits (n, k) and keeps its batch-1 latencies in stats["latencies"]."""
    f = predictor(variant)
    logits = np.asarray(f(X), dtype=np.float64)
    pred = logits.argmax(1)
    params = weights_of(variant)
    lat = latencies(f, X) * 1e3  # ms
    variant.stats.update(
        size_kb=len(variant.file) / 1024,
        zipped_kb=len(zlib.compress(variant.file, 9)) / 1024,
        parameters=int(sum(p.size for p in params)),
        nonzeros=int(sum(np.count_nonzero(p) for p in params)),
        latency_ms=float(np.median(lat)),
        latency_p95_ms=float(np.percentile(lat, 95)),
        throughput=throughput(f, X),
        accuracy=float((pred == y).mean()),
        agreement=float((pred == reference).mean()),
        finite=bool(np.isfinite(logits).all()),
        latencies=lat,
    )
    variant.stats.setdefault("verified", variant.kind == "torch")
    return logits


def verify_onnx(variant: Variant, X: np.ndarray, source_logits: np.ndarray) -> dict:
    """Check an exported file before offering it: valid ONNX, reloads in ONNX Runtime, matches its source model.

    Returns max_abs_diff and agreement with the PyTorch model it was exported from, and whether it passed (a float
    file must match to ONNX_TOLERANCE; an int8 file must load, give finite logits and predict a class per row).
    """
    import onnx

    try:
        onnx.checker.check_model(onnx.load_from_string(variant.file))
        out = np.asarray(predictor(variant)(X), dtype=np.float64)  # a fresh session: the file alone, as shipped
    except Exception as e:  # a broken file is reported, not shipped
        return {"verified": False, "problem": str(e).splitlines()[0][:200]}
    diff = float(np.abs(out - source_logits).max()) if out.shape == source_logits.shape else float("inf")
    ok = np.isfinite(out).all() and out.shape == source_logits.shape
    if "int8" not in variant.name:
        ok = ok and diff <= ONNX_TOLERANCE * max(1.0, float(np.abs(source_logits).max()))
    return {
        "verified": bool(ok),
        "max_abs_diff": diff,
        "source_agreement": float((out.argmax(1) == source_logits.argmax(1)).mean()),
    }


def choose(variants: list[Variant], tolerance: float, prefer_onnx: bool) -> Variant:
    """The variant to ship: verified, within ``tolerance`` of the original's accuracy, smallest file.

    Files of the same size (to 0.1 KB) are told apart by their zipped size, which is what an app download carries.
    With ONNX export on, only ONNX files compete: they are what a phone's runtime loads. Falls back to the original.
    """
    original = variants[0]
    pool = [v for v in variants[1:] if v.stats.get("verified") and v.stats["finite"]]
    if prefer_onnx and any(v.kind == "onnx" for v in pool):
        pool = [v for v in pool if v.kind == "onnx"]
    good = [v for v in pool if v.stats["accuracy"] >= original.stats["accuracy"] - tolerance - 1e-12]
    return min(good, key=lambda v: (round(v.stats["size_kb"], 1), v.stats["zipped_kb"])) if good else original


# --- explanation drift --------------------------------------------------------------------------------------


def shap_pair(
    f_a: Callable,
    f_b: Callable,
    rows: np.ndarray,
    background: np.ndarray,
    classes: np.ndarray,
    seed: int,
    permutations: int = 10,
) -> tuple[np.ndarray, ...]:
    """Shapley values of two models' logit for the same class on the same rows, with the same permutations.

    For row r the class is ``classes[r]`` (what the original predicts); absent features take background values.
    Returns (values_a (n, d), base_a (n,), values_b, base_b, output_a (n,), output_b (n,)).
    """
    n, d = rows.shape
    out = {key: (np.zeros((n, d)), np.zeros(n), np.zeros(n)) for key in "ab"}
    for key, f in (("a", f_a), ("b", f_b)):
        values, base, total = out[key]
        for r in range(n):

            def coalition(masks, x=rows[r], c=int(classes[r]), f=f):  # (m, d) 0/1 -> (m,) mean logit of class c
                mixed = np.where(masks[:, None, :] > 0.5, x[None, None, :], background[None, :, :])  # (m, B, d)
                logits = f(mixed.reshape(-1, d).astype(np.float32))  # (m * B, k)
                return np.asarray(logits)[:, c].reshape(len(masks), len(background)).mean(1)

            values[r], base[r], total[r] = shapley_permutation(coalition, d, permutations=permutations, seed=seed + r)
    return out["a"][0], out["a"][1], out["b"][0], out["b"][1], out["a"][2], out["b"][2]
