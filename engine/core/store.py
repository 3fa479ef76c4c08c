"""The run store: every finished, stopped or failed run in one SQLite file (WAL mode) under the data directory.

A run's row is written when it is submitted (status "queued") and completed in a single transaction when it
ends, together with its artifacts (weights as safetensors, figures as Plotly JSON, SHAP explanations as
safetensors arrays + JSON), so a crash never leaves half a run: rows left "queued"/"running" by a server that
is gone are marked "interrupted" when the next server opens the store. Nothing here unpickles anything.

Privacy: each run has an owner (the browser session that made it) and a 128-bit random id. ``list_runs``
filters by owner unless the app runs in single-user mode (``FRONTIER_SINGLE_USER=1``); anyone holding a run's
id (its share link) may open that run.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from contextlib import closing
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from engine.core.paths import data_dir

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, technique TEXT NOT NULL, status TEXT NOT NULL,
    config TEXT NOT NULL, seed INTEGER, created REAL NOT NULL, finished REAL, seconds REAL,
    metrics TEXT, history TEXT, summary TEXT, error TEXT, device TEXT, versions TEXT, server_pid INTEGER);
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner, created);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, kind TEXT NOT NULL, name TEXT NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (run_id, kind, name));
"""
ENDED = ("done", "stopped", "failed", "interrupted")


def single_user() -> bool:
    return os.environ.get("FRONTIER_SINGLE_USER", "") == "1"


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    out = {}
    for pkg in ("torch", "numpy", "scikit-learn", "shap", "plotly", "pennylane", "gymnasium"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _json(value) -> str:
    import numpy as np

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)
    return json.dumps(value, default=default)


class RunStore:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path or data_dir() / "runs.sqlite3")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    # --- writing ------------------------------------------------------------------------------------------
    def start(self, run_id: str, owner: str, technique: str, config: dict) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO runs (id, owner, technique, status, config, seed, created, server_pid) "
                       "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                       (run_id, owner, technique, _json(config), config.get("seed"), time.time(), os.getpid()))

    def finish(self, run_id: str, status: str, outcome=None, error: str = "") -> None:
        """Complete a run's row and write its artifacts in one transaction."""
        row = {"status": status, "finished": time.time(), "error": error, "versions": _json(versions())}
        artifacts: list[tuple[str, str, bytes]] = []
        if outcome is not None:
            row.update(config=_json(outcome.config), metrics=_json(outcome.metrics), seconds=outcome.seconds,
                       history=outcome.history.to_json(orient="split", index=False), summary=outcome.text,
                       device=outcome.device)
            artifacts = _artifacts(outcome)
        with closing(self._connect()) as db, db:
            sets = ", ".join(f"{k} = ?" for k in row)
            db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*row.values(), run_id))
            db.executemany("INSERT OR REPLACE INTO artifacts (run_id, kind, name, data) VALUES (?, ?, ?, ?)",
                           [(run_id, kind, name, data) for kind, name, data in artifacts])

    def mark_running(self, run_id: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute("UPDATE runs SET status = 'running' WHERE id = ? AND status = 'queued'", (run_id,))

    def recover(self) -> int:
        """Mark runs whose server process is gone as interrupted; returns how many."""
        with closing(self._connect()) as db, db:
            rows = db.execute("SELECT id, server_pid FROM runs WHERE status IN ('queued', 'running')").fetchall()
            gone = [r["id"] for r in rows if not _alive(r["server_pid"])]
            db.executemany("UPDATE runs SET status = 'interrupted', finished = ?, error = ? WHERE id = ?",
                           [(time.time(), "The server stopped while this run was training.", i) for i in gone])
        return len(gone)

    def delete(self, run_id: str, owner: str) -> bool:
        """Delete a run (its owner, or anyone in single-user mode)."""
        with closing(self._connect()) as db, db:
            if single_user():
                cur = db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            else:
                cur = db.execute("DELETE FROM runs WHERE id = ? AND owner = ?", (run_id, owner))
            return cur.rowcount == 1

    # --- reading ------------------------------------------------------------------------------------------
    def list_runs(self, owner: str | None, technique: str | None = None, limit: int = 500) -> list[dict]:
        """The owner's runs, newest first (``owner=None``: every run, for single-user mode and the CLI)."""
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if technique:
            where.append("technique = ?")
            args.append(technique)
        sql = ("SELECT id, technique, status, config, metrics, created, seconds, error FROM runs"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created DESC LIMIT ?")
        with closing(self._connect()) as db:
            rows = db.execute(sql, (*args, limit)).fetchall()
        return [{**dict(r), "config": json.loads(r["config"]), "metrics": json.loads(r["metrics"] or "{}")}
                for r in rows]

    def get(self, run_id: str) -> dict | None:
        if not RUN_ID.match(run_id or ""):
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        for key in ("config", "metrics", "versions"):
            out[key] = json.loads(out[key] or "{}")
        return out

    def load_outcome(self, run_id: str):
        """Rebuild a finished run's Outcome (figures, explanation, weights) without retraining; None if unknown."""
        import pandas as pd
        import plotly.io as pio

        from engine.core.pipeline import Outcome

        row = self.get(run_id)
        if row is None or row["history"] is None:
            return None
        with closing(self._connect()) as db:
            arts = db.execute("SELECT kind, name, data FROM artifacts WHERE run_id = ? ORDER BY rowid",
                              (run_id,)).fetchall()
        by_kind: dict[str, dict[str, bytes]] = {}
        for a in arts:
            by_kind.setdefault(a["kind"], {})[a["name"]] = a["data"]
        meta = json.loads(by_kind.get("meta", {}).get("meta", b"{}"))
        figs = {n: pio.from_json(d.decode()) for n, d in by_kind.get("figure", {}).items()}
        xfigs = {n: pio.from_json(d.decode()) for n, d in by_kind.get("explain_figure", {}).items()}
        exps = {n: _explanation_from(d, meta.get("explanations", {}).get(n, {}))
                for n, d in by_kind.get("explanation", {}).items()}
        explanation = exps.get("SHAP") if list(exps) == ["SHAP"] else (exps or None)
        return Outcome(
            technique=row["technique"], config=row["config"], status=row["status"], metrics=row["metrics"],
            history=pd.read_json(_io(row["history"]), orient="split"), figures=_ordered(figs, meta.get("figures")),
            explanation=explanation, explain_figures=_ordered(xfigs, meta.get("explain_figures")),
            text=row["summary"] or "", architecture=meta.get("architecture", {}),
            weights=by_kind.get("weights", {}).get("model"), seconds=row["seconds"] or 0.0, device=row["device"] or "",
            headline=meta.get("headline", []), run_id=run_id)

    def weights(self, run_id: str) -> bytes | None:
        """A run's stored weights (safetensors bytes, keys prefixed by model name), without loading the rest."""
        if not RUN_ID.match(run_id or ""):
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT data FROM artifacts WHERE run_id = ? AND kind = 'weights' AND name = 'model'",
                             (run_id,)).fetchone()
        return bytes(row["data"]) if row is not None else None


def _io(text: str):
    import io

    return io.StringIO(text)


def _ordered(figs: dict, order: list | None) -> dict:
    return {n: figs[n] for n in (order or figs) if n in figs}


def _alive(pid) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _artifacts(outcome) -> list[tuple[str, str, bytes]]:
    import numpy as np
    from safetensors.numpy import save

    from engine.core.explain import explanations

    out = []
    for title, fig in outcome.figures.items():
        out.append(("figure", title, fig.to_json().encode()))
    for title, fig in outcome.explain_figures.items():
        out.append(("explain_figure", title, fig.to_json().encode()))
    exp_meta = {}
    for title, exp in explanations(outcome.explanation).items():
        arrays = {"values": np.ascontiguousarray(exp.values, dtype=np.float64),
                  "base_values": np.ascontiguousarray(np.asarray(exp.base_values, dtype=np.float64))}
        data = np.asarray(exp.data) if exp.data is not None else None
        if data is not None and data.dtype.kind in "fiub":
            arrays["data"] = np.ascontiguousarray(data, dtype=np.float64)
        out.append(("explanation", title, save(arrays)))
        exp_meta[title] = {"feature_names": _names(exp.feature_names), "output_names": _names(exp.output_names),
                           "method": getattr(exp, "method", ""), "additivity_error": getattr(exp, "additivity_error", None)}
    if outcome.weights:
        out.append(("weights", "model", outcome.weights))
    meta = {"figures": list(outcome.figures), "explain_figures": list(outcome.explain_figures),
            "explanations": exp_meta, "architecture": outcome.architecture, "headline": outcome.headline}
    out.append(("meta", "meta", _json(meta).encode()))
    return out


def _names(names):
    return None if names is None else [str(n) for n in names]


def _explanation_from(blob: bytes, meta: dict):
    from safetensors.numpy import load

    from engine.core.explain import make_explanation

    arrays = load(blob)
    error = meta.get("additivity_error")
    exp = make_explanation(arrays["values"], arrays["base_values"], arrays.get("data"), meta.get("feature_names"),
                           meta.get("output_names"), error if error is not None else float("nan"), meta.get("method", ""))
    return exp


def open_store() -> RunStore:
    """The run store this deployment uses: SQLite under the data directory (``FRONTIER_DATA_DIR``)."""
    return RunStore()
