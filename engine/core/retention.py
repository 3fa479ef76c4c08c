"""Retention: uploads and stored runs do not pile up forever on a hosted server.

- Uploads (``<data dir>/uploads/<token>.csv``) are kept ``FRONTIER_UPLOAD_RETENTION_DAYS`` days after their last
  use (default 7; a run that reads an upload touches it). A page that still holds an older token says "the
  uploaded file is no longer available; please upload it again".
- Runs are kept ``FRONTIER_RUN_RETENTION_DAYS`` days after they were made (default: unset, kept for ever). With
  a retention set, a result link lives that long: it is the run itself, so deleting the run ends the link, and
  the README says so to whoever runs the server. Runs still queued or training are never deleted.

:func:`cleanup` does both through the run store's public API (``list_runs``, ``get``, ``delete``), so it works on
either store backend; the app runs it once a day from :func:`start_daily_cleanup`, ``python -m
engine.core.retention`` runs it by hand (e.g. from cron).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from engine.core.paths import data_dir

log = logging.getLogger(__name__)
DAY = 86400.0
ACTIVE = ("queued", "running")


def _days(name: str, default: float | None) -> float | None:
    text = os.environ.get(name, "")
    try:
        return float(text) if text.strip() else default
    except ValueError:
        log.warning("%s=%r is not a number of days; using %s", name, text, default)
        return default


def upload_days() -> float | None:
    return _days("FRONTIER_UPLOAD_RETENTION_DAYS", 7.0)


def run_days() -> float | None:
    return _days("FRONTIER_RUN_RETENTION_DAYS", None)


def cleanup_uploads(days: float | None, now: float | None = None) -> int:
    """Delete uploads not used for ``days`` days (None: keep all); returns how many went."""
    folder = data_dir() / "uploads"
    if days is None or not folder.is_dir():
        return 0
    cutoff = (now or time.time()) - days * DAY
    gone = 0
    for path in folder.glob("*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                gone += 1
        except OSError:  # removed meanwhile, or not ours to remove
            pass
    return gone


def cleanup_runs(store, days: float | None, now: float | None = None, batch: int = 500) -> int:
    """Delete runs created more than ``days`` days ago (None: keep all), never one still queued or training."""
    if store is None or days is None:
        return 0
    cutoff = (now or time.time()) - days * DAY
    old = [r["id"] for r in store.list_runs(None, limit=100_000) if r["created"] < cutoff and r["status"] not in ACTIVE]
    gone = 0
    for run_id in old[: batch * 20]:
        row = store.get(run_id)
        if row is not None and store.delete(run_id, row["owner"]):
            gone += 1
    return gone


def cleanup(store, now: float | None = None) -> dict[str, int]:
    """Both clean-ups with the configured retention; returns what was deleted."""
    return {"uploads": cleanup_uploads(upload_days(), now), "runs": cleanup_runs(store, run_days(), now)}


def start_daily_cleanup(store) -> threading.Thread:
    """Run :func:`cleanup` now and then once a day, on a daemon thread (a failure is logged, never raised)."""

    def loop():
        while True:
            try:
                done = cleanup(store)
                if any(done.values()):
                    log.info("retention clean-up deleted %s", done)
            except Exception:
                log.exception("retention clean-up failed")
            time.sleep(DAY)

    thread = threading.Thread(target=loop, name="frontier-retention", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":  # python -m engine.core.retention
    import json

    from engine.core.store import open_store

    print(json.dumps(cleanup(open_store())))
