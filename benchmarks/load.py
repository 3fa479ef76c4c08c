"""Load: N visitors press Train at once on a real app server, spoken to over Streamlit's own websocket protocol.

    python -m benchmarks.load 8                   # 8 sessions on the xai page
    python -m benchmarks.load 4 8 20 --pages xai,gan,attention   # sessions spread over pages, one N after another
    python -m benchmarks.load 0 --storm 50        # 50 sessions + 3 Chromium visitors open one result link at once
    python -m benchmarks.load 0 --flood 40        # one address floods 40 runs; 5 visitors' wait, with and without

Each simulated visitor is a thread that does what the browser does and no more (so the load generator does not
eat the server's CPU the way N Chromium tabs do): it opens the websocket, asks for the page, finds the Train
button in the page's elements, clicks it, re-runs the page's fragments at the interval the server asks for
(``st.fragment(run_every=...)``) and stops when the results' "What just happened" heading arrives. Meanwhile a
new visitor opens the home page every few seconds (time to the end of its first script run), another opens the
result link of a solo run (a stored run must render without recomputing anything: issue 13 item 19), and the
server's and its workers' resident memory is sampled every second.

Reported per N: errors (exception or error boxes, refusals, time-outs), completed runs, click-to-results p50/max
against the queueing ideal (N x solo run time / slots), new-visitor home and result-link render p50/max, peak RSS. Targets (issue
#20): 0 errors, 0 lost runs, home < 3 s, p50 within 1.5x the ideal. Environment variables given with --env reach
the server (e.g. ``--env FRONTIER_WORKER_RECYCLE_MB=1`` recycles after every run, as the old default did).

``--flood N`` (issue #30, fair share): first ``--visitors`` ordinary visitors (default 5) press Train once together
on a calm server; then one client opens N new sessions (no cookie, as a script does), each pressing Train, and the
same number of ordinary visitors press Train once. Reported: how many flood runs were admitted (the limit per
address refuses the rest) and the ordinary visitors' click-to-results with the flood beside it without. Every
websocket here comes from 127.0.0.1, so the server runs with ``FRONTIER_TRUSTED_PROXY=127.0.0.1`` and each visitor
says its address in ``X-Forwarded-For`` as a reverse proxy would: the flood from one, each visitor its own.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
RESULTS_HEADING = "What just happened"


# --- one visitor ------------------------------------------------------------------------------------------------
@dataclass
class Visit:
    page: str
    clicked: float | None = None
    results: float | None = None
    run_id: str = ""  # the finished run's id, from the address the page rewrote (its result link)
    errors: list[str] = field(default_factory=list)


class Session:
    """A websocket session that behaves like one browser tab of the app."""

    def __init__(self, port: int, page: str, query: str = "", forwarded: str = ""):
        self.port, self.page, self.query = port, page, query
        headers = {"Origin": f"http://127.0.0.1:{port}"}
        if forwarded:  # as a reverse proxy in front of the app says who the visitor is
            headers["X-Forwarded-For"] = forwarded
        self.ws = connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit"],
            additional_headers=headers,
            max_size=None,
            open_timeout=120,
        )
        self.fragments: dict[str, tuple[float, float]] = {}  # fragment id -> (interval, next due)
        self.buttons: dict[str, str] = {}  # label -> widget id
        self.headings: list[str] = []
        self.errors: list[str] = []
        self.page_hash = ""
        self.address = ""  # the query string the page last wrote (a finished run puts ?run=ID there)

    def rerun(self, widget_id: str = "", fragment_id: str = "", auto: bool = False) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.page_name, state.page_script_hash, state.query_string = self.page, self.page_hash, self.query
        state.fragment_id, state.is_auto_rerun = fragment_id, auto
        if widget_id:
            w = state.widget_states.widgets.add()
            w.id, w.trigger_value = widget_id, True
        self.ws.send(msg.SerializeToString())

    def pump(self, until: float) -> bool:
        """Read messages until ``until`` (monotonic); True once a whole-page script run finished normally (a run
        cut short for a rerun, e.g. the router's, and fragment runs do not count)."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return False
            try:
                raw = self.ws.recv(timeout=left)
            except TimeoutError:
                return False
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "navigation":  # the page's hash, as the browser sends it back with every rerun
                self.page_hash = next(
                    (
                        p.page_script_hash
                        for p in msg.navigation.app_pages
                        if p.url_pathname == self.page or (not self.page and p.is_default)
                    ),
                    "",
                )
            elif kind == "delta":
                self._element(msg.delta)
            elif kind == "page_info_changed":
                self.address = msg.page_info_changed.query_string
            elif kind == "auto_rerun":
                a = msg.auto_rerun
                self.fragments[a.fragment_id] = (a.interval, time.monotonic() + a.interval)
            elif kind == "stop_auto_rerun":
                for fid in msg.stop_auto_rerun.fragment_ids or list(self.fragments):
                    self.fragments.pop(fid, None)
            elif kind == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                return True

    def _element(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        el = delta.new_element
        kind = el.WhichOneof("type")
        if kind == "button":
            self.buttons[el.button.label] = el.button.id
        elif kind == "heading":
            self.headings.append(el.heading.body)
        elif kind == "exception":
            self.errors.append(f"exception: {el.exception.message[:200]}")
        elif kind == "alert" and el.alert.format == 1:  # ERROR
            self.errors.append(f"error box: {el.alert.body[:200]}")
        elif kind == "alert" and ("busy" in el.alert.body.lower() or "limit per" in el.alert.body):
            self.errors.append(f"refused: {el.alert.body[:200]}")

    def poll_fragments(self) -> None:
        now = time.monotonic()
        for fid, (interval, due) in list(self.fragments.items()):
            if due <= now:
                self.fragments[fid] = (interval, now + interval)
                self.rerun(fragment_id=fid, auto=True)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


QUERY = ""  # settings every visitor's link carries (--query), e.g. a shorter run than the quick preset
PROBES = 3  # fresh Chromium visitors that open a result link during each load level (--probes)


def visitor(port: int, page: str, start: threading.Barrier, visit: Visit, timeout: float, forwarded: str = "") -> None:
    """Open the page, press Train together with the others, wait for the results (``forwarded``: the visitor's
    address, as a trusted reverse proxy would pass it on)."""
    session, end = None, time.monotonic() + timeout
    try:
        try:
            session = Session(port, page, QUERY, forwarded)
            session.rerun()
            if not session.pump(end):
                raise TimeoutError("the page did not load")
        finally:
            start.wait(timeout)  # the others press Train together, even if this tab failed to load
        visit.clicked = time.monotonic()
        session.headings.clear()
        session.rerun(widget_id=session.buttons["Train"])
        while RESULTS_HEADING not in session.headings and time.monotonic() < end:
            session.pump(min(end, time.monotonic() + 0.1))
            session.poll_fragments()
        if RESULTS_HEADING in session.headings:
            visit.results = time.monotonic()
            session.pump(time.monotonic() + 2)  # the address change that follows the results
            visit.run_id = dict(urllib.parse.parse_qsl(session.address)).get("run", "")
        else:
            visit.errors.append("no results before the time-out")
    except Exception as e:  # a broken session is a measured error, not a crash of the benchmark
        visit.errors.append(f"{type(e).__name__}: {e}")
    finally:
        if session is not None:
            visit.errors.extend(session.errors)
            session.close()


def home_render_s(port: int, timeout: float = 120, page: str = "", query: str = "") -> float | None:
    """A new visitor's home page (or ``page?query``, e.g. a result link): seconds from connecting to the end of
    its first script run."""
    started = time.monotonic()
    session = None
    try:
        session = Session(port, page, query)
        session.rerun()
        return time.monotonic() - started if session.pump(started + timeout) else None
    except Exception:
        return None
    finally:
        if session is not None:
            session.close()


# --- a flood from one address (issue #30) --------------------------------------------------------------------------
FLOOD_ADDRESS = "203.0.113.66"  # the flooding script's address (documentation range)


def flood_press(port: int, page: str, timeout: float = 60) -> str:
    """One new session of the flooding script (no cookie): open the page, press Train, leave. Returns "admitted",
    "refused" (a limit said no) or "error: ..."."""
    session, end = None, time.monotonic() + timeout
    try:
        session = Session(port, page, QUERY, FLOOD_ADDRESS)
        session.rerun()
        if not session.pump(end):
            return "error: the page did not load"
        session.rerun(widget_id=session.buttons["Train"])
        session.pump(min(end, time.monotonic() + 5))  # the refusal, or the rerun that follows an admitted run
        if any(e.startswith("refused") for e in session.errors):
            return "refused"
        return f"error: {session.errors[0]}" if session.errors else "admitted"
    except Exception as e:
        return f"error: {type(e).__name__}: {e}"
    finally:
        if session is not None:
            session.close()


def ordinary_visitors(port: int, page: str, n: int, timeout: float) -> list[Visit]:
    """``n`` ordinary visitors, each from its own address, press Train once together and wait for their results."""
    visits = [Visit(page) for _ in range(n)]
    barrier = threading.Barrier(n)
    threads = [
        threading.Thread(
            target=visitor, args=(port, page, barrier, v, timeout), kwargs={"forwarded": f"198.51.100.{i + 1}"}
        )
        for i, v in enumerate(visits)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 60)
    return visits


def _waits(visits: list[Visit]) -> dict:
    times = sorted(v.results - v.clicked for v in visits if v.results is not None and v.clicked is not None)
    return {
        "completed": len(times),
        "errors": [e for v in visits for e in v.errors][:5],
        "p50_s": round(statistics.median(times), 1) if times else None,
        "max_s": round(times[-1], 1) if times else None,
    }


def flood_scenario(port: int, page: str, flood: int, n: int, solo_s: float, slots: int, timeout: float) -> dict:
    """Ordinary visitors' click-to-results on a calm server, then while one address floods ``flood`` runs."""
    calm = _waits(ordinary_visitors(port, page, n, timeout))
    with ThreadPoolExecutor(10) as pool:  # the script opens its sessions as fast as it can
        pressed = list(pool.map(lambda _: flood_press(port, page), range(flood)))
    flooded = _waits(ordinary_visitors(port, page, n, timeout))
    return {
        "scenario": "flood",
        "page": page,
        "slots": slots,
        "solo_s": round(solo_s, 1),
        "flood_runs": flood,
        "flood_admitted": pressed.count("admitted"),
        "flood_refused": pressed.count("refused"),
        "flood_errors": [p for p in pressed if p.startswith("error")][:5],
        "visitors": n,
        "calm": calm,
        "during_flood": flooded,
        "p50_during_vs_calm": round(flooded["p50_s"] / calm["p50_s"], 2)
        if flooded["p50_s"] and calm["p50_s"]
        else None,
    }


# --- the server ---------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app_dir: Path, data_dir: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    full_env = {**os.environ, "FRONTIER_DATA_DIR": data_dir, "PYTHONPATH": str(app_dir), **env}
    server = subprocess.Popen(cmd, cwd=app_dir, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 120
    while time.time() < end:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return server, port
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the app server did not start")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError):
            pass
    return total


class Sampler(threading.Thread):
    """Peak RSS of the server tree, new-visitor home render times and, given ``link`` (page, run id), the render
    times of that stored run's result link (issue 13 item 19), until stopped."""

    def __init__(self, pid: int, port: int, home_every_s: float, link: tuple[str, str] | None = None):
        super().__init__(daemon=True)
        self.pid, self.port, self.home_every_s, self.link = pid, port, home_every_s, link
        self.peak_mb = 0.0
        self.home: list[float] = []
        self.links: list[float] = []
        self.home_failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        memory = threading.Thread(target=self._memory, daemon=True)
        memory.start()
        while not self.stop.wait(self.home_every_s):
            seconds = home_render_s(self.port)
            if seconds is None:
                self.home_failures += 1
            else:
                self.home.append(seconds)
            if self.link and not self.stop.is_set():
                seconds = home_render_s(self.port, page=self.link[0], query=f"run={self.link[1]}")
                if seconds is not None:
                    self.links.append(seconds)

    def _memory(self) -> None:
        while not self.stop.wait(1.0):
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))


# --- real browsers ----------------------------------------------------------------------------------------------
DRAWN = "() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0"


def browser_probes(url: str, n: int = 3, timeout: float = 180) -> list[float | None]:
    """``n`` fresh Chromium visitors (new contexts: no cache, no cookies) open ``url`` at once; seconds until
    each one's first chart is drawn (None: not within ``timeout``). One browser, polled in turn, so the probes
    add little CPU of their own beyond what each tab really costs."""
    from playwright.sync_api import sync_playwright

    from tests.browser import driver

    with sync_playwright() as p:
        browser = driver.launch(p)
        tabs = []
        for _ in range(n):
            page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            tabs.append((page, time.monotonic()))
            page.goto(url, wait_until="commit")
        done: list[float | None] = [None] * n
        end = time.monotonic() + timeout
        while time.monotonic() < end and any(d is None for d in done):
            for i, (page, started) in enumerate(tabs):
                if done[i] is None and page.evaluate(DRAWN):
                    done[i] = time.monotonic() - started
            time.sleep(0.05)
        browser.close()
    return done


def _seconds_summary(times: list[float | None]) -> dict:
    got = sorted(t for t in times if t is not None)
    return {
        "p50_s": round(statistics.median(got), 2) if got else None,
        "max_s": round(got[-1], 2) if got else None,
        "missing": len(times) - len(got),
        "all_s": [None if t is None else round(t, 2) for t in times],
    }


def link_storm(port: int, server_pid: int, link: tuple[str, str], visitors: int, probes: int) -> dict:
    """``visitors`` websocket sessions open one result link within a few seconds while ``probes`` fresh Chromium
    visitors do the same: errors, the sessions' render times, the probes' first chart, the app's memory."""
    page, run_id = link
    app_before, all_before = _own_rss_mb(server_pid), tree_rss_mb(server_pid)
    times: list[float | None] = [None] * visitors

    def one(i: int) -> None:
        time.sleep(3.0 * i / visitors)  # spread over a few seconds, as a link posted somewhere is opened
        times[i] = home_render_s(port, page=page, query=f"run={run_id}")

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(visitors)]
    for t in threads:
        t.start()
    probe_times = browser_probes(f"http://127.0.0.1:{port}/{page}?run={run_id}", probes)
    for t in threads:
        t.join(300)
    return {
        "storm_visitors": visitors,
        "errors": sum(t is None for t in times),
        "sessions": _seconds_summary(list(times)),
        "chromium_first_chart": _seconds_summary(probe_times),
        "app_rss_mb_before_after": [round(app_before), round(_own_rss_mb(server_pid))],
        "app_and_workers_rss_mb_before_after": [round(all_before), round(tree_rss_mb(server_pid))],
    }


def _own_rss_mb(pid: int) -> float:
    """Resident memory of the app server process alone (its workers left out)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


# --- one load level ---------------------------------------------------------------------------------------------
def solo_run(port: int, page: str, timeout: float) -> Visit:
    visit = Visit(page)
    visitor(port, page, threading.Barrier(1), visit, timeout)
    if visit.results is None:
        raise RuntimeError(f"a solo run on {page} failed: {visit.errors}")
    return visit


def load_level(
    port: int,
    server_pid: int,
    n: int,
    pages: list[str],
    solo_s: float,
    slots: int,
    timeout: float,
    link: tuple[str, str] | None = None,
) -> dict:
    visits = [Visit(pages[i % len(pages)]) for i in range(n)]
    barrier = threading.Barrier(n)
    sampler = Sampler(server_pid, port, home_every_s=5.0, link=link)
    sampler.start()
    threads = [threading.Thread(target=visitor, args=(port, v.page, barrier, v, timeout), daemon=True) for v in visits]
    for t in threads:
        t.start()
    probes: list[float | None] = []
    if link and PROBES:  # while the sessions train, fresh Chromium visitors open a result link
        time.sleep(5)
        probes = browser_probes(f"http://127.0.0.1:{port}/{link[0]}?run={link[1]}", PROBES)
    for t in threads:
        t.join(timeout + 60)
    sampler.stop.set()
    sampler.join(150)
    times = sorted(v.results - v.clicked for v in visits if v.results is not None)
    ideal = n * solo_s / slots
    return {
        "sessions": n,
        "pages": sorted(set(pages)),
        "completed": len(times),
        "errors": sum(bool(v.errors) for v in visits),
        "error_examples": [e for v in visits for e in v.errors][:5],
        "p50_s": round(statistics.median(times), 1) if times else None,
        "max_s": round(times[-1], 1) if times else None,
        "ideal_s": round(ideal, 1),
        "p50_vs_ideal": round(statistics.median(times) / ideal, 2) if times else None,
        "home_p50_s": round(statistics.median(sampler.home), 2) if sampler.home else None,
        "home_max_s": round(max(sampler.home), 2) if sampler.home else None,
        "home_samples": len(sampler.home),
        "home_failures": sampler.home_failures,
        "peak_rss_mb": round(sampler.peak_mb),
        "link_p50_s": round(statistics.median(sampler.links), 2) if sampler.links else None,
        "link_max_s": round(max(sampler.links), 2) if sampler.links else None,
        "link_samples": len(sampler.links),
        "chromium_link_first_chart": _seconds_summary(probes) if probes else None,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sessions", type=int, nargs="+", help="sessions pressing Train at once (one level after another)")
    ap.add_argument("--pages", default="xai", help="comma-separated technique pages the sessions spread over")
    ap.add_argument("--timeout", type=float, default=900, help="seconds a session may wait for its results")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    ap.add_argument("--app-dir", type=Path, default=ROOT, help="the app to serve (default: this checkout)")
    ap.add_argument("--query", default="", help="settings in every visitor's link, e.g. epochs=20")
    ap.add_argument("--out", type=Path, help="also write the rows as JSON here")
    ap.add_argument("--probes", type=int, default=3, help="Chromium visitors opening a result link per level")
    ap.add_argument("--storm", type=int, default=0, help="then N sessions open one result link at once (+ probes)")
    ap.add_argument("--flood", type=int, default=0, help="then one address floods N runs while visitors press Train")
    ap.add_argument("--visitors", type=int, default=5, help="ordinary visitors in the --flood scenario")
    args = ap.parse_args(argv)
    global QUERY, PROBES
    QUERY, PROBES = args.query, args.probes
    env = dict(kv.split("=", 1) for kv in args.env)
    if args.flood:  # every websocket comes from 127.0.0.1: visitors say their address as a proxy would
        env.setdefault("FRONTIER_TRUSTED_PROXY", "127.0.0.1")
    pages = args.pages.split(",")
    slots = int(env.get("FRONTIER_MAX_RUNS", os.environ.get("FRONTIER_MAX_RUNS", os.cpu_count() or 1)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="frontier-load-") as data_dir:
        server, port = start_server(args.app_dir, data_dir, env)
        try:
            home_render_s(port)  # the first visitor pays the imports; what is measured is a warm server
            for p in pages:  # the first run also waits for the workers to start: not what a solo run costs
                solo_run(port, p, args.timeout)
            visits = {p: solo_run(port, p, args.timeout) for p in pages}
            solo = {p: v.results - v.clicked for p, v in visits.items()}
            solo_s = statistics.mean(solo.values())
            link = next(((p, v.run_id) for p, v in visits.items() if v.run_id), None)
            if link:  # a shared result link on the idle server, for comparison with the same link under load
                print(f"result link on an idle server: {home_render_s(port, page=link[0], query=f'run={link[1]}')} s")
            print(
                f"solo click-to-results: {json.dumps({p: round(s, 1) for p, s in solo.items()})} s; slots {slots}",
                flush=True,
            )
            for n in [n for n in args.sessions if n > 0]:  # 0: only the storm
                row = load_level(port, server.pid, n, pages, solo_s, slots, args.timeout, link)
                rows.append(row)
                print(json.dumps(row), flush=True)
            if args.storm and link:
                row = link_storm(port, server.pid, link, args.storm, args.probes)
                rows.append(row)
                print(json.dumps(row), flush=True)
            if args.flood:
                row = flood_scenario(port, pages[0], args.flood, args.visitors, solo[pages[0]], slots, args.timeout)
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
