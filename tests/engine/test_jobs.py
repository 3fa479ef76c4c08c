"""The job executor: bounded concurrency, queue positions, live progress, stop, and failure isolation."""
import os
import time

import pytest

from engine.core.jobs import LocalExecutor


@pytest.fixture(scope="module")
def pool():
    os.environ["FRONTIER_EXTRA_TECHNIQUES"] = "fake=tests.engine.fake_technique"
    ex = LocalExecutor(slots=2, memory_mb=1200, timeout_s=60, stop_grace_s=2)
    yield ex
    ex.close()


def wait_done(pool, job, timeout=60):
    end = time.time() + timeout
    while pool.get(job.id).active and time.time() < end:
        time.sleep(0.05)
    assert not job.active, f"job still {job.status} after {timeout}s"
    return job


def test_a_run_streams_progress_and_returns_its_outcome(pool):
    job = wait_done(pool, pool.submit("fake", {"steps": 5}))
    assert job.status == "done", job.error
    assert [r["step"] for r in job.rows] == [1, 2, 3, 4, 5]
    assert job.outcome.metrics["final_loss"] == pytest.approx(0.2)
    assert job.live == {"i": 5}


@pytest.mark.parametrize("mode, expected", [
    ("raise", "The run crashed: ZeroDivisionError: boom"),
    ("user_error", "Please pick a smaller number."),
    ("nan", "Training diverged: `loss` became nan at step 3"),
    ("crash", "worker process exited with code -6"),
    ("memory", "over the 1200 MB limit per run"),
])
def test_a_failing_run_ends_with_a_clear_message_and_the_pool_keeps_serving(pool, mode, expected):
    bad = wait_done(pool, pool.submit("fake", {"mode": mode}))
    assert bad.status == "failed"
    assert expected in bad.error
    good = wait_done(pool, pool.submit("fake", {"steps": 3}))
    assert good.status == "done" and good.outcome.metrics["final_loss"] == pytest.approx(1 / 3)


def test_bad_settings_fail_with_the_validation_message(pool):
    job = wait_done(pool, pool.submit("fake", {"steps": 0}))
    assert job.status == "failed" and "`steps` must be >= 1, but got 0" in job.error


def test_only_slots_runs_train_at_once_and_the_rest_queue_in_order(pool):
    assert pool.wait_ready(60)
    jobs = [pool.submit("fake", {"steps": 4, "step_seconds": 0.25}) for _ in range(4)]
    time.sleep(0.4)
    assert sorted(pool.position(j.id) for j in jobs) == [0, 0, 1, 2]
    assert sum(j.status == "running" for j in jobs) == 2
    for j in jobs:
        assert wait_done(pool, j).status == "done"


def test_stop_returns_a_partial_result_within_a_second(pool):
    job = pool.submit("fake", {"steps": 1000, "step_seconds": 0.05})
    while not job.rows:
        time.sleep(0.02)
    asked = time.time()
    pool.cancel(job.id)
    wait_done(pool, job, timeout=5)
    assert time.time() - asked < 1.0
    assert job.status == "stopped" and job.outcome is not None
    assert 0 < len(job.outcome.history) < 1000


def test_a_run_that_ignores_stop_is_killed_after_the_grace_period(pool):
    job = pool.submit("fake", {"mode": "hang"})
    while job.status != "running":
        time.sleep(0.02)
    pool.cancel(job.id)
    wait_done(pool, job, timeout=10)
    assert job.status == "stopped" and "was ended" in job.error
    assert wait_done(pool, pool.submit("fake", {})).status == "done"


def test_cancel_a_queued_run(pool):
    blockers = [pool.submit("fake", {"steps": 4, "step_seconds": 0.25}) for _ in range(2)]
    queued = pool.submit("fake", {})
    time.sleep(0.2)
    pool.cancel(queued.id)
    assert queued.status == "stopped" and pool.position(queued.id) == 0
    for b in blockers:
        wait_done(pool, b)


def test_a_worker_over_the_recycle_threshold_is_replaced_after_its_run(pool):
    ex = LocalExecutor(slots=1, recycle_mb=1)  # every worker holds more than 1 MB: always recycled
    try:
        assert ex.wait_ready(60)
        before = ex._slots[0].process.pid
        job = wait_done(ex, ex.submit("fake", {"steps": 2}))
        assert job.status == "done", job.error
        end = time.time() + 10
        while ex._slots[0].process.pid == before and time.time() < end:  # swapped right after the result
            time.sleep(0.05)
        assert ex._slots[0].process.pid != before
        assert wait_done(ex, ex.submit("fake", {"steps": 2})).status == "done"  # the fresh worker serves
    finally:
        ex.close()
