"""GANs page: settings in the URL, a real ring run to results (animation, SHAP of the discriminator), bad combos."""

from tests.pages.helpers import every_chart, open_page, open_tab, open_try_it, train_and_wait


def test_gan_page_trains_on_the_ring_and_shows_results_and_shap():
    at = open_page("gan")
    assert at.selectbox(key="gan.dataset").value == "ring"
    at.selectbox(key="gan.loss").set_value("minimax").run()
    at.number_input(key="gan.steps").set_value(600).run()
    assert at.query_params["loss"] == "minimax" and at.query_params["steps"] == "600"  # the link reproduces it
    at = train_and_wait(at)
    outcome = at.session_state["gan._outcome"]
    m = outcome.metrics
    assert m["steps_run"] == 600 and m["mmd"] < m["mmd_start"] and m["modes_total"] == 8
    assert m["precision"] > m["noise_precision"] and outcome.headline == ["precision", "recall", "modes_covered"]
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    open_try_it(at, "gan")
    label = "Discriminator on the generated sample (P(real))"
    before = next(m.value for m in at.metric if m.label == label)
    at.slider(key="gan.try.0.z0").set_value(3.0).run()  # Try it: move the latent point
    assert next(m.value for m in at.metric if m.label == label) != before
    assert not at.exception
    # 7 result figures + SHAP views (bar, beeswarm, waterfall, dependence) for real and for generated samples
    assert len(every_chart(at, "gan")) >= 7 + 2 * 4
    assert [m.label for m in at.metric][:3] == ["Precision", "Recall", "Modes covered"]  # then Try it's
    assert "What just happened" in [s.value for s in at.subheader]
    assert any("of 8** modes" in m.value for m in at.markdown)
    open_tab(at, "gan", "Explain")
    assert {"Real samples", "Generated samples"} <= {m.value.removeprefix("#### ") for m in at.markdown}


def test_label_smoothing_with_the_wasserstein_loss_is_refused_in_plain_words():
    at = open_page("gan", query={"label_smoothing": "0.1"})
    assert at.slider(key="gan.label_smoothing").value == 0.1
    at.selectbox(key="gan.loss").set_value("wgan_gp").run()
    assert any("Label smoothing only applies" in e.value for e in at.error)
    assert next(b for b in at.button if b.key == "gan._train").disabled
