"""Whole-app resident memory: the Streamlit server plus its warm training workers, after a person's tour.

Starts the real app, then in headless Chromium visits the home page and every technique page, running each
page's quick preset (the same tour as the screenshot gallery). Afterwards it sums the resident set size (RSS) of
the server and every process below it. RSS double-counts pages shared between processes, so the sum is an upper
bound of what the machine really spends. Needs Debian's Chromium; skipped without it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.browser import driver


def app_memory(names: list[str] | None = None, shots: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="bench-app-") as tmp,
        driver.AppServer(Path(tmp) / "data", log_path=Path(tmp) / "streamlit.log") as server,
        sync_playwright() as p,
    ):
        idle_mb = server.rss_mb()
        browser = driver.launch(p)
        try:
            tour = driver.tour(browser, server, shots=shots, names=names)
        finally:
            browser.close()
        per_process = {pid: round(driver.rss_mb(pid), 1) for pid in server.pids()}
    rows = list(per_process.values())
    return {
        "rss_mb": round(tour["rss_mb"], 1),
        "app_rss_mb": rows[0] if rows else None,  # the server process alone (issue 26: under 1 GB)
        "workers_rss_mb": round(sum(rows[1:]), 1),
        "idle_rss_mb": round(idle_mb, 1),
        "processes": tour["processes"],
        "per_process_mb": list(per_process.values()),
        "pages": {
            r.name: {
                "train_s": round(r.train_s, 1),
                "load_s": round(r.load_s, 1),
                "results_charts": r.results_charts,
                "explain_charts": r.explain_charts,
            }
            for r in tour["pages"]
        },
        "failures": tour["failures"],
        "console_errors": tour["console_errors"],
    }
