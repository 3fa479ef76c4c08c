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
    look_inside_the_real_model(at)
    assert not at.exception


def look_inside_the_real_model(at) -> None:
    """Issue 29 item 2: the Try it's real-model mode: type a sentence, open a head, see its measured type beside
    the toy; the view is kept in the address (its own link)."""
    from ui.tryit_inputs import REAL_MODE

    at.radio(key="attention.try.mode").set_value(REAL_MODE).run()
    sentence = "The dog chased the ball, and the dog was happy."
    at.text_input(key="attention.try.real.text").input(sentence).run()
    at.selectbox(key="attention.try.layer").set_value(1).run()
    at.selectbox(key="attention.try.head").set_value(3).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.text_input(key="attention.try.real.text").value == sentence  # a new head kept what was typed
    metrics = {m.label: m.value for m in at.metric}
    real, toy = metrics["Heads with a type: real · toy"].split(" · ")
    config = at.session_state["attention._outcome"].config
    assert real.endswith("/72") and toy.endswith(f"/{config['n_layers'] * config['n_heads']}"), metrics
    from engine.attention import pretrained

    look = pretrained.look(sentence)  # the page's label is the measurement, not a fixed name
    label = pretrained.head_labels(pretrained.head_measures(look.attention, look.tokens))[0][2]
    assert metrics["Layer 1, head 3 looks at"] == (pretrained.SHORT[label[0]] if label else "no one place"), metrics
    assert metrics["Share of its attention"] == (f"{label[1]:.0%}" if label else "spread out"), metrics
    query = {k: at.query_params[k] for k in ("look", "layer", "head")}
    assert [v[0] if isinstance(v, list) else v for v in query.values()] == [sentence, "1", "3"], query
    assert any("measured, not assumed" in str(md.value) for md in at.markdown)


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


def test_the_length_slider_follows_the_task():
    """Issue 27 item 16: bracket strings are even and at least 20 tokens long, so choosing brackets moves the
    length there and says so, and a link's unusable length reads as the one the task uses."""
    at = open_page("attention")
    assert at.slider(key="attention.seq_len").value == 12
    at.selectbox(key="attention.task").set_value("brackets").run()
    assert at.slider(key="attention.seq_len").value == 20 and any("at least 20" in i.value for i in at.info)
    at.slider(key="attention.seq_len").set_value(25).run()
    assert at.slider(key="attention.seq_len").value == 26 and not at.error
    at = open_page("attention", query={"task": "brackets", "seq_len": "9"})
    assert at.slider(key="attention.seq_len").value == 20 and not at.error
