"""Cold first render: one ``AppTest`` run of a script in a fresh Python process, after importing Streamlit.

A Streamlit server already has Streamlit imported when the first visitor arrives, so the timer starts after
``import streamlit`` and covers what the first visitor pays: the script, every module it imports, and its
first draw. Each repetition is a new process (nothing cached); the median is reported.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in the fresh process. The training workers that the sidebar/job panel start are closed before exiting.
_PROBE = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
script, query = sys.argv[1], json.loads(sys.argv[2])
at = AppTest.from_file(script, default_timeout=120)
for key, value in query.items():
    at.query_params[key] = value
started = time.perf_counter()
at.run()
seconds = time.perf_counter() - started
errors = [e.message for e in at.exception]
import engine.core.service as service
if service._service is not None:
    service._service.close()
print(json.dumps({"seconds": seconds, "errors": errors}))
"""


def cold_render(script: str, repeats: int = 3, query: dict | None = None, data_dir: str | None = None) -> dict:
    """Median seconds of the first ``AppTest.run()`` of ``script`` (relative to the repo root) in fresh processes.

    ``query``: URL parameters for the page (e.g. a result link's ``run``); ``data_dir``: the run store to use
    (default: a fresh empty one).
    """
    times, errors = [], []
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        env = {**os.environ, "FRONTIER_DATA_DIR": data_dir or tmp, "FRONTIER_MAX_RUNS": "1", "PYTHONPATH": str(ROOT)}
        for _ in range(repeats):
            proc = subprocess.run(
                [sys.executable, "-c", _PROBE, script, json.dumps(query or {})],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            try:
                result = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                errors.append((proc.stderr or proc.stdout)[-1000:])
                continue
            times.append(result["seconds"])
            errors += result["errors"]
    return {
        "script": script,
        "median_s": round(statistics.median(times), 3) if times else None,
        "all_s": [round(t, 3) for t in times],
        "errors": errors,
    }
