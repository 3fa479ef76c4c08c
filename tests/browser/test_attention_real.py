"""Issue 29 item 2 in a real browser: inside a real pretrained transformer, beside the toy the page trains.

A person trains the attention page's quick sentiment run, opens Try it, switches to the real model, types a
sentence, opens a layer and a head, and reads the measured head type; the view's own link opens it again in
another browser. Screenshots land in artifacts/screenshots/attention_real*.png.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser import driver
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_pages import assert_clean

pytestmark = pytest.mark.browser
SENTENCE = "The dog chased the ball, and the dog was happy."


def metric(panel, label: str) -> str:
    box = panel.locator('[data-testid="stMetric"]').filter(has_text=label).first
    box.wait_for(state="visible", timeout=90_000)
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_type_a_sentence_and_open_a_head_of_the_real_model(page, app, browser):
    driver.open_page(page, app.url + "/attention?task=sentiment", ready=driver.key_selector("attention._train"))
    driver.train_and_wait(page, "attention")
    panel = driver.open_tab(page, "Try it")
    panel.get_by_text("A real pretrained model (MiniLM) beside it").first.click()
    box = page.locator(f'{driver.key_selector("attention.try.real.text")} input').first
    box.wait_for(state="visible", timeout=90_000)  # the first visit loads the real model (seconds, once)
    box.fill(SENTENCE)
    box.press("Enter")
    driver.wait_idle(page)
    driver.choose(page, "attention.try.layer", "1")
    driver.choose(page, "attention.try.head", "3")
    panel = page.locator(f"{driver.TAB_PANEL}:visible").first
    looks_at = metric(panel, "Layer 1, head 3 looks at")
    from engine.attention import pretrained

    look = pretrained.look(SENTENCE)  # what the page says must be what this head does on this sentence
    labels = pretrained.head_labels(pretrained.head_measures(look.attention, look.tokens))
    label = labels[0][2]
    assert looks_at == (pretrained.SHORT[label[0]] if label else "no one place")
    assert metric(panel, "Share of its attention") == (f"{label[1]:.0%}" if label else "spread out")
    assert metric(panel, "Heads with a type: real · toy").split(" · ")[0].endswith("/72")
    assert driver.count_svgs(panel) >= 6  # the head, the toy's head, both small multiples, both rollouts
    panel.get_by_text("Real model (MiniLM): layer 1, head 3").first.wait_for(state="visible", timeout=60_000)
    panel.get_by_text(re.compile(r"Answered in \d+ ms")).first.wait_for(state="visible", timeout=60_000)
    driver.wait_for_query(page, "head", 3)
    query = parse_qs(urlparse(page.url).query)
    assert query["look"] == [SENTENCE] and query["layer"] == ["1"], query
    driver.shoot(page, SCREENSHOTS / "attention_real.png")
    grid = page.locator(driver.key_selector("attention.try.grid")).first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "attention_real_grid.png"))
    area = grid.locator(".nsewdrag").first.bounding_box()  # the plot area: 12 heads across, 6 layers down
    page.mouse.click(area["x"] + area["width"] * 4.45 / 12, area["y"] + area["height"] * 1.45 / 6)
    for _ in range(120):  # a click on a small square opens that head (a rerun: slow on a busy machine)
        driver.wait_idle(page)
        if driver.selectbox_value(page, "attention.try.head") == "5":
            break
        page.wait_for_timeout(500)
    assert driver.selectbox_value(page, "attention.try.layer") == "2"
    assert driver.selectbox_value(page, "attention.try.head") == "5"
    label = labels[1][4]
    looks_at = metric(panel, "Layer 2, head 5 looks at")
    assert looks_at == (pretrained.SHORT[label[0]] if label else "no one place")
    driver.wait_for_query(page, "head", 5)
    assert_clean(page, app)

    other = browser.new_context(viewport=driver.VIEWPORT)  # the view's own link, opened by someone else
    try:
        tab = other.new_page()
        tab.console = driver.Console().attach(tab)
        driver.open_page(tab, page.url, ready='[role="tab"]')
        shared = tab.locator(f"{driver.TAB_PANEL}:visible").first
        assert metric(shared, "Layer 2, head 5 looks at") == looks_at
        assert driver.selectbox_value(tab, "attention.try.layer") == "2"
        typed = tab.locator(f'{driver.key_selector("attention.try.real.text")} input').first
        assert typed.input_value() == SENTENCE
        driver.shoot(tab, SCREENSHOTS / "attention_real_link.png")
        assert_clean(tab, app)
    finally:
        other.close()
