"""Edge AI analysis, run in the worker after compressing: the SHAP values measured during the run packaged as
explanations, and the shipped model's file for the Details tab."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.edge.views import variants


def explain(result: Result):
    """SHAP values of the original and of the shipped model for the class the original predicts, same rows."""
    a, info = result.arrays, result.info
    if "shap_original" not in a:
        return None
    from engine.core.explain import make_explanation

    data = a["raw_test"][a["shap_rows"]]
    out = {}
    for key, title in (("original", "Original model"), ("compressed", f"Shipped: {info['compared']}")):
        values, base, output = a[f"shap_{key}"], a[f"shap_{key}_base"], a[f"shap_{key}_output"]
        error = float(np.abs(base + values.sum(1) - output).max())
        out[title] = make_explanation(
            values,
            base,
            data,
            info["feature_names"],
            None,
            error,
            "Permutation Shapley values (10 permutations, 16 background rows), the logit of "
            "the class the original predicts",
        )
    return out


def downloads(result: Result) -> dict:
    """The shipped variant's file for the Details tab's download button: {label: {file_name, mime, data, note}}.

    The optional ``downloads`` of the contract: ``pipeline.execute`` puts it into ``Outcome.downloads`` and
    the run store keeps it, so a result link offers the same verified file.
    """
    if "download" not in result.info:
        return {}
    d, row = result.info["download"], next(r for r in variants(result) if r["name"] == result.info["shipped"])
    check = "reloaded in ONNX Runtime and checked on every test row" if row["kind"] == "onnx" else "runs in PyTorch"
    note = (
        f"{d['variant']}: {row['size_kb']:,.1f} KB, {check}; agrees with the original on {row['agreement']:.1%} "
        f"of {result.info['n_test']} test rows."
    )
    return {
        f"Shipped model ({d['file_name'].rsplit('.', 1)[1]})": {
            "file_name": d["file_name"],
            "mime": d["mime"],
            "data": result.arrays["shipped_file"].tobytes(),
            "note": note,
        }
    }
