"""Result links and the runs page: stored results open without retraining; sessions see only their own runs."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.core.service import service
from tests.pages.helpers import open_page, open_tab, open_try_it, train_and_wait

ROOT = Path(__file__).resolve().parents[2]


def _recorded(run_id, timeout=30):
    store = service().store
    end = time.time() + timeout
    while time.time() < end:
        row = store.get(run_id)
        if row and row["status"] == "done":
            return row
        time.sleep(0.1)
    raise AssertionError("run was not recorded")


def _train_in_app(at, dataset):
    at.switch_page("pages/xai.py").run()
    at.selectbox(key="xai.dataset").set_value(dataset).run()
    return train_and_wait(at, "xai").session_state["xai._outcome"]


def test_a_result_link_shows_the_stored_run_without_training():
    at = train_and_wait(open_page("xai", query={"dataset": "iris", "epochs": "15"}))
    run_id = at.session_state["xai._outcome"].run_id
    _recorded(run_id)
    other = open_page("xai", query={"run": run_id})
    assert "xai._job" not in other.session_state  # nothing was trained
    assert any("stored result" in i.value for i in other.info)
    assert other.selectbox(key="xai.dataset").value == "iris" and other.slider(key="xai.epochs").value == 15
    assert [t.label for t in other.tabs] == ["Results", "Explain", "Try it", "Details"]
    assert len(other.get("plotly_chart")) == 3  # a first visit builds only the open tab: Results
    open_tab(other, "xai", "Explain")
    assert len(other.get("plotly_chart")) >= 8
    open_try_it(other, "xai")
    shared = next(m.value for m in other.metric if m.label == "Prediction")  # Try it, rebuilt from the store
    assert shared.split(" (")[0] in ("setosa", "versicolor", "virginica"), shared


def test_a_result_link_opens_on_the_result_with_its_settings_folded_and_sets_no_cookie():
    """Issue 27.19 / 26: the person who opens a link reads the result first; the settings are one line of what
    differs, with the whole form folded under "Change the settings and train again"; a visitor who only reads
    is given no owner cookie (its component's round trip cost every first visit a rerun)."""
    from tests.pages.helpers import stored_run

    run_id = stored_run("xai", dataset="wine", epochs=30, text="A run on the wine table.")
    at = open_page("xai", query={"run": run_id})
    kinds = [type(e).__name__ for e in at.main]
    assert kinds.index("Tab") < kinds.index("Expander", kinds.index("Info"))  # the result, then the folded form
    line = next(c.value for c in at.caption if c.value.startswith("**Settings of this run:**"))
    assert "Dataset\\: wine" in line and "Epochs\\: 30" in line and "Quick look" in line
    assert "Change the settings and train again" in [e.label for e in at.expander]
    assert at.button(key="xai._train")  # still there, folded
    assert "_owner_claimed" not in at.session_state


def test_malformed_and_unknown_result_links_get_clear_messages():
    bad = open_page("xai", query={"run": "<script>"})
    assert any("malformed" in e.value for e in bad.error)
    unknown = open_page("xai", query={"run": "0" * 32})
    assert any("No stored run has this id" in e.value for e in unknown.error)
    assert not unknown.tabs  # no results shown, the page still works
    assert next(b for b in unknown.button if b.key == "xai._train").disabled is False


def test_runs_page_lists_only_this_sessions_runs_and_compares_them():
    mine = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    first, second = _train_in_app(mine, "wine"), _train_in_app(mine, "iris")
    for o in (first, second):
        _recorded(o.run_id)
    mine.switch_page("pages/runs.py").run()
    assert not mine.exception
    table = mine.dataframe[0].value
    assert len(table) == 2 and set(table["technique"]) == {"Explainable AI"}

    stranger = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    stranger.switch_page("pages/runs.py").run()
    assert not stranger.exception and not stranger.dataframe
    assert any("No runs yet" in i.value for i in stranger.info)


def test_runs_page_compares_two_selected_runs():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    for epochs in (5, 25):
        at.switch_page("pages/xai.py").run()
        at.selectbox(key="xai.dataset").set_value("iris").run()
        at.slider(key="xai.epochs").set_value(epochs).run()
        _recorded(train_and_wait(at, "xai").session_state["xai._outcome"].run_id)
    at.switch_page("pages/runs.py").run()
    at.session_state["runs.table.0"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    headers = [s.value for s in at.subheader]
    assert "Settings that differ" in headers and "Metrics" in headers
    differ = at.dataframe[1].value
    assert list(differ.index) == ["epochs"]  # only the setting that differs
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(titles) == 2 and "by run" in titles[0] and "SHAP global importance by run" in titles[1]
