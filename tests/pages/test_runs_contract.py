"""Result links and the Runs page on stored rows (no training): Delete removes the run and only it, and links to
a run of another technique or to a failed run say so instead of showing results."""

import secrets
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.core.store import RunStore
from tests.pages.helpers import button, open_page

ROOT = Path(__file__).resolve().parents[2]


def stored_run(technique: str, owner: str, status: str, error: str = "", config: dict | None = None) -> str:
    """A run row as the app records it (queued, then ended), written straight to this test session's store."""
    run_id = secrets.token_hex(16)
    store = RunStore()
    store.start(run_id, owner, technique, config or {"seed": 0})
    store.finish(run_id, status, error=error)
    return run_id


def select(at: AppTest, rows: list[int]) -> AppTest:
    table = at.dataframe[0]
    at.session_state[table.key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_delete_removes_the_selected_run_and_keeps_the_others():
    me, stranger = secrets.token_hex(16), secrets.token_hex(16)
    older = stored_run("xai", me, "failed", "The run crashed: first")
    newer = stored_run("gan", me, "failed", "The run crashed: second")
    theirs = stored_run("xai", stranger, "failed", "The run crashed: not yours")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["_owner"] = me
    at.run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.dataframe[0].value) == 2  # newest first: [newer, older]

    select(at, [0])
    assert [e.value for e in at.error] == ["The run crashed: second"]  # the selected run is the newer one
    button(at, "runs.delete").click().run()  # asks first (issue 27.18): nothing is deleted yet
    assert [w.value for w in at.warning] == ["Delete this run? Its result link will stop working."]
    assert RunStore().get(newer) is not None
    button(at, "runs.delete.confirm").click().run()
    assert not at.exception, [e.message for e in at.exception]
    store = RunStore()
    assert store.get(newer) is None and store.get(older) is not None and store.get(theirs) is not None
    table = at.dataframe[0].value
    assert len(table) == 1 and list(table["technique"]) == ["Explainable AI"]
    assert not at.error  # nothing is selected after the delete (the old row number pointed at the deleted run)


def test_a_link_to_a_run_of_another_technique_says_which_and_shows_no_results():
    run_id = stored_run("gan", "someone", "done")
    at = open_page("xai", query={"run": run_id})
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "another technique" in errors[0] and "gan" in errors[0].lower(), errors
    assert not at.tabs and not at.get("plotly_chart")  # no results shown
    assert button(at, "xai._train").disabled is False  # the page still works


def test_a_link_to_a_failed_run_says_it_failed_and_why():
    run_id = stored_run("xai", "someone", "failed", "Training diverged: `loss` became nan at step 3 of 20.")
    at = open_page("xai", query={"run": run_id})
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "no results" in errors[0] and "failed" in errors[0], errors
    assert "Training diverged" in errors[0]  # the run's own reason
    assert not at.tabs
    assert button(at, "xai._train").disabled is False
