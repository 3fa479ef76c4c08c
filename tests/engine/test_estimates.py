"""Time estimates from this server's measured speed (issue 13): runs that took 10x their technique's static
estimate make the next estimate 10x, a restarted server reads its speed back from the run store (SQLite and
PostgreSQL), and runs waiting in the queue add their wait."""

import secrets
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from engine.core.jobs import Job
from engine.core.pipeline import Outcome
from engine.core.service import Service
from engine.core.store import RUNS, RunStore

SHORT = {"steps": 5, "step_seconds": 0.2}  # the fake technique's static estimate: 5 x 0.2 = 1 s
LONG = {"steps": 10, "step_seconds": 0.2}  # 2 s


@pytest.fixture(autouse=True)
def fake_technique(monkeypatch):
    monkeypatch.setenv("FRONTIER_EXTRA_TECHNIQUES", "fake=tests.engine.fake_technique")


class StandIn:
    """An executor that trains nothing: the test ends each run, saying how long it took."""

    slots, device = 1, "CPU"

    def __init__(self):
        self.listeners, self.jobs, self.load = [], {}, (0, 0)

    def submit(self, technique, config, owner="", job_id=None):
        job = Job(id=job_id or secrets.token_hex(16), technique=technique, config=config, owner=owner)
        self.jobs[job.id] = job
        return job

    def get(self, job_id):
        return self.jobs.get(job_id)

    def cancel(self, job_id):
        pass

    def position(self, job_id):
        return 0

    def busy(self):
        return self.load

    def subscribe(self, listener):
        self.listeners.append(listener)

    def close(self):
        pass

    def end(self, job, seconds, status="done"):
        job.status, job.started = "running", 1000.0
        for listen in self.listeners:
            listen("running", job)
        job.status, job.finished = status, 1000.0 + seconds
        job.outcome = Outcome(
            technique=job.technique,
            config=dict(job.config),
            status=status,
            metrics={"final_loss": 0.2},
            history=pd.DataFrame({"step": [1], "loss": [0.2]}),
            seconds=seconds,
        )
        for listen in self.listeners:
            listen("ended", job)
        return job


def test_runs_that_took_ten_times_their_estimate_make_the_next_estimate_ten_times():
    ex = StandIn()
    app = Service(ex, None)
    first = app.estimate("fake", LONG)
    assert first.train_s == pytest.approx(2.0) and not first.measured  # nothing measured yet: the static guess
    for seconds in (9.0, 10.0, 11.0):
        ex.end(app.submit("fake", SHORT), seconds)
    ex.end(app.submit("fake", SHORT), 0.5, status="stopped")  # a partial run says nothing about speed
    ex.end(app.submit("fake", {"steps": 5}), 30.0)  # static estimate 0 s: no ratio
    ex.end(app.submit("fake", {"steps": -1}), 30.0)  # not a valid config: skipped, not an error
    est = app.estimate("fake", LONG)
    assert est.measured and est.train_s == pytest.approx(20.0)
    assert est.wait_s == 0.0 and est.total_s == pytest.approx(20.0)  # an idle server: no wait


def test_each_technique_is_scaled_by_its_own_runs_and_a_new_one_by_all_runs(monkeypatch):
    monkeypatch.setenv(
        "FRONTIER_EXTRA_TECHNIQUES", "fake=tests.engine.fake_technique,other=tests.engine.fake_technique"
    )
    ex = StandIn()
    app = Service(ex, None)
    for seconds in (9.0, 10.0, 11.0):  # 10x its guess
        ex.end(app.submit("fake", SHORT), seconds)
    ex.end(app.submit("other", SHORT), 1.0)  # right on its guess
    assert app.estimate("fake", LONG).train_s == pytest.approx(20.0)
    assert app.estimate("other", LONG).train_s == pytest.approx(2.0)
    monkeypatch.setenv(
        "FRONTIER_EXTRA_TECHNIQUES",
        "fake=tests.engine.fake_technique,other=tests.engine.fake_technique,third=tests.engine.fake_technique",
    )
    assert app.estimate("third", LONG).train_s == pytest.approx(2.0 * 10.0)  # the median of 1, 9, 10 and 11 (upper)


def test_the_measured_slowdown_is_kept_within_sane_bounds():
    ex = StandIn()
    app = Service(ex, None)
    ex.end(app.submit("fake", SHORT), 5000.0)  # a run that hung for ages is not 5000x the speed of the server
    assert app.estimate("fake", LONG).train_s == pytest.approx(2.0 * 50)


def test_runs_waiting_in_the_queue_add_their_wait():
    ex = StandIn()
    app = Service(ex, None)
    for seconds in (9.0, 10.0, 11.0):
        ex.end(app.submit("fake", SHORT), seconds)
    ex.load = (1, 2)  # one slot, training one run, two waiting: three runs of about 10 s before ours starts
    est = app.estimate("fake", LONG)
    assert est.wait_s == pytest.approx(30.0) and est.train_s == pytest.approx(20.0)
    assert est.total_s == pytest.approx(50.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path, monkeypatch):
    monkeypatch.delenv("FRONTIER_DATABASE_URL", raising=False)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return lambda: RunStore(url=url)
    return lambda: RunStore(tmp_path / "runs.sqlite3")


def test_a_restarted_server_reads_its_speed_back_from_the_run_store(open_store):
    store = open_store()
    ex = StandIn()
    app = Service(ex, store)
    jobs = [ex.end(app.submit("fake", SHORT), seconds) for seconds in (9.0, 10.0, 11.0)]
    elsewhere = [ex.end(app.submit("fake", SHORT), 500.0) for _ in range(3)]
    end = time.time() + 60
    while not all(j.recorded for j in jobs + elsewhere) and time.time() < end:
        time.sleep(0.02)
    assert all(j.recorded for j in jobs + elsewhere)
    with store.engine.begin() as db:  # a shared database: another app server's speed is not this one's
        db.execute(
            sa.update(RUNS).where(RUNS.c.id.in_([j.id for j in elsewhere])).values(server_host="another-app-server")
        )

    restarted = StandIn()
    again = Service(restarted, open_store())
    est = again.estimate("fake", LONG)
    assert est.measured and est.train_s == pytest.approx(20.0)
    restarted.load = (1, 0)  # the one slot is busy: about one run's time before ours starts
    assert again.estimate("fake", LONG).wait_s == pytest.approx(10.0)


# --- runs that cannot finish within the time limit per run (issue 30) --------------------------------------------
class Limited(StandIn):
    timeout_s = 900.0  # the executors' default FRONTIER_RUN_TIMEOUT_S


def test_a_run_estimated_past_the_time_limit_is_refused_naming_the_settings_that_cost_the_most(monkeypatch):
    from engine.core.service import Busy, TooLong

    monkeypatch.delenv("FRONTIER_SINGLE_USER", raising=False)
    ex = Limited()
    app = Service(ex, None)
    assert app.time_limit_s == 900.0 and app.too_long("fake", LONG) is None
    slow = {"steps": 1000, "step_seconds": 10.0}  # 10 000 s; with each setting back at its default: 50 s, 0 s
    message = app.too_long("fake", slow)
    assert message.startswith("This run would take about 2.8 h here, over this server's limit of 15 min per run")
    assert "so it cannot start. What costs the most: Step seconds at 10 (about 0 s at its default, 0); " in message
    assert "Steps at 1000 (about 50 s at its default, 5)." in message and "Quick look" in message
    with pytest.raises(TooLong, match="cannot start") as refused:
        app.submit("fake", slow, owner="someone")
    assert isinstance(refused.value, Busy) and not ex.jobs and not app.active_runs("someone")  # never queued
    assert app.submit("fake", LONG, owner="someone").status == "queued"


def test_a_personal_server_may_start_a_run_past_the_time_limit_and_is_told_what_happens(monkeypatch):
    monkeypatch.setenv("FRONTIER_SINGLE_USER", "1")
    ex = Limited()
    app = Service(ex, None)
    slow = {"steps": 1000, "step_seconds": 10.0}
    assert "it will be stopped then, keeping what it learned so far" in app.too_long("fake", slow)
    assert app.submit("fake", slow).status == "queued"


def test_every_slider_at_its_maximum_either_fits_the_time_limit_or_is_refused_before_it_starts(monkeypatch):
    """GAN (33 h), quantum, attention and NAS (over an hour) at their maximums were started, then ended at 15 min."""
    import engine
    from engine.core.config import ConfigError, form_fields, validate

    monkeypatch.delenv("FRONTIER_SINGLE_USER", raising=False)
    app = Service(Limited(), None)
    refused = []
    for name in engine.TECHNIQUES:
        module = engine.load(name)
        values = dict(module.PRESETS["quick"])
        for field, info in form_fields(module.Config).items():
            highest = [m.le for m in info.metadata if getattr(m, "le", None) is not None]
            if info.annotation in (int, float) and field != "seed" and highest:
                values[field] = highest[0]
        try:
            config = validate(module.Config, values)
        except ConfigError:  # not every maximum fits the others (e.g. more labels than examples)
            continue
        message = app.too_long(name, config)
        if app.estimate(name, config).train_s > 900:
            assert message and "What costs the most: " in message, (name, message)
            refused.append(name)
        else:
            assert message is None, (name, message)
    assert {"gan", "quantum", "attention", "nas"} <= set(refused), refused
