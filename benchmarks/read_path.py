"""What a person waits for, in a real browser (issue 26): fresh Chromium contexts (no cache, no cookies) on an app
server that is up, timed from the address being entered until

- a technique page shows its Train button, and the home page its technique cards;
- a stored result link draws its first chart, and every chart of its first (Results) tab.

The run behind the link is trained once through the engine and stored in the app's data directory (what a
result link opens is the stored run, however it was trained). Median over ``visits`` visits each.

usage: python -m benchmarks.read_path [PAGE] [--visits N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import benchmarks as targets

DRAWN = "() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0"
ALL_DRAWN = """() => {
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].filter(c => c.offsetParent);
  return charts.length > 0 && charts.every(c => c.querySelector('.main-svg'));
}"""


def stored_run(data_dir: Path, name: str) -> str:
    """One quick-preset run of ``name`` in the store under ``data_dir``; its id."""
    import secrets

    import engine
    from engine.core.config import validate
    from engine.core.pipeline import execute
    from engine.core.store import RunStore

    module = engine.load(name)
    outcome = execute(name, validate(module.Config, module.PRESETS["quick"]).model_dump())
    run_id = secrets.token_hex(16)
    store = RunStore(data_dir / "runs.sqlite3")
    store.start(run_id, "benchmark", name, outcome.config)
    store.finish(run_id, outcome.status, outcome)
    return run_id


def _visit(browser, url: str, ready: str) -> tuple[float, float, int]:
    """(seconds to the first sign of ``ready``, seconds until every visible chart is drawn, charts) in a fresh
    context; for a page the second number repeats the first."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    if ready == "chart":
        page.wait_for_function(DRAWN, timeout=120_000)
        first = time.perf_counter() - started
        page.wait_for_function(ALL_DRAWN, timeout=120_000)
        every = time.perf_counter() - started
        charts = page.locator('[data-testid="stPlotlyChart"]').count()
    else:
        page.locator(ready).first.wait_for(state="visible", timeout=120_000)
        first = every = time.perf_counter() - started
        charts = 0
    context.close()
    return first, every, charts


def read_path(name: str = "xai", visits: int = 3) -> dict:
    """Median times of ``visits`` fresh visits to the home page, ``name``'s page and a stored result link."""
    from playwright.sync_api import sync_playwright

    from tests.browser import driver

    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        run_id = stored_run(Path(tmp), name)
        with driver.AppServer(Path(tmp)).start() as server, sync_playwright() as p:
            browser = driver.launch(p)
            _visit(browser, f"{server.url}/{name}?run={run_id}", "chart")  # the server's first visit imports
            time.sleep(2)
            targets_ = {
                "home": (f"{server.url}/", '[data-testid="stPageLink"]'),
                "page": (f"{server.url}/{name}", driver.key_selector(f"{name}._train") + " button"),
                "link": (f"{server.url}/{name}?run={run_id}", "chart"),
            }
            out: dict = {"technique": name, "visits": visits}
            for label, (url, ready) in targets_.items():
                times = [_visit(browser, url, ready) for _ in range(visits)]
                out[label] = {
                    "first_s": [round(t[0], 2) for t in times],
                    "p50_s": round(statistics.median(t[0] for t in times), 2),
                    "all_charts_p50_s": round(statistics.median(t[1] for t in times), 2),
                    "charts": times[-1][2],
                }
                print(f"  {label}: {out[label]['first_s']} s", flush=True)
            browser.close()
    return out


def rows(result: dict) -> list[dict]:
    """Report rows judged against the issue's targets."""
    from benchmarks.report import verdict

    checks = [
        ("home page, fresh browser: cards visible", result["home"]["p50_s"], targets.PAGE_READY_TARGET_S),
        (
            f"{result['technique']} page, fresh browser: Train visible",
            result["page"]["p50_s"],
            targets.PAGE_READY_TARGET_S,
        ),
        ("result link, fresh browser: first chart drawn", result["link"]["p50_s"], targets.LINK_FIRST_CHART_TARGET_S),
        (
            "result link, fresh browser: every Results chart drawn",
            result["link"]["all_charts_p50_s"],
            targets.LINK_ALL_CHARTS_TARGET_S,
        ),
    ]
    return [
        {
            "target": what,
            "measured": f"{value:.2f} s (median of {result['visits']})",
            "limit": f"<= {limit:g} s",
            "result": verdict(value <= limit),
        }
        for what, value, limit in checks
    ]


if __name__ == "__main__":
    args = sys.argv[1:]
    visits = int(args[args.index("--visits") + 1]) if "--visits" in args else 3
    page = next((a for a in args if not a.startswith("--") and not a.isdigit()), "xai")
    measured = read_path(page, visits)
    for r in rows(measured):
        print(f"{r['result']:<5} {r['target']:<55} {r['measured']:>22}  (target {r['limit']})")
