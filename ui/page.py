"""One function draws a whole technique page: intro, settings, job panel, results."""
from __future__ import annotations

from typing import Callable

import streamlit as st

import engine
from ui.form import config_form
from ui.jobs import job_panel
from ui.results import result_tabs


def technique_page(name: str, intro: str | None = None, extra_inputs: Callable[[], dict] | None = None) -> None:
    entry = engine.TECHNIQUES[name]
    module = engine.load(name)
    st.title(entry.title)
    st.markdown(module.SUMMARY)
    if intro:
        with st.expander("How it works", expanded=False):
            st.markdown(intro)
    config = config_form(name, module, extra_inputs)
    outcome = job_panel(name, module, config)
    if outcome is not None:
        result_tabs(name, outcome)
