"""Ray executor: the same promises as :class:`engine.core.jobs.LocalExecutor`, with runs trained on a Ray cluster.

One long-lived Ray actor per slot (torch imported once, one torch thread, SHAP warmed up), so a run pays no
start-up. The queue stays here, in the app process, so a person sees their position while every actor is busy.
A supervisor thread hands a queued job to a free actor, polls the running ones every 0.2 s for their new
progress rows, live snapshot and memory (a threaded actor answers while it trains), and polices them: a run
over its memory cap or time limit, or one that ignores Stop past its grace period, has its actor killed and
replaced; an actor whose process dies (a segfault, Ray's out-of-memory killer) ends *that* run with a clear
message, and every other run carries on. Stop reaches the run's next progress call within one poll. Each run
returns its actor's resident size with its result, so an actor that has grown past ``FRONTIER_WORKER_RECYCLE_MB``
over its warm size is recycled (killed and replaced by a fresh one) as the local workers are.

Nothing travels by path: a worker may be another machine, so an uploaded CSV a config refers to (by its
token) travels with the job as bytes and is written to the worker's own data directory for the run, then
removed; a job's ``inputs`` (a stored run it starts from: settings, info, safetensors weights) travel with it
the same way. The Outcome comes back through Ray's object store. This executor does not record runs:
:mod:`engine.core.service` does, from its events, exactly as for the local executor.

``ray.init`` joins ``RAY_ADDRESS`` when it is set (a cluster started with ``ray start``); otherwise it starts
a local Ray without its dashboard, in a private temp dir, which :meth:`RayExecutor.close` shuts down.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

import ray

from engine.core.contract import is_phase
from engine.core.jobs import ROOT, Job, QueueExecutor
from engine.core.worker import env_float, prepare, rss_mb, run_one

log = logging.getLogger(__name__)
POLL_S = 0.2  # how often a running job's new rows are fetched
FORWARDED = ("FRONTIER_DATABASE_URL", "FRONTIER_DEVICE", "FRONTIER_EXTRA_TECHNIQUES", "FRONTIER_MAX_UPLOAD_MB")


def uploads_of(config: dict) -> dict[str, bytes]:
    """The uploaded CSVs a config refers to (by token), as bytes, read from this server's data directory."""
    from engine.core.data import TOKEN
    from engine.core.paths import data_dir

    tokens: set[str] = set()

    def scan(value):
        if isinstance(value, str) and TOKEN.match(value):
            tokens.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                scan(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                scan(v)

    scan(config)
    folder = data_dir() / "uploads"
    return {t: (folder / f"{t}.csv").read_bytes() for t in sorted(tokens) if (folder / f"{t}.csv").is_file()}


def _place_uploads(uploads: dict[str, bytes]) -> list:
    """Write a job's uploads into this worker's data directory; returns the files it created (removed after)."""
    from engine.core.data import TOKEN
    from engine.core.paths import data_dir

    folder = data_dir() / "uploads"
    folder.mkdir(exist_ok=True)
    created = []
    for token, raw in uploads.items():
        path = folder / f"{token}.csv"
        if not TOKEN.match(token) or path.exists():
            continue  # the same machine as the app: the file is already there
        tmp = folder / f".{token}.{secrets.token_hex(4)}.tmp"
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        created.append(path)
    return created


class Worker:
    """A warm Ray actor: imports torch once, trains one run at a time, answers polls while it trains."""

    def __init__(self):
        self._device = prepare()
        self._lock = threading.Lock()
        self._job, self._rows, self._live, self._phase, self._stops = "", [], None, None, set()
        self._base_mb, self._seen = 0.0, False  # resident size when the run started; the run has seen Stop

    def ready(self) -> tuple[str, int, float]:
        """(the actor's compute device in words, its process id, its MB now), answered once it is warm: before
        any run, so that size is what it grows from."""
        return self._device, os.getpid(), rss_mb(os.getpid())

    def run(
        self, job_id: str, technique: str, config: dict, uploads: dict[str, bytes], inputs: dict | None = None
    ) -> tuple:
        """Train one run (its uploads and ``inputs`` came with it as bytes); returns (kind, payload, the rows and
        snapshots not polled yet, whether it saw Stop, this actor's MB now)."""
        import torch

        torch.set_num_threads(1)  # this method runs on one of the actor's threads
        with self._lock:
            self._job, self._rows, self._live, self._phase = job_id, [], None, None
            self._base_mb, self._seen = rss_mb(os.getpid()), False

        def progress(step, total, metrics, live=None):
            with self._lock:
                self._rows.append((step, total, metrics))
                if metrics:  # a phase lasts until the next step with metrics (jobs.apply_progress)
                    self._phase = None
                if is_phase(live):
                    self._phase = live
                elif live is not None:
                    self._live = live
                self._seen = job_id in self._stops
                return self._seen

        created = _place_uploads(uploads)
        try:
            kind, payload = run_one(technique, config, progress, inputs)
        finally:
            for path in created:
                path.unlink(missing_ok=True)
        with self._lock:
            rows, live = self._take()
            self._job = ""
            self._stops.discard(job_id)
            seen = self._seen
        return kind, payload, rows, live, seen, rss_mb(os.getpid())

    def poll(self, job_id: str) -> tuple:
        """(new progress rows, (new live snapshot, current phase; each None if none), MB the run added to this
        process, the worker's MB before the run, whether the run has seen Stop)."""
        with self._lock:
            if self._job != job_id:
                return [], (None, None), 0.0, 0.0, False
            rows, live = self._take()
            base, seen = self._base_mb, self._seen
        return rows, live, rss_mb(os.getpid()) - base, base, seen

    def stop(self, job_id: str) -> None:
        with self._lock:
            self._stops.add(job_id)  # may arrive before run() starts: a threaded actor does not keep call order

    def _take(self) -> tuple[list, tuple[Any, Any]]:
        rows, live = self._rows, (self._live, self._phase)
        self._rows, self._live, self._phase = [], None, None
        return rows, live


@dataclass
class _Slot:
    actor: Any = None
    ready_ref: Any = None  # actor.ready(), pending until the actor is warm
    ready: bool = False
    device: str = ""
    pid: int = 0  # the actor's process id, once warm
    warm_mb: float = 0.0  # the actor's size once warm, before any run
    after_mb: float = 0.0  # its size when its last run returned
    job: Job | None = None
    run_ref: Any = None
    poll_ref: Any = None
    polled: float = 0.0
    added_mb: float = 0.0  # memory the current run added to its actor (last poll)
    base_mb: float = 0.0  # the actor's size when the run started


class RayExecutor(QueueExecutor):
    """Runs on a Ray cluster (``RAY_ADDRESS``) or a local Ray, behind the same Executor protocol.

    ``slots``: runs at once (default ``FRONTIER_MAX_RUNS``, else the cluster's CPUs); ``memory_mb``,
    ``timeout_s``, ``stop_grace_s``, ``recycle_mb``: as for the local executor (same environment variables; a
    grown actor is killed and replaced once its run has returned: its slot waits for the fresh one to warm up);
    ``worker_env``: extra environment for the actors (on top of the forwarded ``FRONTIER_*`` settings).
    A run asks for a GPU share (``num_gpus``) when the cluster has GPUs.
    """

    def __init__(
        self,
        slots: int | None = None,
        memory_mb: float | None = None,
        timeout_s: float | None = None,
        stop_grace_s: float = 120.0,
        address: str | None = None,
        worker_env: dict | None = None,
        recycle_mb: float | None = None,
    ):
        self._owns_ray, self._temp_dir = self._connect(address, slots)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        slots = slots or int(env_float("FRONTIER_MAX_RUNS", cpus))
        super().__init__(slots, memory_mb, timeout_s, stop_grace_s, recycle_mb)
        gpus = ray.cluster_resources().get("GPU", 0)
        self.gpus_per_run = min(1.0, gpus / self.slots) if gpus else 0
        env = {k: os.environ[k] for k in FORWARDED if k in os.environ}
        self._env = {**env, **(worker_env or {})}
        self._actor_class = ray.remote(Worker)
        self._slots = [_Slot() for _ in range(self.slots)]
        for slot in self._slots:
            self._start(slot)
        self._thread = threading.Thread(target=self._supervise, name="frontier-ray-jobs", daemon=True)
        self._thread.start()

    @staticmethod
    def _connect(address: str | None, slots: int | None) -> tuple[bool, str | None]:
        """Join ``address`` / ``RAY_ADDRESS``, or start a local Ray. Returns (this executor connected, so
        ``close`` disconnects; the temp dir of the local Ray it started, removed on close)."""
        if ray.is_initialized():
            return False, None
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            ray.init(address=address, log_to_driver=False)
            return True, None
        temp = tempfile.mkdtemp(prefix="frontier-ray-")
        paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)  # local actors import `engine`
        ray.init(
            num_cpus=slots or int(env_float("FRONTIER_MAX_RUNS", os.cpu_count() or 1)),
            include_dashboard=False,
            _temp_dir=temp,
            log_to_driver=False,
        )
        return True, temp

    def wait_ready(self, timeout: float = 120) -> bool:
        return super().wait_ready(timeout)

    def pids(self) -> list[int]:
        """The process id of every warm actor, on the machine it runs on (as :meth:`LocalExecutor.pids`; a recycled
        actor gets a new one)."""
        return [slot.pid for slot in self._slots if slot.ready and slot.pid]

    def close(self) -> None:
        """Stop the supervisor, kill the actors, and disconnect (a local Ray this executor started stops)."""
        self._closed = True
        self._thread.join(5)
        for slot in self._slots:
            self._kill(slot)
        if self._owns_ray:  # disconnects; a local Ray this executor started stops with it
            ray.shutdown()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    # --- actors -------------------------------------------------------------------------------------------
    def _start(self, slot: _Slot) -> None:
        options = {"num_cpus": 1, "max_concurrency": 4, "runtime_env": {"env_vars": self._env}}
        if self.gpus_per_run:
            options["num_gpus"] = self.gpus_per_run
        slot.actor = self._actor_class.options(**options).remote()
        slot.ready_ref, slot.ready, slot.job, slot.pid = slot.actor.ready.remote(), False, None, 0
        slot.run_ref, slot.poll_ref, slot.added_mb, slot.after_mb = None, None, 0.0, 0.0

    def _kill(self, slot: _Slot) -> None:
        if slot.actor is not None:
            try:
                ray.kill(slot.actor, no_restart=True)
            except Exception:  # already gone, or Ray is shutting down
                pass
            slot.actor = None

    def _restart(self, slot: _Slot) -> None:
        self._kill(slot)
        self._start(slot)

    def _growth(self, slot: _Slot) -> float:
        return slot.after_mb - slot.warm_mb if slot.after_mb else 0.0

    def _recycle(self, slot: _Slot, grown_mb: float) -> None:
        """Kill the grown actor and start a fresh one (one CPU each: a replacement could not warm up beside it
        while the old actor holds the slot's CPU)."""
        log.info("Ray worker %s grew %.0f MB since warm-up: replacing it", slot.pid, grown_mb)
        self._restart(slot)
        self.recycled += 1
        self._changed.notify_all()

    # --- the supervisor's hooks ---------------------------------------------------------------------------
    def _start_run(self, slot: _Slot, job: Job) -> str:
        try:
            uploads = uploads_of(job.config)
        except OSError as e:
            return f"Could not read the uploaded file: {e}"
        slot.run_ref = slot.actor.run.remote(job.id, job.technique, job.config, uploads, job.inputs)
        slot.polled, slot.added_mb = time.monotonic(), 0.0
        return ""

    def _send_stop(self, slot: _Slot, job: Job) -> None:
        slot.actor.stop.remote(job.id)

    def _run_memory(self, slot: _Slot) -> tuple[float, float]:
        return slot.added_mb, slot.base_mb

    def _pending(self) -> dict:
        """Every pending reference -> (slot, what it is); sends the polls that are due."""
        now, refs = time.monotonic(), {}
        for slot in self._slots:
            if slot.job is not None and slot.poll_ref is None and now - slot.polled >= POLL_S:
                slot.poll_ref, slot.polled = slot.actor.poll.remote(slot.job.id), now
            for kind, ref in (("ready", slot.ready_ref), ("run", slot.run_ref), ("poll", slot.poll_ref)):
                if ref is not None:
                    refs[ref] = (slot, kind)
        return refs

    def _wait(self, pending: dict) -> list:
        if not pending:
            time.sleep(0.05)
            return []
        try:
            ready, rest = ray.wait(list(pending), num_returns=1, timeout=0.05)
            if ready and rest:
                ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        except Exception:  # Ray is shutting down
            if not self._closed:
                log.exception("ray.wait failed")
                time.sleep(0.5)
            return []
        return [(*pending[ref], ref) for ref in ready]

    def _receive(self, received: list) -> None:
        for slot, kind, ref in received:
            getattr(self, f"_on_{kind}")(slot, ref)

    def _on_ready(self, slot: _Slot, ref) -> None:
        if ref is not slot.ready_ref:
            return
        slot.ready_ref = None
        try:
            slot.device, slot.pid, slot.warm_mb = ray.get(ref)
            slot.ready = True
        except ray.exceptions.RayError as e:
            log.warning("a Ray worker failed to start: %s", e)
            if not self._start_failed():  # else workers cannot even start: stop retrying
                self._restart(slot)
            return
        self._worker_ready()

    def _on_poll(self, slot: _Slot, ref) -> None:
        if ref is not slot.poll_ref:
            return
        slot.poll_ref = None
        try:
            rows, live, added, base, seen = ray.get(ref)
        except ray.exceptions.RayError:
            return  # the actor died: the run's own reference reports it
        if slot.job is not None:
            slot.added_mb, slot.base_mb = added, base
            slot.job.stop_seen |= seen
            self._progress(slot.job, rows, *live)

    def _on_run(self, slot: _Slot, ref) -> None:
        job = slot.job
        if ref is not slot.run_ref or job is None:
            return
        slot.run_ref = None
        if slot.poll_ref is not None:  # rows a pending poll took come before the run's last ones
            if ray.wait([slot.poll_ref], timeout=2)[0]:
                self._on_poll(slot, slot.poll_ref)
            slot.poll_ref = None
        try:
            kind, payload, rows, live, seen, slot.after_mb = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            log.warning("Ray worker died during run %s: %s", job.id, e)
            self._crashed(slot, "its Ray worker process died")
            self._restart(slot)
            return
        except Exception as e:  # e.g. a result that cannot be deserialised
            self._end_job(slot, "failed", error=f"Could not receive the run's result: {e}")
            return
        job.stop_seen |= seen
        self._progress(job, rows, *live)
        self._completed(slot, kind, payload)
