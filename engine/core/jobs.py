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
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Protocol

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
    outcome: Any = None  # engine.core.pipeline.Outcome when done/stopped
    error: str = ""
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stop_requested: float | None = None
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
    import torch

    torch.set_num_threads(1)
    from engine.core.config import ConfigError
    from engine.core.contract import RunError
    from engine.core.data import DataError
    from engine.core.device import describe
    from engine.core.pipeline import execute

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
                state["stop"] |= conn.recv()[0] == "stop"
            return state["stop"]

        try:
            outcome = execute(technique, config, progress)
            flush()
            conn.send(("done", job_id, outcome))
        except (ConfigError, DataError, RunError) as e:
            conn.send(("failed", job_id, str(e)))
        except MemoryError:
            conn.send(("failed", job_id, "The run ran out of memory. Try a smaller model or dataset."))
        except Exception as e:  # a bug in a technique must not take the worker down
            conn.send(("failed", job_id, f"The run crashed: {type(e).__name__}: {str(e)[:500]}"))


def _warm_up() -> None:
    """Pay SHAP's and autograd's first-call costs once per worker instead of inside the first run."""
    import torch

    from engine.core.explain import explain_torch
    from engine.core.train import mlp

    model = mlp(3, 2, [4])
    explain_torch(model, torch.randn(2, 3), torch.randn(4, 3), feature_names=["a", "b", "c"])


@dataclass
class _Slot:
    process: subprocess.Popen | None = None
    conn: Connection | None = None
    ready: bool = False
    device: str = ""
    job: Job | None = None


class LocalExecutor:
    """A bounded pool of warm worker processes on this machine.

    ``slots``: runs at once (default: CPU cores, env ``FRONTIER_MAX_RUNS``); ``memory_mb``: per-run resident
    memory cap (env ``FRONTIER_RUN_MEMORY_MB``, default 3072); ``timeout_s``: per-run time limit (env
    ``FRONTIER_RUN_TIMEOUT_S``, default 900); ``stop_grace_s``: how long a stopped run may take to hand back
    its partial result before it is killed.
    A worker that holds more than ``FRONTIER_WORKER_RECYCLE_MB`` (default 550) after a run is replaced by a
    fresh one, so libraries and caches one page loaded do not keep a small server's memory high.
    """

    def __init__(self, slots: int | None = None, memory_mb: float | None = None, timeout_s: float | None = None,
                 stop_grace_s: float = 10.0, recycle_mb: float | None = None):
        self.slots = slots or int(_env_float("FRONTIER_MAX_RUNS", os.cpu_count() or 1))
        self.memory_mb = memory_mb or _env_float("FRONTIER_RUN_MEMORY_MB", 3072)
        self.timeout_s = timeout_s or _env_float("FRONTIER_RUN_TIMEOUT_S", 900)
        self.stop_grace_s = stop_grace_s
        self.recycle_mb = recycle_mb or _env_float("FRONTIER_WORKER_RECYCLE_MB", 550)
        self._lock = threading.RLock()
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._slots = [_Slot() for _ in range(self.slots)]
        self._start_failures = 0
        self._closed = False
        self._listeners: list[Listener] = []
        for slot in self._slots:
            self._start(slot)
        self._thread = threading.Thread(target=self._supervise, name="frontier-jobs", daemon=True)
        self._thread.start()

    # --- the Executor interface ---------------------------------------------------------------------------
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
        with self._lock:
            for i, job in enumerate(self._queue):
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
                    try:
                        slot.conn.send(("stop", job.id))
                    except OSError:
                        pass  # the worker is gone; the supervisor reports it

    # --- status for the sidebar and tests -----------------------------------------------------------------
    @property
    def device(self) -> str:
        return next((s.device for s in self._slots if s.device), "")

    def busy(self) -> tuple[int, int]:
        """(runs training now, runs waiting)."""
        with self._lock:
            return sum(s.job is not None for s in self._slots), len(self._queue)

    def wait_ready(self, timeout: float = 60) -> bool:
        """Block until every worker is warm (used by tests and benchmarks)."""
        end = time.time() + timeout
        while time.time() < end:
            if all(s.ready for s in self._slots):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._closed = True
        for slot in self._slots:
            self._kill(slot)

    # --- supervisor ---------------------------------------------------------------------------------------
    def _start(self, slot: _Slot) -> None:
        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        slot.process = subprocess.Popen([sys.executable, "-m", "engine.core.jobs", str(child.fileno())],
                                        pass_fds=[child.fileno()], cwd=ROOT, env=env)
        child.close()
        slot.conn, slot.ready, slot.job = Connection(parent.detach()), False, None

    def _kill(self, slot: _Slot) -> None:
        if slot.process is not None and slot.process.poll() is None:
            slot.process.kill()
            slot.process.wait(5)
        if slot.conn is not None:
            slot.conn.close()

    def _finish(self, job: Job, status: str, outcome=None, error: str = "") -> None:
        if outcome is not None:
            outcome.run_id = job.id
        job.status, job.outcome, job.error, job.finished = status, outcome, error, time.time()
        self._notify("ended", job)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

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

    def _dispatch(self) -> None:
        for slot in self._slots:
            if slot.ready and slot.job is None and self._queue:
                job = self._queue.popleft()
                try:
                    slot.conn.send(("run", job.id, job.technique, job.config))
                except (OSError, ValueError) as e:  # e.g. a config that cannot be sent
                    self._finish(job, "failed", error=f"Could not start the run: {e}")
                    continue
                slot.job, job.status, job.started = job, "running", time.time()
                self._notify("running", job)

    def _supervise(self) -> None:
        while not self._closed:
            with self._lock:
                self._dispatch()
                conns = {s.conn: s for s in self._slots}
            try:
                ready = wait(list(conns), timeout=0.1)
            except OSError:
                ready = []
            with self._lock:
                for conn in ready:
                    self._receive(conns[conn])
                for slot in self._slots:
                    if slot.process.poll() is not None:
                        self._on_death(slot)
                    elif slot.job is not None:
                        self._police(slot)

    def _receive(self, slot: _Slot) -> None:
        try:
            while slot.conn.poll():
                msg = slot.conn.recv()
                kind = msg[0]
                if kind == "ready":
                    slot.ready, slot.device, self._start_failures = True, msg[1], 0
                    continue
                job = slot.job
                if job is None or msg[1] != job.id:
                    continue  # a message from a job that was already ended
                if kind == "progress":
                    for step, total, metrics in msg[2]:
                        job.step, job.total = step, total
                        job.rows.append({"step": step, **metrics})
                    if msg[3] is not None:
                        job.live = msg[3]
                else:
                    outcome = msg[2] if kind == "done" else None
                    status = "failed" if kind == "failed" else outcome.status
                    self._finish(job, status, outcome, msg[2] if kind == "failed" else "")
                    slot.job = None
                    if _rss_mb(slot.process.pid) > self.recycle_mb:  # swap in a lean worker while idle
                        self._kill(slot)
                        self._start(slot)
                        return
        except (EOFError, OSError):  # the worker died: its exit code is reaped just below
            try:
                slot.process.wait(2)
            except subprocess.TimeoutExpired:
                slot.process.kill()
        except Exception as e:  # e.g. a result that cannot be unpickled
            if slot.job is not None:
                self._finish(slot.job, "failed", error=f"Could not receive the run's result: {e}")
                slot.job = None

    def _on_death(self, slot: _Slot) -> None:
        code = slot.process.returncode
        if slot.job is not None:
            self._finish(slot.job, "failed", error=(
                f"The run crashed (its worker process exited with code {code}). The app and other runs are fine; "
                "try again, or with smaller settings."))
        if not slot.ready:
            self._start_failures += 1
        self._kill(slot)
        if self._start_failures >= 3 * self.slots:  # workers cannot even start: fail fast, stop retrying
            self._closed = True
            while self._queue:
                self._finish(self._queue.popleft(), "failed", error="The training workers cannot start on this server.")
            return
        self._start(slot)

    def _police(self, slot: _Slot) -> None:
        """End a run that is over its memory cap, its time limit, or its stop grace period."""
        job, now = slot.job, time.time()
        reason, status = "", "failed"
        rss = _rss_mb(slot.process.pid)
        if rss > self.memory_mb:
            reason = (f"The run used {rss:.0f} MB of memory, over the {self.memory_mb:.0f} MB limit per run, "
                      "and was ended. Try a smaller model, batch or dataset.")
        elif job.started and now - job.started > self.timeout_s:
            reason = f"The run took longer than the {self.timeout_s:.0f} s limit and was ended."
        elif job.stop_requested and now - job.stop_requested > self.stop_grace_s:
            reason, status = "Stopped. The run did not finish its partial results in time, so it was ended.", "stopped"
        if reason:
            self._finish(job, status, error=reason)
            slot.job = None
            self._kill(slot)
            self._start(slot)


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
