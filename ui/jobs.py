"""The job panel: Train, queue position, live progress and chart, Stop; hands back the finished Outcome."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from engine.core import charts
from engine.core.service import Busy, client_address, service, wait_text
from ui.form import prefill
from ui.runs import curve_labels, owner

POLL_SECONDS = 0.5  # progress text and bar: small messages
QUEUE_POLL_SECONDS = 2.0  # a place in the queue changes slowly: waiting visitors poll less (load benchmark, #20)
CHART_SECONDS = 2.0  # live charts: a figure is re-sent on every redraw, so they redraw less often


def _keys(name: str) -> tuple[str, str]:
    return f"{name}._job", f"{name}._outcome"


def _collect(job, job_key: str, outcome_key: str):
    """A run that ended since the last rerun: its outcome into the session, its error or note on the page, and
    None; a run still queued or training comes back as it is."""
    if job is None or job.active:
        return job
    del st.session_state[job_key]
    if job.outcome is not None:
        st.session_state[outcome_key] = job.outcome
    if job.status == "failed":
        st.error(job.error, icon=":material/error:")
    elif job.error:
        st.info(job.error)
    return None


def job_panel(name: str, module, config):
    """Draw the panel for technique ``name``; returns this session's latest Outcome (or None)."""
    job_key, outcome_key = _keys(name)
    job = _collect(service().job(st.session_state.get(job_key, "")), job_key, outcome_key)
    kept = st.session_state.get(outcome_key)
    if job is None and kept is not None and (note := service().save_note(getattr(kept, "run_id", ""))):
        st.caption(note)  # the run store is down: the results are here, the run is saved once it is back

    running = job is not None
    lost = st.session_state.get(f"{name}._lost")
    if lost and not running and outcome_key not in st.session_state:
        st.warning(
            f"Your last run here did not finish: {lost} Its settings are back in the form above; press "
            "**Train** to run it again.",
            icon=":material/restart_alt:",
        )
    too_long = service().too_long(name, config) if config is not None and not running else None
    refused = bool(too_long) and not service().status().single_user  # a personal server may run it to the limit
    left, right = st.columns([1, 3], vertical_alignment="center")
    with left:
        train = st.button(
            "Train",
            type="primary",
            icon=":material/play_arrow:",
            disabled=config is None or running or refused,
            key=f"{name}._train",
            width="stretch",
        )
    with right:
        if config is not None:
            st.caption(_estimate_text(name, config))
    if config is not None and (expected := config.expectation()):  # a setting that is expected to lose, and why
        st.info(expected, icon=":material/lightbulb:")
    if too_long:  # said before Train: a run past the time limit per run would only be ended there
        (st.warning if refused else st.info)(too_long, icon=":material/timer_off:")
    if train and config is not None and not running:
        try:
            client = client_address(st.context.ip_address, st.context.headers.get("X-Forwarded-For"))
            submitted = service().submit(name, config.model_dump(), owner=owner(claim=True), client=client)
        except Busy as e:
            st.warning(str(e), icon=":material/hourglass_disabled:")
            return st.session_state.get(outcome_key)
        st.session_state[job_key] = submitted.id  # followed by id from now on (Service.job)
        st.session_state.pop(f"{name}._lost", None)
        if "run" in st.query_params:  # the page now shows the new run, not a shared one
            del st.query_params["run"]
        st.session_state.pop(outcome_key, None)
        st.rerun()  # redraw the whole page for the running job (Train disabled, old results gone)
    if job is not None and job.status == "queued":
        _wait(name, module)
    elif running:
        _watch(name, module)
        _live_charts(name, module)  # its own fragment: a nested one would redraw with every progress poll
    return st.session_state.get(outcome_key)


def reattach(name: str) -> None:
    """A new session of a known browser (a reload, or a tab reconnecting after a server restart) picks up this
    person's latest run of ``name``, once: still queued or training here -> the panel follows it again; ended by a
    server restart within the last two hours -> its settings go into the form and the panel says what happened.
    Call before the form is drawn."""
    done = f"{name}._reattached"
    if st.session_state.get(done) or "run" in st.query_params:  # the address names the run to show
        return
    st.session_state[done] = True
    app = service()
    run = app.latest_run(owner(), name)
    if run is None:
        return
    job = app.job(run["id"])
    if job is not None and job.active:
        st.session_state[_keys(name)[0]] = job.id
    elif run["status"] == "interrupted" and time.time() - run["created"] < 2 * 3600:
        st.session_state[f"{name}._lost"] = run["error"] or "The server stopped while your last run was training."
        prefill(name, run["config"])


def about(s: float) -> str:
    """A time estimate in words, never "about 0 s": "under 1 s", "about 40 s", "about 2.0 min"."""
    if s < 0.5:
        return "under 1 s"
    return f"about {s:.0f} s" if s < 90 else f"about {s / 60:.1f} min"


def _estimate_text(name: str, config) -> str:
    """How long a run submitted now takes, in one sentence: training (scaled by how fast runs went on this server,
    or the technique's first guess) plus the wait for a free slot."""
    app = service()
    est = app.estimate(name, config)
    measured = "from how fast recent runs went on this server"
    if est.wait_s:
        return (
            f"Estimated time: {about(est.total_s)} (training {about(est.train_s)}, "
            f"{measured if est.measured else 'a first guess'}, plus {about(est.wait_s)} waiting for a "
            "free slot)."
        )
    how = measured if est.measured else "a first guess; it gets better as runs finish on this server"
    now = app.status()
    training, waiting = now.training, now.waiting
    if now.starting:  # a fresh server: the first run also waits for the workers to import torch
        return (
            f"Estimated time: {about(est.train_s)} of training ({how}), after the training workers "
            "start (once after the server starts, about 10-30 s)."
        )
    if est.wait_s is None and (training or waiting):  # busy, but no run has ended yet to time the wait by
        return (
            f"Estimated time: {about(est.train_s)} of training ({how}), after a wait for a free slot: "
            f"the server is training {training} run(s) with {waiting} waiting."
        )
    return f"Estimated time: {about(est.train_s)} ({how})."


@st.fragment(run_every=POLL_SECONDS)
def _watch(name: str, module) -> None:
    """Re-drawn every half second while the job trains; the rest of the page stays usable."""
    _follow(name, queued=False)


@st.fragment(run_every=QUEUE_POLL_SECONDS)
def _wait(name: str, module) -> None:
    """Re-drawn every two seconds while the job waits in the queue (many visitors may be waiting at once)."""
    _follow(name, queued=True)


def _follow(name: str, queued: bool) -> None:
    """The panel of this session's active job: its queue place, or its progress, and Stop."""
    job_key, _ = _keys(name)
    app = service()
    job = app.job(st.session_state.get(job_key, ""))
    if job is None or not job.active or (job.status == "queued") != queued:
        st.rerun(scope="app")  # results, an error, or the run left the queue: redraw the page for it
        return
    with st.container(border=True):
        if job.status == "queued" and app.status().starting:
            st.info(
                "Starting the training workers (this happens once after the server starts, about 10-30 s). "
                "Your run starts as soon as they are ready.",
                icon=":material/hourglass_top:",
            )
        elif job.status == "queued":
            pos = job.position
            wait = app.expected_wait_s(ahead=max(pos - 1, 0))
            about = f" (about {wait_text(wait)}, from recent run times)" if wait else ""
            st.info(
                f"Waiting for a free slot: you are number {pos} in the queue{about}. Training starts automatically.",
                icon=":material/hourglass_top:",
            )
        else:
            _progress_bar(job)
        if st.button("Stop", icon=":material/stop:", key=f"{name}._stop", disabled=bool(job.stop_requested)):
            app.cancel(job.id)


def _progress_bar(job) -> None:
    """Training: step i of n; or the phase the run announced (preparing, pretraining, explaining) with its own
    progress where it has one; or Stopping."""
    done = min(job.step / job.total, 1.0) if job.total else 0.0
    phase = job.phase or {}
    if job.stop_requested:
        state = "Stopping…"
    elif phase:
        state = f"{phase['phase']}…"
        done = done if phase.get("fraction") is None else phase["fraction"]
    elif job.total:
        state = f"Training: step {job.step} of {job.total}"
    else:
        state = "Preparing the data and building the model…"  # before the run's first step or phase
    elapsed = time.time() - (job.started or time.time())
    st.progress(done, text=f"{state} · {elapsed:.0f} s")


def live_curves(name: str, module, config: dict, rows: list[dict]):
    """The live learning curves of a run of technique ``name`` with settings ``config``: its history ``rows`` so far,
    each curve under the name it keeps on the Runs page, over the technique's own unit (epoch, round, ...)."""
    from engine.core.config import unit_of

    history = pd.DataFrame(rows)
    names = curve_labels(name, [c for c in history.columns if c != "step"])
    return charts.learning_curves(history, title="Live", unit=unit_of(module.Config, config), names=names)


@st.fragment(run_every=CHART_SECONDS)
def _live_charts(name: str, module) -> None:
    """The live figures, redrawn every few seconds (the panel above polls the cheap progress more often)."""
    job = service().job(st.session_state.get(_keys(name)[0], ""))
    if job is None or not job.active:
        return
    if job.rows:
        st.plotly_chart(live_curves(name, module, job.config, list(job.rows)), key=f"{name}._live_chart")
    if job.live is not None and hasattr(module, "live_figure"):
        st.plotly_chart(module.live_figure(job.live), key=f"{name}._live_figure")
