"""Every page in a real browser, as a person uses it: open, change a setting, Train, read Results and Explain.

The technique tests are generated from ``engine.TECHNIQUES``, so a newly registered technique is covered without
touching this file. Screenshots land in artifacts/screenshots/ (gitignored).
"""

from __future__ import annotations

import re
import time

import pytest

import engine
from tests.browser import driver
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


def assert_clean(page, app) -> None:
    """No exception box or error box on the page, and nothing but known noise in the browser console."""
    problems = driver.error_texts(page)
    assert not problems, f"the page shows errors: {problems}\n--- server log ---\n{app.log_tail()}"
    assert not page.console.errors, f"the browser console logged errors: {page.console.errors}"


def test_home_lists_every_technique(page, app):
    driver.open_page(page, app.url + "/", ready='[data-testid="stPageLink"]')
    main = page.locator('[data-testid="stMain"]')
    for name, entry in engine.TECHNIQUES.items():
        link = main.get_by_role("link", name=entry.title, exact=False).first
        assert link.is_visible(), f"the home page does not show {entry.title!r}"
        assert link.get_attribute("href").rstrip("/").split("/")[-1] == name, f"{entry.title} does not link to /{name}"
        assert main.get_by_text(entry.summary).first.is_visible(), f"the home page lacks {name}'s summary"
    driver.shoot(page, SCREENSHOTS / "home.png")
    assert_clean(page, app)


def quick_seed(name: str) -> int:
    """A seed different from the quick preset's, so changing it is a real change of settings."""
    module = engine.load(name)
    return 8 if module.Config(**module.PRESETS["quick"]).seed == 7 else 7


@pytest.mark.parametrize("name", list(engine.TECHNIQUES))
def test_technique_page_trains_and_draws_results_and_explanations(page, app, name):
    seed = quick_seed(name)
    run = driver.run_page(page, app.url, name, screenshot=SCREENSHOTS / f"{name}.png", seed=seed)
    assert run.results_charts >= 1, f"{name}: no Plotly chart drawn on the Results tab"
    assert run.explain_charts >= 1, f"{name}: no Plotly chart drawn on the Explain tab"
    assert re.search(rf'"seed":\s*{seed}\b', run.settings_shown), (
        f"{name}: the seed typed into the page did not reach the run; Details shows {run.settings_shown[:300]!r}"
    )
    assert_clean(page, app)


def test_settings_link_sets_the_controls(page, app):
    driver.open_page(page, app.url + "/xai?dataset=wine&epochs=30", ready=driver.key_selector("xai._train"))
    assert "wine" in driver.selectbox_value(page, "xai.dataset").lower()  # "Wines (three growers)"
    assert driver.slider_value(page, "xai.epochs") == "30"
    assert page.locator(driver.WARNING_BOX).count() == 0, page.locator(driver.WARNING_BOX).all_inner_texts()
    assert "dataset=wine" in page.url and "epochs=30" in page.url  # the link survives the first render
    assert_clean(page, app)


def test_invalid_link_warns_and_the_page_still_trains(page, app):
    driver.open_page(page, app.url + "/xai?epochs=99999", ready=driver.key_selector("xai._train"))
    warnings = " ".join(page.locator(driver.WARNING_BOX).all_inner_texts())
    assert "Ignored epochs from the link" in warnings.replace("`", ""), warnings
    xai = engine.load("xai")
    quick = xai.Config(**xai.PRESETS["quick"]).epochs
    assert driver.slider_value(page, "xai.epochs") == str(quick), "the bad value was not replaced by the preset's"
    driver.train_and_wait(page, "xai")
    assert driver.count_svgs(driver.open_tab(page, "Results")) >= 1
    assert_clean(page, app)


def test_a_deep_link_on_a_fresh_server_opens_inside_the_app(browser, tmp_path):
    """The first visitor of a new server arrives through a shared link, not the home page."""
    with driver.AppServer(tmp_path) as fresh:
        context = browser.new_context(viewport=driver.VIEWPORT)
        try:
            tab = context.new_page()
            tab.console = driver.Console().attach(tab)
            driver.open_page(tab, fresh.url + "/xai?dataset=wine", ready=driver.key_selector("xai._train"))
            assert "Compute:" in tab.locator('[data-testid="stSidebar"]').inner_text()  # app.py's frame ran
            assert tab.locator("h1").first.inner_text() == "Explainable AI"
            assert "wine" in driver.selectbox_value(tab, "xai.dataset").lower()  # "Wines (three growers)"
            assert_clean(tab, fresh)
        finally:
            context.close()


def test_try_it_answers_on_a_shared_result_link(page, app, browser):
    """Someone else opens a finished run's link: the Try it tab rebuilds the model from the stored weights and
    answers their own input (here: another starting row), with its SHAP waterfall."""
    from engine.core.store import RunStore

    driver.open_page(page, app.url + "/xai", ready=driver.key_selector("xai._train"))
    driver.train_and_wait(page, "xai")
    store = RunStore(app.data_dir / "runs.sqlite3")
    deadline = time.time() + 60
    while not (runs := [r for r in store.list_runs(None, "xai") if r["status"] == "done"]):
        assert time.time() < deadline, "the finished run was never recorded"
        time.sleep(0.5)
    context = browser.new_context(viewport=driver.VIEWPORT)  # another person, no shared session
    try:
        other = context.new_page()
        other.console = driver.Console().attach(other)
        driver.open_page(other, f"{app.url}/xai?run={runs[0]['id']}", ready='[role="tab"]')
        panel = driver.open_tab(other, "Try it")
        panel.get_by_text("Prediction").first.wait_for(state="visible", timeout=90_000)
        first = panel.locator('[data-testid="stMetricValue"]').first.inner_text()
        assert re.match(r"(benign|malignant) \(\d+%\)", first), first
        assert driver.count_svgs(panel) >= 2  # the SHAP waterfall and the class probabilities
        driver.set_number(other, "xai.try.start", 1)
        other.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stSlider\"]')].length > 0")
        driver.wait_idle(other)
        assert panel.get_by_text(re.compile(r"Answered in \d+ ms")).first.is_visible()
        driver.shoot(other, SCREENSHOTS / "xai_try_it_shared.png")
        assert_clean(other, app)
    finally:
        context.close()
