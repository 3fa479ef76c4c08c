"""Run store: round trip, crash safety, concurrent writers, privacy, CSV export safety, CLI.

Every store test runs twice: on SQLite (the default) and on a throwaway PostgreSQL server (tests/conftest.py;
skipped with a reason locally when PostgreSQL is not installed, a failure under CI=1)."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import torch

from engine.core.export import csv_bytes
from engine.core.jobs import LocalExecutor
from engine.core.pipeline import execute
from engine.core.service import Service
from engine.core.store import RUNS, RunStore

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


class Db:
    """Where one test's store lives; ``open()`` gives a new RunStore on it, ``env`` points the CLI at it."""

    def __init__(self, kind: str, tmp_path: Path, url: str = ""):
        self.kind, self.tmp_path, self.url = kind, tmp_path, url
        self.env = {"FRONTIER_DATABASE_URL": url} if url else {"FRONTIER_DATA_DIR": str(tmp_path)}

    def open(self) -> RunStore:
        return RunStore(url=self.url) if self.url else RunStore(self.tmp_path / "runs.sqlite3")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path, monkeypatch):
    monkeypatch.delenv("FRONTIER_DATABASE_URL", raising=False)
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    return Db(request.param, tmp_path, url)


def set_server(store: RunStore, run_id: str, pid: int, host: str | None = None) -> None:
    with store.engine.begin() as conn:
        values = {"server_pid": pid} if host is None else {"server_pid": pid, "server_host": host}
        conn.execute(sa.update(RUNS).where(RUNS.c.id == run_id).values(**values))


@pytest.fixture(scope="module")
def outcome():
    return execute("xai", {"dataset": "iris", "epochs": 10, "explain_rows": 20})


def test_round_trip_gives_back_the_same_run(db, outcome):
    store = db.open()
    store.start("a" * 32, "alice", "xai", outcome.config)
    store.finish("a" * 32, "done", outcome)
    back = store.load_outcome("a" * 32)
    assert back.config == outcome.config and back.metrics == outcome.metrics and back.text == outcome.text
    pd.testing.assert_frame_equal(back.history, outcome.history, check_dtype=False)
    assert list(back.figures) == list(outcome.figures)
    for new, old in zip(back.figures["Loss"].data, outcome.figures["Loss"].data):  # drawn anew from stored data
        np.testing.assert_allclose(np.asarray(new.y, float), np.asarray(old.y, float), rtol=1e-12)
    np.testing.assert_allclose(back.explanation.values, outcome.explanation.values)
    assert back.explanation.feature_names == outcome.explanation.feature_names
    assert back.explanation.additivity_error == pytest.approx(outcome.explanation.additivity_error)
    assert back.weights == outcome.weights and back.run_id == "a" * 32
    row = store.get("a" * 32)
    assert row["versions"]["torch"].startswith("2.13.0") and row["status"] == "done" and row["owner"] == "alice"
    assert store.engine.dialect.name == db.kind
    if db.kind == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_run_stores_data_and_no_rendered_figure(db, outcome):
    """Runs keep their data (arrays, SHAP values, layer tables, weights); charts are drawn when a run is read."""
    store = db.open()
    store.start("d" * 32, "dora", "xai", outcome.config)
    store.finish("d" * 32, "done", outcome)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, data FROM artifacts WHERE run_id = :i"), {"i": "d" * 32}).all()
    kinds = {r.kind for r in rows}
    assert {"arrays", "explanation", "weights", "meta"} <= kinds
    assert not kinds & {"figure", "explain_figure", "diagram"}
    assert not any(b'"layout"' in bytes(r.data) for r in rows), "a rendered Plotly figure was stored"
    back = store.load_outcome("d" * 32)
    assert back.legacy is None and set(back.arrays) == set(outcome.arrays)
    np.testing.assert_array_equal(back.arrays["y_test"], outcome.arrays["y_test"])
    assert back.layers == json.loads(json.dumps(outcome.layers))


def test_a_chart_changed_after_the_run_ended_reaches_its_result_link(db, outcome, monkeypatch):
    import plotly.graph_objects as go

    import engine
    from engine.core import drawing

    store = db.open()
    store.start("e" * 32, "erin", "xai", outcome.config)
    store.finish("e" * 32, "done", outcome)
    drawing.forget("e" * 32)
    xai = engine.load("xai")
    drawn_from = []

    def better(result):  # "a fix made after the run": a new chart, drawn from the run's stored data
        drawn_from.append(result)
        return {"Test labels": go.Figure(go.Histogram(x=result.arrays["y_test"]))}

    monkeypatch.setattr(xai, "figures", better)
    monkeypatch.setattr(xai, "describe", lambda result: f"Re-read: {len(result.history)} epochs.")
    back = store.load_outcome("e" * 32)
    assert list(back.figures) == ["Test labels"] and back.text == f"Re-read: {len(outcome.history)} epochs."
    assert list(back.figures["Test labels"].data[0].x) == list(outcome.arrays["y_test"])
    assert drawn_from[0].models == {} and drawn_from[0].config.dataset == "iris"


def test_a_run_stored_before_runs_kept_their_data_still_opens(db):
    """Format 1 (until 2026-12): rendered figures as Plotly JSON, no arrays; its link shows them as stored."""
    import plotly.graph_objects as go

    store = db.open()
    store.start("f" * 32, "fred", "xai", {"seed": 0, "dataset": "iris"})
    history = pd.DataFrame({"step": [1, 2], "loss": [1.0, 0.5]})
    fig = go.Figure(go.Scatter(x=[1, 2], y=[1.0, 0.5]), layout={"title": {"text": "Loss then"}})
    meta = {"figures": ["Loss"], "explain_figures": [], "explanations": {}, "architecture": {}, "headline": []}
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(RUNS)
            .where(RUNS.c.id == "f" * 32)
            .values(
                status="done",
                history=history.to_json(orient="split", index=False),
                metrics='{"loss": 0.5}',
                summary="An old run's words.",
                seconds=1.0,
            )
        )
        conn.execute(
            sa.text("INSERT INTO artifacts (run_id, kind, name, data) VALUES (:i, :k, :n, :d)"),
            [
                {"i": "f" * 32, "k": "figure", "n": "Loss", "d": fig.to_json().encode()},
                {"i": "f" * 32, "k": "meta", "n": "meta", "d": json.dumps(meta).encode()},
            ],
        )
    back = store.load_outcome("f" * 32)
    assert back.legacy is not None and back.text == "An old run's words."
    assert list(back.figures) == ["Loss"] and back.figures["Loss"].layout.title.text == "Loss then"
    assert "stored before runs kept their data" in back.drawn().problems[0]


def test_unknown_and_malformed_ids_are_none(db):
    store = db.open()
    assert store.get("0" * 32) is None and store.get("../../etc") is None and store.load_outcome("zz") is None


def test_runs_of_a_dead_server_are_marked_interrupted(db):
    store = db.open()
    store.start("b" * 32, "bob", "xai", {"seed": 0})
    store.start("c" * 32, "bob", "xai", {"seed": 0})
    store.start("f" * 32, "bob", "xai", {"seed": 0})
    store.mark_running("b" * 32)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for run_id in ("b" * 32, "c" * 32):
        set_server(store, run_id, dead.pid)
    set_server(store, "f" * 32, dead.pid, host="another-app-server")  # a shared database: not ours to judge
    assert db.open().recover() == 2
    row = store.get("b" * 32)
    assert row["status"] == "interrupted" and "stopped while this run was training" in row["error"]
    row = store.get("c" * 32)  # it was waiting in the queue: it never trained
    assert row["status"] == "interrupted" and "stopped before this run started" in row["error"]
    assert store.get("f" * 32)["status"] == "queued"
    assert store.get("b" * 32 + "\n") is None  # an id with a trailing newline is not an id


def test_a_crashing_run_is_recorded_as_failed_and_the_store_stays_readable(db):
    os.environ["FRONTIER_EXTRA_TECHNIQUES"] = "fake=tests.engine.fake_technique"
    store = db.open()
    pool = LocalExecutor(slots=2)
    app = Service(pool, store, per_session=10)  # six runs from one owner at once
    try:
        jobs = [app.submit("fake", {"mode": "crash"}, owner="carol")] + [
            app.submit("fake", {"steps": 3}, owner="carol") for _ in range(5)
        ]
        end = time.time() + 120
        while not all(j.recorded for j in jobs) and time.time() < end:
            time.sleep(0.05)
    finally:
        pool.close()
    runs = {r["id"]: r for r in store.list_runs("carol")}
    assert len(runs) == 6  # concurrent writers lost nothing
    assert runs[jobs[0].id]["status"] == "failed" and "exited with code" in runs[jobs[0].id]["error"]
    assert all(runs[j.id]["status"] == "done" for j in jobs[1:])
    assert store.load_outcome(jobs[1].id).metrics["final_loss"] == pytest.approx(1 / 3)


def test_many_threads_writing_at_once_lose_nothing(db, outcome):
    store = db.open()

    def write(i):
        run_id = f"{i:032x}"
        store.start(run_id, "dave", "xai", outcome.config)
        store.finish(run_id, "done", outcome)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.list_runs("dave")) == 8


def test_one_owner_cannot_list_or_delete_another_owners_runs(db, outcome, monkeypatch):
    monkeypatch.delenv("FRONTIER_SINGLE_USER", raising=False)
    store = db.open()
    store.start("c" * 32, "erin", "xai", outcome.config)
    store.finish("c" * 32, "done", outcome)
    assert store.list_runs("frank") == [] and len(store.list_runs("erin")) == 1
    assert not store.delete("c" * 32, "frank") and store.get("c" * 32) is not None
    assert store.delete("c" * 32, "erin") and store.get("c" * 32) is None


def test_csv_export_neutralises_spreadsheet_formulas():
    df = pd.DataFrame(
        {"=cmd|' /C calc'!A0": ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "safe"], "n": [-1.5, 2, 3, 4, 5]}
    )
    text = csv_bytes(df).decode()
    assert "'=cmd|" in text and "\n'+1," in text and "\n'-2+3," in text and "\n'@SUM" in text and "\nsafe,5" in text
    assert ",-1.5" in text  # numbers stay numbers
    assert not any(line.startswith(("=", "+", "@")) for line in text.splitlines())


def test_cli_lists_shows_and_exports_runs(db, tmp_path, outcome):
    store = db.open()
    store.start("d" * 32, "gina", "xai", outcome.config)
    store.finish("d" * 32, "done", outcome)
    env = {**os.environ, **db.env}
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "engine", "runs", *a],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    listed = run("list")
    assert listed.returncode == 0 and json.loads(listed.stdout.splitlines()[0])["id"] == "d" * 32
    shown = run("show", "d" * 32)
    assert json.loads(shown.stdout)["metrics"] == outcome.metrics
    out = run("export", "d" * 32, str(tmp_path / "export"))
    assert out.returncode == 0 and (tmp_path / "export" / "model.safetensors").exists()
    missing = run("show", "e" * 32)
    assert missing.returncode == 2 and "No stored run" in missing.stderr
