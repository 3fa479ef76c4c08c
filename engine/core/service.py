"""The app's back end in one place: the executor that trains runs and the run store that records them.

Who records a run: this service, in the app process, never the executor. ``submit`` writes the run's row
("queued") before the job can start; the executor's events ("running", "ended") are written by one recorder
thread, in order, so recording never delays training and a full disk never stops the app (the run still
shows, its result link just does not work). ``job.recorded`` turns True once the ended run is stored.

Configuration: ``FRONTIER_EXECUTOR`` = ``local`` (default: warm worker processes on this machine) or ``ray``
(:mod:`engine.core.ray_executor`, when installed); ``FRONTIER_DATABASE_URL`` / ``FRONTIER_DATA_DIR`` choose
the run store (:func:`engine.core.store.open_store`).
"""
from __future__ import annotations

import logging
import os
import queue
import secrets
import threading

from engine.core.jobs import Executor, Job
from engine.core.store import RunStore, open_store

log = logging.getLogger(__name__)


class Service:
    def __init__(self, executor: Executor, store: RunStore | None):
        self.executor, self.store = executor, store
        self._events: queue.Queue[tuple[str, Job]] = queue.Queue()
        if store is not None:
            store.recover()
            threading.Thread(target=self._record_loop, name="frontier-recorder", daemon=True).start()
            executor.subscribe(lambda event, job: self._events.put((event, job)))

    def submit(self, technique: str, config: dict, owner: str = "") -> Job:
        """Record the run as queued, then hand it to the executor; the job id is the run id (its result link)."""
        run_id = secrets.token_hex(16)
        if self.store is not None:
            try:
                self.store.start(run_id, owner, technique, config)
            except Exception:
                log.exception("could not record the start of run %s", run_id)
        return self.executor.submit(technique, config, owner=owner, job_id=run_id)

    def _record_loop(self) -> None:
        while True:
            event, job = self._events.get()
            try:
                if event == "running":
                    self.store.mark_running(job.id)
                else:
                    self.store.finish(job.id, job.status, job.outcome, job.error)
                    job.recorded = True
            except Exception:  # a full disk must not stop the app: the run is still shown, just not stored
                log.exception("could not record run %s", job.id)


def make_executor(kind: str | None = None) -> Executor:
    kind = (kind or os.environ.get("FRONTIER_EXECUTOR", "local")).strip().lower()
    if kind == "ray":
        from engine.core.ray_executor import RayExecutor

        return RayExecutor()
    if kind != "local":
        raise ValueError(f"FRONTIER_EXECUTOR must be local or ray, but got {kind!r}.")
    from engine.core.jobs import LocalExecutor

    return LocalExecutor()


_service: Service | None = None
_lock = threading.Lock()


def service() -> Service:
    """The process-wide service (created on first use)."""
    global _service
    with _lock:
        if _service is None:
            _service = Service(make_executor(), open_store())
        return _service
