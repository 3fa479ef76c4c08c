"""Stored runs in the UI: who owns them, opening a shared result link, and the share box."""
from __future__ import annotations

import secrets

import streamlit as st

from engine.core.service import service
from engine.core.store import RUN_ID


def owner() -> str:
    """This browser session's private owner token (runs it makes are listed only for it)."""
    return st.session_state.setdefault("_owner", secrets.token_hex(16))


def store():
    """The run store (None when this server records nothing)."""
    return service().store


def shared_outcome(name: str):
    """The finished run named by ``?run=ID`` in the URL, loaded once per session without retraining.

    Returns (outcome or None, message or None): a malformed or unknown id, or a run of another technique,
    gets a clear message and the page works as usual.
    """
    run_id = st.query_params.get("run")
    if not run_id:
        return None, None
    cache = st.session_state.setdefault("_shared_runs", {})
    if run_id not in cache:
        db = store()
        if not RUN_ID.match(run_id):
            cache[run_id] = (None, "This result link is malformed: a run id is 32 letters and digits (0-9, a-f).")
        elif db is None or (row := db.get(run_id)) is None:
            cache[run_id] = (None, "No stored run has this id. The link may be mistyped, or the run was deleted.")
        elif row["technique"] != name:
            cache[run_id] = (None, f"This link is for a run of another technique ({row['technique']}).")
        elif row["status"] not in ("done", "stopped"):
            cache[run_id] = (None, f"This run has no results to show (it {row['status']}: {row['error'] or 'no details'}).")
        else:
            cache[run_id] = (db.load_outcome(run_id), None)
    return cache[run_id]


def share_box(outcome) -> None:
    """A copyable link that opens this run's settings and finished results for anyone who has it."""
    if not outcome.run_id:
        return
    base = (st.context.url or "").split("?")[0]
    with st.popover("Share", icon=":material/share:", help="A link to these settings and results"):
        st.markdown("Anyone with this link sees these settings **and** these results, without retraining. "
                    "Only people you give it to can find it.")
        st.code(f"{base}?run={outcome.run_id}", language=None)
