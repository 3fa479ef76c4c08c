"""Explainable AI page: URL settings, bad links, a real run to results, SHAP views, and upload errors."""

import math

from tests.pages.helpers import every_chart, open_page, open_tab, open_try_it, train_and_wait


def test_xai_page_trains_and_shows_results_and_shap():
    at = open_page("xai")
    at.selectbox(key="xai.dataset").set_value("wine").run()
    assert at.query_params["dataset"] == "wine"
    at = train_and_wait(at)
    outcome = at.session_state["xai._outcome"]
    assert outcome.metrics["test_accuracy"] > 0.8
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    charts = every_chart(at, "xai")
    assert len(charts) >= 3 + 4 + 1  # results + four SHAP views + SHAP vs permutation
    captions = " ".join(c.value for c in open_tab(at, "xai", "Explain").caption)
    plain = captions.find("These charts show how much each input pushed the model's answer")
    assert -1 < plain < captions.find("Local-accuracy check")  # the plain sentence first, the check for experts
    assert "Local-accuracy check" in captions and any(e.label == "Details for experts" for e in at.expander)
    assert "What just happened" in [s.value for s in at.subheader]


def test_wine_results_name_the_cultivars_not_scikit_learns_codes():
    at = train_and_wait(open_page("xai", query={"dataset": "wine"}))
    shown = " ".join(
        [c.proto.spec for c in every_chart(at, "xai")]
        + [m.value for m in at.markdown]
        + [str(s.label) for s in at.slider]
    )
    assert "cultivar 1" in shown and "malic acid" in shown  # the confusion matrix, SHAP views, Try it sliders
    assert "class_0" not in shown and "malic_acid" not in shown


def test_settings_come_from_the_url_and_bad_values_are_warned_about():
    at = open_page("xai", query={"dataset": "iris", "epochs": "77", "width": "100000", "learning_rate": "oops"})
    assert at.selectbox(key="xai.dataset").value == "iris"
    assert at.slider(key="xai.epochs").value == 77
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # values are shown Markdown-escaped
    assert "`width` must be <= 256" in warnings and "`learning_rate` must be a number" in warnings
    assert at.slider(key="xai.width").value == 32


def test_presets_fill_the_form_and_an_edit_makes_it_custom():
    at = open_page("xai")
    at.selectbox(key="xai._preset").set_value("thorough").run()
    assert at.slider(key="xai.explain_rows").value == 150 and at.slider(key="xai.epochs").value == 100
    at.slider(key="xai.width").set_value(100).run()
    assert at.selectbox(key="xai._preset").value == "custom"
    assert at.query_params["width"] == "100" and at.query_params["explain_rows"] == "150"


def test_upload_without_a_file_explains_what_is_missing():
    at = open_page("xai")
    at.selectbox(key="xai.dataset").set_value("upload").run()
    assert any("Upload a CSV" in i.value for i in at.info) and not at.error  # a hint, not a red box
    train = next(b for b in at.button if b.key == "xai._train")
    assert train.disabled


def test_a_broken_upload_gets_its_message_and_a_good_one_trains():
    at = open_page("xai")
    at.selectbox(key="xai.dataset").set_value("upload").run()
    at.get("file_uploader")[0].upload("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary").run()
    assert any("does not look like a CSV" in e.value for e in at.error)
    assert next(b for b in at.button if b.key == "xai._train").disabled

    rows = ["size,weight,colour,label"] + [
        f"{i % 7},{(i * 3) % 11},c{i % 3},{'big' if i % 7 > 3 else 'small'}" for i in range(120)
    ]
    at.get("file_uploader")[0].upload("data.csv", "\n".join(rows).encode(), "text/csv").run()
    assert not at.error and at.selectbox(key="xai.target_pick").value == "label"
    at = train_and_wait(at)
    outcome = at.session_state["xai._outcome"]
    assert outcome.metrics["test_accuracy"] > 0.8  # the label is a threshold on `size`
    assert outcome.explanation.feature_names == ["size", "weight"]


def test_stop_ends_a_long_run_early_and_shows_its_partial_results():
    import time

    at = open_page("xai", query={"epochs": "500", "batch_size": "8"})
    next(b for b in at.button if b.key == "xai._train").click().run()
    end = time.time() + 120
    while not any(b.key == "xai._stop" for b in at.button) or not at.get("plotly_chart"):
        assert time.time() < end, "no live progress appeared"
        time.sleep(0.3)
        at.run()  # the live chart appears once the first epochs have streamed back
    next(b for b in at.button if b.key == "xai._stop").click().run()
    while "xai._job" in at.session_state:
        assert time.time() < end, "the stopped run did not end"
        time.sleep(0.3)
        at.run()
    outcome = at.session_state["xai._outcome"]
    assert outcome.status == "stopped" and len(outcome.history) < 500
    assert any("stopped this run early" in w.value for w in at.warning)


def test_try_it_flips_a_clear_row_when_its_top_feature_moves_and_shows_its_shap():
    from engine.core import tryit
    from engine.xai.tryit import predict_row

    at = train_and_wait(open_page("xai"))
    outcome = at.session_state["xai._outcome"]
    bundle = tryit.load("xai", outcome.config, outcome.weights, outcome.info)  # the same model, to pick a row
    top = bundle.ranking[0]

    def flips(i):
        row = bundle.X_test_raw[i].copy()
        row[top] = bundle.X_train_raw[:, top].min()
        low = predict_row(bundle, row).argmax()
        row[top] = bundle.X_train_raw[:, top].max()
        return predict_row(bundle, bundle.X_test_raw[i]).max() > 0.95 and low != predict_row(bundle, row).argmax()

    i = next(i for i in range(len(bundle.X_test_raw)) if flips(i))
    open_try_it(at, "xai")
    at.number_input(key="xai.try.start").set_value(i).run()
    slider = at.slider(key=f"xai.try.{i}.{top}")
    assert slider.label == bundle.feature_names[top]  # the most influential feature comes first

    def prediction():
        return next(m.value for m in at.metric if m.label == "Prediction")

    slider.set_value(slider.min).run()
    low = prediction()
    at.slider(key=f"xai.try.{i}.{top}").set_value(slider.max).run()
    high = prediction()
    assert low.startswith("benign") and high.startswith("malignant"), (low, high)
    check = next(m.value for m in at.metric if m.label == "SHAP check")
    assert float(check.rsplit(" ", 1)[1]) < 1e-4  # base + sum of SHAP = the network's output for this input
    assert any(c.value.startswith("Answered in") for c in at.caption)
    assert not at.exception


def test_try_it_slider_at_its_lowest_value_is_used_not_ignored():
    """Issue 27: on wine, "colour intensity" moved to its minimum (shown as 0.612) kept the row's own 8.43; one step
    up worked. The minimum was 0.6120000000000001, so the value the browser sends fell outside the slider's range
    and Streamlit reset it. Bounds and start values now sit exactly on the slider's decimal grid."""
    at = train_and_wait(open_page("xai", {"dataset": "wine"}))
    open_try_it(at, "xai")
    assert "colour intensity" in [s.label for s in at.slider if s.key.startswith("xai.try.0.")]
    for slider in [s for s in at.slider if s.key.startswith("xai.try.0.")]:
        places = max(0, -math.floor(math.log10(slider.step)) + 1)
        for v in (slider.min, slider.max, slider.value):
            assert v == round(v, places), (slider.label, v)  # what the page shows is what it holds
    slider = next(s for s in at.slider if s.label == "colour intensity")
    lowest = round(slider.min, 6)  # the number the browser shows and sends
    slider.set_value(lowest).run()
    assert not at.exception
    assert at.slider(key=slider.key).value == lowest  # not reset to the row's own value


# --- issue 27 item 17: a semicolon CSV, left-out columns named, a refused file leaves the box, no stale hint ---


def _upload(at, name: str, raw: bytes):
    at.get("file_uploader")[0].upload(name, raw, "text/csv").run()
    return at


def _hints(at) -> list[str]:
    return [i.value for i in at.info if "Upload a CSV" in i.value]


def test_a_semicolon_csv_trains_and_the_text_column_left_out_is_named():
    at = open_page("xai")
    at.selectbox(key="xai.dataset").set_value("upload").run()
    rows = ["size;weight;colour;label"] + [
        f"{i % 7},5;{(i * 3) % 11};c{i % 3};{'big' if i % 7 > 3 else 'small'}" for i in range(120)
    ]
    at = _upload(at, "semi.csv", "\n".join(rows).encode())
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="xai.target_pick").value == "label"
    left_out = [i.value for i in at.info if "Not used as features" in i.value]
    assert left_out and "`colour` (text" in left_out[0] and "`size`" not in left_out[0]
    assert not _hints(at)
    assert not next(b for b in at.button if b.key == "xai._train").disabled


def test_a_refused_file_leaves_the_box_and_its_message_stays_without_the_upload_hint():
    at = open_page("xai")
    at.selectbox(key="xai.dataset").set_value("upload").run()
    at = _upload(at, "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "`photo.csv` was not used" in errors[0] and "does not look like a CSV" in errors[0]
    box = at.get("file_uploader")[0]
    assert box.value is None, "the refused file is still listed in the upload box"
    assert not _hints(at), "the 'Upload a CSV' hint shows under the refused file's message"
    at.run()  # the message stays on later reruns until another file is chosen
    assert [e.value for e in at.error] == errors


def test_a_file_without_usable_features_says_so_without_the_upload_hint():
    at = open_page("xai")
    at.selectbox(key="xai.dataset").set_value("upload").run()
    rows = ["name,label"] + [f"n{i},{'a' if i % 2 else 'b'}" for i in range(40)]
    at = _upload(at, "names.csv", "\n".join(rows).encode())
    errors = " ".join(e.value for e in at.error)
    assert "no numeric feature columns" in errors and "`name` (text" in errors
    assert not _hints(at)
