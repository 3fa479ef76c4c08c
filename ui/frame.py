"""The app frame: the page list and the shared sidebar (compute device, about)."""
from __future__ import annotations

import streamlit as st

import engine
from engine.core.service import service


def pages() -> list:
    home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
    runs = st.Page("pages/runs.py", title="Your runs", icon=":material/history:", url_path="runs")
    return [home, *(st.Page(e.page, title=e.title, icon=e.icon, url_path=name) for name, e in engine.TECHNIQUES.items()),
            runs]


def sidebar() -> None:
    with st.sidebar:
        ex = service().executor
        device = ex.device or "starting the training workers…"
        training, waiting = ex.busy()
        st.caption(f":material/memory: **Compute:** {device}")
        st.caption(f"Runs training now: {training} · waiting: {waiting}")
        st.caption("Frontier Lab trains every model for real, on this server, while you watch. "
                   "Your settings live in the page address: copy it to share the setup.")
