"""The app's back end in one place: the executor that trains runs and the run store that records them.

Who records a run: this service, in the app process, never the executor. ``submit`` writes the run's row
("queued") before the job can start; the executor's events ("running", "ended") are written by one recorder
thread, in order, so recording never delays training and a full disk never stops the app (the run still
shows, its result link just does not work). ``job.recorded`` turns True once the ended run is stored.

Admission: a browser session may have ``FRONTIER_MAX_RUNS_PER_SESSION`` runs active at once (default 2: one
training, one waiting) and the queue holds at most ``FRONTIER_MAX_QUEUE`` runs (default 40); past either,
``submit`` raises :class:`Busy` with a message that says why and, from the run times measured on this server,
about how long the wait is.

Time estimates: :meth:`Service.estimate` scales a technique's static ``estimate_seconds(config)`` by how much
slower (or faster) than their static estimates recent runs actually trained on this server (the median ratio
over its last 50 finished runs, read back from the run store at startup), and adds the wait for a free slot.

Configuration: ``FRONTIER_EXECUTOR`` = ``local`` (default: warm worker processes on this machine) or ``ray``
(:mod:`engine.core.ray_executor`, when installed); ``FRONTIER_DATABASE_URL`` / ``FRONTIER_DATA_DIR`` choose
the run store (:func:`engine.core.store.open_store`).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import secrets
import threading
from collections import deque
from dataclasses import dataclass

from engine.core.jobs import Executor, Job
from engine.core.store import RunStore, open_store

log = logging.getLogger(__name__)


class Busy(RuntimeError):
    """A run was not admitted (this session has enough runs going, or the queue is full); ``str()`` says why."""


@dataclass(frozen=True)
class Estimate:
    """About how long a run submitted now takes: ``train_s`` training (``measured``: scaled by this server's
    measured speed, else the technique's static first guess) after ``wait_s`` in the queue (None: not known yet)."""

    train_s: float
    wait_s: float | None
    measured: bool

    @property
    def total_s(self) -> float:
        return self.train_s + (self.wait_s or 0.0)


SLOWDOWN_RANGE = (0.2, 50.0)  # a measured speed outside this is a hung or odd run, not the server


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Service:
    def __init__(
        self, executor: Executor, store: RunStore | None, per_session: int | None = None, max_queue: int | None = None
    ):
        self.executor, self.store = executor, store
        self.per_session = per_session or _env_int("FRONTIER_MAX_RUNS_PER_SESSION", 2)
        self.max_queue = max_queue or _env_int("FRONTIER_MAX_QUEUE", 40)
        self._events: queue.Queue[tuple[str, Job]] = queue.Queue()
        self._active: dict[str, list[Job]] = {}  # owner -> their runs not yet ended (admission counts these)
        self._seconds: deque[float] = deque(maxlen=50)  # how long recent runs trained, for wait estimates
        self._slowdown: deque[tuple[str, float]] = deque(maxlen=50)  # (technique, run time / static estimate)
        self._admit = threading.Lock()  # one admission decision at a time (held while submitting)
        self._owners = threading.Lock()  # guards _active; never held while calling the executor
        executor.subscribe(self._on_event)
        if store is not None:
            store.recover()
            self._seed_speed()
            threading.Thread(target=self._record_loop, name="frontier-recorder", daemon=True).start()

    def _on_event(self, event: str, job: Job) -> None:
        if event == "ended":
            if job.started and job.finished:
                self._seconds.append(job.finished - job.started)
            if job.status == "done" and job.outcome is not None:
                self._measure(job.technique, job.config, getattr(job.outcome, "seconds", 0.0))
            with self._owners:  # forget it, so ended runs (and their results) are not held here
                mine = [j for j in self._active.pop(job.owner, []) if j is not job and j.active]
                if mine:
                    self._active[job.owner] = mine
        if self.store is not None:
            self._events.put((event, job))

    # --- estimates ----------------------------------------------------------------------------------------
    def _measure(self, technique: str, config: dict, seconds: float) -> None:
        """Note how a finished run's training time compares with its technique's static estimate."""
        from engine import load

        try:
            module = load(technique)
            static = float(module.estimate_seconds(module.Config.model_validate(config)))
        except Exception:  # a technique since removed, settings that no longer validate: no measurement
            return
        if static > 0 and seconds and seconds > 0:
            self._slowdown.append((technique, seconds / static))

    def _seed_speed(self) -> None:
        """A restarted server still knows its speed: the timings of this host's last finished runs."""
        try:
            rows = self.store.recent_timings(50)
        except Exception:
            log.exception("could not read recent run times from the run store")
            return
        for row in reversed(rows):  # oldest first, as they ended
            self._seconds.append(row["seconds"])
            self._measure(row["technique"], row["config"], row["seconds"])

    def slowdown(self, technique: str = "") -> float | None:
        """How many times longer than their static estimates recent runs (of ``technique`` when it has any: each
        technique's guess is off in its own way) trained here; None when none was measured."""
        own = [r for t, r in self._slowdown if t == technique]
        recent = sorted(own or [r for _, r in self._slowdown])
        if not recent:
            return None
        low, high = SLOWDOWN_RANGE
        return min(max(recent[len(recent) // 2], low), high)

    def estimate(self, technique: str, config) -> Estimate:
        """About how long a run of ``technique`` with ``config`` (its Config, or a dict) submitted now takes."""
        from engine import load

        module = load(technique)
        if isinstance(config, dict):
            config = module.Config.model_validate(config)
        factor = self.slowdown(technique)
        return Estimate(
            train_s=float(module.estimate_seconds(config)) * (factor or 1.0),
            wait_s=self.expected_wait_s(),
            measured=factor is not None,
        )

    # --- admission ----------------------------------------------------------------------------------------
    def run_seconds(self) -> float | None:
        """The median training time of recent runs on this server (None before the first one ends)."""
        recent = sorted(self._seconds)
        return recent[len(recent) // 2] if recent else None

    def expected_wait_s(self, ahead: int | None = None) -> float | None:
        """About how long a run submitted now (or with ``ahead`` runs in front of it) waits before it trains."""
        per_run = self.run_seconds()
        if per_run is None:
            return None
        training, waiting = self.executor.busy()
        slots = max(1, getattr(self.executor, "slots", 1))
        ahead = waiting if ahead is None else ahead
        if training < slots and ahead == 0:
            return 0.0
        return math.ceil((ahead + 1) / slots) * per_run  # rounds of the queue, each about one run long

    def active_runs(self, owner: str) -> list[Job]:
        with self._owners:
            return [j for j in self._active.get(owner, []) if j.active]

    def admission(self, owner: str = "") -> str | None:
        """Why a run from ``owner`` would not be admitted now, in words; None when it would be."""
        if owner and len(self.active_runs(owner)) >= self.per_session:
            return (
                f"You already have {self.per_session} runs training or waiting (the limit per visitor on this "
                "shared server). Wait for one to finish, or stop one, then press Train again."
            )
        _, waiting = self.executor.busy()
        if waiting >= self.max_queue:
            wait = self.expected_wait_s()
            about = f" for about {wait_text(wait)}" if wait else ""
            return f"The server is busy: {waiting} runs are already waiting{about}. Please try again in a few minutes."
        return None

    def submit(self, technique: str, config: dict, owner: str = "") -> Job:
        """Record the run as queued, then hand it to the executor; the job id is the run id (its result link).

        Raises :class:`Busy` (with the message to show) when the run is not admitted.
        """
        with self._admit:
            refusal = self.admission(owner)
            if refusal:
                raise Busy(refusal)
            job = self._submit(technique, config, owner)
            if owner and job.active:
                with self._owners:
                    self._active.setdefault(owner, []).append(job)
            return job

    def _submit(self, technique: str, config: dict, owner: str) -> Job:
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


def wait_text(seconds: float) -> str:
    """A wait in plain words: "40 s", "3 min"."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"


def make_executor(kind: str | None = None) -> Executor:
    kind = (kind or os.environ.get("FRONTIER_EXECUTOR", "local")).strip().lower()
    if kind == "ray":  # RAY_ADDRESS joins a cluster; without it a local Ray is started (and shut down on close)
        try:
            from engine.core.ray_executor import RayExecutor
        except ImportError as e:
            raise RuntimeError(f"FRONTIER_EXECUTOR=ray needs Ray ({e}); pip install -r requirements.txt") from e
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
            from engine.core.retention import start_daily_cleanup

            _service = Service(make_executor(), open_store())
            start_daily_cleanup(_service.store)  # old uploads (and runs, if a retention is set) go once a day
        return _service
