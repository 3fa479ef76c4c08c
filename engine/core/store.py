"""The run store: every finished, stopped or failed run, in SQLite (the default) or a shared PostgreSQL server.

One code path (SQLAlchemy Core) for both. By default the store is one SQLite file (WAL mode) under the data
directory; ``FRONTIER_DATABASE_URL`` (e.g. ``postgresql://user:pass@db:5432/frontier``) points it at a
PostgreSQL server instead, so several app servers behind a load balancer share runs and result links.

A run's row is written when it is submitted (status "queued") and completed in a single transaction when it
ends, together with its artifacts (weights as safetensors, figures as Plotly JSON, SHAP explanations as
safetensors arrays + JSON), so a crash never leaves half a run: rows left "queued"/"running" by a server that
is gone (same host, process no longer alive) are marked "interrupted" when that host's next server opens the
store. Nothing here unpickles anything.

Privacy: each run has an owner (the browser session that made it) and a 128-bit random id. ``list_runs``
filters by owner unless the app runs in single-user mode (``FRONTIER_SINGLE_USER=1``); anyone holding a run's
id (its share link) may open that run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa

from engine.core.paths import data_dir

RUN_ID = re.compile(r"\A[0-9a-f]{32}\Z")  # \Z: "$" would accept a trailing newline
META = sa.MetaData()
RUNS = sa.Table(
    "runs",
    META,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("technique", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("finished", sa.Double),
    sa.Column("seconds", sa.Double),
    sa.Column("metrics", sa.Text),
    sa.Column("history", sa.Text),
    sa.Column("summary", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("device", sa.Text),
    sa.Column("versions", sa.Text),
    sa.Column("server_pid", sa.Integer),
    sa.Column("server_host", sa.Text),
    sa.Index("runs_owner", "owner", "created"),
)
ARTIFACTS = sa.Table(
    "artifacts",
    META,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
ENDED = ("done", "stopped", "failed", "interrupted")
HOST = socket.gethostname()


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


def database_url(url: str) -> str:
    """SQLAlchemy's URL for ``url``: ``postgresql://`` / ``postgres://`` use psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    with engine.connect() as db:
        db.exec_driver_sql("PRAGMA journal_mode=WAL")
    return engine


class RunStore:
    """``RunStore()``: this deployment's store (``FRONTIER_DATABASE_URL``, else SQLite under the data directory);
    ``RunStore(path)``: a SQLite file; ``RunStore(url=...)``: any SQLAlchemy URL (``postgresql://...``)."""

    def __init__(self, path: Path | str | None = None, url: str | None = None):
        url = url or (None if path else os.environ.get("FRONTIER_DATABASE_URL") or None)
        self.path = None if url else Path(path or data_dir() / "runs.sqlite3")
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.url = database_url(url) if url else f"sqlite:///{self.path}"
        self.engine = _engine(self.url)
        META.create_all(self.engine)
        with self.engine.begin() as db:  # stores made before server_host existed
            if "server_host" not in {c["name"] for c in sa.inspect(db).get_columns("runs")}:
                db.exec_driver_sql("ALTER TABLE runs ADD COLUMN server_host TEXT")

    # --- writing ------------------------------------------------------------------------------------------
    def start(self, run_id: str, owner: str, technique: str, config: dict) -> None:
        with self.engine.begin() as db:
            db.execute(
                sa.insert(RUNS).values(
                    id=run_id,
                    owner=owner,
                    technique=technique,
                    status="queued",
                    config=_json(config),
                    seed=config.get("seed"),
                    created=time.time(),
                    server_pid=os.getpid(),
                    server_host=HOST,
                )
            )

    def finish(self, run_id: str, status: str, outcome=None, error: str = "") -> None:
        """Complete a run's row and write its artifacts in one transaction."""
        row = {"status": status, "finished": time.time(), "error": error, "versions": _json(versions())}
        artifacts: list[tuple[str, str, bytes]] = []
        if outcome is not None:
            row.update(
                config=_json(outcome.config),
                metrics=_json(outcome.metrics),
                seconds=outcome.seconds,
                history=outcome.history.to_json(orient="split", index=False),
                summary=outcome.text,
                device=outcome.device,
            )
            artifacts = _artifacts(outcome)
        with self.engine.begin() as db:
            db.execute(sa.update(RUNS).where(RUNS.c.id == run_id).values(**row))
            db.execute(sa.delete(ARTIFACTS).where(ARTIFACTS.c.run_id == run_id))
            if artifacts:
                db.execute(
                    sa.insert(ARTIFACTS),
                    [{"run_id": run_id, "kind": kind, "name": name, "data": data} for kind, name, data in artifacts],
                )

    def mark_running(self, run_id: str) -> None:
        with self.engine.begin() as db:
            db.execute(sa.update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == "queued").values(status="running"))

    def recover(self) -> int:
        """Mark runs whose server process (on this host) is gone as interrupted; returns how many.

        Runs started by app servers on other hosts (a shared PostgreSQL) are theirs to recover."""
        with self.engine.begin() as db:
            rows = db.execute(
                sa.select(RUNS.c.id, RUNS.c.status, RUNS.c.server_pid, RUNS.c.server_host).where(
                    RUNS.c.status.in_(("queued", "running"))
                )
            ).all()
            gone = [r for r in rows if r.server_host in (None, HOST) and not _alive(r.server_pid)]
            for status, error in (
                ("queued", "The server stopped before this run started."),
                ("running", "The server stopped while this run was training."),
            ):
                ids = [r.id for r in gone if r.status == status]
                if ids:
                    db.execute(
                        sa.update(RUNS)
                        .where(RUNS.c.id.in_(ids))
                        .values(status="interrupted", finished=time.time(), error=error)
                    )
        return len(gone)

    def delete(self, run_id: str, owner: str) -> bool:
        """Delete a run (its owner, or anyone in single-user mode)."""
        query = sa.delete(RUNS).where(RUNS.c.id == run_id)
        if not single_user():
            query = query.where(RUNS.c.owner == owner)
        with self.engine.begin() as db:
            return db.execute(query).rowcount == 1

    # --- reading ------------------------------------------------------------------------------------------
    def list_runs(self, owner: str | None, technique: str | None = None, limit: int = 500) -> list[dict]:
        """The owner's runs, newest first (``owner=None``: every run, for single-user mode and the CLI)."""
        c = RUNS.c
        query = sa.select(c.id, c.technique, c.status, c.config, c.metrics, c.created, c.seconds, c.error)
        if owner is not None:
            query = query.where(c.owner == owner)
        if technique:
            query = query.where(c.technique == technique)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(c.created.desc()).limit(limit)).mappings().all()
        return [
            {**dict(r), "config": json.loads(r["config"]), "metrics": json.loads(r["metrics"] or "{}")} for r in rows
        ]

    def recent_timings(self, limit: int = 50) -> list[dict]:
        """This server's (this host's) last ``limit`` runs that finished, newest first: technique, config and
        how long each trained, so a restarted server still knows how fast runs go here."""
        c = RUNS.c
        query = (
            sa.select(c.technique, c.config, c.seconds)
            .where(c.status == "done", c.seconds.is_not(None), c.server_host == HOST)
            .order_by(c.finished.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            rows = db.execute(query).mappings().all()
        return [{**dict(r), "config": json.loads(r["config"])} for r in rows]

    def get(self, run_id: str) -> dict | None:
        if not RUN_ID.match(run_id or ""):
            return None
        with self.engine.connect() as db:
            row = db.execute(sa.select(RUNS).where(RUNS.c.id == run_id)).mappings().first()
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
        with self.engine.connect() as db:
            arts = db.execute(
                sa.select(ARTIFACTS.c.kind, ARTIFACTS.c.name, ARTIFACTS.c.data).where(ARTIFACTS.c.run_id == run_id)
            ).all()
        by_kind: dict[str, dict[str, bytes]] = {}
        for a in arts:
            by_kind.setdefault(a.kind, {})[a.name] = bytes(a.data)
        meta = json.loads(by_kind.get("meta", {}).get("meta", b"{}"))
        figs = {n: pio.from_json(d.decode()) for n, d in by_kind.get("figure", {}).items()}
        xfigs = {n: pio.from_json(d.decode()) for n, d in by_kind.get("explain_figure", {}).items()}
        diagrams = {n: pio.from_json(d.decode()) for n, d in by_kind.get("diagram", {}).items()}
        exp_meta = meta.get("explanations", {})
        exps = {n: _explanation_from(d, exp_meta.get(n, {})) for n, d in by_kind.get("explanation", {}).items()}
        exps = _ordered(exps, list(exp_meta))
        explanation = exps.get("SHAP") if list(exps) == ["SHAP"] else (exps or None)
        return Outcome(
            technique=row["technique"],
            config=row["config"],
            status=row["status"],
            metrics=row["metrics"],
            history=pd.read_json(_io(row["history"]), orient="split"),
            figures=_ordered(figs, meta.get("figures")),
            explanation=explanation,
            explain_figures=_ordered(xfigs, meta.get("explain_figures")),
            text=row["summary"] or "",
            architecture=meta.get("architecture", {}),
            weights=by_kind.get("weights", {}).get("model"),
            seconds=row["seconds"] or 0.0,
            device=row["device"] or "",
            headline=meta.get("headline", []),
            run_id=run_id,
            info=meta.get("info", {}),
            diagrams=_ordered(diagrams, list(meta.get("architecture", {}))),
            downloads={
                label: {**d, "data": by_kind.get("download", {})[label]}
                for label, d in meta.get("downloads", {}).items()
                if label in by_kind.get("download", {})
            },
        )

    def headlines(self, run_ids: list[str]) -> dict[str, list[str]]:
        """Each run's headline metric names (from its stored meta) for the Runs table, without figures or weights."""
        ids = [i for i in run_ids if RUN_ID.match(i or "")]
        if not ids:
            return {}
        a = ARTIFACTS.c
        with self.engine.connect() as db:
            rows = db.execute(sa.select(a.run_id, a.data).where(a.kind == "meta", a.run_id.in_(ids))).all()
        return {r.run_id: json.loads(bytes(r.data)).get("headline", []) for r in rows}

    def weights(self, run_id: str) -> bytes | None:
        """A run's stored weights (safetensors bytes, keys prefixed by model name), without loading the rest."""
        if not RUN_ID.match(run_id or ""):
            return None
        a = ARTIFACTS.c
        with self.engine.connect() as db:
            query = sa.select(a.data).where(a.run_id == run_id, a.kind == "weights", a.name == "model")
            data = db.execute(query).scalar()
        return bytes(data) if data is not None else None


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
    for title, fig in (getattr(outcome, "diagrams", None) or {}).items():
        out.append(("diagram", title, fig.to_json().encode()))
    exp_meta = {}
    for title, exp in explanations(outcome.explanation).items():
        arrays = {
            "values": np.ascontiguousarray(exp.values, dtype=np.float64),
            "base_values": np.ascontiguousarray(np.asarray(exp.base_values, dtype=np.float64)),
        }
        data = np.asarray(exp.data) if exp.data is not None else None
        if data is not None and data.dtype.kind in "fiub":
            arrays["data"] = np.ascontiguousarray(data, dtype=np.float64)
        out.append(("explanation", title, save(arrays)))
        exp_meta[title] = {
            "feature_names": _names(exp.feature_names),
            "output_names": _names(exp.output_names),
            "method": getattr(exp, "method", ""),
            "additivity_error": getattr(exp, "additivity_error", None),
            "spread": getattr(exp, "spread", None),
        }
    if outcome.weights:
        out.append(("weights", "model", outcome.weights))
    downloads = getattr(outcome, "downloads", None) or {}
    for label, d in downloads.items():  # the technique's own files (e.g. edge's compressed model)
        out.append(("download", label, d["data"]))
    meta = {
        "figures": list(outcome.figures),
        "explain_figures": list(outcome.explain_figures),
        "explanations": exp_meta,
        "architecture": outcome.architecture,
        "headline": outcome.headline,
        "info": outcome.info,  # names and labels the Try it tab needs to rebuild the model on a result link
        "downloads": {label: {k: v for k, v in d.items() if k != "data"} for label, d in downloads.items()},
    }
    out.append(("meta", "meta", _json(meta).encode()))
    return out


def _names(names):
    return None if names is None else [str(n) for n in names]


def _explanation_from(blob: bytes, meta: dict):
    from safetensors.numpy import load

    from engine.core.explain import make_explanation

    arrays = load(blob)
    error = meta.get("additivity_error")
    exp = make_explanation(
        arrays["values"],
        arrays["base_values"],
        arrays.get("data"),
        meta.get("feature_names"),
        meta.get("output_names"),
        error if error is not None else float("nan"),
        meta.get("method", ""),
    )
    if meta.get("spread") is not None:
        exp.spread = meta["spread"]
    return exp


def open_store() -> RunStore:
    """The run store this deployment uses: ``FRONTIER_DATABASE_URL`` if set, else SQLite under ``FRONTIER_DATA_DIR``."""
    return RunStore()
