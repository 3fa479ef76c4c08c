"""The worker side of the executors: what runs inside a warm worker process (local) or a Ray actor.

A local worker is a plain subprocess, ``python -m engine.core.worker FD``, started by
:class:`engine.core.jobs.LocalExecutor` with one end of a socket pair. It imports torch once (one torch thread,
lower CPU priority, SHAP warmed up: :func:`prepare`), says ``("ready", device)``, then trains one run at a time:

* from the executor: ``("run", job_id, technique, config, inputs)`` and ``("stop", job_id)``;
* to the executor: ``("progress", job_id, rows, live)`` (rows of ``(step, total, metrics)``, batched about every
  0.2 s), ``("stopping", job_id)`` once the run has seen Stop, then ``("done", job_id, Outcome)`` or
  ``("failed", job_id, what a person reads)``.

The Ray actor (:mod:`engine.core.ray_executor`) uses :func:`prepare`, :func:`run_one` and :func:`rss_mb` from
here; only its transport differs (the executor polls it). Nothing here is imported by the app for more than these
light functions: torch is imported inside them.
"""

from __future__ import annotations

import os
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

FLUSH_S = 0.2  # progress rows are sent at most this often (a live snapshot or the last step goes at once)


def env_float(name: str, default: float) -> float:
    """A number from the environment; ``default`` when unset or not a number."""
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (0 when unknown: not Linux, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0  # not Linux or already gone: no cap enforcement


def lower_priority() -> None:
    """Workers yield the CPU to the app process (env ``FRONTIER_WORKER_NICE``, default 10), so pages stay quick
    while runs train and while a fresh worker imports torch."""
    try:
        os.nice(int(env_float("FRONTIER_WORKER_NICE", 10)))
    except (OSError, AttributeError):  # not permitted, or not POSIX: run at normal priority
        pass


def warm_up() -> None:
    """Pay SHAP's and autograd's first-call costs once per worker instead of inside the first run."""
    import torch

    from engine.core.explain import explain_torch
    from engine.core.train import mlp

    model = mlp(3, 2, [4])
    explain_torch(model, torch.randn(2, 3), torch.randn(4, 3), feature_names=["a", "b", "c"])


def prepare() -> str:
    """Make this process a warm worker (headless, offline, low priority, one torch thread, SHAP warmed up);
    returns its compute device in words."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    lower_priority()
    import torch

    torch.set_num_threads(1)
    from engine.core.device import describe

    warm_up()
    return describe()


def run_one(technique: str, config: dict, progress, inputs: dict | None = None) -> tuple[str, Any]:
    """Execute one run in a worker (local or a Ray actor): ("done", Outcome) or ("failed", what a person reads).

    ``inputs``: what the run starts from (e.g. ``{"source": ...}``, a stored run's data), resolved by the app."""
    from engine.core.config import ConfigError
    from engine.core.contract import RunError
    from engine.core.data import DataError, code
    from engine.core.pipeline import execute

    try:
        if inputs is None:
            return "done", execute(technique, config, progress)
        return "done", execute(technique, config, progress, inputs=inputs)
    except (ConfigError, DataError, RunError) as e:
        return "failed", str(e)
    except MemoryError:
        return "failed", "The run ran out of memory. Try a smaller model or dataset."
    except Exception as e:  # a bug in a technique must not take the worker down (its text may quote data)
        return "failed", f"The run crashed: {code(f'{type(e).__name__}: {e}', 500)}"


class Progress:
    """The ``progress(step, total, metrics, live=None)`` function of one run in a local worker: batches rows to the
    executor, and answers True once the executor has asked this run to stop (saying "stopping" the first time)."""

    def __init__(self, conn: Connection, job_id: str):
        self.conn, self.job_id = conn, job_id
        self.pending: list = []
        self.last = 0.0
        self.stop = False

    def __call__(self, step: int, total: int, metrics: dict, live=None) -> bool:
        self.pending.append((step, total, metrics))
        if live is not None or time.monotonic() - self.last > FLUSH_S or step >= total:
            self.flush(live)
        while self.conn.poll():  # the executor's stop request
            if self.conn.recv()[0] == "stop" and not self.stop:
                self.stop = True
                self.conn.send(("stopping", self.job_id))  # seen: no kill while it finishes its partial results
        return self.stop

    def flush(self, live=None) -> None:
        """Send the rows not sent yet (and ``live``, the technique's latest snapshot or phase)."""
        if self.pending or live is not None:
            self.conn.send(("progress", self.job_id, list(self.pending), live))
            self.pending.clear()
        self.last = time.monotonic()


def main(conn: Connection) -> None:
    """A local worker: warm up, then run jobs from ``conn`` until it closes."""
    conn.send(("ready", prepare()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "run":
            continue  # a stop for a job that already ended
        _, job_id, technique, config, inputs = msg
        progress = Progress(conn, job_id)
        kind, payload = run_one(technique, config, progress, inputs)
        progress.flush()
        conn.send((kind, job_id, payload))


if __name__ == "__main__":  # python -m engine.core.worker FD
    try:
        main(Connection(int(sys.argv[1])))
    except (BrokenPipeError, ConnectionResetError, EOFError, KeyboardInterrupt):
        pass  # the app went away: nothing left to report to
