"""Scale-out costs (issue 19): eight quick runs submitted at once, through the local executor and through Ray.

    python -m benchmarks.scale [--runs 8] [--technique xai] [--executors local,ray] [--slots 2] [--nodes 4]

For each executor: start it and wait until its workers are warm (start-up, reported apart), submit ``--runs``
quick-preset runs at once (seeds 0..n-1), and wait for all of them. Reported: **total** = first submit to
last result; **run** = each run's own training time (``Outcome.seconds``, measured inside the worker);
**overhead per run** = (result received - handed to a worker) - run, the executor's own cost (dispatch, moving
the config in and the Outcome back, polling), median over the runs and as a share of the median run;
**peak RSS** = the largest sum, sampled every 0.25 s, of the resident memory of this process and every process
below it (warm workers; for Ray also its GCS, raylet and actors). ``--nodes N`` adds a Ray row on N simulated
nodes (N raylets with their own object stores on this machine, one actor each): it checks that runs spread over
nodes and what crossing object stores costs, not a speed-up (the CPUs are the same). Writes
``results/scale.md`` and ``scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (Linux /proc), in MB."""
    parents, rss = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * page / 2**20
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(p, 0.0) for p in tree)


class PeakMemory:
    def __init__(self):
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(os.getpid()))
            self._stop.wait(0.25)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def make(kind: str, slots: int, nodes: int = 0):
    if kind == "ray" and nodes:
        from ray.cluster_utils import Cluster

        from engine.core.ray_executor import RayExecutor

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        for _ in range(nodes):  # each "node" a raylet with its own object store, one CPU each
            cluster.add_node(num_cpus=max(1, slots // nodes))
        executor = RayExecutor(slots=slots, address=cluster.address)
        executor.cluster = cluster
        return executor
    if kind == "ray":
        from engine.core.ray_executor import RayExecutor

        return RayExecutor(slots=slots)
    from engine.core.jobs import LocalExecutor

    return LocalExecutor(slots=slots)


def measure(kind: str, technique: str, runs: int, slots: int, nodes: int = 0) -> dict:
    import engine

    preset = dict(engine.load(technique).PRESETS["quick"])
    with PeakMemory() as memory:
        started = time.perf_counter()
        executor = make(kind, slots, nodes)
        assert executor.wait_ready(600), f"{kind}: workers did not warm up"
        startup = time.perf_counter() - started
        t0 = time.time()
        jobs = [executor.submit(technique, {**preset, "seed": seed}) for seed in range(runs)]
        while any(j.active for j in jobs):
            time.sleep(0.02)
        total = max(j.finished for j in jobs) - t0
        executor.close()
        if getattr(executor, "cluster", None) is not None:
            executor.cluster.shutdown()
    failed = [j.error for j in jobs if j.status != "done"]
    if failed:
        raise RuntimeError(f"{kind}: {len(failed)} runs failed: {failed[0]}")
    run_s = [j.outcome.seconds for j in jobs]
    overhead = [(j.finished - j.started) - j.outcome.seconds for j in jobs]
    return {
        "executor": f"ray, {nodes} simulated nodes" if nodes else kind,
        "runs": runs,
        "slots": slots,
        "startup_s": startup,
        "total_s": total,
        "run_median_s": statistics.median(run_s),
        "run_sum_s": sum(run_s),
        "overhead_median_s": statistics.median(overhead),
        "overhead_max_s": max(overhead),
        "overhead_share": statistics.median(overhead) / statistics.median(run_s),
        "peak_rss_mb": memory.peak,
    }


def table(rows: list[dict], technique: str) -> str:
    lines = [
        f"Eight-at-once scale check: {rows[0]['runs']} `{technique}` quick runs submitted together, "
        f"{rows[0]['slots']} slots (simulated-node row: one per node), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| executor | start-up (s) | total (s) | run, median (s) | overhead per run, median / max (s) | "
        "overhead / run | peak RSS, all processes (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['executor']} | {r['startup_s']:.1f} | {r['total_s']:.1f} | {r['run_median_s']:.2f} | "
            f"{r['overhead_median_s'] * 1000:.0f} ms / {r['overhead_max_s'] * 1000:.0f} ms | "
            f"{r['overhead_share']:.1%} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--technique", default="xai")
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="also run Ray as N local raylets (ray.cluster_utils.Cluster), one actor per node",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    rows = [measure(kind.strip(), args.technique, args.runs, args.slots) for kind in args.executors.split(",")]
    if args.nodes:
        rows.append(measure("ray", args.technique, args.runs, args.nodes, nodes=args.nodes))
    text = table(rows, args.technique)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.md").write_text(text)
    (RESULTS / "scale.json").write_text(json.dumps(rows, indent=2))
    ray_rows = [r for r in rows if r["executor"] == "ray"]
    ok = all(r["overhead_share"] < 0.10 for r in ray_rows)
    print(f"{'PASS' if ok else 'FAIL'}: Ray's overhead per run < 10% of a quick run")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
