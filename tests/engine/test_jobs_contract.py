"""The executor contract, kept by every executor: one suite over LocalExecutor and RayExecutor (a run finishes with
its outcome, Stop returns partial results, a queued run is dropped, a crash ends only its run, ``busy()`` counts);
then the local executor's limits, each ending a run with a message a person can read: the per-run time limit, and
workers that cannot even start (a broken install) failing the queued runs instead of leaving them waiting.

Worker starts can take more than a minute on a loaded 2-core box: every wait is generous, and on state changes."""

import os

import pytest

from engine.core.jobs import LocalExecutor
from tests.engine.helpers import wait_done

FAKE = "fake=tests.engine.fake_technique"
LONG = {"steps": 1000, "step_seconds": 0.05}  # about 50 s unless stopped


def _ray_executor(**limits):
    try:
        from engine.core.ray_executor import RayExecutor
    except ImportError:  # CI installs requirements.txt, so there a missing Ray is a failure, never a skip
        if os.environ.get("CI") == "1":
            raise
        pytest.skip("ray is not installed (pip install -r requirements.txt)")
    return RayExecutor(**limits)


@pytest.fixture(scope="module", params=["local", "ray"])
def executor(request):
    """One slot, so a second run waits; the fake technique registered before the workers start."""
    before = os.environ.get("FRONTIER_EXTRA_TECHNIQUES")
    os.environ["FRONTIER_EXTRA_TECHNIQUES"] = FAKE
    limits = {"slots": 1, "timeout_s": 300, "stop_grace_s": 30}
    ex = LocalExecutor(**limits) if request.param == "local" else _ray_executor(**limits)
    try:
        assert ex.wait_ready(300), f"the {request.param} workers did not warm up"
        yield ex
    finally:
        ex.close()
        if before is None:
            os.environ.pop("FRONTIER_EXTRA_TECHNIQUES", None)
        else:
            os.environ["FRONTIER_EXTRA_TECHNIQUES"] = before


def _training(ex, settings: dict):
    """A run submitted and seen training (its first progress row arrived)."""
    assert ex.wait_ready(300)  # a worker replaced by an earlier test may still be warming up
    job = ex.submit("fake", settings)
    assert ex.wait_for(lambda: bool(job.rows) or not job.active, 300) and job.status == "running", job.error
    return job


def test_a_run_finishes_with_its_outcome(executor):
    job = wait_done(executor, executor.submit("fake", {"steps": 3}))
    assert job.status == "done", job.error
    assert [r["step"] for r in job.rows] == [1, 2, 3] and job.live == {"i": 3}
    assert job.outcome.metrics["final_loss"] == pytest.approx(1 / 3) and job.outcome.run_id == job.id
    assert executor.busy() == (0, 0)


def test_busy_counts_and_cancel_drops_a_queued_run(executor):
    running = _training(executor, LONG)
    queued = executor.submit("fake", {})
    assert executor.busy() == (1, 1) and executor.position(queued.id) == 1 and executor.position(running.id) == 0
    executor.cancel(queued.id)
    assert queued.status == "stopped" and queued.error == "Cancelled before it started." and queued.outcome is None
    assert executor.busy() == (1, 0) and executor.position(queued.id) == 0
    executor.cancel(running.id)
    assert wait_done(executor, running).status == "stopped"
    assert executor.busy() == (0, 0)


def test_cancel_stops_a_running_run_with_its_partial_results(executor):
    job = _training(executor, LONG)
    executor.cancel(job.id)
    wait_done(executor, job, timeout=60)
    assert job.status == "stopped" and job.stop_seen and job.outcome is not None, job.error
    assert job.outcome.status == "stopped" and 0 < len(job.outcome.history) < 1000


def test_a_crash_fails_its_run_with_a_message_and_the_next_run_works(executor):
    crash = wait_done(executor, executor.submit("fake", {"mode": "crash"}))
    assert crash.status == "failed" and crash.outcome is None
    assert crash.error.startswith("The run crashed (") and "other runs are fine" in crash.error, crash.error
    after = wait_done(executor, executor.submit("fake", {"steps": 2}))  # on a fresh worker, once it is warm
    assert after.status == "done" and after.outcome.metrics["final_loss"] == pytest.approx(1 / 2), after.error


@pytest.fixture
def fake_technique(monkeypatch):
    monkeypatch.setenv("FRONTIER_EXTRA_TECHNIQUES", FAKE)


def test_a_run_at_the_time_limit_is_stopped_like_stop_and_keeps_its_partial_results(fake_technique):
    """The time limit asks the run to stop first (it hands back what it has, with a plain note); only a run that
    ignores the stop is killed, after the stop grace, and then nothing is kept."""
    ex = LocalExecutor(slots=1, timeout_s=3, stop_grace_s=2)
    try:
        assert ex.wait_ready(300), "the worker did not start"  # a loaded box took >60 s
        job = wait_done(ex, ex.submit("fake", LONG), timeout=120)  # about 50 s unless stopped
        assert job.status == "stopped" and job.timed_out and job.stop_seen, job.error
        assert job.outcome is not None and job.outcome.status == "stopped" and 0 < len(job.outcome.history) < 1000
        assert job.error.startswith("This server ends each run after 3 s: this one was stopped there"), job.error
        assert "is kept" in job.error and 3 <= job.finished - job.started < 30
        assert ex.busy() == (0, 0)

        hang = wait_done(ex, ex.submit("fake", {"mode": "hang"}), timeout=120)  # sleeps 600 s, ignores stops
        assert hang.status == "failed" and hang.outcome is None
        assert "longer than the 3 s limit" in hang.error and "nothing could be kept" in hang.error, hang.error
        assert 5 <= hang.finished - hang.started < 30  # the limit, then the grace: not the run finishing
        assert ex.busy() == (0, 0)  # the slot is free again (test_jobs.py shows a replaced worker serving)
    finally:
        ex.close()


def test_workers_that_cannot_start_fail_the_queued_runs_with_a_clear_message(fake_technique, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "torch.py").write_text("raise ImportError('simulated broken torch install')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(broken), os.environ.get("PYTHONPATH")])))
    ex = LocalExecutor(slots=1)
    try:
        queued = ex.submit("fake", {})
        wait_done(ex, queued, timeout=120)  # three failed starts per slot, then it gives up
        assert queued.status == "failed"
        assert "workers cannot start" in queued.error, queued.error
        assert not ex.device and ex.busy() == (0, 0)
        later = ex.submit("fake", {})  # no endless waiting for a worker that never comes
        assert later.status == "failed" and later.error == queued.error
    finally:
        ex.close()
