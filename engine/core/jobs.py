"""Jobs: runs train in warm worker processes, a bounded number at a time; the rest wait in a queue.

One long-lived worker process per slot (``python -m engine.core.jobs``, started once, torch already imported,
one torch thread), fed over its own socket pair. Workers are plain subprocesses rather than multiprocessing
children because Streamlit runs each page as ``__main__``, which multiprocessing's spawn would re-execute.
A supervisor thread waits on every socket, so a run that raises, diverges, blows its memory cap, runs past its
time limit or crashes the interpreter ends *that* job with a clear message; the slot gets a fresh worker and
every other job carries on. Cancel sends the worker a stop message (the run returns
at its next progress call); a run that ignores it is killed after a grace period.

:class:`Executor` is everything the app asks of an executor, so a distributed engine (Ray) can stand in for
:class:`LocalExecutor`. Executors do not record runs: :mod:`engine.core.service` does, from their events.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

from engine.core.contract import is_phase

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")


@dataclass
class Job:
    id: str
    technique: str
    config: dict
    owner: str = ""  # the browser session that submitted it
    status: str = "queued"  # queued | running | done | stopped | failed
    step: int = 0
    total: int = 0
    rows: list = field(default_factory=list)  # live history rows
    live: Any = None  # latest live snapshot for the technique's live_figure
    phase: dict | None = None  # what the run is doing between steps ({"phase", "fraction"}; contract.Tracker.phase)
    outcome: Any = None  # engine.core.pipeline.Outcome when done/stopped
    error: str = ""
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop_requested: float | None = None
    stop_seen: bool = False  # the run has seen the stop and is handing back its partial results
    recorded: bool = False  # written to the run store (its share link works)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


Listener = Callable[[str, Job], None]  # (event, job); event is "running" or "ended"


class Executor(Protocol):
    """What the app needs from whatever trains its runs (local worker processes, a Ray cluster).

    A job moves queued -> running -> done | stopped | failed; while it runs, ``job.step/total/rows/live``
    stream in, and ``job.outcome`` (an Outcome, no torch objects) arrives when it ends. Listeners hear
    "running" and "ended" once per job, on the executor's own thread: they must return quickly.
    """

    @property
    def device(self) -> str: ...  # the workers' compute device in words; "" until a worker is ready
    def submit(self, technique: str, config: dict, owner: str = "", job_id: str | None = None) -> Job: ...
    def get(self, job_id: str) -> Job | None: ...
    def cancel(self, job_id: str) -> None: ...  # stop a running job (partial results) or drop a queued one
    def position(self, job_id: str) -> int: ...  # 0 = running or finished, n = n-th in the queue
    def busy(self) -> tuple[int, int]: ...  # (runs training now, runs waiting)
    def subscribe(self, listener: Listener) -> None: ...
    def close(self) -> None: ...


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _worker_main(conn: Connection) -> None:
    """Worker process: import the heavy libraries once, then run jobs from ``conn`` until it closes."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _lower_priority()
    import torch

    torch.set_num_threads(1)
    from engine.core.device import describe

    _warm_up()
    conn.send(("ready", describe()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "run":
            continue  # a stop for a job that already ended
        _, job_id, technique, config = msg
        pending: list = []
        state = {"last": 0.0, "stop": False}

        def flush(live=None):
            if pending or live is not None:
                conn.send(("progress", job_id, list(pending), live))
                pending.clear()
            state["last"] = time.monotonic()

        def progress(step, total, metrics, live=None):
            pending.append((step, total, metrics))
            if live is not None or time.monotonic() - state["last"] > 0.2 or step >= total:
                flush(live)
            while conn.poll():  # the supervisor's stop request
                if conn.recv()[0] == "stop" and not state["stop"]:
                    state["stop"] = True
                    conn.send(("stopping", job_id))  # seen: no kill while it finishes its partial results
            return state["stop"]

        kind, payload = run_one(technique, config, progress)
        flush()
        conn.send((kind, job_id, payload))


def run_one(technique: str, config: dict, progress) -> tuple[str, Any]:
    """Execute one run in a worker (local or a Ray actor): ("done", Outcome) or ("failed", what a person reads)."""
    from engine.core.config import ConfigError
    from engine.core.contract import RunError
    from engine.core.data import DataError, code
    from engine.core.pipeline import execute

    try:
        return "done", execute(technique, config, progress)
    except (ConfigError, DataError, RunError) as e:
        return "failed", str(e)
    except MemoryError:
        return "failed", "The run ran out of memory. Try a smaller model or dataset."
    except Exception as e:  # a bug in a technique must not take the worker down (its text may quote data)
        return "failed", f"The run crashed: {code(f'{type(e).__name__}: {e}', 500)}"


def _lower_priority() -> None:
    """Workers yield the CPU to the app process (env ``FRONTIER_WORKER_NICE``, default 10), so pages stay quick
    while runs train and while a fresh worker imports torch."""
    try:
        os.nice(int(_env_float("FRONTIER_WORKER_NICE", 10)))
    except (OSError, AttributeError):  # not permitted, or not POSIX: run at normal priority
        pass


def _warm_up() -> None:
    """Pay SHAP's and autograd's first-call costs once per worker instead of inside the first run."""
    import torch

    from engine.core.explain import explain_torch
    from engine.core.train import mlp

    model = mlp(3, 2, [4])
    explain_torch(model, torch.randn(2, 3), torch.randn(4, 3), feature_names=["a", "b", "c"])


@dataclass
class _Worker:
    """One worker process and its socket; ``baseline_mb`` is its resident size once warm, before any run."""

    process: subprocess.Popen
    conn: Connection
    ready: bool = False
    device: str = ""
    baseline_mb: float = 0.0
    started: float = field(default_factory=time.time)


@dataclass
class _Slot:
    """A place for one run: its serving worker, a replacement warming up beside it, and the run it trains."""

    worker: _Worker | None = None
    spare: _Worker | None = None  # started *before* the worker is retired; takes over once warm and idle
    job: Job | None = None
    job_base_mb: float = 0.0  # the worker's resident size when the current run started

    @property
    def process(self) -> subprocess.Popen | None:
        return self.worker.process if self.worker else None

    @property
    def ready(self) -> bool:
        return bool(self.worker and self.worker.ready)

    @property
    def device(self) -> str:
        return self.worker.device if self.worker else ""


class QueueExecutor:
    """The bookkeeping every executor shares: the queue (kept in the app process, so a person sees their
    position), the jobs by id, the listeners and the limits. Subclasses own the slots (each with ``job``,
    ``ready`` and ``device``), start a supervisor that calls :meth:`_finish`, and deliver Stop (``_send_stop``).
    """

    def __init__(self, slots: int, memory_mb: float | None, timeout_s: float | None, stop_grace_s: float):
        self.slots = slots
        self.memory_mb = memory_mb or _env_float("FRONTIER_RUN_MEMORY_MB", 3072)
        self.timeout_s = timeout_s or _env_float("FRONTIER_RUN_TIMEOUT_S", 900)
        self.stop_grace_s = stop_grace_s
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # notified whenever a job or a worker changes state
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._listeners: list[Listener] = []
        self._start_failures = 0
        self._closed = False
        self._slots: list = []

    # --- the Executor interface ---------------------------------------------------------------------------
    def _over_limit(self, job: Job, added_mb: float, base_mb: float) -> tuple[str, str]:
        """(status, why) when ``job`` must end now: over its memory cap (``added_mb``, what the run added to its
        worker's ``base_mb``), its time limit, or its stop grace period; ("", "") while it may go on."""
        now = time.time()
        if added_mb > self.memory_mb:
            return "failed", (
                f"The run needed {added_mb:.0f} MB of memory on top of its worker's {base_mb:.0f} MB, "
                f"over the {self.memory_mb:.0f} MB limit per run, and was ended. "
                "Try a smaller model, batch or dataset."
            )
        if job.started and now - job.started > self.timeout_s:
            return "failed", f"The run took longer than the {self.timeout_s:.0f} s limit and was ended."
        if job.stop_requested and not job.stop_seen and now - job.stop_requested > self.stop_grace_s:
            return "stopped", "Stopped. The run did not finish its partial results in time, so it was ended."
        return "", ""

    def submit(self, technique: str, config: dict, owner: str = "", job_id: str | None = None) -> Job:
        job = Job(id=job_id or secrets.token_hex(16), technique=technique, config=dict(config), owner=owner)
        if self._closed:
            self._finish(job, "failed", error="The training workers cannot start on this server.")
            return job
        with self._lock:
            self._jobs[job.id] = job
            self._queue.append(job)
            self._forget_old()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def position(self, job_id: str) -> int:
        for i, job in enumerate(list(self._queue)):  # a snapshot: no lock, so a page poll never waits
            if job.id == job_id:
                return i + 1
        return 0

    def cancel(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.active:
                return
            if job.status == "queued":
                self._queue.remove(job)
                self._finish(job, "stopped", error="Cancelled before it started.")
                return
            job.stop_requested = time.time()
            for slot in self._slots:
                if slot.job is job:
                    self._send_stop(slot, job)

    def _send_stop(self, slot, job: Job) -> None:
        raise NotImplementedError

    @property
    def device(self) -> str:
        return next((s.device for s in self._slots if s.device), "")

    def busy(self) -> tuple[int, int]:
        """(runs training now, runs waiting). Reads without the lock: a page poll never waits on the supervisor."""
        return sum(s.job is not None for s in self._slots), len(self._queue)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 300) -> bool:
        """Block until ``predicate()`` holds, re-checking whenever a job or worker changes state (tests and
        benchmarks wait on these events, not on guessed sleeps); False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def wait_ready(self, timeout: float = 60) -> bool:
        """Block until every worker is warm (used by tests, the CLI and benchmarks)."""
        return self.wait_for(lambda: all(s.ready for s in self._slots), timeout)

    # --- shared by the supervisors ------------------------------------------------------------------------
    def _finish(self, job: Job, status: str, outcome=None, error: str = "") -> None:
        if outcome is not None:
            outcome.run_id = job.id
        job.status, job.outcome, job.error, job.finished = status, outcome, error, time.time()
        self._notify("ended", job)
        with self._changed:
            self._changed.notify_all()

    def _notify(self, event: str, job: Job) -> None:
        for listener in self._listeners:
            try:
                listener(event, job)
            except Exception:  # a listener's bug must not stop the supervisor
                log.exception("job listener failed on %s %s", event, job.id)

    def _forget_old(self, keep_s: float = 3600) -> None:
        cutoff = time.time() - keep_s
        for job_id in [j.id for j in self._jobs.values() if j.finished and j.finished < cutoff]:
            del self._jobs[job_id]

    def _end_job(self, slot, status: str, outcome=None, error: str = "") -> None:
        job, slot.job = slot.job, None
        self._finish(job, status, outcome, error)


class LocalExecutor(QueueExecutor):
    """A bounded pool of warm worker processes on this machine.

    ``slots``: runs at once (default: CPU cores, env ``FRONTIER_MAX_RUNS``); ``memory_mb``: how much memory a run
    may add to its worker (env ``FRONTIER_RUN_MEMORY_MB``, default 3072; the worker's own ~500 MB of libraries
    does not count); ``timeout_s``: per-run time limit (env ``FRONTIER_RUN_TIMEOUT_S``, default 900);
    ``stop_grace_s``: how long a stopped run may take to *notice* the stop (its next progress call) before it
    is killed; once it has (the worker says "stopping"), only the time limit applies while it finishes its
    partial results, however loaded the server is.

    Recycling: a worker that has grown more than ``recycle_mb`` (env ``FRONTIER_WORKER_RECYCLE_MB``, default 768)
    over its own size after warm-up gets a replacement, started at once beside it; the old worker keeps serving
    until the replacement is warm and the slot is idle, so a slot is never empty while runs wait.
    """

    def __init__(
        self,
        slots: int | None = None,
        memory_mb: float | None = None,
        timeout_s: float | None = None,
        stop_grace_s: float = 120.0,
        recycle_mb: float | None = None,
    ):
        super().__init__(
            slots or int(_env_float("FRONTIER_MAX_RUNS", os.cpu_count() or 1)), memory_mb, timeout_s, stop_grace_s
        )
        self.recycle_mb = recycle_mb or _env_float("FRONTIER_WORKER_RECYCLE_MB", 768)
        self._slots = [_Slot() for _ in range(self.slots)]
        self.recycled = 0  # workers retired for growth (benchmarks and tests read it)
        for slot in self._slots:
            slot.worker = self._spawn()
        self._thread = threading.Thread(target=self._supervise, name="frontier-jobs", daemon=True)
        self._thread.start()

    def _send_stop(self, slot: _Slot, job: Job) -> None:
        try:
            slot.worker.conn.send(("stop", job.id))
        except OSError:
            pass  # the worker is gone; the supervisor reports it

    # --- status for tests and benchmarks -----------------------------------------------------------------
    def pids(self) -> list[int]:
        """Every worker process alive now, serving or warming up (fault drills check none leak)."""
        workers = [w for s in self._slots for w in (s.worker, s.spare) if w is not None]
        return [w.process.pid for w in workers if w.process.poll() is None]

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for slot in self._slots:
                for worker in (slot.worker, slot.spare):
                    self._kill(worker)
        self._thread.join(5)

    # --- worker processes ---------------------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.core.jobs", str(child.fileno())],
            pass_fds=[child.fileno()],
            cwd=ROOT,
            env=env,
        )
        child.close()
        return _Worker(process, Connection(parent.detach()))

    @staticmethod
    def _kill(worker: _Worker | None) -> None:
        if worker is None:
            return
        if worker.process.poll() is None:
            worker.process.kill()
        try:
            worker.process.wait(5)
        except subprocess.TimeoutExpired:
            log.warning("worker %s did not exit after SIGKILL", worker.process.pid)
        worker.conn.close()

    def _replace(self, slot: _Slot) -> None:
        """The slot's worker is gone or must go now: promote its warm spare if it has one, else start afresh."""
        self._kill(slot.worker)
        slot.job = None
        if slot.spare is not None:
            slot.worker, slot.spare = slot.spare, None
        else:
            slot.worker = self._spawn()

    def _retire_if_replaced(self, slot: _Slot) -> None:
        """Swap in a warm replacement while the slot is idle (the old worker served until now)."""
        if slot.job is None and slot.spare is not None and slot.spare.ready:
            self._kill(slot.worker)
            slot.worker, slot.spare = slot.spare, None
            self.recycled += 1
            self._changed.notify_all()

    def _check_growth(self, slot: _Slot) -> None:
        """After a run: a worker that grew past ``recycle_mb`` over its warm size gets a replacement started."""
        grown = _rss_mb(slot.worker.process.pid) - slot.worker.baseline_mb
        if grown > self.recycle_mb and slot.spare is None and not self._closed:
            log.info("worker %s grew %.0f MB since warm-up: starting its replacement", slot.worker.process.pid, grown)
            slot.spare = self._spawn()

    # --- supervisor ---------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        for slot in self._slots:
            self._retire_if_replaced(slot)
            if slot.ready and slot.job is None and self._queue:
                job = self._queue.popleft()
                try:
                    slot.worker.conn.send(("run", job.id, job.technique, job.config))
                except (OSError, ValueError) as e:  # e.g. a config that cannot be sent
                    self._finish(job, "failed", error=f"Could not start the run: {e}")
                    continue
                slot.job, slot.job_base_mb = job, _rss_mb(slot.worker.process.pid)
                job.status, job.started = "running", time.time()
                self._notify("running", job)
                self._changed.notify_all()

    def _supervise(self) -> None:
        while not self._closed:
            with self._lock:
                self._dispatch()
                conns = {w.conn: (s, w) for s in self._slots for w in (s.worker, s.spare) if w is not None}
            try:
                ready = wait(list(conns), timeout=0.1)
            except OSError:
                ready = []
            for conn in ready:
                slot, worker = conns[conn]
                messages, broken = _drain(conn)  # unpickles results outside the lock
                with self._lock:
                    if self._closed:
                        return
                    for msg in messages:
                        self._handle(slot, worker, msg)
                    if broken is not None and slot.job is not None and worker is slot.worker:
                        self._end_job(slot, "failed", error=f"Could not receive the run's result: {broken}")
            with self._lock:
                if not self._closed:
                    self._check_processes()

    def _check_processes(self) -> None:
        for slot in self._slots:
            if slot.spare is not None and slot.spare.process.poll() is not None:
                log.warning("a replacement worker exited with code %s", slot.spare.process.returncode)
                self._start_failures += 1
                self._kill(slot.spare)
                slot.spare = None
            if slot.worker.process.poll() is not None:
                self._on_death(slot)
            elif slot.job is not None:
                self._police(slot)

    def _handle(self, slot: _Slot, worker: _Worker, msg: tuple) -> None:
        kind = msg[0]
        if kind == "ready":
            worker.ready, worker.device, self._start_failures = True, msg[1], 0
            worker.baseline_mb = _rss_mb(worker.process.pid)
            self._changed.notify_all()
            return
        job = slot.job
        if worker is not slot.worker or job is None or msg[1] != job.id:
            return  # a message from a job that was already ended
        if kind == "stopping":
            job.stop_seen = True
            return
        if kind == "progress":
            apply_progress(job, msg[2], msg[3])
            self._changed.notify_all()
            return
        outcome = msg[2] if kind == "done" else None
        self._end_job(
            slot, "failed" if kind == "failed" else outcome.status, outcome, msg[2] if kind == "failed" else ""
        )
        self._check_growth(slot)

    def _on_death(self, slot: _Slot) -> None:
        code = slot.worker.process.returncode
        if slot.job is not None:
            self._end_job(
                slot,
                "failed",
                error=(
                    f"The run crashed (its worker process exited with code {code}). The app and other runs are fine; "
                    "try again, or with smaller settings."
                ),
            )
        if not slot.worker.ready:
            self._start_failures += 1
        if self._start_failures >= 3 * self.slots:  # workers cannot even start: fail fast, stop retrying
            self._closed = True
            self._kill(slot.worker)
            self._kill(slot.spare)
            slot.spare = None
            while self._queue:
                self._finish(self._queue.popleft(), "failed", error="The training workers cannot start on this server.")
            return
        self._replace(slot)

    def _police(self, slot: _Slot) -> None:
        """End a run that is over its memory cap, its time limit, or its stop grace period."""
        status, reason = self._over_limit(
            slot.job, _rss_mb(slot.worker.process.pid) - slot.job_base_mb, slot.job_base_mb
        )
        if reason:
            self._end_job(slot, status, error=reason)
            self._replace(slot)


def _drain(conn: Connection) -> tuple[list, Exception | None]:
    """Every message waiting on ``conn``; a closed or broken socket ends the list (the death is reaped later)."""
    messages: list = []
    try:
        while conn.poll():
            messages.append(conn.recv())
    except (EOFError, OSError):
        return messages, None
    except Exception as e:  # e.g. a result that cannot be unpickled
        return messages, e
    return messages, None


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0  # not Linux or already gone: no cap enforcement


if __name__ == "__main__":  # a worker: python -m engine.core.jobs FD
    try:
        _worker_main(Connection(int(sys.argv[1])))
    except (BrokenPipeError, ConnectionResetError, EOFError, KeyboardInterrupt):
        pass  # the app went away: nothing left to report to


def apply_progress(job: Job, rows: list, live, phase=None) -> None:
    """Fold a worker's progress rows ``(step, total, metrics)``, its latest live snapshot (which may itself be a
    phase) and its current ``phase`` into ``job``.

    A row without metrics (``Tracker.tick``/``phase``) only moves the step; a total of 0 (a phase announced
    before the run knows its steps) moves nothing. A phase snapshot is kept apart from the technique's own
    snapshot and lasts until the next row with metrics or the next snapshot.
    """
    for step, total, metrics in rows:
        if total:
            job.step, job.total = step, total
        if metrics:
            job.rows.append({"step": step, **metrics})
            job.phase = None
    for snapshot in (live, phase):
        if is_phase(snapshot):
            job.phase = snapshot
        elif snapshot is not None:
            job.live, job.phase = snapshot, None
