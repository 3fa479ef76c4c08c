"""Soak: sessions train back to back for an hour across all ten pages while new visitors open result links.

    python -m benchmarks.soak --minutes 60 --sessions 8       # about 61 min; writes results/soak.md and soak.json
    python -m benchmarks.soak --minutes 3 --out /tmp/soak.md  # a short check of the harness

A benchmark, not a test (issue #30 item 5): does the app server's memory keep growing under steady use? A real
app server is started (as ``benchmarks.load`` does, with Streamlit's forced garbage collection after every script
run, ``runner.postScriptGC``, off: ``STREAMLIT_RUNNER_POST_SCRIPT_GC=false``, as ``.streamlit/config.toml`` has
it). ``--sessions`` websocket sessions (``benchmarks.load.Session``: what a browser tab sends, no more) each keep
one run going: open a technique page, press Train with its first-visit settings (the quick preset), wait for the
results, go to the next page (each session starts on another of the ten), until the time is up. Meanwhile a new
visitor opens the result link of the latest finished run every ``--link-every`` seconds, and every ``--every``
seconds a sample is taken: the app server's resident memory (RSS) without its workers, each worker's pid and RSS
(a recycled worker shows as a new pid), runs finished, errors.

The report leaves out the first ``--warmup`` minutes (imports, caches, the first run of each technique: a third of
the run when that is shorter) and gives the app's memory slope from a least-squares line through the remaining
samples, in MB and in % per hour of the line's value at the warm-up's end (target: under 5 %/h), the largest worker
RSS, and how many workers were replaced (a worker pid that went away while the server ran: recycled for growth,
or crashed, which would also show as a failed run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import engine
from benchmarks.load import RESULTS_HEADING, Session, start_server
from benchmarks.report import RESULTS, environment
from engine.core.worker import rss_mb

GC_OFF = {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"}  # Streamlit's gc.collect(2) after every script run


@dataclass
class Tally:
    """What the sessions, the link visitors and the sampler report, shared between their threads."""

    started: float = field(default_factory=time.monotonic)
    runs: list[dict] = field(default_factory=list)  # {"t_s", "page", "seconds", "run_id"}
    errors: list[dict] = field(default_factory=list)  # {"t_s", "where", "what"}
    links: list[dict] = field(default_factory=list)  # {"t_s", "run_id", "seconds"}
    samples: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def add(self, kind: str, **row) -> None:
        with self.lock:
            getattr(self, kind).append({"t_s": self.now(), **row})


# --- the visitors -------------------------------------------------------------------------------------------------
def train_once(session: Session, page: str, deadline: float, timeout: float) -> dict | None:
    """Go to ``page`` in this tab, press Train and wait for the results: {"page", "seconds", "run_id", "errors"};
    None when the soak's time ran out first (a run cut short by the end is not counted)."""
    end = min(deadline, time.monotonic() + timeout)
    session.page, session.page_hash, session.query = page, "", ""  # as a click on the page's link in the menu
    session.address = ""
    session.fragments.clear()
    session.buttons.clear()
    session.errors.clear()
    session.rerun()
    if not session.pump(end):
        if time.monotonic() >= deadline:
            return None
        raise TimeoutError("the page did not load")
    session.headings.clear()
    clicked = time.monotonic()
    session.rerun(widget_id=session.buttons["Train"])
    while RESULTS_HEADING not in session.headings and time.monotonic() < end:
        session.pump(min(end, time.monotonic() + 0.1))
        session.poll_fragments()
    if RESULTS_HEADING not in session.headings:
        if time.monotonic() >= deadline:
            return None
        raise TimeoutError(f"no results within {timeout:.0f} s")
    seconds = time.monotonic() - clicked
    session.pump(time.monotonic() + 2)  # the address change that follows the results (the run's result link)
    run_id = dict(urllib.parse.parse_qsl(session.address)).get("run", "")
    return {"page": page, "seconds": round(seconds, 1), "run_id": run_id, "errors": list(session.errors)}


def trainer(port: int, pages: list[str], first: int, deadline: float, timeout: float, tally: Tally) -> None:
    """One browser tab training back to back through ``pages`` from ``pages[first]`` until ``deadline``; a broken
    tab is an error, and a new one carries on."""
    session, i = None, first
    while time.monotonic() < deadline:
        page = pages[i % len(pages)]
        i += 1
        try:
            if session is None:
                session = Session(port, page)
            done = train_once(session, page, deadline, timeout)
        except Exception as e:  # measured, not fatal: the next run opens a fresh tab
            tally.add("errors", where=page, what=f"{type(e).__name__}: {e}"[:300])
            if session is not None:
                session.close()
            session = None
            time.sleep(1)  # a server that refuses every tab is not hammered
            continue
        if done is None:
            break
        for what in done.pop("errors"):
            tally.add("errors", where=page, what=what)
        tally.add("runs", **done)
    if session is not None:
        session.close()


def open_link(port: int, page: str, run_id: str, timeout: float = 120) -> tuple[float | None, list[str]]:
    """A new visitor opens a result link: (seconds to the end of its first script run or None, errors shown)."""
    started, session = time.monotonic(), None
    try:
        session = Session(port, page, f"run={run_id}")
        session.rerun()
        finished = session.pump(started + timeout)
        return (time.monotonic() - started if finished else None), list(session.errors)
    except Exception as e:
        return None, [f"{type(e).__name__}: {e}"[:300]]
    finally:
        if session is not None:
            session.close()


def link_visitors(port: int, every_s: float, deadline: float, tally: Tally) -> None:
    """Every ``every_s`` seconds a new visitor opens the result link of the latest finished run not opened yet
    (else the latest)."""
    opened: set[str] = set()
    while time.monotonic() + every_s < deadline:
        time.sleep(every_s)
        with tally.lock:
            done = [r for r in tally.runs if r["run_id"]]
        if not done:
            continue
        run = next((r for r in reversed(done) if r["run_id"] not in opened), done[-1])
        opened.add(run["run_id"])
        seconds, errors = open_link(port, run["page"], run["run_id"])
        tally.add("links", run_id=run["run_id"], seconds=None if seconds is None else round(seconds, 2))
        if seconds is None:
            errors = errors or ["the result link did not render"]
        for what in errors:
            tally.add("errors", where=f"result link {run['page']}", what=what)


# --- memory -------------------------------------------------------------------------------------------------------
def workers_of(server_pid: int) -> dict[int, float]:
    """The app server's training workers (its child processes running ``engine.core.worker``): pid -> RSS MB."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == server_pid and b"engine.core.worker" in (stat.parent / "cmdline").read_bytes():
                found[int(stat.parent.name)] = round(rss_mb(int(stat.parent.name)), 1)
        except (OSError, ValueError, IndexError):
            continue
    return found


def sampler(server_pid: int, every_s: float, deadline: float, tally: Tally) -> None:
    """Every ``every_s`` seconds: the app's own RSS, each worker's pid and RSS, runs finished, errors so far."""
    while True:
        workers = workers_of(server_pid)
        with tally.lock:
            tally.samples.append(
                {
                    "t_s": tally.now(),
                    "app_mb": round(rss_mb(server_pid), 1),
                    "workers": sorted(workers.items()),
                    "runs": len(tally.runs),
                    "errors": len(tally.errors),
                    "links": len(tally.links),
                }
            )
        if time.monotonic() + every_s > deadline:
            return
        time.sleep(every_s)


def slope(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares line through (x, y) points: (slope, intercept)."""
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return b, my - b * mx


def summarize(tally: Tally, warmup_s: float) -> dict:
    """The soak's numbers after the warm-up (see the module's docstring)."""
    after = [s for s in tally.samples if s["t_s"] >= warmup_s]
    hours = [(s["t_s"] / 3600, s["app_mb"]) for s in after]
    per_h, at_0 = slope(hours) if len(hours) >= 2 else (0.0, hours[0][1] if hours else 0.0)
    start_mb = at_0 + per_h * warmup_s / 3600  # the line's value where the window starts
    pids_seen = {pid for s in tally.samples for pid, _ in s["workers"]}
    last = set(pid for pid, _ in tally.samples[-1]["workers"]) if tally.samples else set()
    times = sorted(r["seconds"] for r in tally.runs)
    links = sorted(link["seconds"] for link in tally.links if link["seconds"] is not None)
    by_page: dict[str, int] = {}
    for r in tally.runs:
        by_page[r["page"]] = by_page.get(r["page"], 0) + 1
    return {
        "samples": len(tally.samples),
        "samples_after_warmup": len(after),
        "warmup_s": round(warmup_s),
        "app_mb_first": tally.samples[0]["app_mb"] if tally.samples else None,
        "app_mb_at_warmup_end": after[0]["app_mb"] if after else None,
        "app_mb_last": after[-1]["app_mb"] if after else None,
        "app_mb_min_max_after_warmup": [min(y for _, y in hours), max(y for _, y in hours)] if hours else None,
        "app_slope_mb_per_h": round(per_h, 1),
        "app_slope_pct_per_h": round(100 * per_h / start_mb, 2) if start_mb else None,
        "max_worker_mb": max((mb for s in tally.samples for _, mb in s["workers"]), default=None),
        "worker_pids_seen": len(pids_seen),
        "workers_replaced": len(pids_seen - last),
        "runs_finished": len(tally.runs),
        "runs_after_warmup": sum(r["t_s"] >= warmup_s for r in tally.runs),
        "runs_by_page": dict(sorted(by_page.items())),
        "click_to_results_p50_s": round(statistics.median(times), 1) if times else None,
        "click_to_results_max_s": times[-1] if times else None,
        "links_opened": len(tally.links),
        "link_p50_s": round(statistics.median(links), 2) if links else None,
        "link_max_s": links[-1] if links else None,
        "errors": len(tally.errors),
        "error_examples": [f"{e['where']}: {e['what']}" for e in tally.errors[:5]],
    }


# --- the report ---------------------------------------------------------------------------------------------------
def markdown(settings: dict, summary: dict, tally: Tally, env: dict) -> str:
    """soak.md: what ran, the summary, and one sample every five minutes."""
    pct = summary["app_slope_pct_per_h"]
    verdict = "PASS" if pct is not None and pct < 5 else "FAIL"
    s = summary
    lines = [
        f"# Soak (issue 30 item 5), {env['when'][:10]}, {env['cpus']} CPUs, load average at the end "
        f"{' '.join(env['load_average'])}, commit {env['commit']}{' (dirty tree)' if env['dirty'] else ''}",
        "",
        f"`{settings['command']}`: {settings['sessions']} websocket sessions trained back to back for "
        f"{settings['minutes']:g} min across {len(settings['pages'])} pages (first-visit settings: the quick preset), "
        f"a new visitor opened a result link every {settings['link_every_s']:g} s, memory sampled every "
        f"{settings['every_s']:g} s. Streamlit's forced GC after each script run off "
        f"(`runner.postScriptGC=false`); server environment: "
        f"{', '.join(f'`{k}={v}`' for k, v in settings['env'].items())}. Warm-up left out: the first "
        f"{s['warmup_s'] / 60:g} min.",
        "",
        "| what | value |",
        "|---|---|",
        f"| app server memory slope after warm-up (least squares, app alone) | {s['app_slope_mb_per_h']} MB/h = "
        f"**{pct} %/h** (target < 5 %/h: {verdict}) |",
        f"| app server RSS: first sample / warm-up end / last | {s['app_mb_first']} / {s['app_mb_at_warmup_end']} / "
        f"{s['app_mb_last']} MB |",
        f"| app server RSS after warm-up, min - max | {' - '.join(map(str, s['app_mb_min_max_after_warmup'] or []))} "
        "MB |",
        f"| largest worker RSS (any sample) | {s['max_worker_mb']} MB |",
        f"| workers replaced (recycled for growth past `FRONTIER_WORKER_RECYCLE_MB` = {settings['recycle_mb']} MB "
        f"over their warm size, or crashed) | {s['workers_replaced']} ({s['worker_pids_seen']} worker pids seen) |",
        f"| runs finished (after warm-up) | {s['runs_finished']} ({s['runs_after_warmup']}) |",
        f"| runs per page | {', '.join(f'{k} {v}' for k, v in s['runs_by_page'].items())} |",
        f"| click-to-results p50 / max | {s['click_to_results_p50_s']} / {s['click_to_results_max_s']} s |",
        f"| result links opened by new visitors; first script run p50 / max | {s['links_opened']}; "
        f"{s['link_p50_s']} / {s['link_max_s']} s |",
        f"| errors | {s['errors']}{': ' + '; '.join(s['error_examples']) if s['error_examples'] else ''} |",
        "",
        "One sample every five minutes (all of them, every 10 s, in `soak.json`):",
        "",
        "| minute | app MB | workers: pid MB | runs | errors |",
        "|---|---|---|---|---|",
    ]
    step = max(1, round(300 / settings["every_s"]))
    rows = tally.samples[::step] + ([tally.samples[-1]] if (len(tally.samples) - 1) % step else [])
    for row in rows:
        workers = ", ".join(f"{pid} {mb:.0f}" for pid, mb in row["workers"])
        lines.append(f"| {row['t_s'] / 60:.1f} | {row['app_mb']:.0f} | {workers} | {row['runs']} | {row['errors']} |")
    return "\n".join(lines) + "\n"


def progress_line(tally: Tally) -> str:
    s = tally.samples[-1] if tally.samples else {}
    return (
        f"{tally.now() / 60:5.1f} min: app {s.get('app_mb')} MB, workers {s.get('workers')}, runs {len(tally.runs)}, "
        f"links {len(tally.links)}, errors {len(tally.errors)}"
    )


def soak(args: argparse.Namespace, env: dict, pages: list[str]) -> Tally:
    """Start a server, run the training sessions, the link visitors and the sampler until the deadline, then stop
    the server and any worker that outlived it."""
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="frontier-soak-") as data_dir:
        server, port = start_server(Path(__file__).resolve().parents[1], data_dir, env)
        tally.started = time.monotonic()
        deadline = tally.started + 60 * args.minutes
        print(
            f"app server pid {server.pid} on port {port}; {args.sessions} sessions for {args.minutes:g} min", flush=True
        )
        threads = [
            threading.Thread(target=trainer, args=(port, pages, i, deadline, args.timeout, tally), daemon=True)
            for i in range(args.sessions)
        ]
        threads.append(
            threading.Thread(target=link_visitors, args=(port, args.link_every, deadline, tally), daemon=True)
        )
        threads.append(threading.Thread(target=sampler, args=(server.pid, args.every, deadline, tally), daemon=True))
        try:
            for t in threads:
                t.start()
            printed = time.monotonic()
            while any(t.is_alive() for t in threads):
                time.sleep(1)
                if time.monotonic() - printed >= 60:
                    printed = time.monotonic()
                    print(progress_line(tally), flush=True)
        finally:
            workers = workers_of(server.pid)
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            for pid in workers:  # any that outlived the server
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
    return tally


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60, help="how long the sessions train")
    ap.add_argument("--sessions", type=int, default=8, help="browser sessions training back to back")
    ap.add_argument("--warmup", type=float, default=10, help="minutes left out of the summary")
    ap.add_argument("--every", type=float, default=10, help="seconds between memory samples")
    ap.add_argument("--link-every", type=float, default=15, help="seconds between new visitors opening a link")
    ap.add_argument("--pages", default=",".join(engine.TECHNIQUES), help="comma-separated technique pages")
    ap.add_argument("--timeout", type=float, default=900, help="seconds a session may wait for its results")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    ap.add_argument("--out", type=Path, default=RESULTS / "soak.md", help="the report (the samples go beside it)")
    args = ap.parse_args(argv)
    env = {**GC_OFF, **dict(kv.split("=", 1) for kv in args.env)}
    pages = args.pages.split(",")
    warmup_s = 60 * (args.warmup if args.warmup < args.minutes else args.minutes / 3)
    settings = {
        "command": "python -m benchmarks.soak " + " ".join(argv if argv is not None else sys.argv[1:]),
        "minutes": args.minutes,
        "sessions": args.sessions,
        "pages": pages,
        "every_s": args.every,
        "link_every_s": args.link_every,
        "env": env,
        "recycle_mb": env.get("FRONTIER_WORKER_RECYCLE_MB", os.environ.get("FRONTIER_WORKER_RECYCLE_MB", "768")),
    }
    tally = soak(args, env, pages)
    summary = summarize(tally, warmup_s)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(settings, summary, tally, environment()))
    raw = {
        "settings": settings,
        "summary": summary,
        **{k: getattr(tally, k) for k in ("samples", "runs", "errors", "links")},
    }
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    print(json.dumps(summary), flush=True)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}", flush=True)
    return summary


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
