"""Stored runs in the UI: who owns them, opening a shared result link, and the share box."""

from __future__ import annotations

import secrets

import streamlit as st

from engine.core.export import message_markdown
from engine.core.service import service
from engine.core.store import RUN_ID

OWNER_COOKIE = "frontier_owner"
OWNER_DAYS = 365


def owner(claim: bool = False) -> str:
    """This browser's private owner token (its runs are listed only for it).

    It lives in a first-party cookie (SameSite=Strict), so a reload or a browser restart keeps the history;
    it is never put in the page address, and a new browser (or someone else) gets a new random token.
    ``claim=True`` (pressing Train, opening the Runs page) means the token now owns or lists something, so the
    browser must keep it: only then is the cookie set (:func:`remember_owner`). A visitor who only reads a result
    link never gets one, and their page never waits for the cookie component's round trip.
    """
    token = st.session_state.get("_owner")
    if token is None:
        cookie = st.context.cookies.get(OWNER_COOKIE)
        cookie = cookie if isinstance(cookie, str) and RUN_ID.match(cookie) else ""  # absent, or not one of ours
        token = cookie or secrets.token_hex(16)
        st.session_state["_owner"], st.session_state["_owner_saved"] = token, token == cookie
    if claim:
        st.session_state["_owner_claimed"] = True
    return token


def remember_owner() -> None:
    """Give this browser its owner cookie once its token owns something, unless it arrived with one (drawn on
    every run of such a session: the cookie setter must be on screen once the browser draws the page)."""
    token = owner()
    if st.session_state.get("_owner_saved") or not st.session_state.get("_owner_claimed"):
        return
    import datetime as dt

    import extra_streamlit_components as stx

    secure = (st.context.url or "").startswith("https:") or None
    stx.CookieManager(key="frontier.cookies").set(
        OWNER_COOKIE,
        token,
        key="frontier.owner",
        path="/",
        same_site="strict",
        secure=secure,
        expires_at=dt.datetime.now() + dt.timedelta(days=OWNER_DAYS),
    )


def shared_outcome(name: str):
    """The finished run named by ``?run=ID`` in the URL, loaded once per session without retraining.

    Returns (outcome or None, message or None): a malformed or unknown id, or a run of another technique,
    gets a clear message and the page works as usual.
    """
    run_id = st.query_params.get("run")
    if not run_id:
        return None, None
    own = st.session_state.get(f"{name}._outcome")
    if own is not None and own.run_id == run_id:  # this session's own run: no need to read it back
        return own, None
    cache = st.session_state.setdefault("_shared_runs", {})
    if run_id not in cache:
        app = service()
        if not RUN_ID.match(run_id):
            cache[run_id] = (None, "This result link is malformed: a run id is 32 letters and digits (0-9, a-f).")
        elif (row := app.run(run_id)) is None:
            cache[run_id] = (None, "No stored run has this id. The link may be mistyped, or the run was deleted.")
        elif row["technique"] != name:
            cache[run_id] = (None, f"This link is for a run of another technique ({row['technique']}).")
        elif row["status"] not in ("done", "stopped"):
            cache[run_id] = (
                None,
                f"This run has no results to show (it {row['status']}: "
                f"{message_markdown(row['error'] or 'no details')}).",
            )
        else:
            cache[run_id] = (app.load_outcome(run_id), None)
    return cache[run_id]


def link_own_run(name: str, outcome) -> None:
    """Put a run this session just finished into the page address (``?run=ID``, beside its settings), so a
    reload, a bookmark or a restarted browser opens it again; the form keeps its values."""
    st.session_state[f"{name}._from_run"] = outcome.run_id
    if service().recording:
        st.query_params["run"] = outcome.run_id


def share_box(outcome) -> None:
    """A copyable link that opens this run's settings and finished results for anyone who has it."""
    if not outcome.run_id:
        return
    base = (st.context.url or "").split("?")[0]
    with st.popover("Share", icon=":material/share:", help="A link to these settings and results"):
        st.markdown(
            "Anyone with this link sees these settings **and** these results, without retraining. "
            "Only people you give it to can find it."
        )
        st.code(f"{base}?run={outcome.run_id}", language=None)


DATA_FIELDS = ("track", "dataset", "task", "env", "agent", "source", "start_from", "mode", "method")


def applies(cls, field: str, config: dict) -> bool:
    """Whether ``field`` matters for ``config`` (the Config's ``SHOW_IF`` rules)."""
    return all(config.get(other) in allowed for other, allowed in cls.SHOW_IF.get(field, {}).items())


def option_text(cls, field: str, value) -> str:
    """A choice as a person reads it: the field's own label for it, else the value with spaces."""
    info = cls.model_fields.get(field)
    labels = ((info.json_schema_extra or {}) if info is not None else {}).get("labels", {})
    if value in labels:
        return labels[value]
    return value.replace("_", " ") if isinstance(value, str) else str(value)


def run_row(run: dict, headline: list[str]) -> dict:
    """One Runs-table row: what was learned from what, the headline number, and the settings that differ."""
    import engine
    from engine.core.config import ConfigError, form_fields, validate
    from engine.core.contract import metric_spec

    name, config = run["technique"], run["config"]
    entry = engine.TECHNIQUES.get(name)
    row = {"technique": entry.title if entry else name, "data": "", "result": "", "settings changed": ""}
    if entry is None:
        return row
    module = engine.load(name)
    cls = module.Config
    row["data"] = " · ".join(
        option_text(cls, f, config[f])
        for f in DATA_FIELDS
        if f in config and f in cls.model_fields and applies(cls, f, config)
    )
    key = next((k for k in [*headline, *module.METRICS] if isinstance(run["metrics"].get(k), (int, float))), None)
    if key is not None:
        spec = metric_spec(module.METRICS, key)
        row["result"] = f"{spec.label}: {spec.text(run['metrics'][key])}"
    try:
        quick = validate(cls, module.PRESETS["quick"]).model_dump()
    except ConfigError:
        quick = {}
    changed = [
        f"{f.replace('_', ' ')} {option_text(cls, f, config[f])}"
        for f in form_fields(cls)
        if f in config and f not in DATA_FIELDS and f in quick and config[f] != quick[f] and applies(cls, f, config)
    ]
    row["settings changed"] = ", ".join(changed) or "quick preset"
    return row
