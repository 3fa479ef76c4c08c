"""The app frame: the page list and the shared sidebar (compute device, about)."""

from __future__ import annotations

import streamlit as st

import engine
from engine.core.service import service
from ui.runs import owner, remember_owner


def pages() -> list:
    home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
    runs = st.Page("pages/runs.py", title="Your runs", icon=":material/history:", url_path="runs")
    return [
        home,
        *(st.Page(e.page, title=e.title, icon=e.icon, url_path=name) for name, e in engine.TECHNIQUES.items()),
        runs,
    ]


def sidebar(page) -> None:
    if page.url_path == "runs":  # the Runs page lists this browser's runs: it keeps its owner token from now on
        owner(claim=True)
    with st.sidebar:
        # While the workers start, the status redraws itself every 2 s (not only when something else reruns).
        polling = st.session_state["_status_polling"] = service().status().starting
        st.fragment(_compute_status, run_every=2.0 if polling else None)()
        st.caption(
            "Frontier Lab trains every model for real, on this server, while you watch. "
            "Your settings live in the page address: copy it to share the setup."
        )
        remember_owner()


def _compute_status() -> None:
    now = service().status()
    st.caption(f":material/memory: **Compute:** {now.device or 'starting the training workers…'}")
    st.caption(f"Runs training now: {now.training} · waiting: {now.waiting}")
    if not now.starting and st.session_state.get("_status_polling"):  # ready, seen by a poll: a full rerun ends it
        st.session_state["_status_polling"] = False
        st.rerun(scope="app")
