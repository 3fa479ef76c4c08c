"""Backups an operator can trust (issue 30): ``python -m engine runs backup PATH`` and ``runs restore PATH``.

A restored store must open every result link it held: each run id gives the same metrics and the same figures
(drawn anew from the restored data). SQLite is copied with its online backup API; for PostgreSQL the CLI prints
the pg_dump procedure and exits 2, and that procedure, run as printed, is checked here too."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import torch

from engine.core.drawing import forget
from engine.core.pipeline import execute
from engine.core.store import ARTIFACTS, POSTGRESQL_BACKUP, RUNS, RunStore

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
DONE, PARTIAL, OLD, FAILED, QUEUED = ("a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32)


@pytest.fixture(scope="module")
def outcomes():
    return execute("xai", {"dataset": "iris", "epochs": 10, "explain_rows": 20}), execute("gan", {"steps": 40})


def fill(store: RunStore, outcomes) -> list[str]:
    """Runs of every kind a store holds: two finished ones (two techniques), one stored in the old format (rendered
    figures, no data), a failed one and one still queued."""
    xai, gan = outcomes
    for run_id, outcome, status in ((DONE, xai, "done"), (PARTIAL, gan, "stopped")):
        store.start(run_id, "alice", outcome.technique, outcome.config)
        store.finish(run_id, status, outcome)
    store.start(OLD, "bob", "xai", {"seed": 0, "dataset": "iris"})
    store.finish(OLD, "done", xai)
    with store.engine.begin() as db:  # as a run stored before runs kept their data
        db.execute(sa.delete(ARTIFACTS).where(ARTIFACTS.c.run_id == OLD, ARTIFACTS.c.kind == "arrays"))
        db.execute(
            sa.insert(ARTIFACTS).values(
                run_id=OLD,
                kind="figure",
                name="Loss",
                data=json.dumps({"layout": {"title": {"text": "Then"}}}).encode(),
            )
        )
        where = (ARTIFACTS.c.run_id == OLD, ARTIFACTS.c.kind == "meta")
        meta = json.loads(bytes(db.execute(sa.select(ARTIFACTS.c.data).where(*where)).scalar()))
        db.execute(sa.update(ARTIFACTS).where(*where).values(data=json.dumps({**meta, "figures": ["Loss"]}).encode()))
    store.start(FAILED, "carol", "xai", {"seed": 1})
    store.finish(FAILED, "failed", error="The run crashed.")
    store.start(QUEUED, "dan", "gan", {"seed": 2})
    return [DONE, PARTIAL, OLD, FAILED, QUEUED]


def opened(store: RunStore, run_ids: list[str]) -> dict:
    """What each result link shows: its record's status and, for a run with results, its metrics, the titles of
    its figures (drawn now from the stored data; the drawing cache is emptied first) and of its explanation."""
    seen = {}
    for run_id in run_ids:
        forget(run_id)
        row, outcome = store.get(run_id), store.load_outcome(run_id)
        seen[run_id] = (row["status"], row["error"], row["owner"])
        if outcome is not None:
            titles = {name: fig.layout.title.text for name, fig in outcome.figures.items()}
            seen[run_id] += (outcome.metrics, titles, sorted(outcome.explain_figures), outcome.weights)
            pd.testing.assert_frame_equal(outcome.history, store.load_outcome(run_id).history)
    return seen


def cli(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", "runs", *args],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "FRONTIER_DATABASE_URL"}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_restored_sqlite_store_opens_every_result_link_it_held(tmp_path, outcomes):
    live = {"FRONTIER_DATA_DIR": str(tmp_path / "live")}
    original = RunStore(tmp_path / "live" / "runs.sqlite3")
    run_ids = fill(original, outcomes)
    before = opened(original, run_ids)
    assert before[DONE][4] and before[PARTIAL][4] and before[OLD][4] == {"Loss": "Then"} and len(before[FAILED]) == 3

    backup = tmp_path / "backups" / "runs.sqlite3"
    made = cli(live, "backup", str(backup))
    assert made.returncode == 0 and "Backed up 5 runs" in made.stdout, made.stderr
    assert not (tmp_path / "backups" / "runs.sqlite3-wal").exists()  # one self-contained file
    again = cli(live, "backup", str(backup))  # tonight's backup replaces last night's
    assert again.returncode == 0, again.stderr

    fresh = {"FRONTIER_DATA_DIR": str(tmp_path / "new")}
    restored = cli(fresh, "restore", str(backup))
    assert restored.returncode == 0 and "Restored 5 runs" in restored.stdout, restored.stderr
    store = RunStore(tmp_path / "new" / "runs.sqlite3")
    assert opened(store, run_ids) == before
    assert [r["id"] for r in store.list_runs("alice")] == [r["id"] for r in original.list_runs("alice")]
    with store.engine.connect() as db:
        assert db.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

    refused = cli(fresh, "restore", str(backup))  # the store holds runs now: they would all be replaced
    assert refused.returncode == 2 and "already holds 5 runs" in refused.stderr and "--force" in refused.stderr
    original.finish(QUEUED, "interrupted", error="The server stopped.")  # differs from the backup now
    forced = cli(live, "restore", "--force", str(backup))
    assert forced.returncode == 0, forced.stderr
    assert RunStore(tmp_path / "live" / "runs.sqlite3").get(QUEUED)["status"] == "queued"  # as backed up

    (tmp_path / "notes.txt").write_text("not a database")
    for path, why in ((tmp_path / "notes.txt", "not a SQLite database"), (tmp_path / "none", "no backup file")):
        bad = cli(fresh, "restore", "--force", str(path))
        assert bad.returncode == 2 and why in bad.stderr, bad.stderr
    assert opened(store, run_ids) == before  # a refused restore changes nothing


def test_a_postgresql_store_is_backed_up_with_pg_dump_as_the_cli_prints_it(postgres_url, tmp_path, outcomes):
    import psycopg

    original = RunStore(url=postgres_url)
    run_ids = fill(original, outcomes)
    before = opened(original, run_ids)
    printed = cli({"FRONTIER_DATABASE_URL": postgres_url}, "backup", str(tmp_path / "runs.dump"))
    assert printed.returncode == 2 and printed.stderr.strip() == POSTGRESQL_BACKUP
    assert postgres_url not in printed.stderr + printed.stdout  # the URL may hold a password: never printed
    assert cli({"FRONTIER_DATABASE_URL": postgres_url}, "restore", "x").returncode == 2

    server, _ = postgres_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
        db.execute("CREATE DATABASE restored")
    target = f"{server}/restored"
    dump = re.search(r"pg_dump .*", POSTGRESQL_BACKUP).group(0)
    restore = re.search(r"pg_restore --clean .*", POSTGRESQL_BACKUP).group(0)
    for command, url in ((dump, postgres_url), (restore, target)):
        done = subprocess.run(
            command.replace("PATH", str(tmp_path / "runs.dump")),
            shell=True,
            env={**os.environ, "FRONTIER_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stderr)
    store = RunStore(url=target)
    assert opened(store, run_ids) == before
    with store.engine.connect() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(RUNS)).scalar() == 5
