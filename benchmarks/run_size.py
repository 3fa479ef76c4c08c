"""What a stored run holds, per technique (issue 25): each quick preset run once, written to a fresh SQLite store,
and its artifacts measured by kind; beside it, what the same run's rendered charts weigh as Plotly JSON (what a
run stored before runs kept their data) and how long drawing them from the data takes when the run is read.

usage: python -m benchmarks.run_size [technique ...]   (writes benchmarks/results/run_size.md)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]


def measure(name: str, store) -> dict:
    import engine
    from engine.core import drawing
    from engine.core.config import validate
    from engine.core.pipeline import execute

    module = engine.load(name)
    outcome = execute(name, validate(module.Config, module.PRESETS["quick"]).model_dump())
    run_id = f"{abs(hash(name)) % 10**32:032x}"
    store.start(run_id, "bench", name, outcome.config)
    store.finish(run_id, outcome.status, outcome)
    with store.engine.connect() as db:
        rows = db.execute(
            sa.text("SELECT kind, length(data) AS n FROM artifacts WHERE run_id = :i"), {"i": run_id}
        ).all()
        row = db.execute(
            sa.text("SELECT length(history) + length(metrics) + length(config) FROM runs WHERE id = :i"), {"i": run_id}
        ).scalar()
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + r.n
    drawing.forget(run_id)
    back = store.load_outcome(run_id)
    started = time.perf_counter()
    drawn = back.drawn()
    draw_s = time.perf_counter() - started
    pictures = sum(
        len(f.to_json()) for group in (drawn.figures, drawn.explain_figures, drawn.diagrams) for f in group.values()
    )
    return {
        "technique": name,
        "kinds": kinds,
        "row": row or 0,
        "total": sum(kinds.values()) + (row or 0),
        "pictures": pictures,
        "draw_s": draw_s,
        "charts": len(drawn.figures) + len(drawn.explain_figures),
    }


def table(rows: list[dict]) -> str:
    kinds = ["arrays", "explanation", "weights", "download", "meta"]
    head = (
        "| technique | " + " | ".join(f"{k} kB" for k in kinds) + " | row kB | **total kB** | "
        "charts as Plotly JSON kB (the old form) | charts | drawn on read (s) |"
    )
    lines = [head, "|" + "---|" * (len(kinds) + 6)]
    for r in rows:
        cells = [f"{r['kinds'].get(k, 0) / 1e3:.0f}" for k in kinds]
        lines.append(
            f"| {r['technique']} | " + " | ".join(cells) + f" | {r['row'] / 1e3:.0f} | **{r['total'] / 1e3:.0f}** | "
            f"{r['pictures'] / 1e3:.0f} | {r['charts']} | {r['draw_s']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    import torch

    import engine
    from engine.core.store import RunStore

    torch.set_num_threads(1)
    names = argv or list(engine.TECHNIQUES)
    with tempfile.TemporaryDirectory(prefix="bench-size-") as tmp:
        store = RunStore(f"{tmp}/runs.sqlite3")
        rows = []
        for name in names:
            rows.append(measure(name, store))
            print(f"{name}: {rows[-1]['total'] / 1e3:.0f} kB stored, {rows[-1]['draw_s']:.2f} s to draw", flush=True)
    text = (
        f"# What a stored run holds (quick presets)\n\n`python -m benchmarks.run_size` on {time.strftime('%Y-%m-%d')}"
        f" (CPU, one thread). A run stores data, never rendered charts; \"drawn on read\" is the first drawing of "
        "all its charts and words in the app process (later reads of the same run id come from the cache).\n\n"
        + table(rows)
        + "\n"
    )
    if not argv:
        (ROOT / "benchmarks" / "results" / "run_size.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
