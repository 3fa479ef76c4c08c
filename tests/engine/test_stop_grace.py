"""Stop on a busy server (issue 13 item 4): a run that has seen the stop is never killed while it finishes its
partial results, however long that takes; only a run that ignores the stop is ended after the grace period."""

import os
import time

from engine.core.jobs import LocalExecutor


def test_a_stopped_run_slower_than_the_grace_period_still_returns_its_partial_results():
    os.environ["FRONTIER_EXTRA_TECHNIQUES"] = ",".join(
        filter(None, [os.environ.get("FRONTIER_EXTRA_TECHNIQUES", ""), "fake=tests.engine.fake_technique"])
    )
    ex = LocalExecutor(slots=1, timeout_s=120, stop_grace_s=1)
    try:
        assert ex.wait_ready(180)
        job = ex.submit("fake", {"steps": 1000, "step_seconds": 0.02, "finish_seconds": 4})
        end = time.time() + 120
        while not job.rows and time.time() < end:
            time.sleep(0.05)
        ex.cancel(job.id)
        while job.active and time.time() < end:
            time.sleep(0.05)
        assert job.status == "stopped" and job.outcome is not None, job.error
        assert 0 < len(job.outcome.history) < 1000 and job.outcome.text.startswith("ran ")
    finally:
        ex.close()
