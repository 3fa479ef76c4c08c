"""Attention & transformers page: URL settings, the divisibility message, and a real run to results."""

from tests.pages.helpers import every_chart, open_page, open_try_it, train_and_wait


def test_attention_page_trains_and_shows_results():
    at = open_page("attention")
    at.selectbox(key="attention.task").set_value("sentiment").run()
    assert at.query_params["task"] in ("sentiment", ["sentiment"])  # AppTest versions differ in list-wrapping
    at = train_and_wait(at)
    outcome = at.session_state["attention._outcome"]
    m = outcome.metrics
    assert m["test_accuracy"] > m["baseline_test_accuracy"] + 0.15, m
    assert "test_accuracy_no_positional_encoding" in m
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    charts = every_chart(at, "attention")
    assert len(charts) >= len(outcome.figures) + 2  # results + attention vs SHAP + tokens that matter most
    assert "Attention maps" in outcome.figures and "Attention vs SHAP" in outcome.explain_figures
    maps = outcome.figures["Attention maps"]  # issue 13 item 15: horizontal, readable tick labels
    assert all(maps.layout[k].tickangle in (0, None) for k in maps.layout if k.startswith(("xaxis", "yaxis")))
    assert outcome.headline[:2] == ["test_accuracy", "test_accuracy_no_positional_encoding"]
    assert "What just happened" in [s.value for s in at.subheader]
    open_try_it(at, "attention")
    answers = {}
    for review in ("the food was good", "the food was not good"):  # Try it: "not" flips the typed review
        at.text_input(key="attention.try.text.0").input(review).run()
        answers[review] = next(m.value for m in at.metric if m.label == "Transformer")
    assert answers["the food was good"].startswith("positive") and answers["the food was not good"].startswith(
        "negative"
    ), answers
    assert not at.exception


def test_embedding_size_not_divisible_by_heads_gets_a_clear_message():
    at = open_page("attention")
    at.slider(key="attention.embedding_size").set_value(30).run()
    at.slider(key="attention.n_heads").set_value(4).run()
    errors = " ".join(e.value for e in at.error)
    assert "`embedding_size` must be divisible by `n_heads`" in errors, errors
    train = next(b for b in at.button if b.key == "attention._train")
    assert train.disabled
    # the same combination from a shared link: the clashing value is ignored with a warning
    at = open_page("attention", query={"embedding_size": "30", "n_heads": "4"})
    assert "divisible" in " ".join(w.value for w in at.warning)
