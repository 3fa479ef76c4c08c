"""A settings form generated from a technique's ``Config``, with presets and the settings kept in the URL."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from engine.core.config import ConfigError, choices, form_fields, from_params, shortest, to_params, validate
from engine.core.export import message_markdown

LOG_GRID = sorted({shortest(m * 10.0**e) for e in range(-6, 2) for m in (1, 2, 3, 5)})  # 0.3, never 3 * 0.1


def label_of(name: str, field) -> str:
    return field.title or name.replace("_", " ").capitalize()


def pretty(option: Any) -> str:
    return option.replace("_", " ") if isinstance(option, str) else str(option)


def _bounds(field) -> tuple[Any, Any]:
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
    return lo, hi


def widget(key: str, name: str, field, on_change: Callable | None = None, missing: dict[Any, str] | None = None) -> Any:
    """Draw the widget that fits the field's type and bounds; its value lives in session_state[key]. ``missing``:
    choices this machine cannot run (``Config.unavailable_here``), left out with the reason in the help."""
    label, help_ = label_of(name, field), field.description
    extra = field.json_schema_extra or {}
    ann = field.annotation
    opts = choices(ann)
    if opts is not None and missing:
        opts = tuple(o for o in opts if o not in missing)
        help_ += " Not offered here: " + "; ".join(f"{pretty(o)} ({why})" for o, why in missing.items()) + "."
        chosen = st.session_state.get(key)
        if chosen in missing:  # e.g. a link made on a machine with a GPU
            st.session_state[key] = field.default if field.default in opts else opts[0]
            st.warning(
                f"{label}: {pretty(chosen)} cannot run here ({missing[chosen]}), so "
                f"{pretty(st.session_state[key])} is used.",
                icon=":material/block:",
            )
    common = dict(key=key, help=help_, persist_state="session", on_change=on_change)
    if opts is not None:  # a field may name its options for people: json_schema_extra={"labels": {value: text}}
        labels = extra.get("labels", {})
        return st.selectbox(label, opts, format_func=lambda o: labels.get(o) or pretty(o), **common)
    if ann is bool:
        return st.toggle(label, **common)
    lo, hi = _bounds(field)
    if ann is int:
        if lo is not None and hi is not None and hi - lo <= 2000:
            return st.slider(label, int(lo), int(hi), step=1, **common)
        return st.number_input(label, min_value=lo, max_value=hi, step=1, **common)
    if ann is float:
        if extra.get("log") and lo and hi:
            current = st.session_state[key] = shortest(float(st.session_state[key]))
            grid = sorted({v for v in LOG_GRID if lo <= v <= hi} | {shortest(lo), shortest(hi), current})
            return st.select_slider(label, grid, format_func=lambda v: f"{v:g}", **common)
        step = _step(lo or 0, hi or 1)
        digits = _decimals(step, lo, hi, field.default)
        if extra.get("widget") == "slider" and lo is not None and hi is not None:
            return st.slider(label, float(lo), float(hi), step=step, format=f"%.{digits}f", **common)
        return st.number_input(label, min_value=lo, max_value=hi, step=step, format=f"%.{digits}f", **common)
    return st.text_input(
        label, max_chars=(field.metadata and getattr(field.metadata[0], "max_length", None)) or 200, **common
    )


def _decimals(*values) -> int:
    """Decimal places that show every given number exactly (0.9999 needs 4), between 2 and 6."""
    places = [len(f"{float(v):.6f}".rstrip("0").split(".")[1]) for v in values if isinstance(v, (int, float))]
    return min(6, max([2, *places]))


def _step(lo: float, hi: float) -> float:
    span = float(hi) - float(lo)
    return 10.0 ** math.floor(math.log10(span / 100)) if span > 0 else 0.01


def setting(name: str, field: str, default: Any = None) -> Any:
    """The current form value of technique ``name``'s setting ``field`` (pages read settings only through this)."""
    return st.session_state.get(_key(name, field), default)


def set_setting(name: str, field: str, value: Any) -> None:
    """Change a setting's form value (e.g. from a page's own editor); the URL follows on the next rerun."""
    st.session_state[_key(name, field)] = value


def prefill(name: str, values: dict) -> None:
    """Open technique ``name``'s form with ``values`` the next time its page runs (another page sending a person
    there, e.g. NAS -> Edge AI), visited before or not: the first-visit read of the URL is skipped, and settings
    not given keep what the form holds (its quick preset on a first visit)."""
    st.session_state.setdefault(_key(name, "_url_read"), [])
    st.session_state[_key(name, "_preset")] = "custom"
    _apply(name, values)


def _key(name: str, field: str) -> str:
    return f"{name}.{field}"


def _applies(name: str, cls, field_name: str) -> bool:
    """Whether a field matters for the current choices (the Config's ``SHOW_IF`` rules)."""
    rules = cls.SHOW_IF.get(field_name, {})
    return all(st.session_state.get(f"{name}.{other}") in allowed for other, allowed in rules.items())


def _apply(name: str, values: dict) -> None:
    for field, value in values.items():
        st.session_state[f"{name}.{field}"] = value


def config_form(
    name: str,
    module,
    extra_inputs: Callable[[], dict | None] | None = None,
    columns: int = 3,
    initial: dict | None = None,
    initial_id: str | None = None,
):
    """Draw the settings and return a valid Config, or None after showing what is wrong. ``extra_inputs()`` returns
    the settings the page draws itself, or None when they are not ready and it has said so in its own words.

    First visit: settings come from ``initial`` (a stored run's config, re-applied whenever ``initial_id``, the
    run's id, changes) or else the URL (invalid values are ignored with a visible warning), on top of the
    "quick" preset. Every change is written back to the URL, so a copied link reproduces the setup.
    """
    cls, presets = module.Config, module.PRESETS
    fields = form_fields(cls)
    base = validate(cls, presets["quick"]).model_dump()
    init_key, run_key = f"{name}._url_read", f"{name}._from_run"
    if init_key not in st.session_state or (initial is not None and st.session_state.get(run_key) != initial_id):
        config, warnings = _initial_config(cls, base, initial)
        st.session_state[init_key], st.session_state[run_key] = warnings, initial_id
        _apply(name, {f: getattr(config, f) for f in fields})
        st.session_state[f"{name}._preset"] = "quick" if config.model_dump() == base else "custom"
    for f in fields:  # values dropped while the page was away come back from the URL or the preset
        st.session_state.setdefault(f"{name}.{f}", base[f])
    for warning in st.session_state[init_key]:
        st.warning(warning, icon=":material/link_off:")

    def on_preset():
        choice = st.session_state[f"{name}._preset"]
        if choice in presets:
            current = {f: st.session_state.get(_key(name, f), base[f]) for f in fields}
            _apply(name, preset_values(cls, presets, choice, current))

    with st.container(border=True):
        st.selectbox(
            "Preset",
            [*presets, "custom"],
            key=f"{name}._preset",
            on_change=on_preset,
            format_func=lambda p: preset_label(module, p),
            help="Start from a ready-made setup, then adjust anything below.",
        )
        values = _fields_ui(name, cls, fields, columns)
        note = st.session_state.pop(f"{name}._note", None)
        if note:
            st.info(note, icon=":material/swap_horiz:")
        extra = extra_inputs() if extra_inputs else {}
    if extra is None:  # the page's own inputs are not ready and have said what is needed (never a red error)
        return None
    config = _validated(cls, values, extra)
    if config is not None:
        _sync_url(config, validate(cls, presets["quick"]))
    return config


def _validated(cls, values: dict, extra: dict):
    """The Config these values make, or None after saying plainly what is wrong (an upload still to come: a note)."""
    try:
        return validate(cls, {**values, **extra})
    except ConfigError as e:
        problem = message_markdown(e)  # may quote what was typed in a text setting: never Markdown
        if values.get("dataset") == "upload" and not extra.get("upload"):  # waiting for this person's own file
            st.info(f"{problem} Uploads stay private to the browser that made them.", icon=":material/upload_file:")
        else:
            st.error(f"These settings cannot run yet: {problem}", icon=":material/error:")
        return None


def _fields_ui(name: str, cls, fields: dict, columns: int) -> dict[str, Any]:
    """The settings that change the lesson (``Config.PRIMARY``) first, the rest under "More settings" (closed);
    a setting that does not apply to the current choices keeps its value unseen. Returns every field's value."""

    def edited(changed: str):  # the settings no longer match a preset; others may have to follow this one
        st.session_state[f"{name}._preset"] = "custom"
        current = {f: st.session_state.get(_key(name, f)) for f in fields}
        changes, note = cls.follow(changed, current)
        _apply(name, changes)
        if note:
            st.session_state[f"{name}._note"] = note  # shown once, under the settings

    values: dict[str, Any] = {}
    missing = cls.unavailable_here()
    primary = [f for f in fields if f in cls.PRIMARY]
    groups = [(primary, st.container()), ([f for f in fields if f not in primary], None)]
    for group, place in groups:
        shown = [  # e.g. DQN settings while a table agent is chosen; a page's own setting is drawn by the page
            f for f in group if _applies(name, cls, f) and (fields[f].json_schema_extra or {}).get("widget") != "page"
        ]
        values.update({f: st.session_state[f"{name}.{f}"] for f in group if f not in shown})
        if not shown:
            continue
        with place if place is not None else st.expander(f"More settings ({len(shown)})", icon=":material/tune:"):
            cols = st.columns(columns)
            for i, field_name in enumerate(shown):
                with cols[i % columns]:
                    values[field_name] = widget(
                        f"{name}.{field_name}",
                        field_name,
                        fields[field_name],
                        functools.partial(edited, field_name),
                        missing.get(field_name),
                    )
    return values


def _initial_config(cls, base: dict, initial: dict | None):
    """The first settings: a stored run's (its upload, if any, stays with its owner) or else the URL's."""
    if initial is None:
        return from_params(cls, dict(st.query_params), base)
    shown = {k: v for k, v in initial.items() if k in form_fields(cls)}
    try:
        stored = validate(cls, {**base, **{k: v for k, v in initial.items() if k in cls.model_fields}})
        # The address's own settings win: after a run, the form writes each later change there beside ``run``.
        return from_params(cls, dict(st.query_params), stored.model_dump())
    except ConfigError:  # e.g. a run stored by an older version of the page
        config, warnings = from_params(
            cls, {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in shown.items()}, base
        )
        return config, [w.replace("from the link", "from the stored run") for w in warnings]


def preset_label(module, preset: str) -> str:
    """What the Preset box shows for ``preset``: the technique's ``PRESET_LABELS``, else the name in words."""
    default = {"quick": "Quick look", "better": "Better result"}.get(preset, pretty(preset).capitalize())
    return module.PRESET_LABELS.get(preset) or default


def preset_values(cls, presets: dict, choice: str, current: dict) -> dict:
    """The form values after choosing preset ``choice``: what it names, over the current values.

    Settings some other preset names go back to their defaults (so "Quick look" undoes "Better result"),
    except the choices other settings depend on (agent, environment, loss...), which stay unless this preset
    names them. Settings no preset names (the dataset, the seed) never change.
    """
    preset = presets[choice]
    controllers = {other for rules in cls.SHOW_IF.values() for other in rules}
    named = set().union(*map(set, presets.values())) & current.keys()
    defaults = {n: f.get_default(call_default_factory=True) for n, f in cls.model_fields.items()}
    values = dict(current)
    for field in named:
        if field in preset:
            values[field] = preset[field]
        elif field not in controllers:
            values[field] = defaults[field]
    allowed = _problems(cls, current)  # e.g. "upload a CSV" while the upload box is still empty
    for candidate in (values, {**{k: v for k, v in current.items() if k not in named}, **preset}):
        if _problems(cls, candidate) <= allowed:
            return {**current, **candidate}
    return {**current, **validate(cls, preset).model_dump(include=set(current))}


def _problems(cls, values: dict) -> set[str]:
    try:
        validate(cls, values)
        return set()
    except ConfigError as e:
        return {str(e)}


def _sync_url(config, base) -> None:
    """Keep the settings that differ from the quick preset in the URL (other parameters are left alone)."""
    fields = form_fields(type(config))
    current = {k: st.query_params[k] for k in st.query_params}
    wanted = {k: v for k, v in current.items() if k not in fields} | to_params(config, base)
    if wanted != current:
        st.query_params.from_dict(wanted)
