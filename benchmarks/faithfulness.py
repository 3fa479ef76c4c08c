"""Faithfulness table (issue 21): every preset of every technique on several seeds, its headline metrics.

    python -m benchmarks.faithfulness [--only gan,rl] [--seeds 0,1,2,3] [--set rl:env=CliffWalking-v1]

Each preset runs in this process exactly as the page gives it and seeded as the app seeds it (the preset over the Config's defaults, only the
seed changed), without SHAP or figures: only ``run`` is timed. The table shows each headline metric per seed, so
a preset whose textbook effect fails on one seed shows up as one odd column. ``--set TECH:key=value`` adds a
setting to every run of that technique (e.g. another dataset or environment). Written to
``benchmarks/results/faithfulness.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def runs(name: str, seeds: list[int], extra: dict) -> list[dict]:
    """One row per preset: {preset, seed -> {metric: value}, seconds} for ``name``."""
    import torch

    import engine
    from engine.core.config import validate
    from engine.core.device import isolated_random_state

    torch.set_num_threads(1)
    module = engine.load(name)
    rows = []
    for preset, values in module.PRESETS.items():
        per_seed, started = {}, time.perf_counter()
        for seed in seeds:
            with isolated_random_state(seed):  # as engine.core.pipeline.execute runs every run
                result = module.run(validate(module.Config, {**values, **extra, "seed": seed}), None)
            per_seed[seed] = {k: result.metrics[k] for k in result.headline}
        rows.append({"preset": preset, "seeds": per_seed, "seconds": (time.perf_counter() - started) / len(seeds)})
    return rows


def _fmt(name: str, metric: str, value: float) -> str:
    import engine
    from engine.core.contract import metric_spec

    return metric_spec(engine.load(name).METRICS, metric).text(value)


def table(name: str, rows: list[dict], extra: dict) -> list[str]:
    seeds = list(rows[0]["seeds"]) if rows else []
    title = f"### {name}" + (f" ({', '.join(f'{k}={v}' for k, v in extra.items())})" if extra else "")
    out = [
        title,
        "",
        "| preset | metric | " + " | ".join(f"seed {s}" for s in seeds) + " | s/run |",
        "|---|---|" + "---|" * len(seeds) + "---|",
    ]
    for row in rows:
        for i, metric in enumerate(next(iter(row["seeds"].values()))):
            cells = " | ".join(_fmt(name, metric, row["seeds"][s][metric]) for s in seeds)
            preset, seconds = (row["preset"], f"{row['seconds']:.1f}") if i == 0 else ("", "")
            out.append(f"| {preset} | {metric} | {cells} | {seconds} |")
    return out + [""]


def main(argv: list[str] | None = None) -> int:
    import engine

    parser = argparse.ArgumentParser(prog="python -m benchmarks.faithfulness")
    parser.add_argument("--only", default=",".join(engine.TECHNIQUES))
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--set", action="append", default=[], metavar="TECH:KEY=VALUE")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    extras: dict[str, dict] = {}
    for item in args.set:
        tech, _, pair = item.partition(":")
        key, _, text = pair.partition("=")
        from engine.core.config import parse_value

        extras.setdefault(tech, {})[key] = parse_value(engine.load(tech).Config, key, text)
    lines = [
        "# Faithfulness: every preset on several seeds",
        "",
        f"`python -m benchmarks.faithfulness {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
    ]
    for name in args.only.split(","):
        section = table(name, runs(name, seeds, extras.get(name, {})), extras.get(name, {}))
        print("\n".join(section), flush=True)
        lines += section
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "faithfulness.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
