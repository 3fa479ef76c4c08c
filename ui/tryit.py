"""The Try it tab: the person's own input through the run's trained model, with the model's answer and its SHAP.

The model is rebuilt from the run's stored safetensors weights by ``engine.core.tryit`` (never a pickle) and
cached per run id with ``st.cache_resource``: read-only (frozen, eval mode; answers are serialised by the
engine's lock), and reachable only through the run's unguessable id, which is also what opens its result link.
The widgets per technique live in ``ui.tryit_inputs``; this module draws the tab and the answer.
"""

from __future__ import annotations

import hashlib
import logging

import streamlit as st

from engine.core import charts, tryit
from engine.core.export import markdown_text
from ui.results import _slug, figure

log = logging.getLogger(__name__)


@st.cache_resource(max_entries=6, ttl=3600, show_spinner="Rebuilding the trained model from its stored weights…")
def _stored_bundle(name: str, run_id: str, _config: dict, _weights: bytes, _info: dict):
    """One rebuilt model per stored run (key: technique + run id; the other arguments are not hashed)."""
    return tryit.load(name, _config, _weights, _info)


def bundle_for(name: str, outcome):
    """The outcome's rebuilt model: cached per run id; a run the store did not record is kept in this session."""
    if outcome.run_id:
        return _stored_bundle(name, outcome.run_id, outcome.config, outcome.weights, outcome.info)
    token = hashlib.sha256(outcome.weights or b"").hexdigest()
    key = f"{name}._tryit_bundle"
    held = st.session_state.get(key)
    if held is None or held[0] != token:
        with st.spinner("Rebuilding the trained model…"):
            held = (token, tryit.load(name, outcome.config, outcome.weights, outcome.info))
        st.session_state[key] = held
    return held[1]


def try_it_tab(name: str, outcome) -> None:
    """Inputs for this technique, then the trained model's answer and its explanation."""
    from ui import tryit_inputs

    draw_inputs = getattr(tryit_inputs, name, None)
    if draw_inputs is None or not tryit.available(name):
        st.info("Try it is not available for this technique yet.")
        return
    try:
        bundle = bundle_for(name, outcome)
    except tryit.TryItUnavailable as err:
        st.info(markdown_text(str(err)), icon=":material/info:")  # may quote a person's data: never Markdown
        return
    except Exception:  # a model that cannot be rebuilt must not take the results page down with it
        log.exception("Try it could not rebuild the %s model", name)
        st.warning("Try it could not rebuild this run's model; the other tabs are unaffected.")
        return
    _live(name, bundle, draw_inputs)


@st.fragment
def _live(name: str, bundle, draw_inputs) -> None:
    """Inputs and answer in one fragment: changing an input reruns only this tab."""
    inputs = draw_inputs(name, bundle)
    if inputs is None:
        return
    try:
        answer = tryit.answer(name, bundle, inputs)
    except tryit.TryItUnavailable as err:  # an input the model cannot read: say why
        st.warning(markdown_text(str(err)), icon=":material/edit:")  # quotes what the person typed
        return
    show_answer(name, answer)


def show_answer(name: str, answer: tryit.Answer) -> None:
    cols = st.columns(max(len(answer.summary), 1))
    for col, (label, value) in zip(cols, answer.summary.items()):
        col.metric(label, value)
    st.caption(f"Answered in {answer.ms:.0f} ms.")
    from ui.tryit_inputs import SELECTABLE

    clickable, suffix = SELECTABLE.get(name, (None, None))

    def draw(title: str, fig) -> None:
        if title == clickable:  # clicks come back as a selection the inputs read on the next rerun
            st.plotly_chart(fig, key=f"{name}.try.{suffix}", on_select="rerun", selection_mode="points")
            st.caption(charts.caption_of(fig))
        else:
            figure(fig, f"{name}.try.fig.{_slug(title)}", download=False)

    pairs = {pair[0]: pair for pair in answer.pairs}  # side by side (e.g. a real model beside the toy)
    later = {title for pair in answer.pairs for title in pair[1:]}
    for title, fig in answer.figures.items():
        if title in pairs:
            for col, other in zip(st.columns(len(pairs[title])), pairs[title]):
                if other in answer.figures:
                    with col:
                        draw(other, answer.figures[other])
        elif title not in later:
            draw(title, fig)
    for title, frame in answer.tables.items():
        st.markdown(f"**{title}**")
        st.dataframe(frame, hide_index=True)
