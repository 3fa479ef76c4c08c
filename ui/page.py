"""One function draws a whole technique page: intro, settings, job panel, results."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import engine
from ui.form import config_form
from ui.jobs import job_panel, reattach
from ui.results import result_tabs
from ui.router import use_app_router
from ui.runs import link_own_run, shared_outcome


def technique_page(
    name: str,
    intro: str | None = None,
    extra_inputs: Callable[[], dict] | None = None,
    figure_extras: dict[str, Callable] | None = None,
) -> None:
    """A whole technique page. ``extra_inputs()`` adds settings the form cannot draw; ``figure_extras`` maps a
    result figure's title to ``draw(outcome, clicked points)``, drawn under it (its points become clickable)."""
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
    reattach(name)  # a reload or a reconnect after a restart: follow this person's run again, or say it was lost
    config = config_form(
        name,
        module,
        extra_inputs,
        initial=shared.config if shared else None,
        initial_id=shared.run_id if shared else None,
    )
    outcome = job_panel(name, module, config)
    if outcome is not None and outcome.run_id and "run" not in st.query_params:
        link_own_run(name, outcome)  # this session's latest run: a reload of the page shows it again
    elif shared is not None:  # the address names a stored run: show that one (Train removes it from the address)
        if shared is not outcome:
            st.info(
                "You are looking at a stored result (from a result link or your runs). Press **Train** to "
                "run these settings yourself.",
                icon=":material/share:",
            )
        outcome = shared
    if outcome is not None:
        result_tabs(name, outcome, figure_extras)
