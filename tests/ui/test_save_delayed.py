"""The run store is down when a run finishes (issue 30 item 3): the job panel still hands back the results and
says, in a short caption, that saving is delayed; once the run is saved the caption goes."""

import sqlite3
import time
from types import SimpleNamespace

from streamlit.testing.v1 import AppTest

import engine.core.service as service_module
from engine.core.jobs import Job
from engine.core.service import DELAYED_NOTE, Service
from engine.core.store import RunStore


class Ended:
    """An executor whose one run has just finished."""

    device = "CPU"
    slots = 1

    def __init__(self):
        self.job = Job(id="e" * 32, technique="xai", config={}, status="done", started=1.0, finished=2.0)
        self.job.outcome = SimpleNamespace(run_id=self.job.id, seconds=1.0)
        self.listeners: list = []

    def get(self, job_id):
        return self.job if job_id == self.job.id else None

    def position(self, job_id):
        return 0

    def busy(self):
        return 0, 0

    def subscribe(self, listener):
        self.listeners.append(listener)


class Down(RunStore):
    down = True

    def finish(self, run_id, status, outcome=None, error=""):
        if self.down:
            raise sqlite3.OperationalError("disk I/O error")


def _panel():
    from engine import load
    from engine.core.config import validate
    from ui.jobs import job_panel

    module = load("xai")
    job_panel("xai", module, validate(module.Config, module.PRESETS["quick"]))


def test_a_finished_run_that_cannot_be_saved_yet_says_so(monkeypatch, tmp_path):
    ex, store = Ended(), Down(tmp_path / "runs.sqlite3")
    svc = Service(ex, store)
    svc.retry_first_s = svc.retry_max_s = 0.05
    monkeypatch.setattr(service_module, "_service", svc)
    for listener in ex.listeners:
        listener("ended", ex.job)
    end = time.time() + 10
    while svc.saving(ex.job.id) != "delayed" and time.time() < end:
        time.sleep(0.02)
    at = AppTest.from_function(_panel, default_timeout=60)
    at.session_state["xai._job"] = ex.job.id
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["xai._outcome"] is ex.job.outcome  # the results are handed back all the same
    assert DELAYED_NOTE in [c.value for c in at.caption]
    store.down = False
    end = time.time() + 10
    while not ex.job.recorded and time.time() < end:
        time.sleep(0.02)
    at.run()
    assert ex.job.recorded and DELAYED_NOTE not in [c.value for c in at.caption]
