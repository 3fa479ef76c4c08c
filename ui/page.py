"""One function draws a whole technique page: intro, settings, job panel, results."""
from __future__ import annotations

from typing import Callable

import streamlit as st

import engine
from ui.form import config_form
from ui.jobs import job_panel
from ui.results import result_tabs
from ui.router import use_app_router
from ui.runs import shared_outcome


def technique_page(name: str, intro: str | None = None, extra_inputs: Callable[[], dict] | None = None) -> None:
    use_app_router()
    entry = engine.TECHNIQUES[name]
    module = engine.load(name)
    st.title(entry.title)
    st.markdown(entry.summary)
    if intro:
        with st.expander("How it works", expanded=False):
            st.markdown(intro)
    shared, problem = shared_outcome(name)
    if problem:
        st.error(problem, icon=":material/link_off:")
    config = config_form(name, module, extra_inputs, initial=shared.config if shared else None)
    outcome = job_panel(name, module, config)
    if outcome is None and shared is not None:
        st.info("You are looking at a shared result. Press **Train** to run these settings yourself.",
                icon=":material/share:")
        outcome = shared
    if outcome is not None:
        result_tabs(name, outcome)
