"""Issue 29 item 1 in a real browser: a person draws the GAN's data and trains on it.

They pick "Draw your own", click points for two blobs, fill a third with a lasso loop, undo a point, train, and
read the result with their drawing on it; the settings link opens the same drawing in another browser.
Screenshots land in artifacts/screenshots/gan_drawing*.png.
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser import driver
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_pages import assert_clean

pytestmark = pytest.mark.browser
PAD = driver.key_selector("gan._pad")
PAD_LIMIT = 1.08  # ui.draw_points.PAD_LIMIT: the pad shows [-limit, limit]²


def drawing(page) -> str:
    return parse_qs(urlparse(page.url).query).get("drawing", [""])[0]


def pad_text(page) -> str:
    """What the form says about the drawing: the pad's caption, info or warning (the form's container text)."""
    return page.locator(PAD).locator("xpath=ancestor::*[contains(@class, 'stVerticalBlock')][1]").inner_text()


def to_pixels(page, x: float, y: float) -> tuple[float, float]:
    """Where the pad's point (x, y) is on the screen (its plot area spans [-PAD_LIMIT, PAD_LIMIT] both ways)."""
    box = page.locator(PAD).locator(".nsewdrag").first.bounding_box()
    return (
        box["x"] + (x + PAD_LIMIT) / (2 * PAD_LIMIT) * box["width"],
        box["y"] + (PAD_LIMIT - y) / (2 * PAD_LIMIT) * box["height"],
    )


def click_point(page, x: float, y: float) -> None:
    page.mouse.move(*to_pixels(page, x, y))
    page.wait_for_timeout(150)  # Plotly picks the dot under the pointer on hover
    page.mouse.click(*to_pixels(page, x, y))
    page.wait_for_timeout(300)
    driver.wait_idle(page)


def lasso(page, x: float, y: float, radius: float) -> None:
    """Choose the Lasso Select tool and draw a loop of ``radius`` (pad units) around (x, y), like a person."""
    page.locator(PAD).hover()
    page.locator(f'{PAD} .modebar-btn[data-title="Lasso Select"]').click()
    cx, cy = to_pixels(page, x, y)
    r = radius / (2 * PAD_LIMIT) * page.locator(PAD).locator(".nsewdrag").first.bounding_box()["width"]
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for k in range(1, 25):
        page.mouse.move(cx + r * math.cos(k * math.pi / 12), cy + r * math.sin(k * math.pi / 12), steps=2)
    page.mouse.up()
    page.wait_for_timeout(300)
    driver.wait_idle(page)


def wait_for_points(page, n: int, timeout_ms: int = 30_000) -> None:
    """Wait until the link holds a drawing of ``n`` points (two letters each)."""
    end = page.evaluate("Date.now()") + timeout_ms
    while len(drawing(page)) != 2 * n:
        assert page.evaluate("Date.now()") < end, f"the link never held {n} points: {page.url}"
        page.wait_for_timeout(100)


def test_a_person_draws_points_and_trains_the_gan_on_them(page, app, browser):
    driver.open_page(page, app.url + "/gan", ready=driver.key_selector("gan._train"))
    driver.choose(page, "gan.dataset", "Draw your own")
    page.locator(PAD).locator(".nsewdrag").first.wait_for(
        state="visible", timeout=driver.LOAD_TIMEOUT_S * 1000
    )  # Plotly loads first
    assert "no points yet" in pad_text(page)
    click_point(page, -0.6, -0.5)
    assert "only 1 point" in pad_text(page)  # a plain message, and Train waits
    assert page.locator(f"{driver.key_selector('gan._train')} button").is_disabled()
    for x, y in [(-0.55, -0.5), (-0.6, -0.45), (-0.55, -0.45), (0.6, -0.5), (0.65, -0.5), (0.6, -0.45), (0.9, 0.9)]:
        click_point(page, x, y)
    page.get_by_role("button", name="Undo last point").click()  # the stray point at (0.9, 0.9) goes
    driver.wait_idle(page)
    wait_for_points(page, 7)
    lasso(page, 0.0, 0.6, 0.13)  # a filled blob: every grid dot inside the loop
    text = pad_text(page)
    n = int(re.search(r"(\d+) points in 3 groups", text).group(1))
    assert n > 7 + 10, text  # the loop filled its region with points
    wait_for_points(page, n)
    settings_link = page.url
    driver.shoot(page, SCREENSHOTS / "gan_drawing.png")
    driver.set_number(page, "gan.steps", 300)
    driver.wait_for_query(page, "steps", 300)
    driver.train_and_wait(page, "gan")
    panel = driver.open_tab(page, "Results")
    assert driver.count_svgs(panel) >= 3
    names = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=\"stTabPanel\"] .js-plotly-plot')]"
        ".flatMap(gd => (gd.data || []).map(t => t.name))"
    )
    assert "your drawing" in names  # the training animation shows the drawing over the generated samples
    summary = page.locator('[data-testid="stMain"]').inner_text()
    assert re.search(r"covers \d of 3 modes", summary), summary[:2000]  # coverage counts the three drawn groups
    driver.shoot(page, SCREENSHOTS / "gan_drawing_result.png")
    assert_clean(page, app)

    context = browser.new_context(viewport=driver.VIEWPORT)  # another person opens the settings link
    try:
        other = context.new_page()
        other.console = driver.Console().attach(other)
        driver.open_page(other, settings_link, ready=PAD)
        assert f"{n} points in 3 groups" in pad_text(other)
        assert "Draw your own" in driver.selectbox_value(other, "gan.dataset")
        assert_clean(other, app)
    finally:
        context.close()
