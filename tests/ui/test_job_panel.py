"""The job panel through the Executor protocol alone: a stand-in executor (no worker processes) reports a queued
run, and the panel tells the person where they stand in the queue and what the server is doing."""

from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

import engine.core.service as service_module
from engine.core.jobs import Job
from engine.core.service import Service


class QueueExecutor:
    """Everything the app asks of an executor (engine.core.jobs.Executor), with one run waiting in the queue."""

    def __init__(self, position: int, device: str = "CPU"):
        self.job = Job(id="f" * 32, technique="xai", config={})
        self._position, self._device, self.cancelled, self.listeners = position, device, [], []

    @property
    def device(self) -> str:
        return self._device

    def submit(self, technique, config, owner="", job_id=None):
        raise AssertionError("the panel must not submit without a Train click")

    def get(self, job_id):
        return self.job if job_id == self.job.id else None

    def cancel(self, job_id):
        self.cancelled.append(job_id)

    def position(self, job_id):
        return self._position if job_id == self.job.id else 0

    def busy(self):
        return 2, self._position

    def subscribe(self, listener):
        self.listeners.append(listener)

    def close(self):
        pass


def _panel():
    from engine import load
    from engine.core.config import validate
    from ui.jobs import job_panel

    module = load("xai")
    job_panel("xai", module, validate(module.Config, module.PRESETS["quick"]))


@pytest.fixture
def executor(monkeypatch):
    def use(ex):
        monkeypatch.setattr(service_module, "_service", Service(ex, None))
        at = AppTest.from_function(_panel, default_timeout=60)
        at.session_state["xai._job"] = ex.job.id  # this session's queued run
        return at.run()

    return use


def test_a_queued_run_shows_its_place_in_the_queue(executor):
    at = executor(QueueExecutor(position=3))
    assert not at.exception, [e.message for e in at.exception]
    texts = [i.value for i in at.info]
    assert any("you are number 3 in the queue" in t for t in texts), texts
    assert "training 2 run(s) with 3 waiting" in at.caption[0].value
    assert "a first guess" in at.caption[0].value  # nothing has finished on this server yet
    assert next(b for b in at.button if b.key == "xai._train").disabled  # one run at a time per page


def test_before_the_workers_are_ready_the_panel_says_they_are_starting(executor):
    at = executor(QueueExecutor(position=1, device=""))
    texts = [i.value for i in at.info]
    assert any("Starting the training workers" in t for t in texts) and not any("in the queue" in t for t in texts)
    assert "after the training workers start" in at.caption[0].value  # the estimate counts the start-up too


def test_stop_on_a_queued_run_cancels_it(executor):
    ex = QueueExecutor(position=2)
    at = executor(ex)
    next(b for b in at.button if b.key == "xai._stop").click().run()
    assert ex.cancelled == [ex.job.id]


def test_a_preparing_run_names_its_phase_with_its_own_progress(executor):
    import time

    ex = QueueExecutor(position=0)
    ex.job.status, ex.job.started, ex.job.total = "running", time.time(), 0
    ex.job.phase = {"phase": "Pretraining the network on the source digits", "fraction": 0.25}
    at = executor(ex)
    bar = at.get("progress")[0].proto
    assert bar.text.startswith("Pretraining the network on the source digits…") and bar.value == 25
    assert "step 0 of" not in bar.text


def test_the_estimate_comes_from_how_fast_runs_went_on_this_server(monkeypatch):
    from engine import load

    ex = QueueExecutor(position=1)  # the one slot is training, one run is waiting
    monkeypatch.setattr(service_module, "_service", Service(ex, None))
    quick = load("xai").PRESETS["quick"]
    done = Job(
        id="d" * 32,
        technique="xai",
        config=quick,
        status="done",
        started=100.0,
        finished=140.0,
        outcome=SimpleNamespace(seconds=40.0),
    )  # the same settings took 40 s (the static guess: about 3 s)
    for listen in ex.listeners:
        listen("ended", done)
    at = AppTest.from_function(_panel, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.caption[0].value == (
        "Estimated time: about 2.0 min (training about 40 s, from how fast recent runs "
        "went on this server, plus about 80 s waiting for a free slot)."
    )


def _gan_at_its_maximums():
    from engine import load
    from engine.core.config import validate
    from ui.jobs import job_panel

    module = load("gan")
    big = {"steps": 20000, "batch_size": 1024, "d_steps": 10, "g_width": 256, "d_width": 256}
    job_panel("gan", module, validate(module.Config, {**module.PRESETS["quick"], **big}))


def test_a_run_past_the_time_limit_is_refused_before_train_with_the_settings_that_cost_the_most(monkeypatch):
    ex = QueueExecutor(position=0)
    ex.timeout_s = 900.0  # the executors' default per-run time limit
    monkeypatch.setattr(service_module, "_service", Service(ex, None))
    monkeypatch.delenv("FRONTIER_SINGLE_USER", raising=False)
    at = AppTest.from_function(_gan_at_its_maximums, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    [warning] = [w.value for w in at.warning]
    assert "over this server's limit of 15 min per run, so it cannot start" in warning, warning
    assert "What costs the most: Generator updates (steps) at 20000" in warning and "Quick look" in warning, warning
    assert next(b for b in at.button if b.key == "gan._train").disabled

    monkeypatch.setenv("FRONTIER_SINGLE_USER", "1")  # a personal server: told, and it may start
    at = AppTest.from_function(_gan_at_its_maximums, default_timeout=60).run()
    assert not at.warning and any("it will be stopped then" in i.value for i in at.info)
    assert not next(b for b in at.button if b.key == "gan._train").disabled


def test_settings_expected_not_to_show_the_effect_say_so_before_train(monkeypatch):
    """A Config's expectation() (a setting that is expected to lose, and why) is shown beside Train, before any
    run; settings with no such note show none."""
    from engine import load

    monkeypatch.setattr(service_module, "_service", Service(QueueExecutor(position=0), None))
    at = AppTest.from_function(_panel, default_timeout=60).run()
    assert not at.exception and not any("Expected to lose" in i.value for i in at.info)
    monkeypatch.setattr(load("xai").Config, "expectation", lambda self: "Expected to lose here: too few rows.")
    at = AppTest.from_function(_panel, default_timeout=60).run()
    assert [i.value for i in at.info if "Expected to lose" in i.value] == ["Expected to lose here: too few rows."]
    assert not next(b for b in at.button if b.key == "xai._train").disabled  # a note, not a refusal


def test_time_estimates_never_round_to_zero():
    """A very fast run's estimate read "about 0 s" (RL FrozenLake): it says "under 1 s" instead."""
    from engine.core.service import wait_text
    from ui.jobs import about

    assert about(0.2) == "under 1 s" and about(0.0) == "under 1 s"
    assert about(0.6) == "about 1 s" and about(40) == "about 40 s" and about(120) == "about 2.0 min"
    assert wait_text(0.2) == "1 s" and wait_text(40) == "40 s"


def test_the_live_chart_names_curves_in_words_and_counts_the_technique_s_unit():
    import engine
    from tests.engine.helpers import x_titles
    from ui.jobs import live_curves

    rows = [
        {
            "step": r,
            "global_accuracy": 0.5 + r / 10,
            "centralized_accuracy": 0.8,
            "local_only_accuracy_mean": 0.4,
            "worst_client_accuracy": 0.3,
            "loss": 1 / r,
            "client_drift": 1.5 + r,
        }
        for r in (1, 2, 3)
    ]
    fig = live_curves("federated", engine.load("federated"), {}, rows)
    assert x_titles(fig) == {"round"}
    names = [t.name for t in fig.data]
    labels = engine.load("federated").METRICS
    assert {labels["global_accuracy"].label, labels["worst_client_accuracy"].label} <= set(names)
    assert {"Clients' training loss (mean)", "Client drift"} <= set(names)  # per round, not "(last round)"
    titles = [a.title.text for a in fig.select_yaxes()]  # loss, drift and accuracies: one panel each
    assert len(titles) == len(set(titles)) == 3 and "Client drift" in titles  # drift is no "score"
    domains = sorted(tuple(a.domain) for a in fig.select_yaxes())
    assert all(low[1] < high[0] for low, high in zip(domains, domains[1:]))  # panels apart, titles with them
    first = live_curves("federated", engine.load("federated"), {}, rows[:1])
    assert {t.mode for t in first.data} == {"markers"}  # the first round shows as dots, not an empty chart
    assert not [n for n in names if "_" in n or n != n.strip() or n[:1].islower()], names
