"""Edge AI page: compress a trained network for a phone and measure what each technique costs and saves."""

import re
import time

import streamlit as st

from engine.core.service import service
from ui.form import setting
from ui.page import technique_page
from ui.runs import owner, shared_outcome

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
    app = service()
    runs = [
        r
        for technique in SOURCES
        for r in app.runs(owner(), technique, limit=50)
        if r["status"] in ("done", "stopped") and r["config"].get("dataset") != "diabetes"
    ]
    return sorted(runs, key=lambda r: r["created"], reverse=True)


def run_label(run: dict) -> str:
    title, metric = SOURCES[run["technique"]]
    score = run["metrics"].get(metric)
    when = time.strftime("%d %b %H:%M", time.localtime(run["created"]))
    detail = run["config"].get("dataset", "digits")
    return f"{title} · {detail} · {when}" + (f" · {score:.1%} test accuracy" if isinstance(score, float) else "")


def linked_source() -> str:
    """The run the result on screen (a result link) started from, while the form still starts from a finished run;
    else ""."""
    shared, _problem = shared_outcome("edge")
    if shared is None or shared.config.get("start_from") != "finished_run":
        return ""
    return str(shared.config.get("source_run") or "")


def usable(row: dict) -> bool:
    """A stored run Edge AI can start from: a finished XAI or NAS run."""
    return row["technique"] in SOURCES and row["status"] in ("done", "stopped")


def source_inputs() -> dict | None:
    """When "finished run" is chosen: pick one of your runs, or paste a result link someone shared with you. A
    result link's own starting run is offered first, so its settings train again as they are. None (nothing to
    start from yet) after saying how to get something."""
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
    by_id = {r["id"]: r for r in runs}
    linked = linked_source()
    if linked and linked not in by_id:
        row = service().run(linked)
        if row is not None and usable(row):
            by_id = {linked: row, **by_id}  # first: the form then trains exactly what the result link shows
        else:
            st.info(
                f"The result on this page started from the run {linked[:8]}…, which is no longer stored (or has "
                "no trained network), so it cannot be trained again from there. To train Edge AI yourself, train an "
                "Explainable AI or NAS run on its page and pick it here, paste a result link of one, or choose a "
                "network trained here under **Start from**.",
                icon=":material/info:",
            )
    if not by_id:
        if not linked:
            st.info(
                "You have no finished Explainable AI or NAS runs yet: train one on its page, or paste a result link.",
                icon=":material/info:",
            )
        return None
    chosen = st.selectbox(
        "Finished run to compress",
        list(by_id),
        format_func=lambda i: ("This result's starting run · " if i == linked else "") + run_label(by_id[i]),
        key="edge.run_pick",
        help="Its network and its data split are rebuilt from the stored run."
        + (
            " The result on this page started from the first one: Train compresses it again with these settings."
            if linked in by_id
            else ""
        ),
    )
    return {"source_run": chosen}


technique_page("edge", intro=INTRO, extra_inputs=source_inputs)
