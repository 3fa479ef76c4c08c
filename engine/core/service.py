"""The app's back end in one place: the executor that trains runs and the run store that records them.

Who records a run: this service, in the app process, never the executor. ``submit`` writes the run's row
("queued") before the job can start; the executor's events ("running", "ended") are written by one recorder
thread, in order, so recording never delays training and a full disk never stops the app (the run still
shows, its result link just does not work). ``job.recorded`` turns True once the ended run is stored.

Admission: a browser session may have ``FRONTIER_MAX_RUNS_PER_SESSION`` runs active at once (default 2: one
training, one waiting) and the queue holds at most ``FRONTIER_MAX_QUEUE`` runs (default 40); past either,
``submit`` raises :class:`Busy` with a message that says why and, from the run times measured on this server,
about how long the wait is.

Runs that cannot finish: the executor ends a run at its time limit per run (``FRONTIER_RUN_TIMEOUT_S``). A run
whose estimate is over it is refused before it starts (:meth:`Service.too_long` says so and names the settings
that cost the most; ``submit`` raises :class:`TooLong`, a :class:`Busy`), except on a personal server
(``FRONTIER_SINGLE_USER=1``), where it may start and is stopped at the limit with its partial results kept.

Time estimates: :meth:`Service.estimate` scales a technique's static ``estimate_seconds(config)`` by how much
slower (or faster) than their static estimates recent runs actually trained on this server (the median ratio
over its last 50 finished runs, read back from the run store at startup), and adds the wait for a free slot.

The UI talks only to this service: :meth:`Service.job` gives an immutable :class:`JobView` (a copy of the run as
it is now, while the executor's supervisor thread keeps updating the live job), :meth:`Service.status` the
server's state, :meth:`Service.cancel` stops a run, and the stored runs are read and deleted through it
(:meth:`Service.runs`, :meth:`Service.run`, :meth:`Service.load_outcome`, ...). Nothing outside this module
reaches for the executor or the run store behind it.

A run that starts from another run (Edge AI compresses a finished XAI or NAS run): when a technique's settings
name a stored run (``Config.source_run_id()``), :meth:`Service.submit` reads that run (technique, status,
settings, info, layer texts, safetensors weights) from the run store and hands it to the executor as the job's
``inputs["source"]`` (None when no stored run has that id); the technique's ``run(config, progress, inputs)``
builds on it and never opens the store. Like a result link, the run id is what lets a person use a run, so
any stored run whose id they hold may be a source.

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
from typing import Any

from engine.core.jobs import ACTIVE, Executor, Job, duration_text
from engine.core.store import RunStore, open_store, single_user

log = logging.getLogger(__name__)


class Busy(RuntimeError):
    """A run was not admitted (this session has enough runs going, or the queue is full); ``str()`` says why."""


class TooLong(Busy):
    """A run was not admitted because its estimate is over this server's time limit per run; ``str()`` says so and
    names the settings that cost the most."""


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


@dataclass(frozen=True)
class JobView:
    """One run as it stands at one moment, for the page: a copy, so the executor's supervisor thread may keep
    updating the live job while a page draws this. ``position``: its place in the queue (0 once it trains);
    ``rows``: the live history rows so far; ``outcome``: the finished run's Outcome (made once, never changed)."""

    id: str
    technique: str
    config: dict
    owner: str
    status: str  # queued | running | done | stopped | failed
    error: str
    step: int
    total: int
    rows: tuple[dict, ...]
    live: Any  # the technique's latest live snapshot
    phase: dict | None  # what the run is doing between steps ({"phase", "fraction"})
    position: int
    submitted: float
    started: float | None
    finished: float | None
    stop_requested: float | None
    stop_seen: bool
    recorded: bool  # in the run store: its result link works
    outcome: Any

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def of(cls, job: Job, position: int = 0) -> JobView:
        """A snapshot of ``job`` (read without the executor's lock: each field is one atomic read)."""
        return cls(
            id=job.id,
            technique=job.technique,
            config=dict(job.config),
            owner=job.owner,
            status=job.status,
            error=job.error,
            step=job.step,
            total=job.total,
            rows=tuple(job.rows),
            live=job.live,
            phase=job.phase,
            position=position,
            submitted=job.submitted,
            started=job.started,
            finished=job.finished,
            stop_requested=job.stop_requested,
            stop_seen=job.stop_seen,
            recorded=job.recorded,
            outcome=job.outcome,
        )


@dataclass(frozen=True)
class Status:
    """The server as the sidebar and the job panel show it: runs ``training`` and ``waiting``, ``slots`` (runs at
    once), the workers' compute ``device`` in words (``starting`` while no worker is warm yet), whether runs are
    ``recording`` (a run store is open) and whether this is a ``single_user`` server (every run is listed)."""

    training: int
    waiting: int
    slots: int
    device: str
    starting: bool
    recording: bool
    single_user: bool


SLOWDOWN_RANGE = (0.2, 50.0)  # a measured speed outside this is a hung or odd run, not the server


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Service:
    """The app's one way to its back end: submit, follow, stop and estimate runs, read and delete stored runs.

    ``executor`` trains the runs and ``store`` (None: record nothing) keeps them; both stay behind this class
    (tests and the CLI may reach them; the UI, the pages and the benchmarks never do).
    """

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
            self._seed_speed(store)
            threading.Thread(target=self._record_loop, args=(store,), name="frontier-recorder", daemon=True).start()

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

    def _seed_speed(self, store: RunStore) -> None:
        """A restarted server still knows its speed: the timings of this host's last finished runs."""
        try:
            rows = store.recent_timings(50)
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

    @property
    def time_limit_s(self) -> float | None:
        """The longest one run may train here (the executor's ``timeout_s``); None when it sets none."""
        limit = getattr(self.executor, "timeout_s", None)
        return float(limit) if limit else None

    def too_long(self, technique: str, config) -> str | None:
        """Why a run of ``technique`` with ``config`` (a Config or a dict) cannot finish within this server's time
        limit per run (its estimated training time is over it), naming the settings that cost the most; None
        when it can, when there is no limit, or when the settings do not validate (the form says why)."""
        limit = self.time_limit_s
        if limit is None:
            return None
        try:
            train_s = self.estimate(technique, config).train_s
        except Exception:
            return None
        if train_s <= limit:
            return None
        costly = [
            f"{label} at {value:g} (about {duration_text(seconds)} at its default, {default:g})"
            for label, value, default, seconds in self.costliest(technique, config)[:3]
        ]
        named = f" What costs the most: {'; '.join(costly)}." if costly else ""
        over = (
            f"This run would take about {duration_text(train_s)} here, over this server's limit of "
            f"{duration_text(limit)} per run"
        )
        if single_user():
            return (
                f"{over}: it will be stopped then, keeping what it learned so far (FRONTIER_RUN_TIMEOUT_S sets the "
                f"limit).{named}"
            )
        lower = "Lower these settings" if costly else "Use smaller settings"
        return f"{over}, so it cannot start.{named} {lower}, or start from the Quick look preset."

    def costliest(self, technique: str, config) -> list[tuple[str, float, float, float]]:
        """The numeric settings that make a run of ``technique`` slow, costliest first: (label, value, default,
        estimated training time with only that setting at its default), for each whose default is quicker."""
        from engine import load
        from engine.core.config import form_fields

        module = load(technique)
        cls = module.Config
        current = cls.model_validate(config if isinstance(config, dict) else config.model_dump()).model_dump()
        factor = self.slowdown(technique) or 1.0
        now = float(module.estimate_seconds(cls.model_validate(current)))
        found = []
        for name, field in form_fields(cls).items():
            default = field.get_default(call_default_factory=True)
            if field.annotation not in (int, float) or current[name] == default:
                continue
            try:
                seconds = float(module.estimate_seconds(cls.model_validate({**current, name: default})))
            except Exception:  # the default does not fit the other settings: it cannot be the answer
                continue
            if seconds < now:
                label = field.title or name.replace("_", " ").capitalize()
                found.append((label, current[name], default, seconds * factor))
        return sorted(found, key=lambda f: f[3])

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
        A run whose settings name a stored run to start from gets that run's data with it (``inputs``).

        Raises :class:`Busy` (with the message to show) when the run is not admitted, :class:`TooLong` when its
        estimate is over the time limit per run (except on a personal server: it may start there). The page
        follows the run by its id (:meth:`job`); the returned live Job is for the CLI, tests and benchmarks.
        """
        refusal = self.admission(owner)  # checked again below; first, so a refused run reads no source
        if refusal:
            raise Busy(refusal)
        too_long = None if single_user() else self.too_long(technique, config)
        if too_long:  # it would only be ended at the limit: not started on a shared server
            raise TooLong(too_long)
        inputs = run_inputs(self.store, technique, config)  # outside the admission lock: it reads the store
        with self._admit:
            refusal = self.admission(owner)
            if refusal:
                raise Busy(refusal)
            job = self._submit(technique, config, owner, inputs)
            if owner and job.active:
                with self._owners:
                    self._active.setdefault(owner, []).append(job)
            return job

    def _submit(self, technique: str, config: dict, owner: str, inputs: dict | None) -> Job:
        run_id = secrets.token_hex(16)
        if self.store is not None:
            try:
                self.store.start(run_id, owner, technique, config)
            except Exception:
                log.exception("could not record the start of run %s", run_id)
        if inputs is None:  # a stand-in executor need not know about inputs
            return self.executor.submit(technique, config, owner=owner, job_id=run_id)
        return self.executor.submit(technique, config, owner=owner, job_id=run_id, inputs=inputs)

    # --- following and stopping runs ----------------------------------------------------------------------
    def job(self, job_id: str) -> JobView | None:
        """The run ``job_id`` as it stands now (an immutable copy); None when unknown here or long finished."""
        job = self.executor.get(job_id or "")
        if job is None:
            return None
        return JobView.of(job, self.executor.position(job.id) if job.status == "queued" else 0)

    def cancel(self, job_id: str) -> None:
        """Stop a training run (it hands back its partial results) or drop a waiting one."""
        self.executor.cancel(job_id)

    def status(self) -> Status:
        """How busy the server is, on which device its runs train, and what it records."""
        training, waiting = self.executor.busy()
        device = self.executor.device
        return Status(
            training=training,
            waiting=waiting,
            slots=max(1, getattr(self.executor, "slots", 1)),
            device=device,
            starting=not device,
            recording=self.recording,
            single_user=single_user(),
        )

    @property
    def recording(self) -> bool:
        """Whether finished runs are stored (their result links work)."""
        return self.store is not None

    def close(self) -> None:
        """Stop the executor (its workers end; the run store needs no closing)."""
        self.executor.close()

    # --- stored runs --------------------------------------------------------------------------------------
    def runs(self, owner: str, technique: str | None = None, limit: int = 500) -> list[dict]:
        """The runs ``owner`` may list (every run on a single-user server), newest first; [] without a store."""
        if self.store is None:
            return []
        return self.store.list_runs(None if single_user() else owner, technique, limit)

    def latest_run(self, owner: str, technique: str) -> dict | None:
        """``owner``'s own latest run of ``technique`` (whatever the server's mode), or None."""
        latest = self.store.list_runs(owner, technique=technique, limit=1) if self.store is not None else []
        return latest[0] if latest else None

    def run(self, run_id: str) -> dict | None:
        """One stored run's record (its id is its share link: anyone holding it may read it); None if unknown."""
        return self.store.get(run_id) if self.store is not None else None

    def load_outcome(self, run_id: str):
        """A stored run's Outcome, without retraining; None when unknown or it has no results."""
        return self.store.load_outcome(run_id) if self.store is not None else None

    def weights(self, run_id: str) -> bytes | None:
        """A stored run's weights (safetensors bytes), without the rest of it."""
        return self.store.weights(run_id) if self.store is not None else None

    def headlines(self, run_ids: list[str]) -> dict[str, list[str]]:
        """Each stored run's headline metric names, for the runs table."""
        return self.store.headlines(run_ids) if self.store is not None else {}

    def delete_run(self, run_id: str, owner: str) -> bool:
        """Delete ``owner``'s run (any run on a single-user server); True when it was deleted."""
        return self.store.delete(run_id, owner) if self.store is not None else False

    def _record_loop(self, store: RunStore) -> None:
        while True:
            event, job = self._events.get()
            try:
                if event == "running":
                    store.mark_running(job.id)
                else:
                    store.finish(job.id, job.status, job.outcome, job.error)
                    job.recorded = True
            except Exception:  # a full disk must not stop the app: the run is still shown, just not stored
                log.exception("could not record run %s", job.id)


def source_run_id(technique: str, config: dict) -> str:
    """The stored run a run of ``technique`` with ``config`` starts from (its Config's ``source_run_id()``);
    "" when it starts from scratch, or its settings do not validate (the run itself then says why)."""
    from engine import load

    try:
        module = load(technique)
        return str(module.Config.model_validate(config).source_run_id())
    except Exception:  # an unknown technique or settings that do not validate: the worker reports it
        return ""


def stored_source(store: RunStore | None, run_id: str) -> dict | None:
    """A stored run as another run starts from it: ``id``, ``technique``, ``status``, ``config``, ``info``,
    ``architecture`` (model name -> its layers as PyTorch prints them) and ``weights`` (safetensors bytes, None
    when it has none). Plain data and bytes, so it travels to any worker. None when no stored run has this id."""
    row = store.get(run_id) if store is not None else None
    if store is None or row is None:
        return None
    outcome = store.load_outcome(run_id) if row["status"] in ("done", "stopped") else None
    return {
        "id": row["id"],
        "technique": row["technique"],
        "status": row["status"],
        "config": dict(row["config"]),
        "info": dict(outcome.info) if outcome is not None else {},
        "architecture": dict(outcome.architecture) if outcome is not None else {},
        "weights": outcome.weights if outcome is not None else None,
    }


def run_inputs(store: RunStore | None, technique: str, config: dict) -> dict | None:
    """What a run of ``technique`` with ``config`` is given besides its settings: ``{"source": stored_source(...)}``
    when its settings name a stored run, else None (``run(config, progress)`` alone). The CLI and tests use it
    to run such a technique in-process: ``execute(technique, config, inputs=run_inputs(store, ...))``."""
    run_id = source_run_id(technique, config)
    if not run_id:
        return None
    return {"source": stored_source(store, run_id)}


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
