"""Screenshot gallery: a PNG of the home page and of every technique page after a quick run.

    python -m benchmarks.screenshots [--out DIR] [--only NAME ...] [--docs]

Starts the real app and drives it in Debian's headless Chromium exactly like the browser tests do (the code is
shared: tests/browser/driver.py). ``--docs`` also copies each technique's shot to docs/screenshot-<name>.png.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.browser import driver

ROOT = driver.ROOT


def gallery(out: Path, names: list[str] | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="frontier-shots-") as tmp,
        driver.AppServer(Path(tmp) / "data", log_path=Path(tmp) / "streamlit.log") as server,
        sync_playwright() as p,
    ):
        browser = driver.launch(p)
        try:
            report = driver.tour(browser, server, shots=out, names=names)
        finally:
            browser.close()
        if report["failures"]:
            report["server_log"] = server.log_tail()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "screenshots"), help="folder for the PNGs")
    parser.add_argument("--only", action="append", metavar="NAME", help="just this technique (repeatable)")
    parser.add_argument("--docs", action="store_true", help="also write docs/screenshot-<name>.png")
    args = parser.parse_args(argv)
    if driver.chromium_path() is None:
        print(f"Chromium is not installed at {driver.CHROMIUM}: apt-get install -y chromium", file=sys.stderr)
        return 2
    missing = driver.missing_pages()
    if missing:
        print(f"The app cannot start: registered pages are missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    report = gallery(out, args.only)
    for run in report["pages"]:
        print(
            f"{run.screenshot}  (train {run.train_s:.1f} s, {run.results_charts} result charts, "
            f"{run.explain_charts} explain charts)"
        )
        if args.docs:
            shutil.copyfile(run.screenshot, ROOT / "docs" / f"screenshot-{run.name}.png")
    for name, text in report["failures"].items():
        print(f"FAILED {name}: {text}", file=sys.stderr)
    for text in report["console_errors"]:
        print(f"console: {text}", file=sys.stderr)
    if report["failures"]:
        print(report.get("server_log", ""), file=sys.stderr)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
