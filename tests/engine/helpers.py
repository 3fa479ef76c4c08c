"""Shared by the executor tests (tests/engine/test_jobs.py, test_jobs_contract.py, test_ray.py)."""


def wait_done(executor, job, timeout=300):
    """Wait on the executor's state changes until ``job`` ends (generous default: a loaded box took >60 s to
    restart a worker); fails the test if it is still active after ``timeout`` seconds."""
    executor.wait_for(lambda: not job.active, timeout)
    assert not job.active, f"job still {job.status} after {timeout}s"
    return job
