"""Edge AI page: compress a trained network for a phone and measure what each technique costs and saves."""

import re
import time

import streamlit as st

from engine.core.store import single_user
from ui.form import setting
from ui.page import technique_page
from ui.runs import owner, store

INTRO = """
A phone has little memory, a slow processor and a battery to spare. **Model compression** makes a trained network
fit: **quantization** stores weights (and, in the static kind, activations) as 8-bit integers instead of 32-bit
floats; **pruning** sets the smallest weights to zero (or removes whole neurons); **knowledge distillation** trains a
much smaller *student* to copy the original's softened outputs; **ONNX** is the file format phone runtimes load, run
here with ONNX Runtime, which has its own int8 quantizer.

Every variant is measured the same way: file size, weights and non-zeros, time per sample (after warm-up), samples
per second, accuracy, and how often it agrees with the original. Every exported file is reloaded and checked before
it is offered, and the page says which variant it would ship and why. SHAP then shows whether compression changed
*what the model looks at*, not only how often it is right.
"""
SOURCES = {"xai": ("Explainable AI", "test_accuracy"), "nas": ("Neural architecture search", "best_test_accuracy")}


def finished_runs() -> list[dict]:
    """This person's finished XAI and NAS classifier runs, newest first."""
    db = store()
    if db is None:
        return []
    who = None if single_user() else owner()
    runs = [
        r
        for technique in SOURCES
        for r in db.list_runs(who, technique, limit=50)
        if r["status"] in ("done", "stopped") and r["config"].get("dataset") != "diabetes"
    ]
    return sorted(runs, key=lambda r: r["created"], reverse=True)


def run_label(run: dict) -> str:
    title, metric = SOURCES[run["technique"]]
    score = run["metrics"].get(metric)
    when = time.strftime("%d %b %H:%M", time.localtime(run["created"]))
    detail = run["config"].get("dataset", "digits")
    return f"{title} · {detail} · {when}" + (f" · {score:.1%} test accuracy" if isinstance(score, float) else "")


def source_inputs() -> dict:
    """When "finished run" is chosen: pick one of your runs, or paste a result link someone shared with you."""
    if setting("edge", "start_from") != "finished_run":
        return {}
    runs = finished_runs()
    pasted = st.text_input(
        "…or paste a result link (or run id) of an Explainable AI or NAS run",
        key="edge.run_link",
        max_chars=300,
        help="The link from a run's Share button; only its run id is used.",
    )
    found = re.search(r"[0-9a-f]{32}", pasted or "")
    if pasted and not found:
        st.error("That does not contain a run id (32 letters and digits, 0-9 and a-f).", icon=":material/link_off:")
    if found:
        return {"source_run": found.group(0)}
    if not runs:
        st.info(
            "You have no finished Explainable AI or NAS runs yet: train one on its page, or paste a result link.",
            icon=":material/info:",
        )
        return {}
    by_id = {r["id"]: r for r in runs}
    chosen = st.selectbox(
        "Finished run to compress",
        list(by_id),
        format_func=lambda i: run_label(by_id[i]),
        key="edge.run_pick",
        help="Its network and its data split are rebuilt from the stored run.",
    )
    return {"source_run": chosen}


technique_page("edge", intro=INTRO, extra_inputs=source_inputs)
