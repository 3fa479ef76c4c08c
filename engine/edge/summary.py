"""Edge AI words: the "What just happened" text (what each technique cost, what would ship and whether its
explanation drifted), each sentence from the run's own numbers. Pure functions of a Result (no torch)."""

from __future__ import annotations

from engine.core.contract import Result
from engine.core.wording import summary_text
from engine.edge.views import variants


def _points(delta: float) -> str:
    """An accuracy change in words (``delta`` is a 0-1 share)."""
    if abs(delta) < 0.0005:
        return "kept test accuracy exactly"
    return f"{'gained' if delta > 0 else 'lost'} {abs(100 * delta):.1f} accuracy points"


def _start_sentence(result: Result) -> str:
    m, info = result.metrics, result.info
    k = len(info["class_names"])
    text = (
        f"The starting network ({info['origin']}) gets {m['original_accuracy']:.1%} of the {info['n_test']} test "
        f"rows of {info['title']} right, in a {m['original_size_kb']:,.1f} KB file."
    )
    if m["original_accuracy"] < 1.5 / k:
        text += (
            f" That is close to guessing among {k} classes, so there is little to preserve: train it longer "
            "(more epochs) before compressing it."
        )
    return text


def _technique_sentences(result: Result) -> list[str]:
    m, c = result.metrics, result.config
    o = m["original_accuracy"]
    out = []
    for key, name in (("int8", "Dynamic int8 quantization"), ("static_int8", "Static int8 quantization")):
        if f"{key}_size_kb" in m:
            out.append(
                f"{name} shrank the file {m['original_size_kb'] / m[f'{key}_size_kb']:.1f}x to "
                f"{m[f'{key}_size_kb']:,.1f} KB and {_points(m[f'{key}_accuracy'] - o)} "
                f"({m[f'{key}_agreement']:.1%} of predictions unchanged)."
            )
    for name, reason in result.info["skipped"].items():
        out.append(f"{name.capitalize()} could not be applied to this model ({reason}).")
    if "pruned_sparsity" in m:
        kind = "whole neurons" if c.prune_kind == "structured" else "single weights"
        text = (
            f"Pruning {kind} left {m['pruned_sparsity']:.1%} of the weights zero or gone (asked for "
            f"{c.sparsity:.0%} of the {'neurons' if c.prune_kind == 'structured' else 'weights'}) and "
            f"{_points(m['pruned_accuracy'] - o)}"
        )
        if m["pruned_size_kb"] < 0.99 * m["original_size_kb"]:
            text += f"; the file itself shrank to {m['pruned_size_kb']:,.1f} KB."
        else:
            text += (
                f"; the file keeps its size (zeros are still stored) but zips to {m['pruned_zipped_kb']:,.1f} KB "
                f"instead of {m['original_zipped_kb']:,.1f} KB."
            )
        out.append(text)
    return out


def _distill_sentence(result: Result) -> list[str]:
    m, c = result.metrics, result.config
    if "distill_gain" not in m:
        return []
    o, gain, alone = m["original_accuracy"], m["distill_gain"], m["student_alone_accuracy"]
    verdict = (
        f"distillation helped by {100 * gain:.1f} points"
        if gain > 0.0005
        else "distillation made no difference on the test set"
        if gain >= -0.0005
        else f"distillation cost {100 * -gain:.1f} points this time"
    )
    if gain <= 0.0005 and o <= alone:
        verdict += (
            f". The teacher ({o:.1%}) is no better than the student alone, so it has little to teach: "
            "train the original longer or wider first"
        )
    elif gain <= 0.0005 and m["student_accuracy"] < o - 0.02:
        verdict += (
            f". The distilled student fell short of its teacher ({o:.1%}): it did not learn to copy it, so give it "
            "more training passes"
        )
    elif gain <= 0.0005:
        verdict += ": try fewer labelled rows, a smaller student, more student passes or more mixed-up rows"
    labelled = m.get("student_labelled_rows")  # absent from runs made before the students got few labels
    rows = (
        f"the true labels of {labelled:,.0f} training rows ({c.student_labels} per class)"
        if labelled
        else "every training row's label"
    )
    return [
        f"The teacher (the original) gets {o:.1%}. A student with {c.student_width} hidden neurons "
        f"({m['student_size_kb']:,.1f} KB) given {rows} reached {alone:.1%} trained alone; taught by the "
        f"teacher's softened answers on every training row as well, it reached {m['student_accuracy']:.1%}: "
        f"{verdict}."
    ]


def _onnx_sentences(result: Result) -> list[str]:
    m, rows = result.metrics, [r for r in variants(result) if r["kind"] == "onnx"]
    if not rows:
        return []
    failed = [r["name"] for r in rows if not r.get("verified")]
    text = (
        f"Every exported ONNX file was reloaded in ONNX Runtime and run on all test rows: the float export matches "
        f"PyTorch to within {m['onnx_max_abs_diff']:.1e}"
    )
    if "onnx_int8_size_kb" in m:
        text += (
            f", and ONNX Runtime's int8 file ({m['onnx_int8_size_kb']:,.1f} KB) agrees with the original on "
            f"{m['onnx_int8_agreement']:.1%} of them"
        )
    text += "." if not failed else f". These files FAILED the check and are not offered: {', '.join(failed)}."
    return [text]


def _ship_sentences(result: Result) -> list[str]:
    m, c, info = result.metrics, result.config, result.info
    tol = f"{100 * c.accuracy_tolerance:.1f}"
    if len(variants(result)) == 1:
        return ["The run stopped before any compressed variant was made."]
    if info["shipped"] == "original":
        return [
            f"No compressed variant passed the bar (a verified file within {tol} points of the original's "
            f"accuracy), so this run would ship the original. Lower the sparsity, fine-tune longer, or allow a "
            f"larger accuracy loss."
        ]
    kind = "ONNX file (what a phone's runtime loads)" if c.onnx else "PyTorch file"
    speed = m["speedup"]
    pace = "faster" if speed > 1.05 else "slower" if speed < 0.95 else "about as fast"
    text = (
        f"It would ship **{info['shipped']}**: the smallest verified {kind} within {tol} points of the "
        f"original's accuracy: {m['chosen_size_kb']:,.1f} KB ({m['size_reduction']:.1f}x smaller), "
        f"{m['chosen_accuracy']:.1%} accurate, agreeing with the original on {m['chosen_agreement']:.1%} of test "
        f"rows. One sample takes {m['chosen_latency_ms']:.3f} ms, {pace} than the original "
        f"({m['original_latency_ms']:.3f} ms; timings vary with the machine's load)."
    )
    return [text]


def _shap_sentence(result: Result) -> list[str]:
    m, info = result.metrics, result.info
    if "shap_correlation" not in m:
        return []
    r = m["shap_correlation"]
    what = "pixels" if info["image_side"] else "inputs"
    verdict = (
        f"the compressed model leans on the same {what}"
        if r > 0.9
        else f"it mostly leans on the same {what}, with some drift"
        if r > 0.7
        else "its explanation drifted: it reaches its answers differently"
    )
    return [
        f"SHAP values of the original and {info['compared']} on the same {len(result.arrays['shap_rows'])} test "
        f"rows correlate at r = {r:.2f}: {verdict}."
    ]


def _verdict(result: Result) -> tuple[str, str]:
    """(one verdict sentence, the numbers behind it), from what the run would ship."""
    m, c, info = result.metrics, result.config, result.info
    tol = f"{100 * c.accuracy_tolerance:.1f}"
    if len(variants(result)) == 1:
        return "**The run stopped before any compressed variant was made.**", _start_sentence(result)
    original = f"The original gets {m['original_accuracy']:.1%} in {m['original_size_kb']:,.1f} KB."
    if info["shipped"] == "original":
        return (
            f"**No compressed variant passed the bar (a verified file within {tol} points of the original's "
            "accuracy), so this run would ship the original.**",
            original,
        )
    return (
        f"**It would ship {info['shipped']}: {m['size_reduction']:.1f}x smaller than the original and "
        f"{_accuracy_change(m['chosen_accuracy'] - m['original_accuracy'], tol)}.**",
        f"{m['chosen_size_kb']:,.1f} KB and {m['chosen_accuracy']:.1%} accurate, against the original's "
        f"{m['original_size_kb']:,.1f} KB and {m['original_accuracy']:.1%}.",
    )


def _accuracy_change(gain: float, tol: str) -> str:
    """A shipped variant's accuracy against the original's, in words that follow its sign."""
    points = 100 * gain
    if points >= 0.05:
        return f"{points:.1f} points more accurate"
    if points > -0.05:
        return "as accurate"
    return f"{-points:.1f} points less accurate (the bar allows {tol})"


def describe(result: Result) -> str:
    verdict, support = _verdict(result)
    stopped = (
        ["You stopped the run early: only the variants made before the stop are compared."] if result.stopped else []
    )
    more = (
        ([] if len(variants(result)) == 1 else [_start_sentence(result)])
        + _technique_sentences(result)
        + _distill_sentence(result)
        + _onnx_sentences(result)
        + ([] if len(variants(result)) == 1 else _ship_sentences(result))
        + _shap_sentence(result)
    )
    return summary_text(verdict, [support, *stopped], more)
