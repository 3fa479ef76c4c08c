"""Phases (issue 13 item 14): a run says what it does before its first step and after its last, so the job panel
shows "Loading the pretrained sentence encoder" with its own progress instead of empty axes."""

from engine.core.contract import Tracker, is_phase, phase_snapshot
from engine.core.jobs import Job, apply_progress
from engine.core.pipeline import execute


def _recorder(stop_on=None):
    calls = []

    def progress(step, total, metrics, live=None):
        calls.append((step, total, dict(metrics), live))
        return stop_on is not None and is_phase(live) and live["phase"].startswith(stop_on)

    return calls, progress


def test_a_phase_before_the_first_step_carries_no_step_and_can_stop_the_run():
    calls, progress = _recorder(stop_on="Pretraining")
    tracker = Tracker(progress, total=5)
    assert not tracker.phase("Loading the data")
    assert tracker.phase("Pretraining the network", 1.7)  # the person pressed Stop while it pretrained
    assert calls == [
        (0, 0, {}, {"phase": "Loading the data", "fraction": None}),
        (0, 0, {}, {"phase": "Pretraining the network", "fraction": 1.0}),
    ]  # fraction kept in 0-1
    assert tracker.stopped and tracker.rows == []  # a phase is not a history row


def test_a_phase_after_steps_keeps_the_step_reached():
    calls, progress = _recorder()
    tracker = Tracker(progress, total=4)
    tracker.step(1, loss=0.5)
    tracker.phase("Sweeping label budgets", 0.5)
    assert calls[-1] == (1, 4, {}, {"phase": "Sweeping label budgets", "fraction": 0.5})


def test_the_job_keeps_a_phase_apart_from_the_techniques_live_snapshot():
    job = Job(id="a" * 32, technique="gan", config={})
    apply_progress(job, [(0, 0, {})], phase_snapshot("Preparing the data and building the model"))
    assert job.phase["phase"].startswith("Preparing") and job.live is None and job.rows == [] and job.total == 0
    apply_progress(job, [(1, 10, {"loss": 2.0})], {"points": [[0, 1]]})  # the first step and a live snapshot
    assert job.phase is None and job.live == {"points": [[0, 1]]} and (job.step, job.total) == (1, 10)
    apply_progress(job, [(2, 10, {})], None)  # Tracker.tick: the step moves, no history row
    assert job.step == 2 and job.rows == [{"step": 1, "loss": 2.0}]
    apply_progress(job, [(0, 0, {})], phase_snapshot("Drawing the charts"))
    assert job.phase["phase"] == "Drawing the charts" and (job.step, job.total) == (2, 10)  # a phase moves no step
    assert job.live == {"points": [[0, 1]]}  # live_figure never receives a phase


def test_execute_announces_shap_after_training_and_nothing_before_it():
    calls, progress = _recorder()
    execute("xai", {"dataset": "iris", "epochs": 3, "explain_rows": 10}, progress)
    phases = [(i, live["phase"]) for i, (_s, _t, _m, live) in enumerate(calls) if is_phase(live)]
    steps = [i for i, (_s, _t, metrics, _l) in enumerate(calls) if metrics]
    assert [p for _, p in phases] == ["Explaining the model's answers (SHAP)"]  # charts are drawn on read
    assert phases[0][0] > steps[-1]  # after the last step
    assert calls[0][2]  # the first call is run's own first step: a Stop seen before it is for run to act on


def test_transfer_text_names_the_encoder_load_and_stops_before_it():
    import engine.transfer as T

    calls, progress = _recorder(stop_on="Loading the pretrained sentence encoder")
    result = T.run(T.Config(), progress)
    assert result.stopped and result.metrics["epochs_run"] == 0
    assert [live["phase"] for *_x, live in calls] == ["Loading the pretrained sentence encoder"]


def test_transfer_images_report_pretraining_progress(tmp_path, monkeypatch):
    import engine.transfer as T
    from engine.core.config import validate

    monkeypatch.setenv("FRONTIER_DATA_DIR", str(tmp_path))  # no cached network: it pretrains here
    calls, progress = _recorder(stop_on="Pretraining")
    config = validate(T.Config, {"track": "images", "pretrain_epochs": 4})
    result = T.run(config, progress)
    fractions = [live["fraction"] for *_x, live in calls if is_phase(live) and live["phase"].startswith("Pretrain")]
    assert result.stopped and fractions == [0.25]  # Stop after the first of four pretraining epochs
