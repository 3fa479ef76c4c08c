"""The app's back end in one place: the executor that trains runs and the run store that records them.

Who records a run: this service, in the app process, never the executor. ``submit`` writes the run's row
("queued") before the job can start; the executor's events ("running", "ended") are written by one recorder
thread, in order, so recording never delays training and a full disk never stops the app (the run still
shows; its result link works once it is saved, see below). ``job.recorded`` turns True once the ended run is
stored.

Admission: a browser session may have ``FRONTIER_MAX_RUNS_PER_SESSION`` runs active at once (default 2: one
training, one waiting), a client address ``FRONTIER_MAX_RUNS_PER_CLIENT`` (default 8: a script that opens new
sessions without a cookie is still one address; :func:`client_address` reads it, trusting a proxy's
``X-Forwarded-For`` only from ``FRONTIER_TRUSTED_PROXY``), and the queue holds at most ``FRONTIER_MAX_QUEUE`` runs
(default 40); past any, ``submit`` raises :class:`Busy` with a message that says why and, from the run times
measured on this server, about how long the wait is. The executor serves its queue round-robin across clients
(:func:`engine.core.jobs.fair_order`), so one heavy visitor cannot starve the rest.

When the run store fails (PostgreSQL stopped, a full or read-only disk): the person still gets their results,
and the run's writes wait in a bounded retry queue in the recorder (``FRONTIER_UNSAVED_RUNS``, default 200 runs,
oldest dropped past it), retried with backoff until the store is back; :meth:`Service.save_note` says "not saved
yet" meanwhile. They live in memory: runs still waiting when the server stops are not kept.

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

import ipaddress
import logging
import math
import os
import queue
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

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
    saving: str = ""  # "delayed": the run store is down, it is saved once back; "lost": it could not be kept

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def of(cls, job: Job, position: int = 0, saving: str = "") -> JobView:
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
            saving=saving,
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
    unsaved: int = 0  # finished runs waiting for the run store to come back (saving is delayed)


SLOWDOWN_RANGE = (0.2, 50.0)  # a measured speed outside this is a hung or odd run, not the server


DELAYED_NOTE = (
    "Saving this run is delayed: the run store cannot be written right now. Your results are here; the run is "
    "saved, and its result link works, once the store is back."
)
LOST_NOTE = "This run could not be saved (the run store was down too long); its results are only on this page."


@dataclass
class _Unsaved:
    """A run whose writes wait for the run store: ``start``: its queued row is not written yet; ``job``: None
    until the executor has it (its row failed at submit)."""

    job: Job | None
    start: bool
    owner: str = ""
    technique: str = ""
    config: dict | None = None


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
        self,
        executor: Executor,
        store: RunStore | None,
        per_session: int | None = None,
        max_queue: int | None = None,
        per_client: int | None = None,
        unsaved_limit: int | None = None,
    ):
        self.executor, self.store = executor, store
        self.per_session = per_session or _env_int("FRONTIER_MAX_RUNS_PER_SESSION", 2)
        self.per_client = per_client or _env_int("FRONTIER_MAX_RUNS_PER_CLIENT", 8)
        self.max_queue = max_queue or _env_int("FRONTIER_MAX_QUEUE", 40)
        self.unsaved_limit = unsaved_limit or _env_int("FRONTIER_UNSAVED_RUNS", 200)
        self.retry_first_s, self.retry_max_s = 1.0, 60.0  # backoff between tries while the run store is down
        self._events: queue.Queue[tuple[str, Job]] = queue.Queue()
        self._active: dict[str, list[Job]] = {}  # owner -> their runs not yet ended (admission counts these)
        self._by_client: dict[str, list[Job]] = {}  # client address -> its runs not yet ended
        self._client_of: dict[str, str] = {}  # run id -> its client address, while it is active
        self._unsaved: OrderedDict[str, _Unsaved] = OrderedDict()  # run id -> writes waiting for the store
        self._lost: deque[str] = deque(maxlen=1000)  # runs dropped from a full retry queue (never saved)
        self._saving = threading.Lock()  # guards _unsaved and _lost
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
                client = self._client_of.pop(job.id, "")
                theirs = [j for j in self._by_client.pop(client, []) if j is not job and j.active]
                if theirs:
                    self._by_client[client] = theirs
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

    def client_runs(self, client: str) -> list[Job]:
        """The runs from network address ``client`` not yet ended (every session at that address)."""
        with self._owners:
            return [j for j in self._by_client.get(client, []) if j.active]

    def admission(self, owner: str = "", client: str = "") -> str | None:
        """Why a run from ``owner`` (a browser session) at ``client`` (its network address) would not be admitted
        now, in words; None when it would be."""
        if owner and len(self.active_runs(owner)) >= self.per_session:
            return (
                f"You already have {self.per_session} runs training or waiting (the limit per visitor on this "
                "shared server). Wait for one to finish, or stop one, then press Train again."
            )
        if client and len(self.client_runs(client)) >= self.per_client and not single_user():
            return (
                f"Your network address already has {self.per_client} runs training or waiting (the limit per "
                "address on this shared server, counting every tab and browser there). Wait for one to finish, "
                "then press Train again."
            )
        _, waiting = self.executor.busy()
        if waiting >= self.max_queue:
            wait = self.expected_wait_s()
            about = f" for about {wait_text(wait)}" if wait else ""
            return f"The server is busy: {waiting} runs are already waiting{about}. Please try again in a few minutes."
        return None

    def submit(self, technique: str, config: dict, owner: str = "", client: str = "") -> Job:
        """Record the run as queued, then hand it to the executor; the job id is the run id (its result link).
        A run whose settings name a stored run to start from gets that run's data with it (``inputs``).
        ``owner``: the browser session; ``client``: its network address (:func:`client_address`; "" when not
        known), limited to ``per_client`` active runs and served its fair share of the queue.

        Raises :class:`Busy` (with the message to show) when the run is not admitted, :class:`TooLong` when its
        estimate is over the time limit per run (except on a personal server: it may start there). The page
        follows the run by its id (:meth:`job`); the returned live Job is for the CLI, tests and benchmarks.
        """
        refusal = self.admission(owner, client)  # checked again below; first, so a refused run reads no source
        if refusal:
            raise Busy(refusal)
        too_long = None if single_user() else self.too_long(technique, config)
        if too_long:  # it would only be ended at the limit: not started on a shared server
            raise TooLong(too_long)
        inputs = run_inputs(self.store, technique, config)  # outside the admission lock: it reads the store
        with self._admit:
            refusal = self.admission(owner, client)
            if refusal:
                raise Busy(refusal)
            job = self._submit(technique, config, owner, inputs, client)
            if job.active:
                with self._owners:
                    if owner:
                        self._active.setdefault(owner, []).append(job)
                    if client:
                        self._by_client.setdefault(client, []).append(job)
                        self._client_of[job.id] = client
            return job

    def _submit(self, technique: str, config: dict, owner: str, inputs: dict | None, client: str = "") -> Job:
        run_id = secrets.token_hex(16)
        entry = None
        if self.store is not None:
            try:
                self.store.start(run_id, owner, technique, config)
            except Exception as e:  # the store is down: its row is written once it is back (the recorder retries)
                log.warning("could not record the start of run %s (retried later): %s", run_id, e)
                entry = _Unsaved(None, True, owner, technique, dict(config))
                self._defer(run_id, entry)
        extra: dict[str, Any] = {}
        if inputs is not None:  # a stand-in executor need not know about inputs or clients
            extra["inputs"] = inputs
        if client:
            extra["client"] = client
        job = self.executor.submit(technique, config, owner=owner, job_id=run_id, **extra)
        if entry is not None:
            entry.job = job
            self._events.put(("retry", job))  # wake the recorder: this run's row may be written now
        return job

    # --- following and stopping runs ----------------------------------------------------------------------
    def job(self, job_id: str) -> JobView | None:
        """The run ``job_id`` as it stands now (an immutable copy); None when unknown here or long finished."""
        job = self.executor.get(job_id or "")
        if job is None:
            return None
        position = self.executor.position(job.id) if job.status == "queued" else 0
        view = JobView.of(job, position, self.saving(job.id) if not job.active else "")
        if view.outcome is None and view.recorded and view.status in ("done", "stopped"):  # let go of: in the store
            view = replace(view, outcome=self.load_outcome(view.id))
        return view

    def saving(self, run_id: str) -> str:
        """Whether run ``run_id`` waits to be saved: "delayed" (the run store is down; it is written once the
        store is back), "lost" (it waited too long in a full retry queue and was dropped), else ""."""
        with self._saving:
            if run_id in self._unsaved:
                return "delayed"
            return "lost" if run_id in self._lost else ""

    def save_note(self, run_id: str) -> str:
        """What a finished run's page says about saving it, in words ("" when there is nothing to say)."""
        return {"delayed": DELAYED_NOTE, "lost": LOST_NOTE}.get(self.saving(run_id or ""), "")

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
            unsaved=len(self._unsaved),
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

    # --- recording (one thread, in order) -----------------------------------------------------------------
    def _record_loop(self, store: RunStore) -> None:
        """Write each event; a write that fails (the store is down, the disk full or read-only) waits in the
        retry queue, tried again with backoff (``retry_first_s`` doubling to ``retry_max_s``) until it works."""
        delay, next_try = self.retry_first_s, 0.0
        while True:
            wait = max(0.0, next_try - time.monotonic()) if self._unsaved else None
            try:
                event, job = self._events.get(timeout=wait)
            except queue.Empty:
                event = ""
            if event:
                if self._record(store, event, job) and self._unsaved:
                    next_try = 0.0  # a write just worked: the store is back, try the waiting ones now
                elif not next_try or event == "retry":
                    next_try = time.monotonic() if event == "retry" else time.monotonic() + delay
            if self._unsaved and time.monotonic() >= next_try:
                delay = self.retry_first_s if self._retry(store) else min(delay * 2, self.retry_max_s)
                next_try = time.monotonic() + delay
            elif not self._unsaved:
                delay, next_try = self.retry_first_s, 0.0

    def _record(self, store: RunStore, event: str, job: Job) -> bool:
        """Write one event of ``job``; False when it failed (it then waits in the retry queue) or must wait."""
        with self._saving:
            if job.id in self._unsaved:  # earlier writes of this run wait: this one goes with them, in order
                return False
            if job.id in self._lost:  # dropped from a full retry queue: its row may not exist, nothing to finish
                return False
        try:
            if event == "running":
                store.mark_running(job.id)
            elif event == "ended":
                store.finish(job.id, job.status, job.outcome, job.error)
                job.recorded = True
            return True
        except Exception as e:  # a full disk or a stopped database must not stop the app: retried later
            log.warning("could not record run %s (%s; retried once the run store is back): %s", job.id, event, e)
            self._defer(job.id, _Unsaved(job, False))
            return False

    def _defer(self, run_id: str, entry: _Unsaved) -> None:
        """Put a run's writes in the retry queue; past ``unsaved_limit`` runs the oldest is dropped (never saved)."""
        with self._saving:
            self._unsaved[run_id] = entry
            while len(self._unsaved) > self.unsaved_limit:
                dropped, _ = self._unsaved.popitem(last=False)
                self._lost.append(dropped)
                log.error("run %s was dropped from the full retry queue: it will not be saved", dropped)

    def _retry(self, store: RunStore) -> bool:
        """Try the waiting writes, oldest first, stopping at the first that fails; True when all were written."""
        with self._saving:
            waiting = list(self._unsaved.items())
        for run_id, entry in waiting:
            job = entry.job
            if job is None:  # the executor does not have it yet (submit is under way): next time
                continue
            try:
                if entry.start:
                    try:
                        store.start(run_id, entry.owner, entry.technique, entry.config or {})
                    except sa.exc.IntegrityError:  # an earlier try was written after all
                        pass
                    entry.start = False
                if not job.active:
                    store.finish(run_id, job.status, job.outcome, job.error)
                    job.recorded = True
                elif job.status == "running":
                    store.mark_running(run_id)
            except Exception as e:
                log.warning("the run store is still unavailable (%d runs wait to be saved): %s", len(waiting), e)
                return False
            with self._saving:
                if self._unsaved.get(run_id) is entry:
                    del self._unsaved[run_id]
            log.info("run %s saved after the run store came back", run_id)
        with self._saving:
            return not self._unsaved


def _trusted(address: str, proxies: list[str]) -> bool:
    """Whether ``address`` is one of ``proxies`` (addresses or networks such as 10.0.0.0/8)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for proxy in proxies:
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(peer: str | None, forwarded: str | None = None) -> str:
    """The visitor's network address, for the limit per address and the fair queue; "" when not known.

    ``peer``: the address the connection comes from (Streamlit's ``st.context.ip_address``: None from this machine
    itself); ``forwarded``: the ``X-Forwarded-For`` header. That header is believed only when the connection comes
    from a proxy that ``FRONTIER_TRUSTED_PROXY`` names (comma-separated addresses or networks, e.g. 127.0.0.1):
    otherwise any visitor could forge it. Its rightmost address that is not itself a trusted proxy is the
    visitor. A connection from this machine with no trusted proxy in front is "" (a personal server, or an
    undeclared proxy: every visitor would look alike, so no limit per address applies)."""
    proxies = [p.strip() for p in os.environ.get("FRONTIER_TRUSTED_PROXY", "").split(",") if p.strip()]
    source = peer or "127.0.0.1"
    if proxies and forwarded and _trusted(source, proxies):
        for hop in reversed([h.strip() for h in forwarded.split(",")]):
            try:
                hop = str(ipaddress.ip_address(hop))
            except ValueError:
                break  # a forged or garbled entry: believe nothing left of it
            if not _trusted(hop, proxies):
                return hop
    return peer or ""


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
    """A wait in plain words: "40 s", "3 min"; never "0 s" (a short wait rounds up to 1 s)."""
    return f"{max(1, round(seconds)):.0f} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"


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
