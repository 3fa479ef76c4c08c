"""Your runs: history, comparison (one chart per metric, a shareable ``?compare=`` link), re-open, delete."""

import datetime as dt

import pandas as pd
import streamlit as st

import engine
from engine.core.service import service
from ui.router import use_app_router
from ui.runs import MAX_COMPARED, compare_ids, compare_view, owner, run_row, settings_view

use_app_router()
st.title("Your runs")
app = service()
status = app.status()
if not status.recording:
    st.error("Runs are not being recorded on this server.")
    st.stop()
linked = compare_ids(st.query_params.get("compare"))  # a shared comparison: anyone holding the ids may see it
runs = app.runs(owner())
if not runs and not linked:
    st.info("No runs yet. Open a technique, press **Train**, and your runs appear here.")
    st.stop()

compared: list[str] = linked
headlines = app.headlines([r["id"] for r in runs])
if runs:
    scope = "every run on this server (single-user mode)" if status.single_user else "the runs made in this browser"
    st.caption(f"Showing {scope}. Other people's runs are only reachable through a link they share.")
    table = pd.DataFrame(
        [
            {  # status early: a stopped or failed run must be visible without scrolling sideways
                "when": dt.datetime.fromtimestamp(r["created"]).strftime("%Y-%m-%d %H:%M:%S"),
                "status": r["status"],
                **run_row(r, headlines.get(r["id"], [])),
                "seconds": round(r["seconds"] or 0, 1),
            }
            for r in runs
        ]
    )
    # A new key after each delete: the table's old selection (row numbers) would point past the end or at another run.
    table_key = f"runs.table.{st.session_state.get('runs._deleted', 0)}"
    picked = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key=table_key,
        # the changed settings are the longest text: a wide column shows them instead of cutting them off
        column_config={"settings changed": st.column_config.TextColumn("settings changed", width="large")},
    )
    rows = [runs[i] for i in picked.selection.rows if i < len(runs)]
    if not rows and st.session_state.pop("runs._picked", False):  # unselected: the comparison they picked goes too
        compared = []
        st.query_params.pop("compare", None)
    if not rows:
        st.caption(
            f"Select one run to open or delete it, or two to {MAX_COMPARED} runs of the same technique to compare them."
        )
    elif len(rows) == 1:
        compared = []
        st.query_params.pop("compare", None)
        run = rows[0]
        name = run["technique"]
        c1, c2 = st.columns(2)
        if name in engine.TECHNIQUES and run["status"] in ("done", "stopped"):
            c1.page_link(
                engine.TECHNIQUES[name].page,
                label="Open this run on its page",
                icon=":material/open_in_new:",
                query_params={"run": run["id"]},
            )
        if st.session_state.get("runs._confirm") != run["id"]:
            if c2.button("Delete this run", icon=":material/delete:", key="runs.delete"):
                st.session_state["runs._confirm"] = run["id"]  # ask first: a deleted run's links stop working
                st.rerun()
        else:
            with st.container(border=True, key="runs.confirm"):
                st.warning("Delete this run? Its result link will stop working.", icon=":material/delete:")
                d1, d2, _ = st.columns([1, 1, 4])
                if d1.button("Delete", type="primary", key="runs.delete.confirm"):
                    app.delete_run(run["id"], owner())
                    st.session_state.pop("runs._confirm", None)
                    st.session_state["runs._deleted"] = st.session_state.get("runs._deleted", 0) + 1
                    st.rerun()
                if d2.button("Cancel", key="runs.delete.cancel"):
                    st.session_state.pop("runs._confirm", None)
                    st.rerun()
        if run["error"]:
            st.error(run["error"])
    elif len({r["technique"] for r in rows}) > 1:
        compared = []
        st.query_params.pop("compare", None)
        st.warning("Pick runs of the same technique to compare them.")
    else:
        if len(rows) > MAX_COMPARED:
            st.warning(f"A comparison shows up to {MAX_COMPARED} runs: the first {MAX_COMPARED} selected are shown.")
        compared = [r["id"] for r in sorted(rows[:MAX_COMPARED], key=lambda r: r["created"])]  # oldest first
        st.query_params["compare"] = ",".join(compared)
        st.session_state["runs._picked"] = True

if compared:
    compare_view(compared)
if runs:
    settings_view(runs, headlines)
