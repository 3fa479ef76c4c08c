"""Issue 29.3 in a real browser: a comparison link (``/runs?compare=ID1,ID2,ID3``) opened in a fresh browser shows
the runs' learning curves overlaid, one line (and one legend entry) per run; and issue 27.18: Delete asks first."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.browser import driver
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_pages import assert_clean

pytestmark = pytest.mark.browser


def _curve(rate: float, steps: int = 30) -> pd.DataFrame:
    """A plausible learning curve: loss falling at ``rate``, validation accuracy rising with it."""
    step = pd.Series(range(1, steps + 1))
    return pd.DataFrame(
        {"step": step, "loss": 1.1 * (1 - rate) ** step + 0.05, "val_accuracy": 1 - 0.6 * (1 - rate) ** step}
    )


def test_a_compare_link_overlays_three_runs_in_a_fresh_browser(page, app):
    from engine.core.store import RunStore
    from tests.pages.helpers import stored_run

    store = RunStore(app.data_dir / "runs.sqlite3")
    ids = [
        stored_run(
            "xai", owner="someone-else", store=store, history=_curve(rate), metrics={"test_accuracy": acc}, **settings
        )
        for rate, acc, settings in (
            (0.05, 0.81, {"dataset": "wine", "epochs": 10}),
            (0.10, 0.93, {"dataset": "wine", "epochs": 30}),
            (0.15, 0.96, {"dataset": "iris", "epochs": 30}),
        )
    ]
    chart = driver.key_selector("runs.overlay.loss")
    driver.open_page(page, f"{app.url}/runs?compare={','.join(ids)}", ready=f"{chart} .main-svg")
    assert page.get_by_text("Comparing 3 runs of Explainable AI").count() == 1
    assert page.get_by_text("No runs yet").count() == 0  # a visitor with no runs of their own sees the comparison
    overlay = page.locator(chart).first
    assert overlay.locator(".scatterlayer .trace").count() == 3  # three runs, one chart
    legend = overlay.locator(".legend .legendtext").all_text_contents()  # SVG text: no inner_text
    assert [t.strip() for t in legend] == [
        "run 1 · dataset wine, epochs 10",
        "run 2 · dataset wine, epochs 30",
        "run 3 · dataset iris, epochs 30",
    ]
    assert page.locator(driver.key_selector("runs.overlay.val_accuracy")).locator(".scatterlayer .trace").count() == 3
    assert ",".join(ids) in page.locator('[data-testid="stCode"]').first.inner_text()  # the shareable link
    driver.shoot(page, SCREENSHOTS / "runs_compare.png")
    assert_clean(page, app)


def test_the_runs_page_sets_a_persons_runs_settings_against_their_result(page, app):
    from engine.core.store import RunStore
    from tests.browser.test_newcomer import owner_cookie
    from tests.pages.helpers import stored_run

    driver.open_page(page, app.url + "/runs", ready="h1")
    token = owner_cookie(page)
    store = RunStore(app.data_dir / "runs.sqlite3")
    for epochs, rate, acc in ((10, 0.001, 0.82), (20, 0.003, 0.9), (30, 0.001, 0.88), (40, 0.01, 0.95)):
        stored_run("xai", owner=token, store=store, metrics={"test_accuracy": acc}, epochs=epochs, learning_rate=rate)
    sweep = driver.key_selector("runs.sweep")
    driver.open_page(page, app.url + "/runs", ready=f"{sweep} .main-svg")
    assert page.locator(sweep).first.locator(".parcoords").count() >= 1  # parallel coordinates: several settings vary
    driver.shoot(page, SCREENSHOTS / "runs_settings_vs_result.png")
    assert_clean(page, app)
