"""Issue 13, what a newcomer hits in the first hour: result links, the Runs page, settings links and presets.

Stored runs are written straight into the run store (a small real Outcome), so these tests need no training.
"""

import secrets
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.core.service import service
from tests.pages.helpers import open_page, stored_run

ROOT = Path(__file__).resolve().parents[2]


def app_session(owner: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["_owner"] = owner
    return at.run()


def table_key(at: AppTest) -> str:
    """The Runs table's widget key (it changes after a delete, so an old selection cannot outlive its rows)."""
    return at.dataframe[0].proto.id.split("-", 2)[2]  # "$$ID-<hash>-<key>"


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    at.session_state[table_key(at)] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


# --- item 1: the result link of a run trained on an uploaded CSV -------------------------------------------
@pytest.mark.parametrize(
    "name, settings",
    [
        ("xai", {"dataset": "upload", "upload": "a" * 32, "target": "price"}),
        (
            "transfer",
            {"track": "text", "dataset": "upload", "upload": "b" * 32, "text_column": "text", "label_column": "label"},
        ),
    ],
)
def test_a_result_link_of_an_upload_run_shows_without_the_upload(name, settings):
    run_id = stored_run(name, text="Trained on someone's own CSV.", **settings)
    at = open_page(name, query={"run": run_id})  # another browser: it never saw the upload
    assert {"Results", "Explain", "Details"} <= {t.label for t in at.tabs}
    assert any("Trained on someone's own CSV." in m.value for m in at.markdown)
    assert at.selectbox(key=f"{name}.dataset").value == "upload"
    assert not at.error, [e.value for e in at.error]  # a missing upload is a hint, not a red box
    assert any("Upload" in i.value for i in at.info)
    assert next(b for b in at.button if b.key == f"{name}._train").disabled  # nothing to train on yet


# --- item 3: deleting the last row of the Runs table --------------------------------------------------------
def test_deleting_the_last_row_of_the_runs_table():
    owner = secrets.token_hex(16)
    for dataset in ("wine", "iris"):
        stored_run("xai", owner=owner, dataset=dataset)
    at = app_session(owner)
    at.switch_page("pages/runs.py").run()
    assert len(at.dataframe[0].value) == 2
    select_rows(at, [1])
    at.button(key="runs.delete").click().run()  # asks first (issue 27.18)
    at.button(key="runs.delete.confirm").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.dataframe[0].value) == 1
    assert not [b for b in at.button if b.key == "runs.delete"]  # nothing is selected any more
    select_rows(at, [0])
    at.button(key="runs.delete").click().run()
    at.button(key="runs.delete.confirm").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("No runs yet" in i.value for i in at.info)


# --- item 6: "Open this run on its page" opens the selected run ----------------------------------------------
def test_open_this_run_links_to_the_selected_run():
    owner = secrets.token_hex(16)
    older = stored_run("xai", owner=owner, dataset="wine")
    stored_run("xai", owner=owner, dataset="iris")
    at = app_session(owner)
    at.switch_page("pages/runs.py").run()
    select_rows(at, [1])  # newest first: row 1 is the older run
    link = at.get("page_link")[0].proto
    assert older in link.query_string or older in str(link), str(link)


def test_a_stored_run_in_the_address_wins_over_the_sessions_latest_result():
    owner = secrets.token_hex(16)
    picked = stored_run("xai", owner=owner, dataset="wine", epochs=30, text="The picked run.")
    latest = stored_run("xai", owner=owner, dataset="iris", text="The session's latest run.")
    at = open_page("xai")  # the page was visited before: its settings are already set
    at.session_state["xai._outcome"] = service().store.load_outcome(latest)
    at.query_params["run"] = picked
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    texts = " ".join(m.value for m in at.markdown)
    assert "The picked run." in texts and "The session's latest run." not in texts
    assert at.selectbox(key="xai.dataset").value == "wine" and at.slider(key="xai.epochs").value == 30


# --- item 7: a settings link with dependent values ----------------------------------------------------------
def test_a_dqn_settings_link_opens_the_dqn_setup():
    at = open_page("rl", query={"env": "CartPole-v1", "agent": "dqn", "training_steps": "20000"})
    assert not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="rl.env").value == "CartPole-v1" and at.selectbox(key="rl.agent").value == "dqn"
    assert at.number_input(key="rl.training_steps").value == 20000


# --- item 8: choosing a preset keeps what it does not name ---------------------------------------------------
def test_choosing_a_preset_keeps_the_dataset():
    at = open_page("xai")
    at.selectbox(key="xai.dataset").set_value("wine").run()
    at.selectbox(key="xai._preset").set_value("thorough").run()
    assert at.selectbox(key="xai.dataset").value == "wine"
    assert at.slider(key="xai.explain_rows").value == 150
    at.selectbox(key="xai._preset").set_value("quick").run()  # back to quick undoes what "thorough" set
    assert at.selectbox(key="xai.dataset").value == "wine"
    assert at.slider(key="xai.explain_rows").value == 50


def test_choosing_a_preset_keeps_the_world_on_the_rl_page():
    at = open_page("rl")
    at.selectbox(key="rl.env").set_value("CliffWalking-v1").run()
    at.selectbox(key="rl._preset").set_value("better").run()
    assert at.selectbox(key="rl.env").value == "CliffWalking-v1"
    assert at.number_input(key="rl.episodes").value == 3000
    assert not at.error, [e.value for e in at.error]


# --- item 17: the Runs table says what each run was ---------------------------------------------------------
def test_the_runs_table_shows_data_headline_and_changed_settings():
    owner = secrets.token_hex(16)
    stored_run("xai", owner=owner, dataset="wine", epochs=30, metrics={"test_accuracy": 0.95, "n_test": 45})
    stored_run("transfer", owner=owner, track="images", metrics={"accuracy_finetune": 0.8})
    at = app_session(owner)
    at.switch_page("pages/runs.py").run()
    table = at.dataframe[0].value
    images, wine = table.iloc[0], table.iloc[1]
    assert wine["technique"] == "Explainable AI" and "wine" in wine["data"].lower()
    assert wine["result"] == "Network: test accuracy: 95.0%"
    assert wine["settings changed"] == "Passes over the data (epochs): 30"  # the form's own words
    assert "images" in images["data"].lower() and "topics" not in images["data"]  # no text dataset on images


# --- item 5: a reload keeps the technique page's result ------------------------------------------------------
def test_a_finished_run_goes_into_the_address_so_a_reload_shows_it_again():
    run_id = stored_run("xai", dataset="wine", epochs=30, text="My own run.")
    at = open_page("xai", query={"dataset": "wine", "epochs": "30"})
    at.session_state["xai._outcome"] = service().store.load_outcome(run_id)  # as if it had just finished here
    at.run()
    assert at.query_params["run"] == [run_id] or at.query_params["run"] == run_id
    assert not any("stored result" in i.value for i in at.info)  # it is this person's own fresh result
    reloaded = open_page("xai", query={k: at.query_params[k] for k in at.query_params})  # a new session
    assert any("My own run." in m.value for m in reloaded.markdown)
    assert reloaded.selectbox(key="xai.dataset").value == "wine" and reloaded.slider(key="xai.epochs").value == 30


# --- issue 20 item 6: a reload or a reconnect after a server restart --------------------------------------
def test_a_run_interrupted_by_a_restart_is_reported_with_its_settings_back_in_the_form():
    import sqlalchemy as sa

    from engine.core.store import RUNS

    me = secrets.token_hex(16)
    run_id = stored_run("xai", owner=me, dataset="wine", epochs=30)
    store = service().store
    with store.engine.begin() as db:  # as recover() leaves a run whose server died while it trained
        db.execute(
            sa.update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(status="interrupted", error="The server stopped while this run was training.")
        )
    at = AppTest.from_file(str(ROOT / "pages" / "xai.py"), default_timeout=120)
    at.session_state["_owner"] = me  # the same browser (its owner cookie), in a new session
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    warned = [w.value for w in at.warning if "did not finish" in w.value]
    assert warned and "The server stopped while this run was training." in warned[0], [w.value for w in at.warning]
    assert at.selectbox(key="xai.dataset").value == "wine" and at.slider(key="xai.epochs").value == 30
    stranger = open_page("xai")  # another browser: nothing about someone else's run
    assert not any("did not finish" in w.value for w in stranger.warning)


def test_a_reload_while_a_run_trains_follows_that_run_again():
    me = secrets.token_hex(16)
    job = service().submit("xai", {"dataset": "iris", "epochs": 400, "batch_size": 8}, owner=me)
    try:
        at = AppTest.from_file(str(ROOT / "pages" / "xai.py"), default_timeout=120)
        at.session_state["_owner"] = me  # a reload: a new session of the same browser
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.session_state["xai._job"] == job.id
        assert next(b for b in at.button if b.key == "xai._train").disabled  # it is training, not a fresh page
        assert not any("did not finish" in w.value for w in at.warning)
    finally:
        service().cancel(job.id)
