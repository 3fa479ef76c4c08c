"""The executor's limits, each ending a run with a message a person can read: the per-run time limit, and
workers that cannot even start (a broken install) failing the queued runs instead of leaving them waiting."""

import os

import pytest

from engine.core.jobs import LocalExecutor
from tests.engine.helpers import wait_done


@pytest.fixture(autouse=True)
def fake_technique(monkeypatch):
    monkeypatch.setenv("FRONTIER_EXTRA_TECHNIQUES", "fake=tests.engine.fake_technique")


def test_a_run_over_the_time_limit_is_ended_with_a_clear_message():
    ex = LocalExecutor(slots=1, timeout_s=3)
    try:
        assert ex.wait_ready(300), "the worker did not start"  # a loaded box took >60 s
        job = ex.submit("fake", {"mode": "hang"})  # sleeps 600 s and ignores stop requests
        wait_done(ex, job, timeout=60)
        assert job.status == "failed"
        assert "longer than the 3 s limit" in job.error and "ended" in job.error, job.error
        assert 3 <= job.finished - job.started < 30  # ended by the limit, not by the run finishing
        assert ex.busy() == (0, 0)  # the slot is free again (test_jobs.py shows a replaced worker serving)
    finally:
        ex.close()


def test_workers_that_cannot_start_fail_the_queued_runs_with_a_clear_message(tmp_path, monkeypatch):
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
