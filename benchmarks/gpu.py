"""Does each technique really train on CUDA, and how long do its presets take there versus on the CPU?

    python -m benchmarks.gpu [--presets quick,better] [--only NAME] [--out benchmarks/results/gpu.md]

Each (technique, preset, device) runs in a fresh subprocess through the same ``execute`` path as the app and
the CLI (training + figures + SHAP), with ``FRONTIER_DEVICE`` forcing the device. "CUDA memory" is
``torch.cuda.max_memory_allocated()`` after the run: more than zero proves the run put tensors on the GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(name: str, preset: str) -> dict:
    """Run in this process; print one JSON line."""
    import torch

    torch.set_num_threads(1)
    import engine
    from engine.core.pipeline import execute

    module = engine.load(name)
    started = time.perf_counter()
    outcome = execute(name, dict(module.PRESETS[preset]))
    seconds = time.perf_counter() - started
    cuda = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0
    headline = next(iter(outcome.metrics.items()), ("", float("nan")))
    return {
        "seconds": round(seconds, 2),
        "cuda_bytes": int(cuda),
        "device": outcome.device,
        "metric": headline[0],
        "value": headline[1],
    }


def measure(name: str, preset: str, device: str, timeout: int) -> dict:
    env = {**os.environ, "FRONTIER_DEVICE": device, "SDL_VIDEODRIVER": "dummy"}
    try:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.gpu", "--one", name, preset],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout} s"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu")
    parser.add_argument("--presets", default="quick")
    parser.add_argument("--only")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu.md"))
    parser.add_argument("--one", nargs=2, metavar=("NAME", "PRESET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    import torch

    import engine

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        f"# GPU check ({time.strftime('%Y-%m-%d')}, GPU: {gpu}, torch {torch.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU cores)",
        "",
        "| technique | preset | CUDA s | CPU s | speed-up | CUDA memory | headline metric (CUDA / CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in engine.TECHNIQUES:
        if args.only and name != args.only:
            continue
        module = engine.load(name)
        for preset in args.presets.split(","):
            if preset not in module.PRESETS:
                continue
            cuda, cpu = (measure(name, preset, d, args.timeout) for d in ("cuda", "cpu"))

            def cell(r, key, fmt="{}"):
                return fmt.format(r[key]) if key in r else r.get("error", "")

            speed = f"{cpu['seconds'] / cuda['seconds']:.2f}x" if "seconds" in cuda and "seconds" in cpu else ""
            mem = f"{cuda['cuda_bytes'] / 2**20:.1f} MiB" if "cuda_bytes" in cuda else ""
            value = lambda r: f"{r['value']:.3g}" if isinstance(r.get("value"), (int, float)) else r.get("error", "")
            lines.append(
                f"| {name} | {preset} | {cell(cuda, 'seconds')} | {cell(cpu, 'seconds')} | {speed} | {mem} | "
                f"{cuda.get('metric', '')} {value(cuda)} / {value(cpu)} |"
            )
            print(lines[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
