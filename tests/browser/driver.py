"""Drive the real app in headless Chromium: start ``streamlit run``, open a page, change a control, train, look.

Shared by the browser tests (``tests/browser``), the screenshot gallery (``python -m benchmarks.screenshots``) and
the benchmark's whole-app memory measurement, so all three exercise the app the same way. Imports nothing heavy:
Playwright is imported by the callers, and the engine only for its registry.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FRONTIER_CHROMIUM", "/usr/bin/chromium")
# Flags that made Debian's Chromium start headless in containers here (see ENVIRONMENT.md).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 1400}
RUN_TIMEOUT_S = 180  # one quick run, waiting included; CI machines are slow and other runs may be queued
LOAD_TIMEOUT_S = 60  # a page's first render (it imports torch/shap/pennylane on first visit)

# Selectors (Streamlit 1.67 test ids).
PLOT_SVG = '[data-testid="stPlotlyChart"] .main-svg'
EXCEPTION = '[data-testid="stException"]'
ERROR_BOX = '[data-testid="stAlertContentError"]'
WARNING_BOX = '[data-testid="stAlertContentWarning"]'
TAB_PANEL = '[data-testid="stTabPanel"]'

# Console messages that are known to be harmless, each with why. Everything else logged as an error fails a test.
IGNORED_CONSOLE = [
    # On a deep link such as /xai, Streamlit's frontend first probes <page>/_stcore/{health,host-config}, gets 404,
    # then finds the server at the base path. Chromium logs each 404 as "Failed to load resource". This is
    # Streamlit's own open bug streamlit/streamlit#7074 ("404 health check when navigating directly to a subpage");
    # no public setting avoids it in 1.67.
    (re.compile(r"/_stcore/(health|host-config)$"), "Streamlit probes <page>/_stcore/* on deep links (404)"),
    # The favicon (page_icon=":material/science:") is fetched from fonts.gstatic.com; offline machines (CI, this
    # sandbox) cannot resolve it. It only affects the tab icon.
    (re.compile(r"^https://fonts\.gstatic\.com/"), "material-symbol favicon from Google Fonts, offline"),
]


def chromium_path() -> str | None:
    """Debian's Chromium (never a Playwright-downloaded one), or None when it is not installed."""
    return CHROMIUM if os.path.exists(CHROMIUM) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``streamlit run app.py`` on 127.0.0.1 and a free port, with its own data directory."""

    def __init__(self, data_dir: Path, root: Path = ROOT, log_path: Path | None = None, env: dict | None = None):
        self.root, self.data_dir = Path(root), Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or self.data_dir / "streamlit.log"
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> AppServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        streamlit = Path(sys.executable).with_name("streamlit")
        cmd = [
            str(streamlit) if streamlit.exists() else sys.executable,
            *([] if streamlit.exists() else ["-m", "streamlit"]),
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        env = {**os.environ, "FRONTIER_DATA_DIR": str(self.data_dir), "SDL_VIDEODRIVER": "dummy", **self.env}
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        end = time.time() + timeout
        while time.time() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The server and every process below it (the warm training workers)."""
        if self.process is None or self.process.poll() is not None:
            return []
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(text.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(pid)
        out, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children.get(pid, [])
        return out

    def rss_mb(self) -> float:
        """Resident memory of the server and its workers together, in MiB."""
        return sum(rss_mb(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            pids = self.pids()
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            for pid in pids[1:]:  # workers that outlived the server
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def launch(playwright):
    """Debian's headless Chromium through Playwright (``playwright install`` is never needed)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)


def missing_pages() -> list[str]:
    """Registered techniques whose page file does not exist yet (the app cannot start its navigation then)."""
    import engine

    return [e.page for e in engine.TECHNIQUES.values() if not (ROOT / e.page).exists()]


@dataclass
class Console:
    """Errors the browser reported: console.error messages and uncaught page exceptions, minus known noise."""

    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def attach(self, page) -> Console:
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        return self

    def _on_console(self, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        for pattern, why in IGNORED_CONSOLE:
            if url and pattern.search(url):
                self.ignored.append(f"{msg.text} [{url}] ({why})")
                return
        self.errors.append(f"console.error: {msg.text}" + (f" [{url}]" if url else ""))


def key_selector(key: str) -> str:
    """The CSS class Streamlit gives a keyed widget's container (``xai.seed`` -> ``.st-key-xai-seed``)."""
    return ".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def open_page(page, url: str, ready: str | None = None, timeout_s: float = LOAD_TIMEOUT_S) -> float:
    """Go to ``url`` and wait until the app is drawn (and ``ready`` is visible); returns the seconds it took."""
    started = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    if ready:
        page.locator(ready).first.wait_for(state="visible", timeout=timeout_s * 1000)
    wait_idle(page, timeout_s)
    return time.perf_counter() - started


def wait_idle(page, timeout_s: float = LOAD_TIMEOUT_S) -> None:
    """Wait until the script run is over (Streamlit's "Running…" status widget is gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')",
        timeout=timeout_s * 1000,
    )


def reveal(page, key: str) -> None:
    """Open the folded expanders ("More settings", "Change the settings and train again") that hide the widget with
    key ``key``, outermost first, like a person looking for it."""
    widget = page.locator(key_selector(key)).first
    widget.wait_for(state="attached")
    for _ in range(3):
        if widget.is_visible():
            return
        closed = page.locator('[data-testid="stExpander"] details:not([open])').filter(has=widget)
        if not closed.count():
            return
        closed.first.locator("summary").first.click()
        page.wait_for_timeout(150)


def set_number(page, key: str, value) -> None:
    """Type ``value`` into the number input with widget key ``key`` and commit it (Enter) like a person."""
    reveal(page, key)
    box = page.locator(f'{key_selector(key)} input[type="number"], {key_selector(key)} input[type="text"]').first
    box.click()
    box.fill(str(value))
    box.press("Enter")


def slider_value(page, key: str) -> str:
    """The value a slider shows (Streamlit 1.67 draws it as a react-aria range input)."""
    return page.locator(f'{key_selector(key)} input[type="range"]').first.input_value()


def selectbox_value(page, key: str) -> str:
    """The option a selectbox shows (as formatted for the person, e.g. "breast cancer")."""
    return page.locator(f'{key_selector(key)} input[role="combobox"]').first.input_value()


def choose(page, key: str, option: str) -> None:
    """Pick ``option`` in the selectbox with widget key ``key``, like a person (open it, click the option)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):  # a rerun that lands while the list opens closes it: open it again
        wait_idle(page)
        page.locator(f'{key_selector(key)} input[role="combobox"]').first.click()
        try:
            page.get_by_role("option", name=option, exact=True).first.click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"could not choose {option!r} in {key}")
    wait_idle(page)


def wait_for_query(page, name: str, value, timeout_s: float = 30) -> None:
    """Wait until the page address carries ``name=value`` (the form writes changed settings to the URL)."""
    pattern = re.compile(rf"[?&]{re.escape(name)}={re.escape(str(value))}(&|$)")
    end = time.time() + timeout_s
    while time.time() < end:
        if pattern.search(page.url):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the address never showed {name}={value}: {page.url}")


def error_texts(page) -> list[str]:
    return [t.strip() for t in page.locator(f"{EXCEPTION}, {ERROR_BOX}").all_inner_texts()]


def train_and_wait(page, name: str, timeout_s: float = RUN_TIMEOUT_S) -> float:
    """Press Train and wait until the result tabs are drawn; returns the seconds from click to results.

    Fails early with the page's own message when the run ends in an error box or an exception.
    """
    reveal(page, name + "._train")
    button = page.locator(f"{key_selector(name + '._train')} button")
    button.wait_for(state="visible", timeout=LOAD_TIMEOUT_S * 1000)
    page.wait_for_function("b => !b.disabled", arg=button.element_handle(), timeout=LOAD_TIMEOUT_S * 1000)
    started = time.perf_counter()
    button.click()
    tab = page.get_by_role("tab", name="Results")
    end = started + timeout_s
    while time.perf_counter() < end:
        if tab.count() and tab.first.is_visible():
            wait_idle(page)
            return time.perf_counter() - started
        errors = error_texts(page)
        if errors:
            raise AssertionError(f"the {name} run ended with an error on the page: {errors}")
        page.wait_for_timeout(250)
    raise AssertionError(f"the {name} run showed no results within {timeout_s:.0f} s")


def open_tab(page, label: str):
    """Click a result tab and return its (now visible) panel."""
    page.get_by_role("tab", name=label).first.click()
    page.get_by_role("tab", name=label, selected=True).first.wait_for(state="visible")
    panel = page.locator(f"{TAB_PANEL}:visible").first
    panel.wait_for(state="visible")
    return panel


def count_svgs(scope, timeout_s: float = 30) -> int:
    """How many Plotly charts are drawn (an SVG inside a plotly chart) in ``scope``, waiting for the first."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        scope.locator(PLOT_SVG).first.wait_for(state="visible", timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        return 0
    return scope.locator('[data-testid="stPlotlyChart"]:has(.main-svg)').count()


SHOT_VIEWPORT = {"width": 1280, "height": 2200}  # tall enough for the settings, the summary and the first charts


def shoot(page, path: Path) -> None:
    """Screenshot of the page from its top, in a tall viewport (Streamlit scrolls inside its own container, so
    ``full_page`` would not help)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size(SHOT_VIEWPORT)
    try:
        page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
        page.wait_for_timeout(800)  # Plotly redraws for the new size
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


@dataclass
class PageRun:
    """What one page showed after a quick run, for tests and the gallery to judge."""

    name: str
    load_s: float = 0.0
    train_s: float = 0.0
    results_charts: int = 0
    explain_charts: int = 0
    settings_shown: str = ""  # the Details tab's settings JSON as drawn
    exceptions: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def run_page(page, base_url: str, name: str, screenshot: Path | None = None, seed: int = 7) -> PageRun:
    """The whole person-like visit: open /<name>, change the seed, Train (quick preset), look at Results and Explain.

    The seed is every technique's cheap control (TechniqueConfig always has it): changing it proves the page's
    controls reach the run without making the run any slower.
    """
    out = PageRun(name)
    out.load_s = open_page(page, f"{base_url}/{name}", ready=key_selector(f"{name}._train"))
    set_number(page, f"{name}.seed", seed)
    wait_for_query(page, "seed", seed)
    wait_idle(page)
    out.train_s = train_and_wait(page, name)
    out.results_charts = count_svgs(open_tab(page, "Results"))
    explain = open_tab(page, "Explain")
    out.explain_charts = count_svgs(explain)
    details = open_tab(page, "Details")
    out.settings_shown = details.locator('[data-testid="stJson"]').first.inner_text()
    out.exceptions = error_texts(page)
    if screenshot is not None:
        open_tab(page, "Results")
        shoot(page, screenshot)
        out.screenshot = screenshot
    return out


def tour(browser, server: AppServer, shots: Path | None = None, names: list[str] | None = None) -> dict:
    """Visit the home page, then every technique page with a quick run, in one browser tab after another.

    Returns {"pages": [PageRun...], "console_errors": [...], "failures": {name: text}, "rss_mb": whole-app RSS after
    the tour}. Used by the screenshot gallery and the memory benchmark; one page's failure does not stop the tour.
    """
    import engine

    runs, failures, console = [], {}, Console()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    console.attach(page)
    try:
        open_page(page, server.url + "/", ready='[data-testid="stPageLink"]')
        if shots is not None:
            shoot(page, shots / "home.png")
        for name in names or list(engine.TECHNIQUES):
            try:
                runs.append(run_page(page, server.url, name, shots / f"{name}.png" if shots is not None else None))
            except Exception as e:
                failures[name] = f"{type(e).__name__}: {str(e)[:500]}"
    finally:
        context.close()
    return {
        "pages": runs,
        "console_errors": console.errors,
        "failures": failures,
        "rss_mb": server.rss_mb(),
        "processes": len(server.pids()),
    }
