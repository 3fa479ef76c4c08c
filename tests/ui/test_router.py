"""The Streamlit behaviour ui/router.py works around; these fail when an upgrade changes it."""

from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager

ROOT = Path(__file__).resolve().parents[2]


def test_a_pages_folder_still_puts_a_fresh_server_in_legacy_multipage_mode(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "app.py").write_text("")
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None  # a fresh server
        PagesManager(str(tmp_path / "app.py"))
        assert PagesManager.uses_pages_directory is True, (
            "Streamlit no longer enters legacy mode for a pages/ folder: delete ui/router.py and its calls"
        )
    finally:
        PagesManager.uses_pages_directory = saved


def test_every_page_calls_the_router_guard_first():
    """A page that skips use_app_router() opens outside the app frame on a deep link to a fresh server."""
    for page in (ROOT / "pages").glob("*.py"):
        text = page.read_text()
        assert "use_app_router()" in text or "technique_page(" in text, f"{page.name} must call use_app_router()"
