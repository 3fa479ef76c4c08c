"""Edge AI page: a real quick run to results and SHAP, settings in the URL, and starting from a stored XAI run."""

from engine.core.pipeline import execute
from engine.core.service import service
from tests.pages.helpers import button, every_chart, open_page, open_tab, open_try_it, train_and_wait


def test_edge_page_compresses_the_quick_model_and_shows_results_and_shap():
    at = train_and_wait(open_page("edge"))
    outcome = at.session_state["edge._outcome"]
    m = outcome.metrics
    assert m["original_accuracy"] > 0.93 and m["size_reduction"] > 2.5 and m["onnx_max_abs_diff"] < 1e-4
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    open_try_it(at, "edge")
    answers = {m.label: m.value for m in at.metric}  # Try it: every version's answer to one digit, with its latency
    assert answers["Original (float32)"].endswith(" ms") and "Dynamic int8" in answers
    assert {"Variants compared", "Trade-off", "Sparsity per layer", "Weights before and after int8"} <= set(
        outcome.figures
    )
    # results + SHAP views (bar, beeswarm, waterfall, dependence) for both models + side by side + drift
    assert len(every_chart(at, "edge")) >= len(outcome.figures) + 2 * 4 + 2
    open_tab(at, "edge", "Explain")
    assert {"Original model", f"Shipped: {outcome.info['shipped']}"} <= {
        md.value.removeprefix("#### ") for md in at.markdown
    }
    text = " ".join(md.value for md in at.markdown)
    assert "It would ship" in text and "reloaded in ONNX Runtime" in text


def test_settings_come_from_the_url_and_switched_off_techniques_hide_their_settings():
    at = open_page("edge", query={"sparsity": "0.8", "prune_kind": "structured", "onnx": "false"})
    assert at.slider(key="edge.sparsity").value == 0.8 and at.selectbox(key="edge.prune_kind").value == "structured"
    assert at.toggle(key="edge.onnx").value is False
    assert not any(w.key == "edge.student_width" for w in at.slider)  # distillation is off: its settings hidden
    at.toggle(key="edge.distill").set_value(True).run()
    assert any(w.key == "edge.student_width" for w in at.slider) and at.query_params["distill"] == "true"
    for name in ("dynamic_int8", "prune", "distill"):
        at.toggle(key=f"edge.{name}").set_value(False).run()
    assert any("at least one technique" in e.value for e in at.error)
    assert button(at, "edge._train").disabled


def test_a_stored_xai_run_is_picked_and_compressed():
    at = open_page("edge")
    at.selectbox(key="edge.start_from").set_value("finished_run").run()
    assert any("no finished Explainable AI or NAS runs" in i.value for i in at.info)
    assert button(at, "edge._train").disabled  # nothing to start from yet
    xai = execute("xai", {"dataset": "wine", "epochs": 40, "explain_rows": 10})
    store = service().store
    store.start("f" * 32, at.session_state["_owner"], "xai", xai.config)  # a run this session made
    store.finish("f" * 32, "done", xai)
    at.run()
    assert at.selectbox(key="edge.run_pick").value == "f" * 32
    at.text_input(key="edge.run_link").set_value("https://example.org/xai?run=nothing-here").run()
    assert any("does not contain a run id" in e.value for e in at.error)
    at.text_input(key="edge.run_link").set_value("").run()
    at = train_and_wait(at)
    outcome = at.session_state["edge._outcome"]
    assert outcome.config["source_run"] == "f" * 32
    assert abs(outcome.metrics["original_accuracy"] - xai.metrics["test_accuracy"]) < 1e-9


def test_a_result_link_of_a_run_from_another_run_reads_as_a_result_in_a_fresh_browser():
    """Issue 27: an Edge AI result link that started from an XAI run, opened in another browser, showed the result
    under a red "These settings cannot run yet: Pick a finished ... run", a "You have no finished runs yet" box and
    a greyed Train. Now the run it started from is offered in the picker, and Train runs from it."""
    from tests.pages.helpers import stored_run

    xai_id = stored_run("xai", owner="someone", dataset="wine")
    edge_id = stored_run("edge", owner="someone", start_from="finished_run", source_run=xai_id)
    at = open_page("edge", {"run": edge_id})  # a fresh browser: owns no runs
    assert not at.error, [e.value for e in at.error]
    assert not any("no finished" in i.value for i in at.info)
    assert at.selectbox(key="edge.run_pick").value == xai_id
    assert "started from" in at.selectbox(key="edge.run_pick").help
    assert not button(at, "edge._train").disabled
    assert at.session_state["edge.start_from"] == "finished_run"


def test_a_result_link_whose_starting_run_is_gone_explains_how_to_train_without_an_error():
    from tests.pages.helpers import stored_run

    edge_id = stored_run("edge", owner="someone", start_from="finished_run", source_run="0" * 32)
    at = open_page("edge", {"run": edge_id})
    assert not at.error, [e.value for e in at.error]
    words = " ".join(i.value for i in at.info)
    assert "no longer stored" in words and "Explainable AI" in words
    assert button(at, "edge._train").disabled  # nothing to start from: the text above says how to get something
