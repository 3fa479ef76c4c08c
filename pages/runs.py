"""Your runs: history, side-by-side comparison, re-open, delete."""

import datetime as dt

import pandas as pd
import streamlit as st

import engine
from engine.core import charts
from engine.core.explain import tabular_importances
from engine.core.service import service
from ui.results import figure
from ui.router import use_app_router
from ui.runs import owner, run_row

use_app_router()
st.title("Your runs")
app = service()
status = app.status()
if not status.recording:
    st.error("Runs are not being recorded on this server.")
    st.stop()
scope = "every run on this server (single-user mode)" if status.single_user else "the runs made in this browser"
st.caption(f"Showing {scope}. Other people's runs are only reachable through a result link they share.")
runs = app.runs(owner())
if not runs:
    st.info("No runs yet. Open a technique, press **Train**, and your runs appear here.")
    st.stop()


headlines = app.headlines([r["id"] for r in runs])
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
picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row", key=table_key)
rows = [runs[i] for i in picked.selection.rows if i < len(runs)]
if not rows:
    st.caption("Select one run to open or delete it, or two or more runs of the same technique to compare them.")
    st.stop()

if len(rows) == 1:
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
    if c2.button("Delete this run", icon=":material/delete:", key="runs.delete"):
        app.delete_run(run["id"], owner())
        st.session_state["runs._deleted"] = st.session_state.get("runs._deleted", 0) + 1
        st.rerun()
    if run["error"]:
        st.error(run["error"])
    st.stop()

if len({r["technique"] for r in rows}) > 1:
    st.warning("Pick runs of the same technique to compare them.")
    st.stop()

labels = {r["id"]: f"{i + 1}. {dt.datetime.fromtimestamp(r['created']):%H:%M:%S}" for i, r in enumerate(rows)}
outcomes = {labels[r["id"]]: app.load_outcome(r["id"]) for r in rows}
outcomes = {k: o for k, o in outcomes.items() if o is not None}
if len(outcomes) < 2:
    st.warning("At least two of the selected runs must have finished results to compare.")
    st.stop()
configs = pd.DataFrame({k: o.config for k, o in outcomes.items()})
differ = configs[configs.astype(str).nunique(axis=1) > 1]
st.subheader("Settings that differ")
st.dataframe(differ.astype(str) if not differ.empty else pd.DataFrame({"": ["The runs used the same settings."]}))
st.subheader("Metrics")
st.dataframe(pd.DataFrame({k: o.metrics for k, o in outcomes.items()}))
columns = [c for c in next(iter(outcomes.values())).history.columns if c != "step"]
column = st.selectbox("Learning curve to compare", columns, key="runs.curve")
figure(charts.compare_curves({k: o.history for k, o in outcomes.items()}, column), "runs.compare.curve")
importances = {}
for label, o in outcomes.items():
    for title, pair in tabular_importances(o.explanation).items():
        importances[label + ("" if title == "SHAP" else f" · {title}")] = pair
if importances:
    figure(charts.compare_importance(importances), "runs.compare.shap")
