"""The run store: every finished, stopped or failed run, in SQLite (the default) or a shared PostgreSQL server.

One code path (SQLAlchemy Core) for both. By default the store is one SQLite file (WAL mode) under the data
directory; ``FRONTIER_DATABASE_URL`` (e.g. ``postgresql://user:pass@db:5432/frontier``) points it at a
PostgreSQL server instead, so several app servers behind a load balancer share runs and result links.

A run's row is written when it is submitted (status "queued") and completed in a single transaction when it
ends, together with its artifacts: its data (the arrays its charts read as safetensors + a JSON manifest, SHAP
explanations as safetensors arrays + JSON, layer tables, weights as safetensors, the technique's files), never
rendered figures (the app draws them on read; runs stored before that keep their Plotly JSON and still open),
so a crash never leaves half a run: rows left "queued"/"running" by a server that
is gone (same host, process no longer alive) are marked "interrupted" when that host's next server opens the
store. Nothing here unpickles anything.

Backups (``python -m engine runs backup PATH`` / ``restore PATH``): a SQLite store is copied with SQLite's online
backup API, consistent while the app keeps writing; a PostgreSQL store is backed up with ``pg_dump``
(:data:`POSTGRESQL_BACKUP` says how). A restore replaces a store's runs, so it refuses a store that holds any
unless forced.

Privacy: each run has an owner (the browser session that made it) and a 128-bit random id. ``list_runs``
filters by owner unless the app runs in single-user mode (``FRONTIER_SINGLE_USER=1``); anyone holding a run's
id (its share link) may open that run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from contextlib import closing
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
POSTGRESQL_BACKUP = """\
This run store is a PostgreSQL database (FRONTIER_DATABASE_URL): back it up with PostgreSQL's own tools, which take
a consistent snapshot while the app servers keep running.

  Back up:   pg_dump --format=custom --file=PATH "$FRONTIER_DATABASE_URL"
  Check it:  pg_restore --list PATH
  Restore:   stop the app servers, then (--clean replaces every run the database holds now)
             pg_restore --clean --if-exists --no-owner --dbname="$FRONTIER_DATABASE_URL" PATH

Use pg_dump and pg_restore of the server's major version or newer. More:
https://www.postgresql.org/docs/current/backup-dump.html"""


class StoreError(RuntimeError):
    """A backup or restore that cannot be done as asked; ``str()`` says why and what to do, for an operator."""


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
        self._create()

    def _create(self) -> None:
        """The tables, and the columns that stores made by older versions lack."""
        META.create_all(self.engine)
        with self.engine.begin() as db:  # stores made before server_host existed
            if "server_host" not in {c["name"] for c in sa.inspect(db).get_columns("runs")}:
                db.exec_driver_sql("ALTER TABLE runs ADD COLUMN server_host TEXT")

    # --- backup and restore -------------------------------------------------------------------------------
    def count(self) -> int:
        """How many runs the store holds (any status)."""
        with self.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(RUNS)).scalar() or 0)

    def backup(self, path: Path | str) -> int:
        """Copy this SQLite store into one self-contained SQLite file at ``path`` with SQLite's online backup API
        (a consistent copy while the app keeps recording runs); returns how many runs it holds. It is written
        beside ``path`` and moved there only once complete and checked, so a failed backup never replaces the last
        good one. A PostgreSQL store raises :class:`StoreError` with :data:`POSTGRESQL_BACKUP`."""
        live = self._sqlite_file()
        target = Path(path).resolve()
        if target == live.resolve():
            raise StoreError(f"{target} is this run store itself: back it up to another file.")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        try:
            with closing(sqlite3.connect(live, timeout=30)) as src, closing(sqlite3.connect(partial)) as dst:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one file, nothing beside it to forget
            runs = _backup_runs(partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        return runs

    def restore(self, path: Path | str, force: bool = False) -> int:
        """Replace everything this SQLite store holds with the backup at ``path`` (made by :meth:`backup`, or any
        copy of a run store) through SQLite's backup API; returns how many runs it now holds. The backup is checked
        first (a SQLite file, intact, with the run store's tables). A store that already holds runs is refused
        unless ``force``: they would all be gone. Stop the app first: a run it records meanwhile is lost."""
        live = self._sqlite_file()
        source = Path(path)
        if not source.is_file():
            raise StoreError(f"There is no backup file at {source}.")
        if source.resolve() == live.resolve():
            raise StoreError(f"{source} is this run store itself.")
        runs = _backup_runs(source)
        held = self.count()
        if held and not force:
            raise StoreError(
                f"This run store ({live}) already holds {held} runs; restoring would replace every one of them. "
                "Back it up first if you may want them, then restore with --force."
            )
        self.engine.dispose()  # no pooled connection keeps reading the old pages
        with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(live, timeout=30)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
        self._create()  # a backup from an older version gets the columns this one reads
        return runs

    def _sqlite_file(self) -> Path:
        if self.engine.dialect.name != "sqlite" or not self.engine.url.database:
            raise StoreError(POSTGRESQL_BACKUP)
        return Path(self.engine.url.database)

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
                history=outcome.history.to_json(orient="split", index=False, double_precision=15),
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
        """Rebuild a finished run's Outcome (its data, explanation, weights) without retraining; None if unknown.
        A run stored before runs kept their data (no "arrays" artifact) comes back with its stored figures."""
        import pandas as pd

        from engine.core.arrays import unpack
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
        exp_meta = meta.get("explanations", {})
        exps = {n: _explanation_from(d, exp_meta.get(n, {})) for n, d in by_kind.get("explanation", {}).items()}
        exps = _ordered(exps, list(exp_meta))
        stored = by_kind.get("arrays", {}).get("arrays")
        return Outcome(
            technique=row["technique"],
            config=row["config"],
            status=row["status"],
            metrics=row["metrics"],
            history=pd.read_json(_io(row["history"]), orient="split"),
            arrays=unpack(stored, meta.get("arrays", {})) if stored is not None else {},
            explanation=exps.get("SHAP") if list(exps) == ["SHAP"] else (exps or None),
            architecture=meta.get("architecture", {}),
            layers=meta.get("layers", {}),
            weights=by_kind.get("weights", {}).get("model"),
            seconds=row["seconds"] or 0.0,
            device=row["device"] or "",
            headline=meta.get("headline", []),
            run_id=run_id,
            info=meta.get("info", {}),
            downloads={
                label: {**d, "data": by_kind.get("download", {})[label]}
                for label, d in meta.get("downloads", {}).items()
                if label in by_kind.get("download", {})
            },
            legacy=None if stored is not None else _legacy_drawing(by_kind, meta, row["summary"] or ""),
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


def _backup_runs(path: Path) -> int:
    """How many runs the SQLite run store (or backup of one) at ``path`` holds, after checking that it is one and
    intact; :class:`StoreError` saying what is wrong otherwise."""
    try:
        with closing(sqlite3.connect(path, timeout=30)) as db:
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            runs = db.execute("SELECT count(*) FROM runs").fetchone()[0] if "runs" in tables else 0
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is not a SQLite database ({e}).") from None
    if check != "ok":
        raise StoreError(f"{path} is damaged (SQLite's check says: {check}).")
    if not {"runs", "artifacts"} <= tables:
        raise StoreError(f"{path} is a SQLite database, but not a Frontier Lab run store (no runs and artifacts).")
    return int(runs)


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
    """A run's data as artifacts: arrays (safetensors + manifest), SHAP values, weights, files and one meta
    record. Never a rendered figure: the app draws those when the run is read."""
    from engine.core.arrays import pack

    blob, manifest = pack(outcome.arrays)
    explained = _explanation_meta(outcome.explanation)
    out = [("arrays", "arrays", blob), *(("explanation", title, b) for title, (b, _) in explained.items())]
    if outcome.weights:
        out.append(("weights", "model", outcome.weights))
    downloads = getattr(outcome, "downloads", None) or {}
    for label, d in downloads.items():  # the technique's own files (e.g. edge's compressed model)
        out.append(("download", label, d["data"]))
    meta = {
        "format": 2,  # 2: data only (arrays, layers); 1 (none): rendered figures, before 2026-12
        "arrays": manifest,
        "explanations": {title: meta for title, (_, meta) in explained.items()},
        "architecture": outcome.architecture,
        "layers": outcome.layers,
        "headline": outcome.headline,
        "info": outcome.info,  # names and labels the charts and the Try it tab read
        "downloads": {label: {k: v for k, v in d.items() if k != "data"} for label, d in downloads.items()},
    }
    out.append(("meta", "meta", _json(meta).encode()))
    return out


def _explanation_meta(explanation) -> dict[str, tuple[bytes, dict]]:
    """Each SHAP explanation as (safetensors of values/base values/numeric data, its names and method)."""
    import numpy as np
    from safetensors.numpy import save

    from engine.core.explain import explanations

    out = {}
    for title, exp in explanations(explanation).items():
        arrays = {
            "values": np.ascontiguousarray(exp.values, dtype=np.float64),
            "base_values": np.ascontiguousarray(np.asarray(exp.base_values, dtype=np.float64)),
        }
        data = np.asarray(exp.data) if exp.data is not None else None
        if data is not None and data.dtype.kind in "fiub":
            arrays["data"] = np.ascontiguousarray(data, dtype=np.float64)
        meta = {
            "feature_names": _names(exp.feature_names),
            "output_names": _names(exp.output_names),
            "method": getattr(exp, "method", ""),
            "additivity_error": getattr(exp, "additivity_error", None),
            "spread": getattr(exp, "spread", None),
        }
        out[title] = (save(arrays), meta)
    return out


def _legacy_drawing(by_kind: dict[str, dict[str, bytes]], meta: dict, text: str):
    """The charts of a run stored before runs kept their data (format 1): Plotly JSON drawn the day it ended."""
    import plotly.io as pio

    from engine.core.drawing import Drawn

    def figs(kind: str, order) -> dict:
        return _ordered({n: pio.from_json(d.decode()) for n, d in by_kind.get(kind, {}).items()}, order)

    return Drawn(
        figures=figs("figure", meta.get("figures")),
        explain_figures=figs("explain_figure", meta.get("explain_figures")),
        text=text,
        diagrams=figs("diagram", list(meta.get("architecture", {}))),
        problems=(
            "This run was stored before runs kept their data: its charts are shown as they were drawn "
            "the day it ended.",
        ),
    )


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
