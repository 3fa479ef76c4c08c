"""Fault drills: a worker killed mid-run, the server killed mid-run, memory and time limits, many runs back to back.

Every wait is on the executor's own state changes (``LocalExecutor.wait_for``) or a child's output, with
generous timeouts: a loaded 2-core box took more than 60 s to start a worker.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.jobs import LocalExecutor
from engine.core.worker import rss_mb

os.environ["FRONTIER_EXTRA_TECHNIQUES"] = "fake=tests.engine.fake_technique"  # workers inherit it
ROOT = Path(__file__).resolve().parents[2]
LONG = 600  # seconds: the most any single wait below may take on a very busy machine


@pytest.fixture(scope="module")
def pool():
    ex = LocalExecutor(slots=2, memory_mb=400, timeout_s=20, stop_grace_s=2)
    assert ex.wait_ready(LONG)
    yield ex
    ex.close()


def done(pool, job, timeout=LONG):
    assert pool.wait_for(lambda: not job.active, timeout), f"job still {job.status} after {timeout} s"
    return job


def test_kill_9_of_a_worker_ends_only_its_run_and_the_next_run_works(pool):
    victim, bystander = (pool.submit("fake", {"steps": 1000, "step_seconds": 0.05}) for _ in range(2))
    assert pool.wait_for(lambda: victim.rows and bystander.rows, LONG)
    pid = next(s.process.pid for s in pool._slots if s.job is victim)
    os.kill(pid, signal.SIGKILL)
    done(pool, victim)
    assert victim.status == "failed" and "exited with code -9" in victim.error and "other runs are fine" in victim.error
    assert bystander.status == "running"  # the other run carries on
    pool.cancel(bystander.id)
    assert done(pool, bystander).status == "stopped" and bystander.outcome is not None
    assert done(pool, pool.submit("fake", {"steps": 3})).status == "done"  # the killed slot serves again


def test_the_memory_cap_counts_what_the_run_adds_not_the_worker(pool):
    assert pool.wait_ready(LONG)
    worker_mb = min(rss_mb(s.process.pid) for s in pool._slots)
    assert worker_mb > pool.memory_mb  # the worker alone is over the 400 MB cap ...
    assert done(pool, pool.submit("fake", {"steps": 3})).status == "done"  # ... yet an ordinary run is fine
    hog = done(pool, pool.submit("fake", {"mode": "memory"}))  # adds 1.5 GB
    assert hog.status == "failed" and "on top of its worker's" in hog.error and "over the 400 MB limit" in hog.error


def test_a_run_over_its_time_limit_is_ended_with_a_clear_message(pool):
    slow = done(pool, pool.submit("fake", {"mode": "hang"}))  # sleeps 600 s and ignores stop requests
    assert slow.status == "failed" and "took longer than the 20 s limit" in slow.error
    assert done(pool, pool.submit("fake", {"steps": 2})).status == "done"


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_200_runs_back_to_back_keep_memory_flat_and_leak_no_processes_or_files():
    """A pool of its own: the drills above leave replacement workers warming up, which would count as growth."""
    pool = LocalExecutor(slots=2)
    try:
        _back_to_back(pool)
    finally:
        pool.close()


def _back_to_back(pool):
    def batch(n):
        jobs = [pool.submit("fake", {"steps": 2}) for _ in range(n)]
        assert pool.wait_for(lambda: not any(j.active for j in jobs), LONG)
        assert all(j.status == "done" for j in jobs), {j.error for j in jobs}

    assert pool.wait_ready(LONG)
    batch(20)  # settle: allocator pools and caches fill once
    fds, pids = _open_fds(), sorted(pool.pids())
    before = [rss_mb(p) for p in pids]
    batch(180)
    after = [rss_mb(p) for p in pids]
    assert sorted(pool.pids()) == pids  # the same warm workers served every run: none leaked or restarted
    assert all(a - b < 30 for a, b in zip(after, before)), (before, after)  # MB
    assert _open_fds() <= fds + 2  # no sockets or files left open per run


def test_close_leaves_no_worker_behind():
    ex = LocalExecutor(slots=1)
    assert ex.wait_ready(LONG)
    pids = ex.pids()
    ex.close()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def _gone_within(pid: int, timeout: float) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)  # not our child: nothing to wait on but its disappearance
    return False


SERVER = r"""
import json, sys, time
from engine.core.jobs import LocalExecutor
from engine.core.service import Service
from engine.core.store import RunStore

def until(predicate, timeout=600):  # "recorded" and new rows are set by other threads without an event to wait on
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        time.sleep(0.05)

svc = Service(LocalExecutor(slots=1), RunStore(sys.argv[1]))
finished = svc.submit("fake", {"steps": 3}, owner="alice")
until(lambda: finished.recorded)
training = svc.submit("fake", {"steps": 1000, "step_seconds": 0.05}, owner="alice")
until(lambda: bool(training.rows))
print(json.dumps({"finished": finished.id, "training": training.id, "workers": svc.executor.pids()}), flush=True)
time.sleep(600)  # keep training until killed
"""


def test_kill_9_of_the_server_keeps_finished_runs_and_marks_the_interrupted_one(tmp_path):
    from engine.core.store import RunStore

    db = tmp_path / "runs.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(db)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        ids = json.loads(server.stdout.readline())  # blocks until the second run is training
    finally:
        server.kill()
        server.wait(30)
    for pid in ids["workers"]:  # orphaned workers notice the server is gone (their socket closes) and exit
        assert _gone_within(pid, LONG), f"worker {pid} outlived its server"
    store = RunStore(db)
    assert store.recover() == 1
    assert store.load_outcome(ids["finished"]).metrics["final_loss"] == pytest.approx(1 / 3)  # its link works
    row = store.get(ids["training"])
    assert row["status"] == "interrupted" and row["error"]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
