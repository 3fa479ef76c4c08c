"""NAS results you can poke: click any candidate in "Accuracy vs size" to see its architecture, its training curve
and its settings; send the winner to the Edge AI page to be compressed (through the run store)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.nas import views
from ui.form import prefill
from ui.results import figure


def candidate_inspector(outcome, points: list[dict]) -> None:
    """Under the "Accuracy vs size" chart: the clicked candidate (the winner until one is clicked)."""
    h = outcome.history
    if not len(h):
        return
    step = views.picked_step(h, points)
    clicked = step is not None
    if not clicked:
        step = int(views.unique_trials(h).iloc[0].step)
    row = h[h.step == step].iloc[0]
    with st.container(border=True):
        st.markdown(
            "#### "
            + (
                "The candidate you clicked"
                if clicked
                else "The winner · click any dot above to inspect another candidate"
            )
        )
        figure(views.candidate_diagram(row), "nas.candidate.diagram", download=False)
        left, right = st.columns([3, 2])
        with left:
            figure(views.candidate_curve(row), "nas.candidate.curve", download=False)
        with right:
            st.dataframe(settings_table(row), hide_index=True, width="stretch")
        send_to_edge(outcome)


def settings_table(row: pd.Series) -> pd.DataFrame:
    """The candidate's choices and numbers as (setting, value) rows."""
    rows = [
        ("proposed by", f"{views.STRATEGIES[row['strategy']]}, candidate {row['candidate']}"),
        *([("search", str(views.search_of(row)))] if "search" in row and views.search_of(row) > 1 else []),
        ("validation accuracy", f"{row['accuracy']:.1%}"),
        ("weights", f"{int(row['parameters']):,}"),
        (
            "training time",
            "served from the cache (a repeat)" if bool(row.get("cached", False)) else f"{row['train_seconds']:.2f} s",
        ),
    ]
    rows += [(d.replace("_", " "), str(row[d])) for d in views.DECISIONS]
    return pd.DataFrame(rows, columns=["setting", "value"])


def send_to_edge(outcome) -> None:
    """A button that opens the Edge AI page with this run's winner chosen as the model to compress."""
    if not outcome.run_id:
        st.caption("Runs that are recorded can be sent to the Edge AI page; this server records none.")
        return
    if st.button(
        "Compress the winner on the Edge AI page",
        key="nas.to_edge",
        icon=":material/smartphone:",
        help="Opens Edge AI with this run's best network (its stored weights) as the model to compress.",
    ):
        prefill("edge", {"start_from": "finished_run"})
        st.session_state["edge.run_link"] = outcome.run_id  # the Edge page's "result link or run id" box
        st.switch_page("pages/edge.py")
