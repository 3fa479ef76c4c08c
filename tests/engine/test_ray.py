"""The Ray executor keeps the local executor's promises (tests/engine/test_jobs.py), on one local Ray session.

One Ray (2 CPUs, no dashboard) and one RayExecutor serve the whole module. Its actors get a data directory of
their own, as a worker on another machine would, so an upload only reaches them as bytes sent with the job.
"""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

try:
    import ray
except ImportError:  # CI installs requirements.txt, so there a missing Ray is a failure, never a skip
    if os.environ.get("CI") == "1":
        raise
    pytest.skip("ray is not installed (pip install -r requirements.txt)", allow_module_level=True)

from engine.core.ray_executor import RayExecutor  # noqa: E402
from tests.engine.helpers import wait_done  # noqa: E402

QUICK_XAI = {"dataset": "iris", "epochs": 15, "explain_rows": 10}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    os.environ["FRONTIER_EXTRA_TECHNIQUES"] = "fake=tests.engine.fake_technique"
    worker_dir = tmp_path_factory.mktemp("ray-worker-data")
    ex = RayExecutor(
        slots=2, memory_mb=700, timeout_s=60, stop_grace_s=2, worker_env={"FRONTIER_DATA_DIR": str(worker_dir)}
    )
    ex.worker_dir = worker_dir
    assert ex.wait_ready(300), "the Ray actors did not warm up"
    yield ex
    ex.close()


def non_measured(technique: str, metrics: dict) -> dict:
    import engine

    declared = engine.load(technique).METRICS
    return {k: v for k, v in metrics.items() if not (k in declared and declared[k].measured)}


def test_progress_rows_stream_in_while_the_run_trains(cluster):
    job = cluster.submit("fake", {"steps": 8, "step_seconds": 0.15})
    seen_running = set()
    while job.active:
        if job.status == "running":
            seen_running.add(len(job.rows))
        time.sleep(0.02)
    assert job.status == "done", job.error
    assert [r["step"] for r in job.rows] == list(range(1, 9))
    assert len({n for n in seen_running if 0 < n < 8}) >= 2  # several partial histories, not one final dump
    assert job.live == {"i": 8} and job.outcome.metrics["final_loss"] == pytest.approx(1 / 8)
    assert job.outcome.run_id == job.id


def test_a_real_technique_gives_the_in_process_metrics(cluster):
    import torch

    from engine.core.pipeline import execute

    torch.set_num_threads(1)
    job = wait_done(cluster, cluster.submit("xai", QUICK_XAI))
    assert job.status == "done", job.error
    here = execute("xai", QUICK_XAI)
    assert non_measured("xai", job.outcome.metrics) == non_measured("xai", here.metrics)
    assert job.outcome.weights == here.weights  # the same model, bit for bit
    assert list(job.outcome.figures) == list(here.figures) and job.outcome.explanation is not None


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("raise", "The run crashed: `ZeroDivisionError: boom`"),
        ("user_error", "Please pick a smaller number."),
        ("memory", "over the 700 MB limit per run"),
    ],
)
def test_a_failing_run_ends_with_a_clear_message_and_the_actors_keep_serving(cluster, mode, expected):
    bad = wait_done(cluster, cluster.submit("fake", {"mode": mode}))
    assert bad.status == "failed"
    assert expected in bad.error
    good = wait_done(cluster, cluster.submit("fake", {"steps": 3}))
    assert good.status == "done" and good.outcome.metrics["final_loss"] == pytest.approx(1 / 3)


def test_a_crash_and_a_divergence_end_their_runs_while_a_concurrent_run_finishes(cluster):
    assert cluster.wait_ready(300)
    good = cluster.submit("fake", {"steps": 20, "step_seconds": 0.1})
    crash = cluster.submit("fake", {"mode": "crash"})
    nan = cluster.submit("fake", {"mode": "nan"})
    assert wait_done(cluster, crash).status == "failed" and "worker process died" in crash.error
    assert wait_done(cluster, nan).status == "failed" and "Training diverged: `loss` became nan at step 3" in nan.error
    assert wait_done(cluster, good).status == "done", good.error
    assert len(good.outcome.history) == 20


def test_the_time_limit_ends_a_run(cluster, monkeypatch):
    monkeypatch.setattr(cluster, "timeout_s", 1.0)
    job = wait_done(cluster, cluster.submit("fake", {"steps": 1000, "step_seconds": 0.05}))
    assert job.status == "stopped" and job.outcome is not None and "ends each run after 1 s" in job.error, job.error


def test_only_slots_runs_train_at_once_and_the_rest_queue_in_order(cluster):
    assert cluster.wait_ready(300)
    jobs = [cluster.submit("fake", {"steps": 4, "step_seconds": 0.25}) for _ in range(4)]
    time.sleep(0.4)
    assert sorted(cluster.position(j.id) for j in jobs) == [0, 0, 1, 2]
    assert sum(j.status == "running" for j in jobs) == 2 and cluster.busy() == (2, 2)
    for j in jobs:
        assert wait_done(cluster, j).status == "done"


def test_stop_returns_a_partial_result_within_a_second(cluster):
    job = cluster.submit("fake", {"steps": 1000, "step_seconds": 0.05})
    while not job.rows:
        time.sleep(0.02)
    asked = time.time()
    cluster.cancel(job.id)
    wait_done(cluster, job, timeout=5)
    assert time.time() - asked < 1.0
    assert job.status == "stopped" and job.outcome is not None and job.stop_seen
    assert 0 < len(job.outcome.history) < 1000


def test_a_run_that_ignores_stop_is_killed_after_the_grace_period(cluster):
    job = cluster.submit("fake", {"mode": "hang"})
    while job.status != "running":
        time.sleep(0.02)
    cluster.cancel(job.id)
    wait_done(cluster, job, timeout=30)
    assert job.status == "stopped" and "was ended" in job.error
    assert wait_done(cluster, cluster.submit("fake", {})).status == "done"


def _gone(pid: int, timeout: float = 30) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_an_actor_that_grew_past_the_recycle_limit_is_replaced_and_the_next_run_gets_a_new_one(cluster, monkeypatch):
    ran_on = {}  # job id -> the pid of the actor it was handed to (read on the supervisor's thread, at hand-over)

    def on_event(event, job):
        if event == "running":
            ran_on[job.id] = next(s.pid for s in cluster._slots if s.job is job)

    cluster.subscribe(on_event)
    assert cluster.wait_ready(300)
    before, recycled = set(cluster.pids()), cluster.recycled
    assert len(before) == 2
    monkeypatch.setattr(cluster, "recycle_mb", 10_000.0)  # far above what any run here adds: nothing is recycled
    ordinary = wait_done(cluster, cluster.submit("fake", {"steps": 2}))
    assert ordinary.status == "done" and cluster.recycled == recycled
    assert ran_on[ordinary.id] in before and set(cluster.pids()) == before  # the same warm actors serve on

    monkeypatch.setattr(cluster, "recycle_mb", 1.0)  # a tiny limit: the run's 300 MB leak is far past it
    leak = wait_done(cluster, cluster.submit("fake", {"mode": "leak", "steps": 2}))
    assert leak.status == "done", leak.error  # the run itself is kept: recycling happens after it
    assert cluster.recycled == recycled + 1
    grown = ran_on[leak.id]
    assert _gone(grown), "the grown actor's process is still alive"
    monkeypatch.setattr(cluster, "recycle_mb", 10_000.0)
    assert cluster.wait_ready(300)
    after = set(cluster.pids())
    assert grown not in after and len(after) == 2 and len(after - before) == 1  # one fresh actor, the other kept
    nexts = [cluster.submit("fake", {"steps": 4, "step_seconds": 0.25}) for _ in range(2)]  # one on each actor
    for job in nexts:
        assert wait_done(cluster, job).status == "done", job.error
    assert {ran_on[j.id] for j in nexts} == after and cluster.recycled == recycled + 1


def test_cancel_a_queued_run(cluster):
    blockers = [cluster.submit("fake", {"steps": 4, "step_seconds": 0.25}) for _ in range(2)]
    queued = cluster.submit("fake", {})
    time.sleep(0.2)
    cluster.cancel(queued.id)
    assert queued.status == "stopped" and cluster.position(queued.id) == 0
    for b in blockers:
        wait_done(cluster, b)


def test_an_uploaded_csv_travels_with_the_job_not_by_path(cluster):
    from sklearn.datasets import load_iris

    from engine.core.data import save_upload

    frame = load_iris(as_frame=True).frame
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    token = save_upload(buf.getvalue().encode())
    assert cluster.wait_ready(300)
    worker_dirs = {
        ray.get(
            slot.actor.__ray_call__.remote(lambda _self: str(__import__("engine.core.paths").core.paths.data_dir()))
        )
        for slot in cluster._slots
    }
    assert worker_dirs == {str(cluster.worker_dir)}  # like another machine: the app's upload file is not there
    assert not (cluster.worker_dir / "uploads" / f"{token}.csv").exists()
    job = wait_done(
        cluster, cluster.submit("xai", {**QUICK_XAI, "dataset": "upload", "upload": token, "target": "target"})
    )
    assert job.status == "done", job.error
    assert job.outcome.metrics["test_accuracy"] > 0.6
    assert job.outcome.explanation.feature_names[0] == "sepal length (cm)"
    assert not (cluster.worker_dir / "uploads" / f"{token}.csv").exists()  # and it leaves no copy behind


def test_the_service_records_a_ray_run_so_its_result_link_works(cluster, tmp_path):
    from engine.core.service import Service
    from engine.core.store import RunStore

    store = RunStore(tmp_path / "runs.sqlite3")
    app = Service(cluster, store)
    job = app.submit("fake", {"steps": 3}, owner="ray-user")
    end = time.time() + 120
    while not job.recorded and time.time() < end:
        time.sleep(0.05)
    assert job.recorded and store.get(job.id)["status"] == "done"
    assert store.load_outcome(job.id).metrics["final_loss"] == pytest.approx(1 / 3)


def test_a_run_that_starts_from_a_stored_run_gets_it_in_its_job_not_from_a_store(cluster, tmp_path):
    """Edge AI compressing a stored XAI run: the actors' data directory has no run store with it, so the run only
    works because the service sent the source run (settings, info, weights) with the job."""
    from engine.core.pipeline import execute
    from engine.core.service import Service
    from engine.core.store import RunStore

    store = RunStore(tmp_path / "runs.sqlite3")
    xai = execute("xai", {"dataset": "wine", "epochs": 20, "explain_rows": 10})
    store.start("a" * 32, "someone", "xai", xai.config)
    store.finish("a" * 32, "done", xai)
    app = Service(cluster, store)
    settings = {"start_from": "finished_run", "source_run": "a" * 32, "prune": False, "onnx": False}
    job = wait_done(cluster, app.submit("edge", {**settings, "explain_rows": 4}, owner="ray-user"))
    assert job.status == "done", job.error
    assert job.outcome.metrics["original_accuracy"] == pytest.approx(xai.metrics["test_accuracy"])  # the same model
    assert not (cluster.worker_dir / "runs.sqlite3").exists()  # no worker looked for a run store


def test_the_cli_through_ray_prints_the_in_process_metrics(tmp_path):
    import torch

    from engine.core.pipeline import execute

    sets = {"dataset": "wine", "epochs": 10, "explain_rows": 10}
    args = [f"{k}={v}" for k, v in sets.items()]
    env = {**os.environ, "FRONTIER_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "engine", "run", "xai", "--executor", "ray", *[a for kv in args for a in ("--set", kv)]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout[-2000:]  # stdout holds only the metrics JSON, as in-process
    printed = json.loads(lines[0])
    torch.set_num_threads(1)  # as `python -m engine run` does (--threads 1)
    here = execute("xai", sets).metrics
    assert non_measured("xai", printed) == non_measured("xai", json.loads(json.dumps(here)))
    assert 0.5 < printed["test_accuracy"] <= 1
