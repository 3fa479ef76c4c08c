"""Issue 13 in a real browser: Stop returns partial results, a reload keeps the history, the Runs page opens and
deletes runs, settings links with dependent values, and the result link of a run on an uploaded CSV."""

from __future__ import annotations

import re
import time

import pytest

import engine
from engine.core.config import to_params, validate
from tests.browser import driver
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_pages import assert_clean

pytestmark = pytest.mark.browser
OWNER_COOKIE = "frontier_owner"


def owner_cookie(page, timeout_s: float = 30) -> str:
    """The owner token the app stored in this browser's cookie (set by the sidebar's cookie component)."""
    end = time.time() + timeout_s
    while time.time() < end:
        for c in page.context.cookies():
            if c["name"] == OWNER_COOKIE:
                return c["value"]
        page.wait_for_timeout(250)
    raise AssertionError("the app never stored its owner cookie in the browser")


def run_in_address(page, timeout_s: float = 30) -> str:
    end = time.time() + timeout_s
    while time.time() < end:
        m = re.search(r"[?&]run=([0-9a-f]{32})", page.url)
        if m:
            return m.group(1)
        page.wait_for_timeout(200)
    raise AssertionError(f"the finished run never appeared in the address: {page.url}")


def runs_table_rows(page) -> int:
    """Rows of the Runs table (0 when the page says there are none)."""
    driver.wait_idle(page)
    if page.get_by_text("No runs yet").count():
        return 0
    grid = page.locator('[data-testid="stDataFrame"] [role="grid"]').first
    grid.wait_for(state="attached")
    return int(grid.get_attribute("aria-rowcount")) - 1  # minus the header row


def select_first_run(page) -> None:
    """Tick the first row's selection box in the Runs table (drawn on a canvas: click where it is)."""
    frame = page.locator('[data-testid="stDataFrame"]').first
    box = frame.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # first column, first row under the 35 px header
    page.get_by_role("button", name="Delete this run").wait_for(state="visible")


def test_stop_on_a_long_run_returns_partial_results_that_survive_a_reload(page, app):
    driver.open_page(page, app.url + "/xai?epochs=500&batch_size=8", ready=driver.key_selector("xai._train"))
    page.locator(f"{driver.key_selector('xai._train')} button").click()
    page.get_by_text(re.compile(r"Training: step [1-9]")).first.wait_for(timeout=driver.RUN_TIMEOUT_S * 1000)
    page.locator(f"{driver.key_selector('xai._stop')} button").click()
    page.get_by_role("tab", name="Results").first.wait_for(timeout=driver.RUN_TIMEOUT_S * 1000)
    driver.wait_idle(page)
    assert page.get_by_text("You stopped this run early").count() == 1
    assert driver.count_svgs(driver.open_tab(page, "Results")) >= 1
    run_id = run_in_address(page)
    token = owner_cookie(page)
    assert token not in page.url
    page.reload()  # the same browser: the result and the history are still there
    driver.open_page(page, page.url, ready='[role="tab"]')
    assert page.get_by_text("You stopped this run early").count() == 1 and run_id in page.url
    driver.open_page(page, app.url + "/runs", ready="h1")
    assert runs_table_rows(page) >= 1
    driver.shoot(page, SCREENSHOTS / "runs_after_reload.png")
    assert_clean(page, app)


def test_runs_page_opens_the_selected_run_and_deletes_it(page, app):
    from engine.core.store import RunStore
    from tests.pages.helpers import stored_run
    from ui.runs import option_text

    driver.open_page(page, app.url + "/runs", ready="h1")
    store = RunStore(app.data_dir / "runs.sqlite3")
    token = owner_cookie(page)
    run_id = stored_run("xai", owner=token, store=store, dataset="wine", text="A run on the wine table.")
    page.reload()
    driver.open_page(page, app.url + "/runs", ready='[data-testid="stDataFrame"]')
    before = runs_table_rows(page)
    select_first_run(page)  # newest first: the run just stored
    link = page.get_by_role("link", name="Open this run on its page")
    assert run_id in link.get_attribute("href")
    link.click()
    page.get_by_text("A run on the wine table.").first.wait_for()
    wine = option_text(engine.load("xai").Config, "dataset", "wine")  # the choice as the form shows it
    assert driver.selectbox_value(page, "xai.dataset") == wine
    driver.open_page(page, app.url + "/runs", ready='[data-testid="stDataFrame"]')
    select_first_run(page)
    page.get_by_role("button", name="Delete this run").click()
    page.get_by_text("Delete this run? Its result link will stop working.").wait_for()  # asks first
    assert store.get(run_id) is not None
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_function("() => !document.body.innerText.includes('Delete this run')")
    assert runs_table_rows(page) == before - 1
    assert store.get(run_id) is None
    assert_clean(page, app)


def _dependent_preset(name: str) -> dict:
    """The preset with the most settings that other settings depend on (agent and world, loss...)."""
    module = engine.load(name)
    controllers = {o for rules in module.Config.SHOW_IF.values() for o in rules}
    return max(module.PRESETS.values(), key=lambda p: (len(controllers & set(p)), len(p)))


@pytest.mark.parametrize("name", list(engine.TECHNIQUES))
def test_a_settings_link_with_dependent_values_opens_that_setup(page, app, name):
    module = engine.load(name)
    quick = validate(module.Config, module.PRESETS["quick"])
    params = dict(reversed(to_params(validate(module.Config, _dependent_preset(name)), quick).items()))
    params["seed"] = "5"  # at least one value for presets equal to the quick one
    query = "&".join(f"{k}={v}" for k, v in params.items()).replace(" ", "%20").replace(";", "%3B")
    driver.open_page(page, f"{app.url}/{name}?{query}", ready=driver.key_selector(f"{name}._train"))
    warnings = page.locator(driver.WARNING_BOX).all_inner_texts()
    assert not warnings, warnings
    for key, value in params.items():  # the form rewrote the address from what it accepted
        driver.wait_for_query(page, key, value.replace(" ", "+").replace(";", "%3B"))
    assert_clean(page, app)


def test_the_result_link_of_an_upload_run_opens_in_another_browser(page, app, browser, tmp_path):
    """Issue 13 item 1 in a real browser: the run trained on this browser's CSV; its link shows the stored
    result elsewhere, with a hint to upload one's own file (the upload itself stays private)."""
    rows = "\n".join(f"{i % 7},{(i * 3) % 11},{'yes' if i % 7 > 3 else 'no'}" for i in range(120))
    csv = tmp_path / "mine.csv"
    csv.write_text("hours,visits,bought\n" + rows + "\n")
    driver.open_page(page, app.url + "/xai?epochs=5&explain_rows=10", ready=driver.key_selector("xai._train"))
    page.locator(f'{driver.key_selector("xai.dataset")} input[role="combobox"]').first.click()
    page.get_by_role("option", name=re.compile("upload|own CSV", re.I)).first.click()
    driver.wait_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(csv))
    page.get_by_text("Column to predict").first.wait_for(timeout=driver.LOAD_TIMEOUT_S * 1000)
    driver.wait_idle(page)
    driver.train_and_wait(page, "xai", timeout_s=2 * driver.RUN_TIMEOUT_S)  # a fresh server warms its workers
    link = f"{app.url}/xai?run={run_in_address(page)}"
    other = browser.new_context(viewport=driver.VIEWPORT)
    try:
        tab = other.new_page()
        tab.console = driver.Console().attach(tab)
        driver.open_page(tab, link, ready='[role="tab"]')
        assert tab.get_by_role("tab", name="Results").count() == 1
        assert tab.get_by_text("You are looking at a stored result").count() == 1
        assert tab.get_by_text("Uploads stay private to the browser that made them").count() == 1
        driver.shoot(tab, SCREENSHOTS / "upload_result_link.png")
        assert_clean(tab, app)
    finally:
        other.close()
