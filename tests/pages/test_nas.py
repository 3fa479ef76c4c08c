"""NAS page: strategy switches in the URL, a small real search to results and SHAP, and refused settings."""

import secrets
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.core.pipeline import execute
from engine.core.service import service
from tests.pages.helpers import every_chart, open_page, open_tab, train_and_wait

ROOT = Path(__file__).resolve().parents[2]


def test_nas_page_searches_and_shows_every_view():
    at = open_page(  # two searches of one epoch per candidate: less training than one search of two epochs
        "nas",
        query={
            "budget": "3",
            "searches": "2",
            "epochs_per_candidate": "1",
            "population_size": "2",
            "tournament_size": "2",
        },
    )
    assert at.toggle(key="nas.random").value and at.toggle(key="nas.evolution").value and at.toggle(key="nas.rl").value
    assert at.slider(key="nas.budget").value == 3
    at.toggle(key="nas.tpe").set_value(True).run()
    assert at.query_params["tpe"] == "true"  # the link reproduces the strategy choice
    at = train_and_wait(at)
    outcome = at.session_state["nas._outcome"]
    assert outcome.metrics["candidates"] == 24  # 4 strategies x budget 3 x 2 searches
    assert outcome.headline == [  # the claim is each strategy's average proposal (issue 28), not its lucky best
        "mean_accuracy_random",
        "mean_accuracy_evolution",
        "mean_accuracy_rl",
        "mean_accuracy_tpe",
    ]
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    assert {
        "Best so far",
        "Every proposal",
        "Accuracy vs size",
        "Best architectures",
        "Evolution population",
        "Controller probabilities",
        "All trials",
        "Search space",
    } <= set(outcome.figures)
    assert outcome.explanation is not None and len(outcome.explanation.feature_names) == 8
    assert len(every_chart(at, "nas")) >= 7 + 4 + 2  # results + four SHAP views + surrogate check and option means
    assert "What just happened" in [s.value for s in at.subheader]


def test_switching_every_strategy_off_is_refused_and_hidden_settings_follow_the_switches():
    at = open_page("nas")
    assert any(s.key == "nas.population_size" for s in at.slider)
    for name in ("random", "evolution", "rl"):
        at.toggle(key=f"nas.{name}").set_value(False).run()
    assert not any(s.key == "nas.population_size" for s in at.slider)  # evolution's settings hide with it
    assert any("at least one search strategy" in e.value for e in at.error)
    assert next(b for b in at.button if b.key == "nas._train").disabled


def test_a_clicked_candidate_is_inspected_and_the_winner_opens_on_the_edge_page():
    """On a stored NAS run (its result link): click-to-inspect under "Accuracy vs size" (the winner until a click),
    the winner's network diagram in Details, then "compress the winner on the Edge AI page"."""
    outcome = execute("nas", {"evolution": False, "rl": False, "budget": 3, "epochs_per_candidate": 1})
    run_id = secrets.token_hex(16)  # the data folder is shared by the whole test session
    store = service().store
    store.start(run_id, "someone", "nas", outcome.config)
    store.finish(run_id, "done", outcome)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("pages/nas.py").run()
    assert not at.exception, [e.message for e in at.exception]
    h = outcome.history
    assert "#### The winner · click any dot above to inspect another candidate" in [m.value for m in at.markdown]
    winner = h.sort_values(["accuracy", "parameters", "step"], ascending=[False, True, True]).iloc[0]
    assert _shown(at, "validation accuracy") == f"{winner.accuracy:.1%}"
    other = h[h.step != winner.step].iloc[0]
    # what Streamlit stores when a point is clicked: the trial's step travels in the point's customdata
    at.session_state["nas.fig.accuracy_vs_size"] = {
        "selection": {
            "points": [{"curve_number": 0, "point_index": int(other.candidate) - 1, "customdata": [int(other.step)]}],
            "point_indices": [int(other.candidate) - 1],
            "box": [],
            "lasso": [],
        }
    }
    at.run()
    assert "#### The candidate you clicked" in [m.value for m in at.markdown]
    assert _shown(at, "proposed by") == f"Random search, candidate {other.candidate}"
    assert _shown(at, "filters") == str(other.filters)
    open_tab(at, "nas", "Details")
    assert any(e.label.startswith("Network diagram: best") for e in at.expander)  # Details: the winner drawn
    next(b for b in at.button if b.key == "nas.to_edge").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="edge.start_from").value == "finished_run"
    assert at.text_input(key="edge.run_link").value == run_id  # the winner's run, ready to compress
    assert not next(b for b in at.button if b.key == "edge._train").disabled


def _shown(at, setting: str) -> str:
    """A value in the inspected candidate's settings table."""
    table = next(d.value for d in at.dataframe if list(d.value.columns) == ["setting", "value"])
    return table.set_index("setting").loc[setting, "value"]


def test_try_it_reads_a_digit_with_the_best_architecture():
    from engine.core import tryit
    from tests.pages.helpers import digit_try_it_matches_the_engine

    at = train_and_wait(
        open_page("nas", query={"evolution": "false", "rl": "false", "budget": "3", "epochs_per_candidate": "1"})
    )
    assert "Try it" in [t.label for t in at.tabs]
    digit_try_it_matches_the_engine(
        at,
        "nas",
        "Best architecture says",
        lambda b, im: tryit.answer("nas", b, {"image": im}).summary["Best architecture says"],
    )
