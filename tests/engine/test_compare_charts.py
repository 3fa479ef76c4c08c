"""Issue 29.3: the pure builders behind the Runs page's comparison (no Streamlit): learning curves of several runs on
one chart, and a person's runs' settings against their headline metric."""

import pandas as pd
import plotly.graph_objects as go

from engine.core import charts


def _history(scale: float, steps: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"step": range(1, steps + 1), "loss": [scale / s for s in range(1, steps + 1)]})


def test_overlay_curves_draws_one_coloured_line_per_run_with_its_label():
    histories = {f"run {i} · epochs {e}": _history(e) for i, e in enumerate((5, 10, 30), 1)}
    histories["run 4 · no loss"] = pd.DataFrame({"step": [1], "accuracy": [0.5]})  # a run without the metric
    fig = charts.overlay_curves(histories, "loss", label="Training loss")
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["run 1 · epochs 5", "run 2 · epochs 10", "run 3 · epochs 30"]
    assert len({t.line.color for t in fig.data}) == 3  # one colour per run
    assert list(fig.data[2].y) == list(histories["run 3 · epochs 30"]["loss"])
    assert fig.layout.title.text == "Training loss, by run" and fig.layout.yaxis.title.text == "Training loss"
    assert charts.caption_of(fig)


def test_overlay_curves_labels_a_metric_from_its_name_by_default():
    fig = charts.overlay_curves({"a": _history(1)}, "loss")
    assert fig.layout.title.text == "Loss, by run"


def test_settings_vs_metric_uses_parallel_coordinates_for_several_varying_settings():
    settings = pd.DataFrame(
        {
            "Epochs": [5, 10, 30, 30],
            "Learning rate": [0.1, 0.01, 0.01, 0.001],
            "Dataset": ["wine", "iris"] * 2,
            "Seed": [0, 0, 0, 0],
        }
    )
    fig = charts.settings_vs_metric(settings, [0.7, 0.8, 0.9, 0.95], metric_label="Test accuracy")
    (trace,) = fig.data
    assert isinstance(trace, go.Parcoords)
    labels = [d.label for d in trace.dimensions]
    assert labels == ["Epochs", "Learning rate", "Dataset", "Test accuracy"]  # the constant seed is left out
    dataset = trace.dimensions[2]
    assert list(dataset.ticktext) == ["iris", "wine"] and list(dataset.values) == [1, 0, 1, 0]
    assert list(trace.dimensions[-1].values) == [0.7, 0.8, 0.9, 0.95]
    assert list(trace.line.color) == [0.7, 0.8, 0.9, 0.95]
    assert "Test accuracy" in charts.caption_of(fig)


def test_settings_vs_metric_is_a_scatter_for_one_or_no_varying_setting():
    one = charts.settings_vs_metric(
        pd.DataFrame({"Epochs": [5, 10, 30], "Seed": [1, 1, 1]}),
        [0.5, 0.6, 0.7],
        metric_label="Accuracy",
        run_labels=["a", "b", "c"],
    )
    (dots,) = one.data
    assert isinstance(dots, go.Scatter) and list(dots.x) == [5, 10, 30] and list(dots.text) == ["a", "b", "c"]
    assert one.layout.xaxis.title.text == "Epochs"
    none = charts.settings_vs_metric(pd.DataFrame({"Seed": [1, 1]}), [0.5, 0.6], metric_label="Accuracy")
    assert list(none.data[0].x) == ["run 1", "run 2"] and "same settings" in charts.caption_of(none)


def test_the_overlay_counts_in_each_technique_s_own_unit():
    from ui.runs import overlay_unit

    fig = charts.overlay_curves({"a": _history(1)}, "loss", unit="round")
    assert fig.layout.xaxis.title.text == "round" and "round by round" in charts.caption_of(fig)
    assert "round %{x}" in fig.data[0].hovertemplate
    assert charts.overlay_curves({"a": _history(1)}, "loss").layout.xaxis.title.text == "step"  # no unit given
    assert overlay_unit("federated", [{}, {"rounds": 5}]) == "round"
    assert overlay_unit("xai", [{"epochs": 3}, {}]) == "epoch"
    assert overlay_unit("nas", [{}, {}]) == "candidate"
    # an RL table agent's episodes beside a DQN's environment steps: both named, neither passed off as the other
    assert overlay_unit("rl", [{"agent": "sarsa"}, {"agent": "dqn"}]) == "episode or environment step"
