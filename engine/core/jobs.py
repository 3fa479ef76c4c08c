"""Jobs: runs train in warm worker processes, a bounded number at a time; the rest wait in a queue.

One long-lived worker process per slot (``python -m engine.core.worker``, started once, torch already imported,
one torch thread), fed over its own socket pair. Workers are plain subprocesses rather than multiprocessing
children because Streamlit runs each page as ``__main__``, which multiprocessing's spawn would re-execute.
A supervisor thread waits on every socket, so a run that raises, diverges, blows its memory cap, runs past its
time limit or crashes the interpreter ends *that* job with a clear message; the slot gets a fresh worker and
every other job carries on. Cancel sends the worker a stop message (the run returns
at its next progress call); a run that ignores it is killed after a grace period. The time limit ends a run the
same way: it is first asked to stop, keeping its partial results with a note, and killed only past the grace.

:class:`Executor` is everything the app asks of an executor, so a distributed engine (Ray) can stand in for
:class:`LocalExecutor`. Both share :class:`QueueExecutor`: the queue (served round-robin across clients,
:func:`fair_order`), the supervisor loop, the limits (memory, time, stop grace), recycling a worker that has grown
past ``FRONTIER_WORKER_RECYCLE_MB``, giving up on workers that cannot start, and folding progress into jobs; each
only says how its workers are started, fed, measured, waited on and stopped.
The worker side lives in :mod:`engine.core.worker`.
Executors do not record runs: :mod:`engine.core.service` does, from their events.
"""

from __future__ import annotations

import logging
import math
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
from engine.core.worker import env_float, rss_mb

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
RESULTS_KEEP_S = 120.0  # a stored run's results stay in memory this long after it ends (its page collects them at once)
CANNOT_START = "The training workers cannot start on this server."


def duration_text(seconds: float) -> str:
    """A duration in plain words: "40 s", "15 min", "7.7 h", "33 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{math.ceil(seconds / 60)} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 10 else f"{hours:.0f} h"


def time_limit_note(timeout_s: float) -> str:
    """What a run stopped by the time limit per run says beside its partial results."""
    return (
        f"This server ends each run after {duration_text(timeout_s)}: this one was stopped there, as Stop does, "
        "and what it learned until then is kept. Smaller settings finish in time."
    )


@dataclass
class Job:
    id: str
    technique: str
    config: dict
    owner: str = ""  # the browser session that submitted it
    client: str = ""  # the visitor's network address ("" when not known); the queue is shared fairly between these
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
    timed_out: bool = False  # it reached the time limit per run and was asked to stop there
    recorded: bool = False  # written to the run store (its share link works)
    inputs: dict | None = field(default=None, repr=False)  # what the run starts from; sent with it, then dropped

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


Listener = Callable[[str, Job], None]  # (event, job); event is "running" or "ended"


class Executor(Protocol):
    """What the app needs from whatever trains its runs (local worker processes, a Ray cluster).

    A job moves queued -> running -> done | stopped | failed; while it runs, ``job.step/total/rows/live``
    stream in, and ``job.outcome`` (an Outcome, no torch objects) arrives when it ends. Listeners hear
    "running" and "ended" once per job, on the executor's own thread: they must return quickly.
    ``inputs`` (plain data and bytes, e.g. a stored run's weights) travel with the job to its worker.
    Waiting runs are served round-robin across clients (``client``, else ``owner``), not first come first served.
    """

    @property
    def device(self) -> str: ...  # the workers' compute device in words; "" until a worker is ready
    def submit(
        self,
        technique: str,
        config: dict,
        owner: str = "",
        job_id: str | None = None,
        inputs: dict | None = None,
        client: str = "",
    ) -> Job: ...
    def get(self, job_id: str) -> Job | None: ...
    def cancel(self, job_id: str) -> None: ...  # stop a running job (partial results) or drop a queued one
    def position(self, job_id: str) -> int: ...  # 0 = running or finished, n = n-th in the queue
    def busy(self) -> tuple[int, int]: ...  # (runs training now, runs waiting)
    def subscribe(self, listener: Listener) -> None: ...
    def close(self) -> None: ...


def apply_progress(job: Job, rows: list, live, phase=None) -> None:
    """Fold a worker's progress rows ``(step, total, metrics)``, its latest live snapshot (which may itself be a
    phase) and its current ``phase`` into ``job`` (executors do it through :meth:`QueueExecutor._progress`).

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


def share_key(job: Job) -> str:
    """Whose share of the queue a run counts against: its client's address, else its browser session."""
    return job.client or job.owner


def fair_order(queue: deque[Job] | list[Job], served: dict[str, int]) -> deque[Job]:
    """The waiting runs in the order they start: round-robin across clients (:func:`share_key`), so one visitor
    with many runs waiting cannot hold back everyone behind them. Each round takes one run (their earliest) from
    every client with runs waiting; within a round, the client served longest ago goes first (never served: in
    the order their first run arrived). ``served``: key -> when that key last had a run started (higher = later)."""
    by_key: dict[str, list[Job]] = {}
    for job in queue:
        by_key.setdefault(share_key(job), []).append(job)
    keys = sorted(by_key, key=lambda k: served.get(k, 0))  # stable: equal keys keep their arrival order
    ordered: deque[Job] = deque()
    for round_ in range(max((len(v) for v in by_key.values()), default=0)):
        ordered.extend(by_key[k][round_] for k in keys if round_ < len(by_key[k]))
    return ordered


class QueueExecutor:
    """What every executor shares: the queue (kept in the app process, so a person sees their position), the jobs
    by id, the listeners, and one supervisor thread (:meth:`_supervise`) that starts queued runs on free slots,
    receives what the workers report, and polices the limits.

    A subclass owns the slots (each with ``job``, ``ready`` and ``device``) and says how its workers are reached:
    ``_start_run`` (hand a job to a slot's worker), ``_pending``/``_wait``/``_receive`` (what to wait on, waiting
    outside the lock, handling under it), ``_send_stop``, ``_run_memory`` (what a run added to its worker),
    ``_restart`` (replace a slot's worker now), ``_growth`` (how much a worker has grown since it was warm) and
    ``_recycle`` (retire a worker that grew too much). It reports through ``_progress``, ``_completed``,
    ``_crashed``, ``_worker_ready`` and ``_start_failed``.

    Recycling: after each run that returns (done or failed), a worker that has grown more than ``recycle_mb`` (env
    ``FRONTIER_WORKER_RECYCLE_MB``, default 768) over its own size once warm is recycled (:meth:`_check_growth`);
    ``recycled`` counts the workers retired for growth (benchmarks and tests read it).
    """

    def __init__(
        self,
        slots: int,
        memory_mb: float | None,
        timeout_s: float | None,
        stop_grace_s: float,
        recycle_mb: float | None = None,
    ):
        self.slots = slots
        self.memory_mb = memory_mb or env_float("FRONTIER_RUN_MEMORY_MB", 3072)
        self.timeout_s = timeout_s or env_float("FRONTIER_RUN_TIMEOUT_S", 900)
        self.stop_grace_s = stop_grace_s
        self.recycle_mb = recycle_mb or env_float("FRONTIER_WORKER_RECYCLE_MB", 768)
        self.recycled = 0  # workers retired for growth
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # notified whenever a job or a worker changes state
        self._queue: deque[Job] = deque()  # in the order runs will start (fair_order): position() reads it
        self._served: dict[str, int] = {}  # fair-share key -> when it last had a run started (a dispatch count)
        self._dispatched = 0
        self._jobs: dict[str, Job] = {}
        self._listeners: list[Listener] = []
        self._start_failures = 0
        self._closed = False
        self._slots: list = []

    # --- the Executor interface ---------------------------------------------------------------------------
    def submit(
        self,
        technique: str,
        config: dict,
        owner: str = "",
        job_id: str | None = None,
        inputs: dict | None = None,
        client: str = "",
    ) -> Job:
        """Queue a run of ``technique`` with ``config`` (``inputs``: what it starts from, sent with it) from
        ``owner`` (a browser session) at ``client`` (its network address): it takes its fair place in the queue."""
        job = Job(job_id or secrets.token_hex(16), technique, dict(config), owner=owner, client=client, inputs=inputs)
        if self._closed:
            self._finish(job, "failed", error=CANNOT_START)
            return job
        with self._lock:
            self._jobs[job.id] = job
            self._queue.append(job)
            self._queue = fair_order(self._queue, self._served)
            self._forget_old()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job (live: the supervisor keeps updating it), or None when unknown or long finished."""
        return self._jobs.get(job_id)

    def position(self, job_id: str) -> int:
        """0 = running or finished, n = n-th in the queue."""
        for i, job in enumerate(list(self._queue)):  # a snapshot: no lock, so a page poll never waits
            if job.id == job_id:
                return i + 1
        return 0

    def cancel(self, job_id: str) -> None:
        """Stop a running job (it returns its partial results) or drop a queued one."""
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

    @property
    def device(self) -> str:
        """The workers' compute device in words; "" until a worker is ready."""
        return next((s.device for s in self._slots if s.device), "")

    def busy(self) -> tuple[int, int]:
        """(runs training now, runs waiting). Reads without the lock: a page poll never waits on the supervisor."""
        return sum(s.job is not None for s in self._slots), len(self._queue)

    def subscribe(self, listener: Listener) -> None:
        """Hear "running" and "ended" for every job, on the supervisor's thread (return quickly)."""
        self._listeners.append(listener)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 300) -> bool:
        """Block until ``predicate()`` holds, re-checking whenever a job or worker changes state (tests and
        benchmarks wait on these events, not on guessed sleeps); False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def wait_ready(self, timeout: float = 60) -> bool:
        """Block until every worker is warm (used by tests, the CLI and benchmarks)."""
        return self.wait_for(lambda: all(s.ready for s in self._slots), timeout)

    def close(self) -> None:
        raise NotImplementedError

    # --- the supervisor -----------------------------------------------------------------------------------
    def _supervise(self) -> None:
        """Start queued runs on free slots, wait (outside the lock) for what workers report, handle it, police."""
        while not self._closed:
            with self._lock:
                self._dispatch()
                pending = self._pending()
            received = self._wait(pending)
            with self._lock:
                if self._closed:
                    return
                self._receive(received)
                self._check()

    def _dispatch(self) -> None:
        for slot in self._slots:
            self._tidy(slot)
            if not (slot.ready and slot.job is None and self._queue):
                continue
            job = self._queue.popleft()
            self._dispatched += 1
            self._served[share_key(job)] = self._dispatched
            if len(self._served) > 10_000:  # forget who was served when, except for those still waiting
                waiting = {share_key(j) for j in self._queue}
                self._served = {k: n for k, n in self._served.items() if k in waiting}
            self._queue = fair_order(self._queue, self._served)  # that client now waits its turn behind the others
            error = self._start_run(slot, job)
            if error:
                self._finish(job, "failed", error=error)
                continue
            slot.job, job.inputs = job, None  # the worker has the inputs now
            job.status, job.started = "running", time.time()
            self._notify("running", job)
            self._changed.notify_all()

    def _check(self) -> None:
        """After each round: end every run that is over a limit (subclasses also look for dead workers)."""
        for slot in self._slots:
            if slot.job is not None:
                self._police(slot)

    def _police(self, slot) -> None:
        """At the time limit, ask the slot's run to stop (as Stop does: it hands back its partial results); end it
        now if it is over its memory cap, ignored the stop past its grace, or is still going past the time limit
        plus the grace. An ended run's worker goes."""
        job = slot.job
        if job.started and not job.timed_out and time.time() - job.started > self.timeout_s:
            job.timed_out = True
            if not job.stop_requested:  # a person's own Stop may already be on its way
                job.stop_requested = time.time()
                self._send_stop(slot, job)
        added_mb, base_mb = self._run_memory(slot)
        status, reason = self._over_limit(job, added_mb, base_mb)
        if reason:
            self._end_job(slot, status, error=reason)
            self._restart(slot)

    def _over_limit(self, job: Job, added_mb: float, base_mb: float) -> tuple[str, str]:
        """(status, why) when ``job`` must end now: over its memory cap (``added_mb``, what the run added to its
        worker's ``base_mb``); asked to stop (by a person or the time limit) and not noticing it within the stop
        grace; or still running ``stop_grace_s`` past the time limit, partial results or not. ("", "") while it
        may go on."""
        now = time.time()
        if added_mb > self.memory_mb:
            return "failed", (
                f"The run needed {added_mb:.0f} MB of memory on top of its worker's {base_mb:.0f} MB, "
                f"over the {self.memory_mb:.0f} MB limit per run, and was ended. "
                "Try a smaller model, batch or dataset."
            )
        late = job.stop_requested and not job.stop_seen and now - job.stop_requested > self.stop_grace_s
        if job.timed_out and (late or (job.started and now - job.started > self.timeout_s + self.stop_grace_s)):
            return "failed", (
                f"The run took longer than the {self.timeout_s:.0f} s limit and did not hand back its partial "
                "results when asked to stop, so it was ended; nothing could be kept. Try smaller settings."
            )
        if late:
            return "stopped", "Stopped. The run did not finish its partial results in time, so it was ended."
        return "", ""

    # --- what the subclasses report through ---------------------------------------------------------------
    def _progress(self, job: Job, rows: list, live=None, phase=None) -> None:
        """A worker's new progress rows and snapshots for ``job`` (see :func:`apply_progress`)."""
        apply_progress(job, rows, live, phase)
        self._changed.notify_all()

    def _completed(self, slot, kind: str, payload) -> None:
        """The slot's run returned: ("done", Outcome) or ("failed", message), as ``worker.run_one`` gives them."""
        if kind == "done":
            note = time_limit_note(self.timeout_s) if slot.job.timed_out and payload.status == "stopped" else ""
            self._end_job(slot, payload.status, payload, error=note)
        else:
            self._end_job(slot, "failed", error=payload)
        self._check_growth(slot)

    def _check_growth(self, slot) -> None:
        """After a run: a worker that has grown more than ``recycle_mb`` over its warm size is recycled."""
        grown = self._growth(slot)
        if grown > self.recycle_mb and not self._closed:
            self._recycle(slot, grown)

    def _crashed(self, slot, how: str) -> None:
        """The slot's worker died under its run (``how``: in words, e.g. "its worker process exited with code -9")."""
        self._end_job(
            slot,
            "failed",
            error=f"The run crashed ({how}). The app and other runs are fine; try again, or with smaller settings.",
        )

    def _worker_ready(self) -> None:
        """A worker is warm: workers can start here after all."""
        self._start_failures = 0
        self._changed.notify_all()

    def _start_failed(self) -> bool:
        """A worker died before it was warm. Past three per slot in a row, workers cannot even start here: stop
        retrying, fail every queued run now and every later one at once. True when it gave up."""
        self._start_failures += 1
        if self._start_failures < 3 * self.slots:
            return False
        self._closed = True
        while self._queue:
            self._finish(self._queue.popleft(), "failed", error=CANNOT_START)
        return True

    def _end_job(self, slot, status: str, outcome=None, error: str = "") -> None:
        job, slot.job = slot.job, None
        self._finish(job, status, outcome, error)

    def _finish(self, job: Job, status: str, outcome=None, error: str = "") -> None:
        if outcome is not None:
            outcome.run_id = job.id
        job.inputs = None
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

    def _forget_old(self, keep_s: float = 3600, results_keep_s: float = RESULTS_KEEP_S) -> None:
        """Forget runs that ended over ``keep_s`` ago, and let go of the results (outcome, live snapshot, history
        rows) of stored runs that ended over ``results_keep_s`` ago: the store holds them (``Service.job`` reads
        them back), and an hour of them in memory made a busy server grow by hundreds of MB (the soak benchmark)."""
        now = time.time()
        for job in list(self._jobs.values()):
            if job.finished and job.finished < now - keep_s:
                del self._jobs[job.id]
            elif job.finished and job.recorded and job.finished < now - results_keep_s:
                job.outcome, job.live, job.rows = None, None, []

    # --- what each subclass provides ----------------------------------------------------------------------
    def _tidy(self, slot) -> None:
        """Before a slot may take a run (e.g. swap in a warm replacement worker)."""

    def _start_run(self, slot, job: Job) -> str:
        """Hand ``job`` to the slot's worker; "" when sent, else why it could not start (the job then fails)."""
        raise NotImplementedError

    def _pending(self) -> Any:
        """What the supervisor waits on next (called under the lock)."""
        raise NotImplementedError

    def _wait(self, pending) -> list:
        """Wait briefly (outside the lock) for ``pending``; returns what arrived, to :meth:`_receive`."""
        raise NotImplementedError

    def _receive(self, received: list) -> None:
        """Handle what :meth:`_wait` returned (under the lock)."""
        raise NotImplementedError

    def _send_stop(self, slot, job: Job) -> None:
        raise NotImplementedError

    def _run_memory(self, slot) -> tuple[float, float]:
        """(MB the slot's run added to its worker, the worker's MB when the run started)."""
        raise NotImplementedError

    def _restart(self, slot) -> None:
        """The slot's worker must go now: give the slot a fresh (or already warm) one."""
        raise NotImplementedError

    def _growth(self, slot) -> float:
        """MB the slot's worker has grown over its own size once warm, measured now (its run has just returned)."""
        raise NotImplementedError

    def _recycle(self, slot, grown_mb: float) -> None:
        """Retire the slot's worker, which grew ``grown_mb`` past ``recycle_mb`` (the slot is idle now): give the
        slot a fresh one, counting it in ``recycled`` once the old one is gone."""
        raise NotImplementedError


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

    worker: _Worker
    spare: _Worker | None = None  # started *before* the worker is retired; takes over once warm and idle
    job: Job | None = None
    job_base_mb: float = 0.0  # the worker's resident size when the current run started

    @property
    def process(self) -> subprocess.Popen:
        return self.worker.process

    @property
    def ready(self) -> bool:
        return self.worker.ready

    @property
    def device(self) -> str:
        return self.worker.device


class LocalExecutor(QueueExecutor):
    """A bounded pool of warm worker processes on this machine.

    ``slots``: runs at once (default: CPU cores, env ``FRONTIER_MAX_RUNS``); ``memory_mb``: how much memory a run
    may add to its worker (env ``FRONTIER_RUN_MEMORY_MB``, default 3072; the worker's own ~500 MB of libraries
    does not count); ``timeout_s``: per-run time limit (env ``FRONTIER_RUN_TIMEOUT_S``, default 900; a run that
    reaches it is stopped as Stop does and keeps its partial results); ``stop_grace_s``: how long a stopped run
    may take to *notice* the stop (its next progress call) before it is killed; once it has (the worker says
    "stopping"), only the time limit plus the grace applies while it finishes its partial results, however loaded
    the server is.

    Recycling (``recycle_mb``, as :class:`QueueExecutor` says): a grown worker gets a replacement, started at once
    beside it; the old worker keeps serving until the replacement is warm and the slot is idle, so a slot is never
    empty while runs wait.
    """

    def __init__(
        self,
        slots: int | None = None,
        memory_mb: float | None = None,
        timeout_s: float | None = None,
        stop_grace_s: float = 120.0,
        recycle_mb: float | None = None,
    ):
        slots = slots or int(env_float("FRONTIER_MAX_RUNS", os.cpu_count() or 1))
        super().__init__(slots, memory_mb, timeout_s, stop_grace_s, recycle_mb)
        self._slots = [_Slot(self._spawn()) for _ in range(self.slots)]
        self._thread = threading.Thread(target=self._supervise, name="frontier-jobs", daemon=True)
        self._thread.start()

    # --- status for tests and benchmarks -----------------------------------------------------------------
    def pids(self) -> list[int]:
        """Every worker process alive now, serving or warming up (fault drills check none leak)."""
        workers = [w for s in self._slots for w in (s.worker, s.spare) if w is not None]
        return [w.process.pid for w in workers if w.process.poll() is None]

    def close(self) -> None:
        """Stop the supervisor and kill every worker (a running run ends with the app)."""
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
            [sys.executable, "-m", "engine.core.worker", str(child.fileno())],
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

    def _restart(self, slot: _Slot) -> None:
        """The slot's worker is gone or must go now: promote its warm spare if it has one, else start afresh."""
        self._kill(slot.worker)
        slot.job = None
        if slot.spare is not None:
            slot.worker, slot.spare = slot.spare, None
        else:
            slot.worker = self._spawn()

    def _tidy(self, slot: _Slot) -> None:
        """Swap in a warm replacement while the slot is idle (the old worker served until now)."""
        if slot.job is None and slot.spare is not None and slot.spare.ready:
            self._kill(slot.worker)
            slot.worker, slot.spare = slot.spare, None
            self.recycled += 1
            self._changed.notify_all()

    def _growth(self, slot: _Slot) -> float:
        return rss_mb(slot.worker.process.pid) - slot.worker.baseline_mb

    def _recycle(self, slot: _Slot, grown_mb: float) -> None:
        """Start the grown worker's replacement beside it (:meth:`_tidy` swaps it in once warm and idle)."""
        if slot.spare is None:
            log.info(
                "worker %s grew %.0f MB since warm-up: starting its replacement", slot.worker.process.pid, grown_mb
            )
            slot.spare = self._spawn()

    # --- the supervisor's hooks ---------------------------------------------------------------------------
    def _start_run(self, slot: _Slot, job: Job) -> str:
        try:
            slot.worker.conn.send(("run", job.id, job.technique, job.config, job.inputs))
        except (OSError, ValueError) as e:  # e.g. a config that cannot be sent
            return f"Could not start the run: {e}"
        slot.job_base_mb = rss_mb(slot.worker.process.pid)
        return ""

    def _send_stop(self, slot: _Slot, job: Job) -> None:
        try:
            slot.worker.conn.send(("stop", job.id))
        except OSError:
            pass  # the worker is gone; the supervisor reports it

    def _run_memory(self, slot: _Slot) -> tuple[float, float]:
        return rss_mb(slot.worker.process.pid) - slot.job_base_mb, slot.job_base_mb

    def _pending(self) -> dict[Connection, tuple[_Slot, _Worker]]:
        return {w.conn: (s, w) for s in self._slots for w in (s.worker, s.spare) if w is not None}

    def _wait(self, pending: dict[Connection, tuple[_Slot, _Worker]]) -> list:
        try:
            ready = wait(list(pending), timeout=0.1)
        except OSError:
            ready = []
        # wait() hands back the objects it was given: all Connections; unpickles results outside the lock
        return [(*pending[conn], *_drain(conn)) for conn in ready if isinstance(conn, Connection)]

    def _receive(self, received: list) -> None:
        for slot, worker, messages, broken in received:
            for msg in messages:
                self._handle(slot, worker, msg)
            if broken is not None and slot.job is not None and worker is slot.worker:
                self._end_job(slot, "failed", error=f"Could not receive the run's result: {broken}")

    def _check(self) -> None:
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
            worker.ready, worker.device = True, msg[1]
            worker.baseline_mb = rss_mb(worker.process.pid)
            self._worker_ready()
            return
        job = slot.job
        if worker is not slot.worker or job is None or msg[1] != job.id:
            return  # a message from a job that was already ended
        if kind == "stopping":
            job.stop_seen = True
        elif kind == "progress":
            self._progress(job, msg[2], msg[3])
        else:  # "done" or "failed"
            self._completed(slot, kind, msg[2])

    def _on_death(self, slot: _Slot) -> None:
        if slot.job is not None:
            self._crashed(slot, f"its worker process exited with code {slot.worker.process.returncode}")
        if not slot.worker.ready and self._start_failed():  # workers cannot even start: stop retrying
            self._kill(slot.worker)
            self._kill(slot.spare)
            slot.spare = None
            return
        self._restart(slot)


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
