"""Transfer learning page: a real text run to results and word-level SHAP; the URL; upload needs a file."""

from tests.pages.helpers import every_chart, open_page, open_tab, open_try_it, train_and_wait


def test_transfer_page_trains_and_shows_results():
    at = open_page("transfer")
    assert at.selectbox(key="transfer.track").value == "text"
    at.toggle(key="transfer.sweep").set_value(True).run()
    assert at.query_params["sweep"] == "true"  # the link reproduces the setup
    at = train_and_wait(at)
    outcome = at.session_state["transfer._outcome"]
    assert outcome.metrics["accuracy_feature_extraction"] > outcome.metrics["accuracy_scratch"] + 0.3
    assert outcome.headline[0] == "accuracy_feature_extraction"  # the pretrained model first, not scratch
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    open_try_it(at, "transfer")
    at.text_area(key="transfer.try.text.0").input("the striker scored twice and the team won the match").run()
    answers = {m.label: m.value for m in at.metric}
    assert answers["Feature extraction (frozen)"].startswith("sport"), answers  # a typed sentence about sport
    assert not at.exception
    # accuracy, learning curves, loss, label efficiency, parameters, confusion, misclassified, embeddings + words
    assert len(every_chart(at, "transfer")) >= 8 + 1
    assert "What just happened" in [s.value for s in at.subheader]
    assert any(m.value.startswith("**Transfer helped:**") for m in at.markdown)  # the verdict leads (issue 27.12)
    more = next(e for e in at.expander if e.label == "More about this run")  # the rest, folded away
    assert any("labelled sentence(s) per topic" in m.value for m in more.markdown)
    assert not any("More about this run:" in m.value for m in at.markdown)  # the marker itself never shows
    captions = [c.value for c in open_tab(at, "transfer", "Explain").caption]
    assert any("by construction" in c for c in captions), captions  # permutation SHAP: no false check


def test_images_track_from_the_link_and_upload_needs_a_file():
    at = open_page("transfer", query={"track": "images"})
    assert at.selectbox(key="transfer.source").value == "digits_all_disjoint"  # the source where transfer helps
    at = open_page("transfer", query={"track": "images", "source": "digits_0_4", "labels_per_class": "500"})
    assert at.selectbox(key="transfer.track").value == "images"
    assert at.selectbox(key="transfer.source").value == "digits_0_4"
    assert "negative transfer" in at.selectbox(key="transfer.source").help
    assert any("`labels_per_class` must be <= 100" in w.value for w in at.warning)
    at.selectbox(key="transfer.track").set_value("text").run()
    at.selectbox(key="transfer.dataset").set_value("upload").run()
    assert any("Upload a CSV" in i.value for i in at.info) and not at.error  # a hint, not a red box
    assert next(b for b in at.button if b.key == "transfer._train").disabled
