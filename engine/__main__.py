"""Command line: run any technique without Streamlit.

python -m engine list
python -m engine run xai --preset quick --set dataset=wine --set epochs=20 --out out/
python -m engine run xai --executor ray      # the same run on Ray (RAY_ADDRESS, else a local Ray)
python -m engine runs list | show ID | export ID DIR
python -m engine runs backup PATH | restore PATH [--force]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import engine


def _run(args) -> int:
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from engine.core.config import ConfigError, parse_value, validate
    from engine.core.contract import RunError
    from engine.core.data import DataError

    try:
        module = engine.load(args.technique)
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    if args.preset not in module.PRESETS:
        print(f"Unknown preset {args.preset!r}; presets: {', '.join(module.PRESETS)}.", file=sys.stderr)
        return 2
    values = dict(module.PRESETS[args.preset])
    try:
        for item in args.set:
            key, sep, text = item.partition("=")
            if not sep:
                raise ConfigError(f"`--set` takes key=value, but got {item!r}.")
            values[key.strip()] = parse_value(module.Config, key.strip(), text)
        validate(module.Config, values)  # every setting checked before the heavy imports (torch takes seconds)
        inputs = _inputs(args.technique, values)
        if args.executor == "ray":
            outcome, error = _run_on_ray(args.technique, values, inputs)
            if outcome is None:
                print(error, file=sys.stderr)
                return 2
        else:
            import torch

            torch.set_num_threads(args.threads)
            from engine.core.pipeline import execute

            outcome = execute(args.technique, values, inputs=inputs)
    except (ConfigError, DataError, RunError) as e:
        print(str(e), file=sys.stderr)
        return 2
    print(json.dumps(outcome.metrics))
    if args.out:
        write_outcome(outcome, Path(args.out))
    return 0


def _inputs(technique: str, values: dict) -> dict | None:
    """What the run starts from besides its settings (a stored run it names, read from the run store), or None."""
    from engine.core.service import run_inputs, source_run_id

    if not source_run_id(technique, values):
        return None
    from engine.core.store import RunStore

    return run_inputs(RunStore(), technique, values)


def _run_on_ray(technique: str, values: dict, inputs: dict | None = None):
    """One run through the Ray executor (``RAY_ADDRESS``, else a local Ray): (Outcome, "") or (None, message)."""
    import time

    from engine.core.ray_executor import RayExecutor

    executor = RayExecutor(slots=1)
    try:
        job = executor.submit(technique, values, inputs=inputs)
        while job.active:
            time.sleep(0.05)
    finally:
        executor.close()
    if job.outcome is not None:  # done, or stopped at the time limit with its partial results (and a note)
        if job.error:
            print(job.error, file=sys.stderr)
        return job.outcome, ""
    return None, job.error or f"The run ended: {job.status}."


def write_outcome(outcome, out: Path) -> None:
    """config.json, metrics.json, history.csv and model.safetensors of one run."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(outcome.config, indent=2))
    (out / "metrics.json").write_text(
        json.dumps({**outcome.metrics, "status": outcome.status, "seconds": outcome.seconds}, indent=2)
    )
    outcome.history.to_csv(out / "history.csv", index=False)
    if outcome.weights:
        (out / "model.safetensors").write_bytes(outcome.weights)


def _runs(args) -> int:
    """runs list | show ID | export ID DIR | backup PATH | restore PATH, against the run store
    (FRONTIER_DATABASE_URL, else FRONTIER_DATA_DIR)."""
    import os

    from engine.core.store import POSTGRESQL_BACKUP, RunStore, StoreError

    url = os.environ.get("FRONTIER_DATABASE_URL", "")
    if args.runs_command in ("backup", "restore") and url and not url.startswith("sqlite"):
        print(POSTGRESQL_BACKUP, file=sys.stderr)  # PostgreSQL's own tools do it right; nothing is connected to
        return 2
    store = RunStore()
    if args.runs_command in ("backup", "restore"):
        try:
            if args.runs_command == "backup":
                runs = store.backup(args.path)
                print(f"Backed up {runs} runs to {args.path} (a consistent copy, taken while the app may run).")
            else:
                runs = store.restore(args.path, force=args.force)
                print(f"Restored {runs} runs from {args.path}; start the app to serve them.")
        except StoreError as e:
            print(str(e), file=sys.stderr)
            return 2
        return 0
    if args.runs_command == "list":
        for r in store.list_runs(owner=None):
            print(json.dumps({k: r[k] for k in ("id", "technique", "status", "created", "seconds", "metrics")}))
        return 0
    row = store.get(args.id)
    if row is None:
        print(f"No stored run has id {args.id!r}.", file=sys.stderr)
        return 2
    if args.runs_command == "show":
        print(json.dumps({k: v for k, v in row.items() if k not in ("history", "owner", "server_pid")}, indent=2))
        return 0
    outcome = store.load_outcome(args.id)
    if outcome is None:
        print(f"Run {args.id} has no results to export (status: {row['status']}).", file=sys.stderr)
        return 2
    write_outcome(outcome, Path(args.dir))
    print(args.dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Frontier Lab engine")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the techniques")
    run = sub.add_parser("run", help="run a technique and print its summary metrics as JSON")
    run.add_argument("technique")
    run.add_argument("--preset", default="quick")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--out", help="folder for config.json, metrics.json, history.csv, model.safetensors")
    run.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: train in this process (default); ray: on Ray (RAY_ADDRESS, else a local Ray)",
    )
    runs = sub.add_parser("runs", help="stored runs").add_subparsers(dest="runs_command", required=True)
    runs.add_parser("list", help="every stored run, newest first, one JSON object per line")
    runs.add_parser("show", help="one run's record as JSON").add_argument("id")
    export = runs.add_parser("export", help="write a run's config, metrics, history and weights to DIR")
    export.add_argument("id")
    export.add_argument("dir")
    backup = runs.add_parser("backup", help="copy the run store to PATH (SQLite; PostgreSQL: how to use pg_dump)")
    backup.add_argument("path")
    restore = runs.add_parser("restore", help="replace the run store's runs with the backup at PATH (SQLite)")
    restore.add_argument("path")
    restore.add_argument("--force", action="store_true", help="even when the store already holds runs")
    args = parser.parse_args(argv)
    if args.command == "runs":
        return _runs(args)
    if args.command == "list":
        for name, entry in engine.TECHNIQUES.items():
            print(f"{name:<10} {entry.title}: {entry.summary}")
        return 0
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
