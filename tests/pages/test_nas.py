"""NAS page: strategy switches in the URL, a small real search to results and SHAP, and refused settings."""
from tests.pages.helpers import open_page, train_and_wait


def test_nas_page_searches_and_shows_every_view():
    at = open_page("nas", query={"budget": "4", "population_size": "2"})
    assert at.toggle(key="nas.random").value and at.toggle(key="nas.evolution").value and at.toggle(key="nas.rl").value
    assert at.slider(key="nas.budget").value == 4
    at.toggle(key="nas.tpe").set_value(True).run()
    assert at.query_params["tpe"] == "true"  # the link reproduces the strategy choice
    at = train_and_wait(at)
    outcome = at.session_state["nas._outcome"]
    assert outcome.metrics["candidates"] == 16  # 4 strategies x budget 4
    assert outcome.headline == ["best_accuracy_random", "best_accuracy_evolution", "best_accuracy_rl",
                                "best_accuracy_tpe"]
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Details"]
    assert {"Best so far", "Accuracy vs size", "Best architectures", "Evolution population",
            "Controller probabilities", "All trials", "Search space"} <= set(outcome.figures)
    assert outcome.explanation is not None and len(outcome.explanation.feature_names) == 8
    assert len(at.get("plotly_chart")) >= 7 + 4 + 2  # results + four SHAP views + surrogate check and option means
    assert "What just happened" in [s.value for s in at.subheader]


def test_switching_every_strategy_off_is_refused_and_hidden_settings_follow_the_switches():
    at = open_page("nas")
    assert any(s.key == "nas.population_size" for s in at.slider)
    for name in ("random", "evolution", "rl"):
        at.toggle(key=f"nas.{name}").set_value(False).run()
    assert not any(s.key == "nas.population_size" for s in at.slider)  # evolution's settings hide with it
    assert any("at least one search strategy" in e.value for e in at.error)
    assert next(b for b in at.button if b.key == "nas._train").disabled
