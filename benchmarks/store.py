"""Run store costs (issue 3): what recording a run adds to it, and how fast a shared result link opens.

Recording: the xai quick preset runs in this process (after one warm-up run, as a warm worker would), then its
Outcome is written to a fresh store (row + artifacts in one transaction) several times; the median write time
is compared with the run's own time. Opening: a fresh process renders pages/xai.py with ``?run=ID`` (no
training) for one new browser session after another: the first render is cold (the server process imports
SHAP, plotly and the page's modules for the first time), the later ones are what a visitor meets on a server
that is already up.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
times, errors = [], []
for run_id in sys.argv[1:]:
    at = AppTest.from_file("pages/xai.py", default_timeout=120)  # a new browser session each time
    at.query_params["run"] = run_id
    started = time.perf_counter()
    at.run()
    times.append(time.perf_counter() - started)
    errors += [e.message for e in at.exception] + [e.value for e in at.error]
    if len(at.get("plotly_chart")) < 8:
        errors.append("the stored results were not drawn")
import engine.core.service as service
if service._service is not None:
    service._service.close()
print(json.dumps({"times": times, "errors": errors}))
"""


def store_costs(repeats: int = 5) -> dict:
    import torch

    torch.set_num_threads(1)
    from engine.core.pipeline import execute
    from engine.core.store import RunStore

    execute("xai", {})  # warm-up: first-call costs belong to the worker's start, not to a run
    started = time.perf_counter()
    outcome = execute("xai", {})
    run_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        store = RunStore(f"{tmp}/runs.sqlite3")
        writes, ids = [], []
        for _ in range(repeats):
            ids.append(secrets.token_hex(16))
            t = time.perf_counter()
            store.start(ids[-1], "bench", "xai", outcome.config)
            store.finish(ids[-1], "done", outcome)
            writes.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.load_outcome(ids[0])
        load_s = time.perf_counter() - t
        env = {**os.environ, "FRONTIER_DATA_DIR": tmp, "FRONTIER_MAX_RUNS": "1", "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, *ids], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        probe = json.loads(proc.stdout.strip().splitlines()[-1])
    shared = {
        "cold_s": round(probe["times"][0], 3),
        "median_s": round(statistics.median(probe["times"][1:]), 3),
        "all_s": [round(t, 3) for t in probe["times"]],
        "errors": probe["errors"],
    }
    record_s = statistics.median(writes)
    return {
        "run_s": round(run_s, 3),
        "record_s": round(record_s, 4),
        "record_share": round(record_s / run_s, 4),
        "load_outcome_s": round(load_s, 4),
        "shared_render": shared,
    }
