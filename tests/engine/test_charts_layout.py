"""Chart layout (issue #27 items 13-14): metrics on different scales never share an axis, a right-hand axis has round
ticks of its own, legends sit above the plot area, and long labels wrap instead of being cut off."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.core import charts


def rl_history(loss: bool = False) -> pd.DataFrame:
    steps = np.arange(1, 21)
    h = pd.DataFrame(
        {
            "step": steps,
            "return": np.linspace(10, 210, 20),
            "return_avg": np.linspace(10, 200, 20),
            "epsilon": np.linspace(1, 0.05, 20),
        }
    )
    if loss:
        h["loss"] = np.linspace(30, 2, 20)
    return h


def axis_of(fig, name: str) -> str:
    return next(t.yaxis for t in fig.data if t.name == name)


def test_epsilon_does_not_share_the_score_axis_and_the_right_axis_has_its_own_round_ticks():
    fig = charts.learning_curves(rl_history(), title="Live")
    assert axis_of(fig, "return") == axis_of(fig, "return avg") == "y"
    assert axis_of(fig, "epsilon") == "y2"
    # plotly's default for an overlaying axis is tickmode "sync": ticks at the left gridlines, labelled 41.8, 126.2
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.tickmode == "auto"


def test_three_scales_get_one_panel_each():
    fig = charts.learning_curves(rl_history(loss=True), title="Live")
    assert {axis_of(fig, "loss"), axis_of(fig, "return"), axis_of(fig, "epsilon")} == {"y", "y2", "y3"}
    assert fig.layout.yaxis2.overlaying is None and fig.layout.yaxis3.overlaying is None  # stacked, not overlaid
    assert fig.layout.height >= 3 * 200


def test_losses_and_scores_keep_their_two_axes():
    h = pd.DataFrame({"step": [1, 2, 3], "loss": [2.0, 1.0, 0.5], "accuracy": [0.5, 0.548, 0.605]})
    fig = charts.learning_curves(h)
    assert axis_of(fig, "loss") == "y" and axis_of(fig, "accuracy") == "y2"
    assert fig.layout.yaxis2.tickmode == "auto"


def test_learning_curve_and_compare_legends_sit_above_the_plot_area():
    for fig in (
        charts.learning_curves(rl_history()),
        charts.overlay_curves({"run a": rl_history(), "run b": rl_history()}, "return"),
    ):
        assert fig.layout.legend.y >= 1 and fig.layout.legend.yanchor == "bottom", fig.layout.title.text
        assert fig.layout.margin.t >= 80  # room for the title and the legend above the plot


def test_rl_and_federated_right_axes_have_round_ticks():
    from engine.rl import plots

    fig = plots.returns_figure(np.linspace(-100, 0, 50), np.linspace(1, 0.05, 50), 10, agent="q_learning")
    assert fig.layout.yaxis2.tickmode == "linear" and fig.layout.yaxis2.dtick == 0.2


def test_a_long_colour_bar_title_wraps_instead_of_being_cut():
    assert charts.wrap_label("colour intensity", 14) == "colour<br>intensity"
    assert "intensi" not in charts.wrap_label("colour intensity", 14).replace("intensity", "")


def test_log_axes_tick_at_round_numbers_or_at_the_data_and_say_them_in_plain_text():
    assert [charts.tick_text(v) for v in (0.05, 2, 1000, 20_000, 1_500_000)] == ["0.05", "2", "1,000", "20k", "1.5M"]
    assert charts.log_ticks([2_000, 200_000]) == [2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000]  # 1-2-5
    assert charts.log_ticks([1_000, 22e6]) == [1e3, 1e4, 1e5, 1e6, 1e7]  # many decades: powers of ten only
    assert charts.log_ticks([5, 60]) == [5, 10, 20, 50]
    assert len(charts.log_ticks([3, 4.5])) >= 2  # less than a decade still gets two ticks
    assert charts.log_ticks([12, 13, 60, 1200], at_data=True) == [12, 60, 1200]  # 13 would crowd 12
    axis = charts.log_axis([2_000, 200_000], title="weights")
    assert axis["type"] == "log" and axis["tickmode"] == "array" and axis["title"] == "weights"
    assert axis["ticktext"] == ["2,000", "5,000", "10k", "20k", "50k", "100k", "200k"]
