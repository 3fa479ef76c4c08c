"""Stored runs in the UI: who owns them, opening a shared result link, and the share box."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from typing import Any

import pandas as pd
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


PENDING_NOTE = (
    "This run is still training, or has just finished and is being saved: reload the page in a few seconds to see "
    "its results."
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
        elif row["status"] in ("queued", "running"):  # just ended and being saved, or still training: ask again
            return None, PENDING_NOTE
        elif row["status"] not in ("done", "stopped"):
            cache[run_id] = (
                None,
                f"This run failed, so it has no results to show: {message_markdown(row['error'] or 'no details')}",
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
    if (own := cls.value_text(field, value)) is not None:  # e.g. a drawing: "40 points in 3 groups"
        return own
    info = cls.model_fields.get(field)
    labels = ((info.json_schema_extra or {}) if info is not None else {}).get("labels", {})
    if value in labels:
        return labels[value]
    return value.replace("_", " ") if isinstance(value, str) else str(value)


def run_row(run: dict, headline: list[str]) -> dict:
    """One Runs-table row: what was learned from what, the headline number, and the settings that differ."""
    import engine
    from engine.core.config import ConfigError, validate
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
    row["settings changed"] = ", ".join(changed_settings(cls, config, quick, skip=DATA_FIELDS)) or "quick preset"
    return row


def changed_settings(cls, config: dict, base: dict, skip=()) -> list[str]:
    """The settings of ``config`` that differ from ``base`` and apply, in the form's words ("Data: Wines ...")."""
    from engine.core.config import form_fields

    fields = form_fields(cls)
    return [
        f"{fields[f].title or f.replace('_', ' ')}: {option_text(cls, f, config[f])}"
        for f in fields
        if f in config and f not in skip and f in base and config[f] != base[f] and applies(cls, f, config)
    ]


# --- comparing runs (issue 29.3) --------------------------------------------------------------------------------

MAX_COMPARED = 6  # runs on one comparison chart (one colour each)
FINISHED = ("done", "stopped")
DIFFERS = "background-color: #fff1c2; font-weight: 600"  # the settings that differ between compared runs


def compare_ids(text: str | None) -> list[str]:
    """The run ids of a ``?compare=ID1,ID2`` address, in order, each once (not yet checked)."""
    return list(dict.fromkeys(i.strip() for i in (text or "").split(",") if i.strip()))


def compare_link(ids: list[str]) -> str:
    base = (st.context.url or "").split("?")[0]
    return f"{base}?compare={','.join(ids)}"


def curve_labels(technique: str, columns) -> dict[str, str]:
    """History columns as a legend or an axis reads them: the technique's ``views.CURVE_NAMES`` (words for a
    per-step curve), else its ``METRICS`` label, else the name in words. Shared by the live chart and Runs' compare
    overlay, so a curve has one name while it trains and afterwards."""
    import importlib

    import engine
    from engine.core.contract import metric_spec

    specs = engine.load(technique).METRICS
    curve_names = getattr(importlib.import_module(f"engine.{technique}.views"), "CURVE_NAMES", {})
    return {c: curve_names.get(c) or metric_spec(specs, c).label for c in columns}


def overlay_unit(technique: str, configs: list[dict]) -> str:
    """The compare overlay's x-axis title: what a history step counts in these runs ("epoch", "round"); runs that
    count different things (an RL table agent's episodes beside a DQN's environment steps) name both."""
    import engine
    from engine.core.config import unit_of

    cls = engine.load(technique).Config
    return " or ".join(dict.fromkeys(unit_of(cls, c) for c in configs))


def settings_of(technique: str, config: dict) -> dict[str, Any]:
    """A run's settings that its form shows and that apply to it, {field name: value}, in form order."""
    import engine
    from engine.core.config import form_fields

    cls = engine.load(technique).Config
    return {f: config[f] for f in form_fields(cls) if f in config and applies(cls, f, config)}


def differing(settings: dict[str, dict[str, Any]]) -> list[str]:
    """The settings (field names) whose values are not the same in every run of ``settings`` ({run: {name: v}})."""
    names = list(dict.fromkeys(n for s in settings.values() for n in s))
    return [n for n in names if len({str(s.get(n, "—")) for s in settings.values()}) > 1]


def legend_label(number: int, settings: dict[str, Any], differ: list[str], most: int = 3) -> str:
    """A short run label: "run 3 · dataset wine, epochs 30" (its settings that differ from the others')."""
    from ui.form import pretty

    shown = [f"{n.replace('_', ' ')} {pretty(settings.get(n, '—'))}" for n in differ[:most]]
    return f"run {number}" + (" · " + ", ".join(shown) + (", …" if len(differ) > most else "") if shown else "")


def compare_table(technique: str, outcomes: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """Headline metrics, then settings, of the runs in ``outcomes`` ({short run name: Outcome}), one column per run
    (plain labels, values as text); and the labels of the settings that differ between them."""
    import engine
    from engine.core.contract import metric_spec
    from ui.form import label_of

    module = engine.load(technique)
    cls = module.Config
    headline = list(dict.fromkeys(k for o in outcomes.values() for k in o.headline if k in o.metrics))
    settings = {name: settings_of(technique, o.config) for name, o in outcomes.items()}
    rows: dict[str, dict[str, str]] = {}
    for key in headline:
        spec = metric_spec(module.METRICS, key)
        rows[spec.label] = {n: spec.text(o.metrics[key]) if key in o.metrics else "—" for n, o in outcomes.items()}
    differ = differing(settings)
    same = [f for f in dict.fromkeys(n for s in settings.values() for n in s) if f not in differ]
    labels = {f: label_of(f, cls.model_fields[f]) for f in [*differ, *same]}
    for f in [*differ, *same]:  # the settings that differ first, where the eye lands
        rows.setdefault(labels[f], {n: option_text(cls, f, s[f]) if f in s else "—" for n, s in settings.items()})
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(outcomes))
    return table, [labels[f] for f in differ]


def _comparable(ids: list[str]) -> tuple[list[tuple[dict, Any]], list[str]]:
    """The stored, finished runs of one technique among ``ids`` (oldest first) with their outcomes, and a plain
    note for each kind of id left out (too many, malformed, not stored, unfinished, another technique)."""
    app = service()
    notes = []
    if len(ids) > MAX_COMPARED:
        notes.append(f"A comparison shows up to {MAX_COMPARED} runs: these are the first {MAX_COMPARED}.")
        ids = ids[:MAX_COMPARED]
    wellformed = [i for i in ids if RUN_ID.match(i)]
    if len(wellformed) < len(ids):
        notes.append(
            f"{len(ids) - len(wellformed)} run id(s) in this link are malformed "
            "(a run id is 32 letters and digits, 0-9 and a-f) and are left out."
        )
    rows = [r for i in wellformed if (r := app.run(i)) is not None]
    if len(rows) < len(wellformed):
        notes.append(
            f"{len(wellformed) - len(rows)} run(s) in this link are not stored: the link may be mistyped, or the "
            "runs were deleted."
        )
    unfinished = [r for r in rows if r["status"] not in FINISHED]
    if unfinished:
        notes.append(f"{len(unfinished)} run(s) have no results to compare (they failed or did not finish).")
    rows = [r for r in rows if r["status"] in FINISHED]
    technique = rows[0]["technique"] if rows else ""
    if any(r["technique"] != technique for r in rows):
        notes.append("Only runs of one technique can be compared: the runs of other techniques are left out.")
        rows = [r for r in rows if r["technique"] == technique]
    rows.sort(key=lambda r: r["created"])
    return [(r, o) for r in rows if (o := app.load_outcome(r["id"])) is not None], notes


def compare_view(ids: list[str]) -> None:
    """The runs ``ids`` (a shareable ``?compare=`` link or the selected rows) compared: a table of their headline
    metrics and settings, the differing settings highlighted, and their learning curves overlaid, one chart per
    metric. Anyone holding the ids may see them, like a result link; bad or unknown ids get a plain message."""
    import engine
    from engine.core import charts
    from engine.core.explain import tabular_importances
    from ui.results import figure

    loaded, notes = _comparable(ids)
    technique = loaded[0][0]["technique"] if loaded else ""
    for note in notes:
        st.warning(note)
    if len(loaded) < 2 or technique not in engine.TECHNIQUES:
        st.info("A comparison needs at least two finished runs of the same technique.")
        return
    outcomes = {f"run {n}": o for n, (_, o) in enumerate(loaded, 1)}
    table, differ = compare_table(technique, outcomes)
    settings = {name: settings_of(technique, o.config) for name, o in outcomes.items()}
    legend = {name: legend_label(n, settings[name], differing(settings)) for n, name in enumerate(outcomes, 1)}

    st.subheader(f"Comparing {len(outcomes)} runs of {engine.TECHNIQUES[technique].title}")
    st.caption("A link to this comparison (anyone who has it sees these runs, like a result link):")
    st.code(compare_link([r["id"] for r, _ in loaded]), language=None)
    st.markdown("**Results and settings**")
    styled = table.style.apply(lambda row: [DIFFERS if row.name in differ else ""] * len(row), axis=1)
    st.dataframe(styled, key="runs.compare.table")
    st.caption(
        "Highlighted: the settings that differ between these runs."
        if differ
        else "These runs used the same settings (a different seed or a rerun)."
    )
    st.markdown("**Learning curves**")
    histories = {legend[name]: o.history for name, o in outcomes.items()}
    metrics = list(dict.fromkeys(c for h in histories.values() for c in h.columns if c != "step"))
    labels = curve_labels(technique, metrics)
    unit = overlay_unit(technique, [o.config for o in outcomes.values()])
    for metric in metrics:
        figure(charts.overlay_curves(histories, metric, label=labels[metric], unit=unit), f"runs.overlay.{metric}")
    importances = {}
    for name, o in outcomes.items():
        for title, pair in tabular_importances(o.explanation).items():
            importances[legend[name] + ("" if title == "SHAP" else f" · {title}")] = pair
    if importances:
        figure(charts.compare_importance(importances), "runs.compare.shap")


def settings_view(runs: list[dict], headlines: dict[str, list[str]]) -> None:
    """All of a person's finished runs of one technique: their settings against the headline metric (parallel
    coordinates, or a scatter when only one setting varies)."""
    import engine
    from engine.core import charts
    from engine.core.config import form_fields
    from engine.core.contract import metric_spec
    from ui.form import label_of
    from ui.results import figure

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    finished = [r for r in runs if r["status"] in FINISHED and r["technique"] in engine.TECHNIQUES]
    counts = Counter(r["technique"] for r in finished)
    options = [t for t, n in counts.most_common() if n >= 2]
    if not options:
        return
    st.subheader("Your settings against your results")
    technique = options[0]
    if len(options) > 1:
        technique = st.selectbox(
            "Technique", options, format_func=lambda t: engine.TECHNIQUES[t].title, key="runs.sweep.technique"
        )
    chosen = [r for r in finished if r["technique"] == technique]
    module = engine.load(technique)
    keys = Counter(
        k for r in chosen for k in headlines.get(r["id"], []) if k in module.METRICS or number(r["metrics"].get(k))
    )
    keys = Counter({k: n for k, n in keys.items() if any(number(r["metrics"].get(k)) for r in chosen)})
    if not keys:
        st.caption("These runs have no result number to set their settings against.")
        return
    metrics = [k for k, _ in keys.most_common()]
    metric = metrics[0]
    if len(metrics) > 1:
        metric = st.selectbox(
            "Result", metrics, format_func=lambda k: metric_spec(module.METRICS, k).label, key="runs.sweep.metric"
        )
    have = [r for r in chosen if number(r["metrics"].get(metric))]
    if len(have) < 2:
        st.caption("Fewer than two of these runs have this result: nothing to set against each other yet.")
        return
    cls = module.Config
    columns = {}
    for f, field in form_fields(cls).items():
        if all(f in r["config"] for r in have):
            values = [r["config"][f] for r in have]
            columns[label_of(f, field)] = [v if number(v) else option_text(cls, f, v) for v in values]
    spec = metric_spec(module.METRICS, metric)
    labels = [f"{dt.datetime.fromtimestamp(r['created']):%Y-%m-%d %H:%M}" for r in have]
    fig = charts.settings_vs_metric(
        pd.DataFrame(columns), [r["metrics"][metric] for r in have], metric_label=spec.label, run_labels=labels
    )
    figure(fig, "runs.sweep")
    if len(have) < len(chosen):
        st.caption(f"{len(chosen) - len(have)} run(s) without this result are left out.")
