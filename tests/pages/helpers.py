"""Shared AppTest helpers for page tests: open a page, press Train, wait for the real run to finish."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_page(name: str, query: dict | None = None, timeout: float = 120) -> AppTest:
    """AppTest of pages/<name>.py (run once, no exception); ``query`` sets URL parameters first."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def train_and_wait(at: AppTest, name: str | None = None, timeout: float = 180) -> AppTest:
    """Press Train and rerun the page until the run has finished; asserts no exception and no failure."""
    train = next(b for b in at.button if b.key and b.key.endswith("._train"))
    name = name or train.key.removesuffix("._train")
    train.click().run()
    end = time.time() + timeout
    while time.time() < end:
        assert not at.exception, [e.message for e in at.exception]
        if f"{name}._job" not in at.session_state:
            break
        time.sleep(0.5)
        at.run()
    else:
        raise AssertionError(f"the {name} run did not finish within {timeout} s")
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert f"{name}._outcome" in at.session_state, "the run finished without results"
    return at
