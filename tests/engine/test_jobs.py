"""The job executor: bounded concurrency, queue positions, live progress, stop, and failure isolation."""

import os
import time

import pytest

from engine.core.jobs import LocalExecutor
from tests.engine.helpers import wait_done

os.environ["FRONTIER_EXTRA_TECHNIQUES"] = "fake=tests.engine.fake_technique"  # workers inherit it


@pytest.fixture(scope="module")
def pool():
    ex = LocalExecutor(slots=2, memory_mb=1200, timeout_s=60, stop_grace_s=2)
    yield ex
    ex.close()


def test_a_run_streams_progress_and_returns_its_outcome(pool):
    job = wait_done(pool, pool.submit("fake", {"steps": 5}))
    assert job.status == "done", job.error
    assert [r["step"] for r in job.rows] == [1, 2, 3, 4, 5]
    assert job.outcome.metrics["final_loss"] == pytest.approx(0.2)
    assert job.live == {"i": 5}


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("raise", "The run crashed: `ZeroDivisionError: boom`"),
        ("user_error", "Please pick a smaller number."),
        ("nan", "Training diverged: `loss` became nan at step 3"),
        ("crash", "worker process exited with code -6"),
        ("memory", "over the 1200 MB limit per run"),
    ],
)
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
    assert pool.wait_ready(300)
    jobs = [pool.submit("fake", {"steps": 4, "step_seconds": 0.5}) for _ in range(4)]
    assert pool.wait_for(lambda: sum(j.status == "running" for j in jobs) == 2, 300)
    assert sorted(pool.position(j.id) for j in jobs) == [0, 0, 1, 2]
    assert sum(j.status == "running" for j in jobs) == 2
    for j in jobs:
        assert wait_done(pool, j).status == "done"


def test_stop_returns_a_partial_result_within_a_second(pool):
    job = pool.submit("fake", {"steps": 1000, "step_seconds": 0.05})
    assert pool.wait_for(lambda: bool(job.rows), 300)
    asked = time.time()
    pool.cancel(job.id)
    wait_done(pool, job, timeout=5)
    assert time.time() - asked < 1.0
    assert job.status == "stopped" and job.outcome is not None
    assert 0 < len(job.outcome.history) < 1000


def test_a_run_that_ignores_stop_is_killed_after_the_grace_period(pool):
    job = pool.submit("fake", {"mode": "hang"})
    assert pool.wait_for(lambda: job.status == "running", 300)
    pool.cancel(job.id)
    wait_done(pool, job, timeout=60)
    assert job.status == "stopped" and "was ended" in job.error
    assert wait_done(pool, pool.submit("fake", {})).status == "done"


def test_cancel_a_queued_run(pool):
    assert pool.wait_ready(300)  # an earlier test's killed worker may still be warming up
    blockers = [pool.submit("fake", {"steps": 4, "step_seconds": 0.5}) for _ in range(2)]
    queued = pool.submit("fake", {})
    assert pool.wait_for(lambda: all(b.status != "queued" for b in blockers), 300)
    pool.cancel(queued.id)
    assert queued.status == "stopped" and pool.position(queued.id) == 0
    for b in blockers:
        wait_done(pool, b)


def test_a_worker_is_recycled_only_after_real_growth_and_its_replacement_warms_before_it_retires():
    ex = LocalExecutor(slots=1, recycle_mb=150)  # a worker may grow 150 MB over its own warm size
    slot = ex._slots[0]
    try:
        assert ex.wait_ready(300)
        first = slot.process.pid
        assert wait_done(ex, ex.submit("fake", {"steps": 2})).status == "done"
        assert slot.spare is None and slot.process.pid == first  # an ordinary run: the warm worker stays
        leak = ex.submit("fake", {"mode": "leak", "steps": 2})
        assert ex.wait_for(lambda: not leak.active, 300) and leak.status == "done", leak.error
        with ex._lock:  # right after the run: a replacement is warming up while the old worker still serves
            assert slot.spare is not None and slot.process.pid == first and slot.ready
        assert ex.wait_for(lambda: ex.recycled == 1, 300)  # swapped once the replacement was warm
        assert slot.process.pid != first and slot.spare is None and slot.ready
        assert wait_done(ex, ex.submit("fake", {"steps": 2})).status == "done"  # the fresh worker serves
        assert len(ex.pids()) == 1  # the old worker is gone, nothing else left running
    finally:
        ex.close()


def test_runs_wait_for_a_slot_only_while_every_worker_is_busy_never_for_a_replacement():
    ex = LocalExecutor(slots=1, recycle_mb=150)
    try:
        assert ex.wait_ready(300)
        leak = ex.submit("fake", {"mode": "leak", "steps": 2})
        queued = ex.submit("fake", {"steps": 2})  # waits behind the leaking run, then must not wait for warm-up
        assert ex.wait_for(lambda: not queued.active, 300) and queued.status == "done"
        assert leak.status == "done" and queued.started - leak.finished < 2.0  # the old worker took it at once
    finally:
        ex.close()


class StubExecutor:
    """Just enough of the Executor protocol to test admission without processes."""

    slots = 2

    def __init__(self):
        self.jobs, self.listeners = [], []

    def submit(self, technique, config, owner="", job_id=None):
        from engine.core.jobs import Job

        job = Job(id=job_id or str(len(self.jobs)), technique=technique, config=config, owner=owner)
        self.jobs.append(job)
        return job

    def busy(self):
        active = [j for j in self.jobs if j.active]
        return min(len(active), self.slots), max(len(active) - self.slots, 0)

    def subscribe(self, listener):
        self.listeners.append(listener)

    def end(self, job, seconds=30.0):
        job.status, job.started, job.finished = "done", 100.0, 100.0 + seconds
        for listener in self.listeners:
            listener("ended", job)


def test_a_visitor_may_have_one_run_training_and_one_waiting():
    from engine.core.service import Busy, Service

    ex = StubExecutor()
    svc = Service(ex, None, per_session=2, max_queue=40)
    first, second = svc.submit("fake", {}, owner="alice"), svc.submit("fake", {}, owner="alice")
    with pytest.raises(Busy, match="You already have 2 runs training or waiting"):
        svc.submit("fake", {}, owner="alice")
    svc.submit("fake", {}, owner="bob")  # someone else is not held back by alice's runs
    ex.end(first)
    assert svc.submit("fake", {}, owner="alice").active  # one ended: alice may submit again
    assert second.active and len(svc.active_runs("alice")) == 2


def test_a_full_queue_refuses_with_the_expected_wait_from_measured_run_times():
    from engine.core.service import Busy, Service

    ex = StubExecutor()
    svc = Service(ex, None, per_session=100, max_queue=4)
    assert svc.expected_wait_s() is None  # nothing measured yet: no guess
    for i in range(6):  # 2 train, 4 wait
        svc.submit("fake", {}, owner=f"visitor{i}")
    done = ex.submit("fake", {})
    ex.end(done, seconds=60.0)  # one measured run: 60 s
    assert ex.busy() == (2, 4)
    assert svc.expected_wait_s() == pytest.approx(180.0)  # 4 ahead + this one on 2 slots: 3 rounds of 60 s
    with pytest.raises(Busy, match=r"The server is busy: 4 runs are already waiting for about 3 min"):
        svc.submit("fake", {}, owner="late")
