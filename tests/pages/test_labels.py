"""Issue 13 item 16: choices read as words a person knows (a field's own option labels, not code names)."""

from tests.pages.helpers import open_page


def test_a_fields_option_labels_are_what_the_selectbox_shows():
    at = open_page("transfer")
    box = at.selectbox(key="transfer.dataset")
    assert "Built-in topics (300 sentences)" in box.options and "Your own CSV" in box.options
    assert "topics" not in box.options


def test_every_form_shows_its_key_settings_first_and_folds_the_rest():
    """Issue 27.20: the 4-6 settings that change the lesson (Config.PRIMARY) first; the rest under "More settings",
    closed (links still carry every setting)."""
    import engine

    for name in engine.TECHNIQUES:
        at = open_page(name)
        more = next(e for e in at.expander if e.label.startswith("More settings"))
        kinds = ("slider", "select_slider", "selectbox", "number_input", "toggle", "text_input")
        folded = {w.key for kind in kinds for w in getattr(more, kind)}
        everywhere = {w.key for kind in kinds for w in getattr(at, kind)}
        primary = {f"{name}.{k}" for k in engine.load(name).Config.PRIMARY}
        assert f"{name}.seed" in folded and not folded & primary, (name, folded & primary)
        assert primary & everywhere and (primary & everywhere) <= everywhere - folded
