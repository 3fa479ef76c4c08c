"""One function draws a whole technique page: intro, settings, job panel, results."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import engine
from ui.form import config_form
from ui.jobs import job_panel, reattach
from ui.results import result_tabs
from ui.router import use_app_router
from ui.runs import PENDING_NOTE, link_own_run, shared_outcome


def technique_page(
    name: str,
    intro: str | None = None,
    extra_inputs: Callable[[], dict | None] | None = None,
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
    if problem == PENDING_NOTE:
        st.info(problem, icon=":material/hourglass_top:")
    elif problem:
        st.error(problem, icon=":material/link_off:")
    reattach(name)  # a reload or a reconnect after a restart: follow this person's run again, or say it was lost
    if shared is not None and _reading(name, shared):
        _result_first(name, module, shared, extra_inputs, figure_extras)
        return
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
    elif shared is not None:  # this session's own run, named in the address
        outcome = shared
    if outcome is not None:
        result_tabs(name, outcome, figure_extras)


def _reading(name: str, shared) -> bool:
    """Whether the page is a result link being read: a stored run that is not this session's latest, with no run
    of this session training on the page."""
    return shared is not st.session_state.get(f"{name}._outcome") and f"{name}._job" not in st.session_state


def _result_first(name: str, module, shared, extra_inputs, figure_extras) -> None:
    """A result link opens on the result (a phone shows it first): the result, then one line of what differs from
    the quick preset, then the whole form folded under "Change the settings and train again"."""
    st.info(
        "You are looking at a stored result (from a result link or your runs). To train it yourself, open "
        "**Change the settings and train again** below it.",
        icon=":material/share:",
    )
    result_tabs(name, shared, figure_extras)
    st.caption(f"**Settings of this run:** {settings_line(module, shared.config)}")
    with st.expander("Change the settings and train again", icon=":material/tune:"):
        config = config_form(name, module, extra_inputs, initial=shared.config, initial_id=shared.run_id)
        job_panel(name, module, config)


def settings_line(module, config: dict) -> str:
    """What a run's settings change from the quick preset, in the form's own words (safe Markdown)."""
    from engine.core.config import validate
    from engine.core.drawing import config_of
    from engine.core.export import markdown_text
    from ui.form import preset_label
    from ui.runs import changed_settings

    quick = validate(module.Config, module.PRESETS["quick"]).model_dump()
    ran = config_of(module.__name__.rsplit(".", 1)[-1], config).model_dump()
    changed = changed_settings(module.Config, ran, quick)
    rest = f"the rest as in {preset_label(module, 'quick')}"
    return markdown_text(" · ".join(changed)) + f" ({rest})" if changed else f"as in {preset_label(module, 'quick')}"
