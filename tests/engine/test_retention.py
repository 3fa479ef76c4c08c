"""Retention: old uploads and (when a retention is set) old runs are deleted; active runs never are."""

import os
import time

import pytest

from engine.core import retention
from engine.core.paths import data_dir
from engine.core.store import RunStore

DAY = retention.DAY


def test_uploads_unused_for_longer_than_the_retention_are_deleted():
    folder = data_dir() / "uploads"
    folder.mkdir(exist_ok=True)
    old, fresh = folder / ("a" * 32 + ".csv"), folder / ("b" * 32 + ".csv")
    for path in (old, fresh):
        path.write_text("x,y\n1,2\n")
    os.utime(old, (time.time() - 8 * DAY, time.time() - 8 * DAY))
    assert retention.cleanup_uploads(7) == 1
    assert not old.exists() and fresh.exists()
    assert retention.cleanup_uploads(None) == 0 and fresh.exists()  # no retention: nothing goes


def test_old_finished_runs_go_but_active_ones_and_recent_ones_stay(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite3")
    now = time.time()
    for run_id, status in (("a" * 32, "done"), ("b" * 32, "failed"), ("c" * 32, "running"), ("d" * 32, "queued")):
        store.start(run_id, "alice", "xai", {"seed": 0})
        if status in ("done", "failed"):
            store.finish(run_id, status, error="")
    store.start("e" * 32, "bob", "xai", {"seed": 0})
    store.finish("e" * 32, "done")
    later = now + 31 * DAY
    assert retention.cleanup_runs(store, None, now=later) == 0  # the default keeps every run
    assert retention.cleanup_runs(store, 30, now=later) == 3  # a, b (alice's) and e (bob's)
    assert {r["id"][0] for r in store.list_runs(None)} == {"c", "d"}
    assert retention.cleanup_runs(store, 30, now=now) == 0


def test_retention_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("FRONTIER_UPLOAD_RETENTION_DAYS", "2.5")
    monkeypatch.setenv("FRONTIER_RUN_RETENTION_DAYS", "")
    assert retention.upload_days() == pytest.approx(2.5) and retention.run_days() is None
    monkeypatch.setenv("FRONTIER_RUN_RETENTION_DAYS", "ninety")
    assert retention.run_days() is None  # not a number: logged, and nothing is deleted
