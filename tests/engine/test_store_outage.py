"""The run store fails mid-run (issue 30 item 3): the person keeps their results and is told saving is delayed,
the recorder retries with backoff from a bounded queue, the runs are written once the store is back, and runs
already stored stay intact. Drills: SQLite turned read-only (and a full disk), PostgreSQL stopped and restarted."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest
import sqlalchemy as sa

from engine.core.jobs import Job
from engine.core.pipeline import execute
from engine.core.service import DELAYED_NOTE, LOST_NOTE, Service
from engine.core.store import RunStore


@pytest.fixture(autouse=True)
def fake(monkeypatch):
    monkeypatch.setenv("FRONTIER_EXTRA_TECHNIQUES", "fake=tests.engine.fake_technique")
    monkeypatch.delenv("FRONTIER_SINGLE_USER", raising=False)


class StubExecutor:
    """Runs that end when the test says so, with a real Outcome (what the recorder writes)."""

    slots = 1
    device = "cpu"

    def __init__(self):
        self.jobs: dict[str, Job] = {}
        self.listeners: list = []

    def submit(self, technique, config, owner="", job_id=None, client=""):
        job = Job(id=job_id or str(len(self.jobs)), technique=technique, config=config, owner=owner, client=client)
        self.jobs[job.id] = job
        return job

    def get(self, job_id):
        return self.jobs.get(job_id)

    def position(self, job_id):
        return 0

    def busy(self):
        return 0, 0

    def subscribe(self, listener):
        self.listeners.append(listener)

    def finish(self, job, steps=3):
        job.status, job.started = "running", time.time()
        for listener in self.listeners:
            listener("running", job)
        outcome = execute("fake", {"steps": steps})
        outcome.run_id = job.id
        job.status, job.outcome, job.finished = outcome.status, outcome, time.time()
        for listener in self.listeners:
            listener("ended", job)


def until(predicate, timeout=30.0) -> bool:
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            return False
        time.sleep(0.02)
    return True


def quick(svc: Service) -> Service:
    svc.retry_first_s, svc.retry_max_s = 0.05, 0.2
    return svc


def stored_loss(store: RunStore, run_id: str) -> float:
    outcome = store.load_outcome(run_id)
    assert outcome is not None, f"run {run_id} is not stored"
    return outcome.metrics["final_loss"]


def test_sqlite_turned_read_only_while_a_run_finishes_saves_it_once_writable(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite3")
    ex = StubExecutor()
    svc = quick(Service(ex, store))
    before = svc.submit("fake", {"steps": 3}, owner="ann")
    ex.finish(before)
    assert until(lambda: before.recorded)
    writable = store.engine
    store.engine = sa.create_engine(f"sqlite:///file:{store.path}?mode=ro&uri=true", connect_args={"uri": True})
    try:
        job = svc.submit("fake", {"steps": 4}, owner="ann")  # its queued row cannot be written either
        ex.finish(job, steps=4)
        assert until(lambda: svc.saving(job.id) == "delayed")
        view = svc.job(job.id)
        assert view.outcome is not None and view.saving == "delayed"  # the person still has their results
        assert svc.save_note(job.id) == DELAYED_NOTE and svc.status().unsaved == 1
        time.sleep(0.5)  # a few retries fail meanwhile
        assert not job.recorded and store.get(job.id) is None
    finally:
        store.engine.dispose()
        store.engine = writable
    assert until(lambda: job.recorded)
    assert svc.saving(job.id) == "" and svc.save_note(job.id) == "" and svc.status().unsaved == 0
    row = store.get(job.id)
    assert row["status"] == "done" and row["owner"] == "ann" and row["technique"] == "fake"
    assert stored_loss(store, job.id) == pytest.approx(1 / 4) and stored_loss(store, before.id) == pytest.approx(1 / 3)


class FullDisk(RunStore):
    """A SQLite store whose disk is full for its next ``failures`` writes of a finished run."""

    failures = 0

    def finish(self, run_id, status, outcome=None, error=""):
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super().finish(run_id, status, outcome, error)


def test_a_full_disk_delays_saving_and_the_retry_queue_is_bounded(tmp_path):
    store = FullDisk(tmp_path / "runs.sqlite3")
    ex = StubExecutor()
    svc = quick(Service(ex, store, per_session=10, unsaved_limit=2))
    store.failures = 10**6  # full until the test makes room
    jobs = [svc.submit("fake", {"steps": 3}, owner="bo") for _ in range(3)]
    for job in jobs:
        ex.finish(job)
    assert until(lambda: svc.saving(jobs[2].id) == "delayed")
    assert svc.saving(jobs[0].id) == "lost" and svc.save_note(jobs[0].id) == LOST_NOTE  # dropped: 2 at most
    assert svc.saving(jobs[1].id) == "delayed" and svc.status().unsaved == 2
    store.failures = 0  # room on the disk again: the next retry writes the waiting runs
    later = svc.submit("fake", {"steps": 5}, owner="bo")
    ex.finish(later, steps=5)
    assert until(lambda: jobs[1].recorded and jobs[2].recorded and later.recorded)
    assert [stored_loss(store, j.id) for j in jobs[1:]] == [pytest.approx(1 / 3)] * 2
    assert store.get(jobs[0].id)["status"] == "running"  # its row is intact; its results were not kept
    assert not jobs[0].recorded and svc.status().unsaved == 0


# --- PostgreSQL stopped and restarted: a private server, so the session's shared one keeps running --------------
@pytest.fixture
def own_postgres():
    """(URL, stop, start) of a PostgreSQL server of this test's own (initdb + pg_ctl in a temp dir)."""
    from tests.conftest import _free_port, _pg_bin, _unavailable

    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -r requirements.txt)")
    bindir = _pg_bin()
    if bindir is None:
        _unavailable("PostgreSQL's initdb was not found (Debian: apt-get install -y postgresql)")
    root = tempfile.mkdtemp(prefix="frontier-pg-outage-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    port, data = _free_port(), os.path.join(root, "data")

    def pg_ctl(*args: str) -> None:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, *args], check=True, capture_output=True, timeout=120)

    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    start = lambda: pg_ctl("-l", os.path.join(root, "log"), "-w", "-t", "60", "-o", opts, "start")
    stop = lambda: pg_ctl("-m", "fast", "-w", "stop")
    try:
        subprocess.run(
            [*as_user, f"{bindir}/initdb", "-D", data, "-U", "frontier", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        start()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"could not start PostgreSQL: {e}")
    try:
        yield f"postgresql://frontier@127.0.0.1:{port}/postgres", stop, start
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql_stopped_while_runs_finish_writes_them_once_restarted(own_postgres):
    url, stop, start = own_postgres
    store = RunStore(url=url)
    ex = StubExecutor()
    svc = quick(Service(ex, store, per_session=10))
    earlier = svc.submit("fake", {"steps": 2}, owner="cy")
    ex.finish(earlier, steps=2)
    assert until(lambda: earlier.recorded)
    waiting = svc.submit("fake", {"steps": 3}, owner="cy")  # its queued row is in; it trains through the outage
    stop()
    try:
        unborn = svc.submit("fake", {"steps": 4}, owner="cy")  # submitted while down: no row could be written
        ex.finish(waiting)
        ex.finish(unborn, steps=4)
        assert until(lambda: svc.status().unsaved == 2)
        assert svc.job(waiting.id).saving == "delayed" and svc.job(unborn.id).outcome is not None
        time.sleep(0.5)  # retries fail meanwhile (connection refused)
        assert not waiting.recorded and not unborn.recorded
    finally:
        start()
    assert until(lambda: waiting.recorded and unborn.recorded, timeout=60)
    assert svc.status().unsaved == 0
    again = RunStore(url=url)  # read back through a fresh connection
    runs = {r["id"]: r for r in again.list_runs("cy")}
    assert {earlier.id, waiting.id, unborn.id} <= set(runs)
    assert all(runs[j.id]["status"] == "done" for j in (earlier, waiting, unborn))
    assert stored_loss(again, earlier.id) == pytest.approx(1 / 2)  # the run stored before the outage is intact
    assert stored_loss(again, waiting.id) == pytest.approx(1 / 3)
    assert stored_loss(again, unborn.id) == pytest.approx(1 / 4)


def test_a_stored_runs_results_leave_memory_and_are_read_back_from_the_store(tmp_path):
    """The soak benchmark (issue 30.5) found the app growing by every finished run for an hour: the executor kept
    each run's outcome, live snapshot and history in memory. A stored run's results now leave memory two minutes
    after it ends and the page reads them back from the store; a run waiting to be saved keeps them."""
    from engine.core.jobs import RESULTS_KEEP_S, QueueExecutor

    executor = QueueExecutor(1, None, None, 1.0)
    now, jobs = time.time(), {}
    for name, ended_ago, recorded in (
        ("stored", RESULTS_KEEP_S + 5, True),
        ("unsaved", RESULTS_KEEP_S + 5, False),
        ("recent", 5, True),
    ):
        job = Job(id=name, technique="fake", config={}, status="done", finished=now - ended_ago, recorded=recorded)
        job.outcome, job.rows, job.live = object(), [(1, 3, {"loss": 1.0})], {"big": "snapshot"}
        executor._jobs[name] = jobs[name] = job
    executor._forget_old()
    assert (jobs["stored"].outcome, jobs["stored"].rows, jobs["stored"].live) == (None, [], None)
    assert jobs["unsaved"].outcome is not None and jobs["recent"].outcome is not None  # the retry queue needs it

    store, ex = RunStore(tmp_path / "runs.sqlite3"), StubExecutor()
    svc = Service(ex, store)
    job = svc.submit("fake", {"steps": 3}, owner="ann")
    ex.finish(job)
    assert until(lambda: job.recorded)
    job.outcome = None  # as the executor lets go of it
    view = svc.job(job.id)
    assert view.outcome is not None and view.outcome.metrics["final_loss"] == pytest.approx(1 / 3)
