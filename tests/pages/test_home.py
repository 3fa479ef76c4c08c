"""Home page: every registered technique introduced and linked; the sidebar frame shows the device."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine

ROOT = Path(__file__).resolve().parents[2]


def test_home_lists_and_links_every_technique():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    for entry in engine.TECHNIQUES.values():
        assert entry.summary in text
    links = {link.proto.page for link in at.get("page_link")}
    assert len(links) == len(engine.TECHNIQUES)


def test_app_router_shows_home_and_sidebar():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Frontier Lab"
    assert any("Compute:" in c.value for c in at.sidebar.caption)
