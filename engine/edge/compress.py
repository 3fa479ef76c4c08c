"""Edge AI: start from a trained model, make compressed variants, measure them all the same way, ship one.

Read top to bottom: ``run`` starts from a trained model (``source``), applies each switched-on technique alone
to the original (``techniques``), chains them (distil -> prune -> int8 / ONNX int8) when more than one is on,
measures and verifies every variant (``evaluate``), picks the one to ship, and compares the SHAP explanations
of the original and the shipped model on the same rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.core.contract import ProgressFn, Result, Tracker
from engine.edge import evaluate as M
from engine.edge import layers as L
from engine.edge import techniques as T
from engine.edge.config import Config
from engine.edge.source import Start, start_model

VARIANT_METRICS = {
    "original": "original",
    "dynamic int8": "int8",
    "static int8": "static_int8",
    "pruned": "pruned",
    "distilled student": "student",
    "ONNX int8": "onnx_int8",
}  # variant -> metric prefix
TRY_IT_ROWS = 50  # test rows kept for Try it to start from


def planned_steps(config: Config) -> int:
    """Progress steps: the baseline's epochs, fine-tuning (twice when the student is pruned too), both students'
    epochs, and one for measuring."""
    steps = config.epochs if config.start_from != "finished_run" else 0
    steps += config.prune * config.finetune_epochs * (1 + config.distill)
    return steps + config.distill * 2 * config.distill_epochs + 1


def alone_variants(config: Config, start: Start, tracker: Tracker, parts: dict, skipped: dict) -> list[M.Variant]:
    """Each switched-on technique applied on its own to the original model."""
    out = []
    if config.dynamic_int8:
        out.append(M.torch_variant("dynamic int8", T.quantize_dynamic(start.model)))
    if config.static_int8:
        try:
            calibration = start.X_train[: config.calibration_rows]  # (c, d)
            out.append(M.torch_variant("static int8", T.quantize_static(start.model, calibration)))
        except (RuntimeError, NotImplementedError, AssertionError) as e:  # an op without an int8 kernel
            skipped["static int8"] = str(e).splitlines()[0][:200]
    offset = config.epochs if start.trained_here else 0
    if config.prune and not tracker.stopped:
        pruned, parts["masks"] = T.prune(start.model, config, start, tracker, offset)
        parts["pruned"] = pruned
        out.append(M.torch_variant("pruned", shrink(pruned, config)))
    offset += config.prune * config.finetune_epochs
    if config.distill and not tracker.stopped:
        parts["distilled"], alone = T.distill(start.model, config, start, tracker, offset)
        parts["labelled_rows"] = len(T.labelled_subset(start.y_train, config.student_labels, config.seed))
        out.append(M.torch_variant("student alone", alone))
        if parts["distilled"] is not None:
            out.append(M.torch_variant("distilled student", parts["distilled"]))
    return out


def shrink(pruned: torch.nn.Module, config: Config) -> torch.nn.Module:
    """Structured pruning can drop the removed neurons for real; unstructured keeps its zeros in place."""
    return (T.compact(pruned) if config.prune_kind == "structured" else None) or pruned


def chained_variants(config: Config, start: Start, tracker: Tracker, parts: dict, skipped: dict) -> list[M.Variant]:
    """The techniques one after another: distilled student -> pruned -> int8 (ONNX Runtime's when ONNX is on)."""
    out, model, names = [], start.model, []
    if parts.get("distilled") is not None:
        model, names = parts["distilled"], ["distilled"]
    if parts.get("pruned") is not None and not tracker.stopped:
        if names:  # prune the student too; its fine-tuning steps come after the students' epochs
            pruned, _ = T.prune(
                model, config, start, tracker, planned_steps(config) - 1 - config.finetune_epochs, "student_finetune"
            )
            model = shrink(pruned, config)
            out.append(M.torch_variant("distilled + pruned", model, made_from="distilled student"))
        else:
            model = shrink(parts["pruned"], config)
        names.append("pruned")
    source = {(): "original", ("distilled",): "distilled student", ("pruned",): "pruned"}.get(
        tuple(names), "distilled + pruned"
    )  # the measured float variant the chain's last step starts from
    chain = " + ".join(names)
    d = start.X_test.shape[1]
    if config.onnx and not tracker.stopped:
        exported = T.export_onnx(start.model, d, config.onnx_exporter)
        out += [M.Variant("ONNX", "onnx", None, exported), M.Variant("ONNX int8", "onnx", None, T.onnx_int8(exported))]
        if names:
            exported = T.export_onnx(model, d, config.onnx_exporter)
            out.append(M.Variant(f"{chain} + ONNX int8", "onnx", None, T.onnx_int8(exported), made_from=source))
    elif (
        names and (config.dynamic_int8 or (config.static_int8 and "static int8" not in skipped)) and not tracker.stopped
    ):
        quantized = (
            T.quantize_dynamic(model)
            if config.dynamic_int8
            else T.quantize_static(model, start.X_train[: config.calibration_rows])
        )
        out.append(M.torch_variant(f"{chain} + int8", quantized, made_from=source))
    return out


def measure_all(variants: list[M.Variant], start: Start) -> dict[str, np.ndarray]:
    """Every variant's test logits, after measuring it; ONNX files are verified against their source model."""
    reference = M.predictor(variants[0])(start.X_test).argmax(1)  # the original's predictions
    logits: dict[str, np.ndarray] = {}
    for v in variants:
        if v.kind == "onnx":
            v.stats.update(M.verify_onnx(v, start.X_test, logits[v.made_from]))
        logits[v.name] = M.measure(v, start.X_test, start.y_test, reference)
    return logits


def explanation_drift(config: Config, start: Start, original: M.Variant, other: M.Variant) -> dict:
    """SHAP values of the original and another variant for the class the original predicts, same rows."""
    rng = np.random.default_rng(config.seed)
    n = min(config.explain_rows, len(start.X_test))
    rows = np.sort(rng.choice(len(start.X_test), n, replace=False))
    background = start.X_train[rng.choice(len(start.X_train), min(16, len(start.X_train)), replace=False)]
    f_a, f_b = M.predictor(original), M.predictor(other)
    classes = f_a(start.X_test[rows]).argmax(1)  # (n,)
    va, ba, vb, bb, oa, ob = M.shap_pair(f_a, f_b, start.X_test[rows], background, classes, config.seed)
    corr = float(np.corrcoef(va.ravel(), vb.ravel())[0, 1]) if va.std() > 0 and vb.std() > 0 else 0.0
    return {
        "shap_rows": rows,
        "shap_classes": classes,
        "shap_original": va,
        "shap_original_base": ba,
        "shap_compressed": vb,
        "shap_compressed_base": bb,
        "shap_original_output": oa,
        "shap_compressed_output": ob,
        "shap_correlation": corr,
    }


def run(config: Config, progress: ProgressFn, inputs: dict | None = None) -> Result:
    """Compress a trained model with the chosen techniques; measure, verify, ship and explain the variants.
    ``inputs["source"]``: the finished run to start from, when the settings name one (the app hands it over)."""
    tracker = Tracker(progress, planned_steps(config))
    start = start_model(config, tracker, inputs)
    parts: dict[str, Any] = {}  # the pruned and distilled models and the final masks, as they are made
    skipped: dict[str, str] = {}  # technique -> why it could not be applied
    variants = [M.torch_variant("original", start.model)]
    if not tracker.stopped:
        variants += alone_variants(config, start, tracker, parts, skipped)
    if not tracker.stopped:
        variants += chained_variants(config, start, tracker, parts, skipped)
    measure_all(variants, start)
    shipped = M.choose(variants, config.accuracy_tolerance, prefer_onnx=config.onnx)
    others = variants[1:] or variants  # when the original ships, compare it with the smallest other variant
    compared = shipped if shipped is not variants[0] else min(others, key=lambda v: v.stats["size_kb"])
    drift = explanation_drift(config, start, variants[0], compared) if compared is not variants[0] else {}
    if not tracker.stopped:
        tracker.step(planned_steps(config), shipped_accuracy=shipped.stats["accuracy"])
    return package(config, start, variants, shipped, compared, parts, skipped, drift, tracker)


def summary_metrics(variants: list[M.Variant], shipped: M.Variant, drift: dict) -> dict[str, float]:
    by_name = {v.name: v.stats for v in variants}
    o = by_name["original"]
    m = {
        "original_zipped_kb": o["zipped_kb"],
        "original_parameters": o["parameters"],
        "original_latency_ms": o["latency_ms"],
        "original_throughput": o["throughput"],
    }
    for name, key in VARIANT_METRICS.items():
        if name in by_name:
            s = by_name[name]
            m.update({f"{key}_accuracy": s["accuracy"], f"{key}_size_kb": s["size_kb"]})
            if name != "original":
                m[f"{key}_agreement"] = s["agreement"]
    if "pruned" in by_name:
        m.update(
            pruned_zipped_kb=by_name["pruned"]["zipped_kb"],
            pruned_parameters=by_name["pruned"]["parameters"],
            pruned_nonzeros=by_name["pruned"]["nonzeros"],
        )
    if "student alone" in by_name:
        m["student_alone_accuracy"] = by_name["student alone"]["accuracy"]
        if "student_accuracy" in m:
            m["distill_gain"] = m["student_accuracy"] - m["student_alone_accuracy"]
    if "ONNX" in by_name:
        m.update(
            onnx_max_abs_diff=by_name["ONNX"].get("max_abs_diff", float("inf")),
            onnx_agreement=by_name["ONNX"]["agreement"],
        )
    s = shipped.stats
    m.update(
        chosen_accuracy=s["accuracy"],
        chosen_size_kb=s["size_kb"],
        chosen_agreement=s["agreement"],
        size_reduction=o["size_kb"] / s["size_kb"],
        chosen_latency_ms=s["latency_ms"],
        speedup=o["latency_ms"] / s["latency_ms"],
        variants=len(variants),
    )
    if drift:
        m["shap_correlation"] = drift["shap_correlation"]
    return {k: float(v) for k, v in m.items()}


def package(config, start, variants, shipped, compared, parts, skipped, drift, tracker) -> Result:
    """The Result: metrics, the variants' table, the arrays the figures need, the float models, the shipped file."""
    metrics = summary_metrics(variants, shipped, drift)
    small = next((v.model for v in variants if v.name == "pruned"), None)  # compacted when structured
    if "labelled_rows" in parts:
        metrics["student_labelled_rows"] = float(parts["labelled_rows"])
    if small is not None:
        metrics["pruned_sparsity"] = sparsity_of(small, start.model)
    layers = layer_arrays(start.model, small, variants)
    info = result_info(start, variants, shipped, compared, skipped)
    models = {"original": start.model}
    if small is not None:
        models["pruned"] = small
    if parts.get("distilled") is not None:
        models["student"] = parts["distilled"]
    info.update(try_it_info(config, start, models))
    arrays = {
        "shipped_file": np.frombuffer(shipped.file, dtype=np.uint8),
        "latencies": {v.name: v.stats["latencies"] for v in variants},
        "variant_models": {v.name: (v.model if v.kind == "torch" else v.file) for v in variants},
        "X_test": start.X_test,
        "raw_test": start.raw_test,
        "y_test": start.y_test,
        "masks": [m.numpy() for m in parts.get("masks", [])],
        **layers,
        **drift,
    }
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=("original_accuracy", "chosen_accuracy", "size_reduction", "speedup"),
        models=models,
        arrays=arrays,
        info=info,
        stopped=tracker.stopped,
    )


def result_info(start, variants, shipped, compared, skipped) -> dict:
    """The names and labels the charts, the summary and the download read: the variants' table and the shipped file."""
    table = [
        {
            "name": v.name,
            "kind": v.kind,
            "made_from": v.made_from,
            **{k: val for k, val in v.stats.items() if k != "latencies"},
        }
        for v in variants
    ]
    suffix = "onnx" if shipped.kind == "onnx" else "safetensors"
    return {
        "variants": table,
        "shipped": shipped.name,
        "compared": compared.name,
        "skipped": skipped,
        "title": start.title,
        "origin": start.origin,
        "class_names": start.class_names,
        "feature_names": start.feature_names,
        "image_side": start.image_side,
        "trained_here": start.trained_here,
        "n_test": len(start.y_test),
        "download": {
            "file_name": f"edge_{shipped.name.replace(' + ', '_').replace(' ', '_').lower()}.{suffix}",
            "mime": "application/octet-stream",
            "variant": shipped.name,
            "verified": bool(shipped.stats.get("verified")),
            "agreement": shipped.stats["agreement"],
        },
    }


def try_it_info(config: Config, start: Start, models: dict[str, torch.nn.Module]) -> dict:
    """What Try it rebuilds this run from, besides its weights, so it never needs the run it started from: each
    stored model's layers (``engine.edge.layers``), the first test rows to start from and SHAP's background rows,
    as the models take them."""
    networks = {}
    for name, model in models.items():
        try:
            networks[name] = L.spec(model)
        except ValueError:  # a layer Try it cannot rebuild: that model is left out of Try it
            continue
    rng = np.random.default_rng(config.seed)
    background = start.X_train[rng.choice(len(start.X_train), min(30, len(start.X_train)), replace=False)]
    return {
        "networks": networks,
        "try_rows": {
            "test": start.X_test[:TRY_IT_ROWS].astype(np.float32).tolist(),
            "background": background.astype(np.float32).tolist(),
        },
    }


def sparsity_of(pruned: torch.nn.Module, original: torch.nn.Module) -> float:
    """Share of the original's prunable weights that are zero, or gone from a compacted model."""
    before = sum(m.weight.numel() for _, m in T.prunable(original))
    kept = sum(int(torch.count_nonzero(m.weight)) for _, m in T.prunable(pruned))
    return 1.0 - kept / before


def layer_arrays(original, pruned, variants) -> dict:
    """Per-layer names and sparsity (for the bars) and the weights before/after int8 (for the histograms)."""
    out: dict[str, Any] = {"layer_names": [n for n, _ in T.prunable(original)]}
    if pruned is not None:  # zero or removed weights, against each layer's size in the original
        out["layer_sparsity"] = np.array(
            [
                1 - float(torch.count_nonzero(p.weight)) / o.weight.numel()
                for (_, p), (_, o) in zip(T.prunable(pruned), T.prunable(original))
            ]
        )
    quantized = next((v for v in variants if v.name in ("dynamic int8", "static int8")), None)
    if quantized is not None:  # the Linear layers, in order, before and after (int8 values times their scale)
        float_w = [m.weight.detach().numpy().ravel() for m in original.modules() if isinstance(m, torch.nn.Linear)]
        int8 = [
            m.weight().dequantize().numpy().ravel()
            for m in quantized.model.modules()
            if isinstance(m, torch.ao.nn.quantized.Linear)
        ]
        if len(int8) == len(float_w):
            out.update(weights_float=float_w, weights_int8=int8, quantized_variant=quantized.name)
    return out
