"""Faithfulness (issues 21 and 28): the textbook effects each page claims, every offered choice, every preset, on
several seeds.

    python -m benchmarks.faithfulness --effects [--only edge,gan] [--seeds 0,1,2,3,4,5,6,7]
    python -m benchmarks.faithfulness --sweep [--only gan] [--seeds 0,...,7]
    python -m benchmarks.faithfulness [--only gan,rl] [--seeds 0,1,2,3] [--set rl:env=CliffWalking-v1]

``--effects``: every effect of ``benchmarks/effects.py`` (what a page says will happen for the settings it
offers), one row each: the compared numbers per seed and whether the effect held -> ``results/faithfulness.md``.
``--sweep``: every option of every choice a form shows first (dataset, task, method, environment...) over the
technique's first preset, its headline metrics per seed -> ``results/faithfulness_sweep.md``.
Default: every preset as the page gives it, its headline metrics per seed -> ``results/faithfulness_presets.md``;
``--set TECH:key=value`` adds a setting to every run of that technique.

Each run goes through the technique's ``run`` in this process exactly as the app runs it (the settings over the
Config's defaults, seeded as ``engine.core.pipeline.execute`` seeds a run), without SHAP or figures: only ``run``
is timed. Same seed, same numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
OPTION_FIELDS_SKIPPED = {"upload", "finished_run", "drawn"}  # need a person's file, run or drawing: not swept


_runs: dict[str, tuple[dict[str, float], list[str]]] = {}  # one run per technique, settings and seed, however many
# effects read it


def metrics_of(name: str, values: dict, seed: int) -> tuple[dict[str, float], list[str]]:
    """One run of technique ``name`` with ``values`` over its Config's defaults, on ``seed``: all its metrics and
    the names of its headline ones (run once per process for the same settings and seed)."""
    key = json.dumps([name, values, seed], sort_keys=True, default=str)
    if key not in _runs:
        _runs[key] = _run(name, values, seed)
    return _runs[key]


def _run(name: str, values: dict, seed: int) -> tuple[dict[str, float], list[str]]:
    import torch

    import engine
    from engine.core.config import validate
    from engine.core.device import isolated_random_state

    torch.set_num_threads(1)
    module = engine.load(name)
    with isolated_random_state(seed):  # as engine.core.pipeline.execute runs every run
        result = module.run(validate(module.Config, {**values, "seed": seed}), None)
    return result.metrics, list(result.headline)


def runs(name: str, seeds: list[int], extra: dict) -> list[dict]:
    """One row per preset: {label, seed -> {metric: value}, seconds} for ``name``."""
    import engine

    return [_row(name, preset, {**values, **extra}, seeds) for preset, values in engine.load(name).PRESETS.items()]


def _row(name: str, label: str, values: dict, seeds: list[int]) -> dict:
    per_seed, started = {}, time.perf_counter()
    for seed in seeds:
        metrics, headline = metrics_of(name, values, seed)
        per_seed[seed] = {k: metrics[k] for k in headline}
    return {"label": label, "seeds": per_seed, "seconds": (time.perf_counter() - started) / len(seeds)}


def sweep_rows(name: str, seeds: list[int]) -> list[dict]:
    """Every option of every choice among the form's first settings, one option at a time over the first preset
    it is valid with (the settings that must follow an option follow it, as in the form)."""
    import engine
    from engine.core.config import choices

    module = engine.load(name)
    unavailable, rows = module.Config.unavailable_here(), []
    for field in module.Config.PRIMARY:
        options = choices(module.Config.model_fields[field].annotation) or ()
        if not options or all(isinstance(o, bool) for o in options):
            continue
        for option in options:
            if option in OPTION_FIELDS_SKIPPED or option in unavailable.get(field, {}):
                continue
            preset, values = _first_valid(module, field, option)
            rows.append(_row(name, f"{preset}, {field}={option}", values, seeds))
    return rows


def _first_valid(module, field: str, option: Any) -> tuple[str, dict]:
    from engine.core.config import ConfigError, validate

    applies = module.Config.SHOW_IF.get(field, {})  # a setting shown only where it applies is swept there
    for preset, base in module.PRESETS.items():
        values = {**base, **{k: ok[0] for k, ok in applies.items() if base.get(k) not in ok}, field: option}
        values.update(module.Config.follow(field, values)[0])
        try:
            validate(module.Config, values)
        except ConfigError:
            continue
        return preset, values
    raise ConfigError(f"no preset of {module.__name__} runs with {field}={option}")


def _fmt(name: str, metric: str, value: Any) -> str:
    import engine
    from engine.core.contract import metric_spec

    return metric_spec(engine.load(name).METRICS, metric).text(value)


def table(name: str, rows: list[dict], extra: dict, first: str = "preset") -> list[str]:
    seeds = list(rows[0]["seeds"]) if rows else []
    title = f"### {name}" + (f" ({', '.join(f'{k}={v}' for k, v in extra.items())})" if extra else "")
    if not rows:
        return [title, "", "Nothing to sweep: the form's first settings offer no choice of options here.", ""]
    out = [
        title,
        "",
        f"| {first} | metric | " + " | ".join(f"seed {s}" for s in seeds) + " | s/run |",
        "|---|---|" + "---|" * len(seeds) + "---|",
    ]
    for row in rows:
        for i, metric in enumerate(next(iter(row["seeds"].values()))):
            cells = " | ".join(_fmt(name, metric, row["seeds"][s][metric]) for s in seeds)
            label, seconds = (row["label"], f"{row['seconds']:.1f}") if i == 0 else ("", "")
            out.append(f"| {label} | {metric} | {cells} | {seconds} |")
    return out + [""]


def effect_lines(effect, seeds: list[int]) -> list[str]:
    """One effect on every seed: its rows of the table, one per compared metric and a last one with ✓/✗ per
    seed."""
    values = dict(effect.settings)
    if effect.preset:
        import engine

        values = {**engine.load(effect.technique).PRESETS[effect.preset], **values}
    started, per_seed = time.perf_counter(), {}
    for seed in seeds:
        per_seed[seed] = metrics_of(effect.technique, values, seed)[0]
    seconds = (time.perf_counter() - started) / len(seeds)
    held = {s: bool(effect.holds(m)) for s, m in per_seed.items()}
    lines = []
    for i, metric in enumerate(effect.compare):
        cells = " | ".join(_fmt(effect.technique, metric, per_seed[s][metric]) for s in seeds)
        claim = f"{effect.claim}<br>`{effect.command()}`" if i == 0 else ""
        lines.append(f"| {claim} | {metric} | {cells} | {f'{seconds:.1f}' if i == 0 else ''} |")
    verdict = " | ".join("✓" if held[s] else "✗" for s in seeds)
    lines.append(f"| | **held on {sum(held.values())}/{len(seeds)} seeds** | {verdict} | |")
    return lines


def effects_section(name: str, seeds: list[int]) -> list[str]:
    from benchmarks.effects import EFFECTS

    mine = [e for e in EFFECTS if e.technique == name]
    if not mine:
        return []
    out = [
        f"### {name}",
        "",
        "| effect (and the command for seed 0) | metric | " + " | ".join(f"seed {s}" for s in seeds) + " | s/run |",
        "|---|---|" + "---|" * len(seeds) + "---|",
    ]
    for effect in mine:
        out += effect_lines(effect, seeds)
    return out + [""]


def merged(path: Path, sections: dict[str, list[str]]) -> dict[str, list[str]]:
    """The "### technique" sections of the table at ``path`` with ``sections`` in place of the ones rerun: one
    technique can be rerun alone (each section carries the command that made it)."""
    kept: dict[str, list[str]] = {}
    name = None
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith("### "):
            name = line[4:].split(" ")[0]
            kept[name] = []
        if name is not None:
            kept[name].append(line)
    return {**kept, **sections}


def main(argv: list[str] | None = None) -> int:
    import engine
    from engine.core.config import parse_value

    parser = argparse.ArgumentParser(prog="python -m benchmarks.faithfulness")
    parser.add_argument("--only", default=",".join(engine.TECHNIQUES))
    parser.add_argument("--seeds", default=None, help="default: 0-7 with --effects and --sweep, else 0-3")
    parser.add_argument("--effects", action="store_true", help="the effects of benchmarks/effects.py")
    parser.add_argument("--sweep", action="store_true", help="every option of the form's first choices")
    parser.add_argument("--set", action="append", default=[], metavar="TECH:KEY=VALUE")
    args = parser.parse_args(argv)
    wide = args.effects or args.sweep
    seeds = [int(s) for s in (args.seeds or ("0,1,2,3,4,5,6,7" if wide else "0,1,2,3")).split(",")]
    extras: dict[str, dict] = {}
    for item in args.set:
        tech, _, pair = item.partition(":")
        key, _, text = pair.partition("=")
        extras.setdefault(tech, {})[key] = parse_value(engine.load(tech).Config, key, text)
    command = f"`python -m benchmarks.faithfulness {' '.join(argv if argv is not None else sys.argv[1:])}`"
    sections = {}
    for name in args.only.split(","):
        if args.effects:
            section = effects_section(name, seeds)
        elif args.sweep:
            section = table(name, sweep_rows(name, seeds), {}, first="setting")
        else:
            section = table(name, runs(name, seeds, extras.get(name, {})), extras.get(name, {}))
        if section:
            sections[name] = [section[0], "", command, "", *section[1:]]
            print("\n".join(section), flush=True)
    out = RESULTS / (
        "faithfulness.md" if args.effects else "faithfulness_sweep.md" if args.sweep else "faithfulness_presets.md"
    )
    RESULTS.mkdir(exist_ok=True)
    everything = merged(out, sections)
    what = "the effects each page claims" if args.effects else "every offered choice" if args.sweep else "every preset"
    header = [
        f"# Faithfulness: {what}, on several seeds",
        "",
        "Each section: the command that made it, then its table.",
        "",
    ]
    if args.effects:
        held = [re.findall(r"held on (\d+)/(\d+)", line) for lines in everything.values() for line in lines]
        pairs = [found[0] for found in held if found]
        every = sum(k == n for k, n in pairs)
        header.insert(3, f"**{every} of {len(pairs)} effects held on every seed.**\n")
    out.write_text("\n".join(header + [line for lines in everything.values() for line in lines]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
