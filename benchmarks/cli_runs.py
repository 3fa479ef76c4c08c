"""Each technique's quick preset through the CLI (``python -m engine run NAME --out DIR``), one at a time.

Reports the process's wall time (imports included), the run's own time (``seconds`` in metrics.json: training,
figures and SHAP, what a person waits for in the app, whose workers have already imported everything), the
process's peak resident memory (``ru_maxrss`` of that one child, from ``os.wait4``) and the headline metric
(the first metric the technique reports).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_quick(name: str, preset: str = "quick", timeout_s: float = 600) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        out = Path(tmp) / "out"
        log = Path(tmp) / "log.txt"
        env = {**os.environ, "FRONTIER_DATA_DIR": str(Path(tmp) / "data"), "SDL_VIDEODRIVER": "dummy"}
        cmd = [sys.executable, "-m", "engine", "run", name, "--preset", preset, "--out", str(out)]
        started = time.perf_counter()
        with open(log, "wb") as f:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
            deadline = started + timeout_s
            while True:  # os.wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix every child's)
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        row = {
            "technique": name,
            "preset": preset,
            "command": " ".join(["python", *cmd[1:-2], "--out", "DIR"]),
            "wall_s": round(wall, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "returncode": proc.returncode,
        }
        if proc.returncode != 0 or not (out / "metrics.json").exists():
            row["error"] = log.read_text(errors="replace")[-1500:].strip() or f"exit code {proc.returncode}"
            return row
        metrics = json.loads((out / "metrics.json").read_text())
        row["run_s"] = round(float(metrics.pop("seconds")), 2)
        row["status"] = metrics.pop("status")
        first = next(iter(metrics.items()), (None, None))
        row["metric"], row["metric_value"] = first
        row["metrics"] = metrics
        return row


_WARM_RUN_PROBE = r"""
import json, sys, time, torch
torch.set_num_threads(1)
import engine
from engine.core.pipeline import execute
name, preset = sys.argv[1], sys.argv[2]
values = dict(engine.load(name).PRESETS[preset])
execute(name, values)  # first run: imports and first calls, which a warm worker has already paid
started = time.perf_counter()
execute(name, values)
print(json.dumps({"warm_s": time.perf_counter() - started}))
"""


def warm_run_s(name: str, preset: str = "quick") -> float | None:
    """The preset's time in a warm process (the second run in one process), as the app's workers run it."""
    with tempfile.TemporaryDirectory(prefix=f"bench-warm-{name}-") as tmp:
        env = {**os.environ, "FRONTIER_DATA_DIR": tmp, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-c", _WARM_RUN_PROBE, name, preset],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    try:
        return round(json.loads(proc.stdout.strip().splitlines()[-1])["warm_s"], 2)
    except (IndexError, ValueError, KeyError):
        return None


_WARM_PROBE = r"""
import time, torch
torch.set_num_threads(1)
from engine.core.worker import warm_up
started = time.perf_counter()
warm_up()
print(time.perf_counter() - started)
"""


def shap_first_call_s() -> float | None:
    """Seconds of SHAP's first call (numba compilation) in a fresh process: the CLI pays it inside every run's
    time, while the app's warm workers pay it once at start-up (``engine.core.worker.warm_up``)."""
    proc = subprocess.run(
        [sys.executable, "-c", _WARM_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        return round(float(proc.stdout.strip().splitlines()[-1]), 2)
    except (IndexError, ValueError):
        return None
