"""GANs page: settings in the URL, a real ring run to results (animation, SHAP of the discriminator), bad combos."""

import pytest

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
    # 8 result figures (the copying check too) + SHAP views (bar, beeswarm, waterfall, dependence) for real and
    # for generated samples
    assert len(every_chart(at, "gan")) >= 8 + 2 * 4
    assert any("Copies its training points: **no**" in m.value for m in at.markdown)
    assert [m.label for m in at.metric][:3] == ["Precision", "Recall", "Modes covered"]  # then Try it's
    assert at.metric[2].value == f"{m['modes_covered']:.0f} of 8"  # a count with its total, never a bare "7"
    assert "What just happened" in [s.value for s in at.subheader]
    assert any("of 8** modes" in m.value for m in at.markdown)
    open_tab(at, "gan", "Explain")
    assert {"Real samples", "Generated samples"} <= {m.value.removeprefix("#### ") for m in at.markdown}


def test_label_smoothing_is_cleared_when_the_wasserstein_loss_is_chosen():
    """The Wasserstein critic has no labels to smooth (the Config refuses the pair in plain words, test_gan.py); the
    form clears it with the loss's other companions instead of showing an error."""
    at = open_page("gan", query={"label_smoothing": "0.1"})
    assert at.slider(key="gan.label_smoothing").value == 0.1
    at.selectbox(key="gan.loss").set_value("wgan_gp").run()
    assert at.session_state["gan.label_smoothing"] == 0.0 and not at.error
    assert not next(b for b in at.button if b.key == "gan._train").disabled


# --- issue 29.1: "Draw your own" ------------------------------------------------------------------------------


def _drawing_code() -> str:
    from engine.gan.drawing import encode

    blobs = ([-0.6, -0.5], [0.6, -0.5], [0.0, 0.6])
    return encode([[x + dx, y + dy] for x, y in blobs for dx in (-0.05, 0, 0.05) for dy in (0, 0.05)])  # 6 each


def _recorded(run_id: str, timeout: float = 30) -> None:
    import time

    from engine.core.service import service

    store = service().store
    assert store is not None
    end = time.time() + timeout
    while time.time() < end:
        row = store.get(run_id)
        if row and row["status"] == "done":
            return
        time.sleep(0.1)
    raise AssertionError("the run was not recorded")


def test_a_drawing_from_the_link_is_on_the_pad_trains_and_its_result_link_shows_it():
    import json

    code = _drawing_code()
    at = open_page("gan", query={"dataset": "drawn", "drawing": code, "steps": "100"})
    assert at.selectbox(key="gan.dataset").value == "drawn" and not at.warning
    assert any(c.value.startswith("18 points in 3 groups") for c in at.caption)
    pad = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [len(t["x"]["bdata"]) > 0 for t in pad["data"]] == [True, True]  # the grid dots and the drawn points
    at.button(key="gan._pad_undo").click().run()  # Undo drops the last point, and the link follows
    assert at.query_params["drawing"] == code[:-2] and any(c.value.startswith("17 points") for c in at.caption)
    at = train_and_wait(at)
    outcome = at.session_state["gan._outcome"]
    m = outcome.metrics
    assert m["modes_total"] == 3 and m["steps_run"] == 100  # learning itself: tests/engine/test_gan_drawing.py
    assert outcome.info["mode_names"] == ["group 1", "group 2", "group 3"]
    assert outcome.config["drawing"] == code[:-2]  # the run holds its drawing
    _recorded(outcome.run_id)
    other = open_page("gan", query={"run": outcome.run_id})  # another browser opens the result link
    line = next(c.value for c in other.caption if "Settings of this run" in c.value)
    assert "Your drawing" in line and "17 points in 3 groups" in line  # never the drawing's letters
    traces = [t.get("name") for t in json.loads(other.get("plotly_chart")[0].proto.spec)["data"]]
    assert "your drawing" in traces  # the training animation shows the drawing itself
    assert not other.exception and not other.error


def test_the_pad_clears_and_says_plainly_what_a_drawing_needs():
    at = open_page("gan", query={"dataset": "drawn", "drawing": _drawing_code()})
    at.button(key="gan._pad_clear").click().run()
    assert any("no points yet" in i.value for i in at.info)
    assert next(b for b in at.button if b.key == "gan._train").disabled
    at.selectbox(key="gan.dataset").set_value("ring").run()  # another data set trains, the drawing stays unused
    assert not next(b for b in at.button if b.key == "gan._train").disabled and "drawing" not in at.query_params


@pytest.mark.parametrize(
    "drawing, says",
    [
        ("UU", "only 1 point"),
        ("UU" * 40, "on one spot"),
        ("AB" * 4000, "more than 400 points"),
        ("[x](https://evil.example)", "not one this page wrote"),
        ("<script>alert(1)</script>", "not one this page wrote"),
    ],
)
def test_a_link_with_a_bad_drawing_gets_a_plain_message(drawing, says):
    at = open_page("gan", query={"dataset": "drawn", "drawing": drawing})
    shown = " ".join(w.value for w in at.warning)
    assert says in shown and "evil.example" not in shown and "<script" not in shown
    assert at.selectbox(key="gan.dataset").value == "ring" and not at.error  # the page still works


def test_choosing_the_wasserstein_loss_in_the_form_sets_its_companions_with_a_note():
    at = open_page("gan")
    at.selectbox(key="gan.loss").set_value("wgan_gp").run()
    assert at.session_state["gan.d_steps"] == 5 and at.query_params["d_steps"] == "5"
    assert any("Gulrajani" in i.value for i in at.info) and not at.exception
