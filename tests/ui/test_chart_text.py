"""Every chart has a text alternative under it: its title and its one-line takeaway (issue 27 item 21)."""

import plotly.graph_objects as go

from ui.results import chart_text


def test_the_text_names_the_chart_and_says_its_takeaway():
    fig = go.Figure(
        layout={"title": {"text": "Loss per epoch<br><sup>lower is better</sup>"}, "meta": {"caption": "It fell."}}
    )
    assert chart_text(fig) == "**Loss per epoch lower is better.** It fell."


def test_a_title_from_a_visitor_is_shown_as_text_and_a_chart_without_title_keeps_its_caption():
    fig = go.Figure(layout={"title": {"text": "SHAP of [x](http://evil) *y*"}})
    text = chart_text(fig)
    assert "](" not in text.replace("\\]\\(", "") and "\\*y\\*" in text
    assert chart_text(go.Figure(layout={"meta": {"caption": "Only words."}})) == "Only words."
    assert chart_text(go.Figure()) == ""
