"""Fixtures for the real-browser tests: one app server and one Chromium for the whole session.

Skipping: without /usr/bin/chromium (or the playwright package) these tests skip with the reason, but only
when ``CI`` is not set. Under ``CI=1`` a missing browser fails the tests, and the session fails if any browser
test was skipped anyway, so CI can never pass without having driven the app. The terminal summary always
says how many browser tests ran (``.ci/run`` checks that line).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from tests.browser import driver

ARTIFACTS = driver.ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
_outcomes: Counter = Counter()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str):
    """Skip locally with the reason; fail under CI, where these tests must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


def pytest_runtest_logreport(report):
    if "browser" not in report.keywords:
        return
    if report.skipped:
        _outcomes["skipped"] += 1
    elif report.failed:
        _outcomes["failed" if report.when == "call" else "errors"] += 1
    elif report.when == "call":
        _outcomes["passed"] += 1


def pytest_terminal_summary(terminalreporter):
    ran = _outcomes["passed"] + _outcomes["failed"]
    terminalreporter.write_line(
        f"browser tests ran: {ran} ({_outcomes['passed']} passed, {_outcomes['failed']} failed, "
        f"{_outcomes['errors']} errors, {_outcomes['skipped']} skipped)" + (" [CI]" if in_ci() else "")
    )
    if in_ci() and _outcomes["skipped"]:
        terminalreporter.write_line(
            f"CI is set and {_outcomes['skipped']} browser test(s) were skipped: the session "
            "fails (browser tests must run in CI)",
            red=True,
            bold=True,
        )


def pytest_sessionfinish(session, exitstatus):
    if in_ci() and _outcomes["skipped"]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The real app (``streamlit run app.py``) on a free port with a throw-away data directory."""
    missing = driver.missing_pages()
    if missing:  # st.navigation refuses to start without every registered page
        unavailable(f"registered technique pages are not written yet: {', '.join(missing)}")
    data = tmp_path_factory.mktemp("frontier-data")
    ARTIFACTS.mkdir(exist_ok=True)
    server = driver.AppServer(data, log_path=ARTIFACTS / "streamlit-browser-tests.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if driver.chromium_path() is None:
        unavailable(f"Chromium is not installed at {driver.CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright Python package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as p:
        b = driver.launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, app):
    """A fresh tab (a new Streamlit session) whose console errors are collected in ``page.console``."""
    context = browser.new_context(viewport=driver.VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.console = driver.Console().attach(tab)
    yield tab
    context.close()
