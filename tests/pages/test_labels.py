"""Issue 13 item 16: choices read as words a person knows (a field's own option labels, not code names)."""

from tests.pages.helpers import open_page


def test_a_fields_option_labels_are_what_the_selectbox_shows():
    at = open_page("transfer")
    box = at.selectbox(key="transfer.dataset")
    assert "Built-in topics (300 sentences)" in box.options and "Your own CSV" in box.options
    assert "topics" not in box.options
