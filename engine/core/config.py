"""Technique settings: one pydantic model drives the form, the URL, the CLI and the saved run.

Every technique's ``Config`` subclasses :class:`TechniqueConfig`. Each field declares its type, bounds
(``ge``/``le``), a plain-language ``description`` and, for choices, a ``Literal``. Field extras tune the
form: ``{"widget": "slider"}`` for a float slider, ``{"log": True}`` for a log-scale number,
``{"form": False}`` to keep a field off the form and out of the URL (uploads are per session),
``{"widget": "page"}`` for a setting the page draws itself (kept in the URL; ``{"max_chars": n}`` lets a link's value
be longer than the usual 200 characters),
and a Config's ``SHOW_IF = {"width": {"agent": ["dqn"]}}`` shows a field only while the others have one of the
listed values (a hidden field keeps its value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_core import ErrorDetails


class TechniqueConfig(BaseModel):
    """Base of every technique's settings. Extra keys are refused; values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
    SHOW_IF: ClassVar[dict[str, dict[str, list]]] = {}  # field -> {other field: values where it applies}
    PRIMARY: ClassVar[tuple[str, ...]] = ()  # the 1-6 settings that change the lesson; the form shows them first
    STEP_UNIT: ClassVar[str] = "step"  # what a history step counts ("epoch", "round"): see step_unit

    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Random seed: the same seed gives the same run.")

    @field_validator("*", mode="after")
    @classmethod
    def _shortest_floats(cls, value: Any) -> Any:
        """Every float setting at its shortest decimal, whatever set it (a slider's steps, a link, the CLI), so
        no link or stored run holds 0.30000000000000004."""
        return shortest(value) if type(value) is float else value

    @classmethod
    def unavailable_here(cls) -> dict[str, dict[Any, str]]:
        """Choices this machine cannot run, ``{field: {option: why}}``: the form leaves them out and its help says
        why (a setting is still valid elsewhere, so a stored run that used one still reads)."""
        return {}

    @classmethod
    def follow(cls, changed: str, values: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """When a person changes setting ``changed`` (the form's ``values`` after the change): the other settings
        that must follow it, and a short note saying so; ({}, "") when none must."""
        return {}, ""

    def expectation(self) -> str:
        """A plain sentence for the form, shown before Train, when these settings are expected not to show the
        technique's usual effect, and why ("" when they show it): a page says so rather than promise it."""
        return ""

    @classmethod
    def value_text(cls, field: str, value: Any) -> str | None:
        """How a settings line (Runs table, a result's settings) shows ``value`` of ``field`` when its own text would
        not read well (e.g. a drawing's letters); None: as usual."""
        return None

    def step_unit(self) -> str:
        """The word for what one ``history`` step counts ("epoch", "round", "episode"): every learning curve of
        the run (its page, the live chart, Runs' compare overlay) titles its x-axis with it. ``STEP_UNIT`` unless
        the settings change what a step is (RL: episodes, or a DQN's environment steps)."""
        return self.STEP_UNIT

    def source_run_id(self) -> str:
        """The id of the stored run this run starts from ("" for none). When a technique's settings name one, the
        app's service reads that run and its ``run`` is called as ``run(config, progress, inputs)`` with it in
        ``inputs["source"]`` (see :func:`engine.core.service.stored_source`); a technique never opens the store."""
        return ""


def shortest(value: float) -> float:
    """``value`` without the binary noise float arithmetic leaves (3 * 0.1 -> 0.3): its 12 significant digits,
    far finer than any setting's step."""
    return float(f"{value:.12g}") if math.isfinite(value) else value


ConfigT = TypeVar("ConfigT", bound=TechniqueConfig)


class ConfigError(ValueError):
    """A user-facing validation failure; ``str(error)`` reads as plain sentences."""


def unit_of(cls: type[TechniqueConfig], values: dict[str, Any]) -> str:
    """What a history step counts for a run stored or running with settings ``values`` (a dict, as a job or the run
    store holds them): ``step_unit()`` read without validating, so an older run whose settings no longer validate
    still gets its word."""
    return cls.model_construct(**{k: v for k, v in values.items() if k in cls.model_fields}).step_unit()


def error_text(error: ValidationError | Sequence[ErrorDetails]) -> str:
    """Turn pydantic's error list into sentences that say what must hold and what was given."""
    lines = []
    for e in error.errors() if isinstance(error, ValidationError) else error:
        where = ".".join(str(p) for p in e["loc"]) or "settings"
        ctx = e.get("ctx") or {}
        given = e.get("input")
        kind = e["type"]
        if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
            op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
            bound = next(iter(ctx.values()))
            lines.append(f"`{where}` must be {op} {bound}, but got {given!r}.")
        elif kind == "literal_error":
            lines.append(f"`{where}` must be one of {ctx.get('expected')}, but got {given!r}.")
        elif kind == "extra_forbidden":
            lines.append(f"`{where}` is not a setting of this technique.")
        elif kind == "value_error":
            lines.append(str(ctx.get("error", e["msg"])).removeprefix("Value error, "))
        else:
            lines.append(f"`{where}`: {e['msg'].lower()}, but got {given!r}.")
    return " ".join(lines)


def validate(cls: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """Build a config or raise :class:`ConfigError` with the user-facing message."""
    try:
        return cls.model_validate(values)
    except ValidationError as e:
        raise ConfigError(error_text(e)) from None


def field_extra(field: FieldInfo) -> dict[str, Any]:
    """A field's ``json_schema_extra`` (the form hints above), or {} when it has none."""
    extra = field.json_schema_extra
    if callable(extra):
        raise TypeError("json_schema_extra must be a dict of form hints, not a function.")
    return extra or {}


def form_fields(cls: type[TechniqueConfig]) -> dict[str, Any]:
    """The fields shown on forms and in URLs, in declaration order, with ``seed`` last."""
    fields = {n: f for n, f in cls.model_fields.items() if field_extra(f).get("form", True)}
    seed = fields.pop("seed", None)
    return {**fields, "seed": seed} if seed is not None else fields


def choices(annotation: Any) -> tuple | None:
    """The options of a ``Literal[...]`` field, else None."""
    return get_args(annotation) if get_origin(annotation) is Literal else None


def parse_value(cls: type[TechniqueConfig], name: str, text: str) -> Any:
    """Convert one text value (URL or CLI ``--set``) to the field's Python type; pydantic checks bounds."""
    field = cls.model_fields.get(name)
    if field is None:
        raise ConfigError(
            f"`{name}` is not a setting of this technique; known settings: {', '.join(cls.model_fields)}."
        )
    ann = field.annotation
    opts = choices(ann)
    if opts is not None:
        for o in opts:
            if str(o) == text:
                return o
        raise ConfigError(f"`{name}` must be one of {', '.join(map(str, opts))}, but got {text!r}.")
    if ann is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"`{name}` must be true or false, but got {text!r}.")
    try:
        if ann is int:
            return int(text)
        if ann is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return shortest(value)
    except ValueError:
        kind = "a whole number" if ann is int else "a number"
        raise ConfigError(f"`{name}` must be {kind}, but got {text!r}.") from None
    return text


def from_params(
    cls: type[TechniqueConfig], params: dict[str, str], base: dict[str, Any] | None = None
) -> tuple[TechniqueConfig, list[str]]:
    """Read settings from URL query parameters, keeping every valid one and ignoring the rest.

    The link's values are checked together, as one Config, never one by one against the base's other values:
    ``rl?env=CartPole-v1&agent=dqn`` is valid only as a pair. A value that is wrong on its own (type, bounds)
    is dropped; when the rest do not fit together, the fewest values that make them fit are dropped.
    Returns the config and one warning per ignored value, so a hostile or stale link never breaks a page.
    """
    base = dict(base or {})
    warnings: list[str] = []
    parsed: dict[str, Any] = {}
    fields = form_fields(cls)
    for name, text in params.items():
        if name not in fields:
            continue  # other parameters (page, run id) belong to someone else
        try:
            parsed[name] = parse_value(cls, name, str(text)[: field_extra(fields[name]).get("max_chars", 200)])
            problem = _own_error(cls, {**base, name: parsed[name]}, name)
            if problem:
                raise ConfigError(problem)
        except ConfigError as e:
            parsed.pop(name, None)
            warnings.append(f"Ignored `{name}` from the link: {_link_text(e)}")
    kept, problem = _largest_valid(cls, base, parsed)
    for name in parsed.keys() - kept.keys():
        warnings.append(
            f"Ignored `{name}` from the link: it does not fit the link's other settings ({_link_text(problem)})"
        )
    return validate(cls, {**base, **kept}), warnings


def _link_text(error) -> str:
    """An error about a link's values, safe to show as Markdown: whoever wrote the link chose those values, so
    nothing in them may become a link, an image or HTML (backticks dropped, every Markdown character escaped)."""
    from engine.core.export import markdown_text

    parts = re.split(r"(`[A-Za-z_][A-Za-z0-9_.]*`)", str(error))  # `field` names stay code: inert either way
    escaped = "".join(p if i % 2 else markdown_text(p.replace("`", "")) for i, p in enumerate(parts))
    return escaped.replace("\\<=", "<=").replace("\\>=", ">=")  # "<=" cannot open an HTML tag: keep it readable


def _own_error(cls: type[TechniqueConfig], values: dict[str, Any], name: str) -> str:
    """The message of the errors that concern field ``name`` alone (type, bounds, choices), or ''."""
    try:
        cls.model_validate(values)
    except ValidationError as e:
        own = [err for err in e.errors() if err["loc"][:1] == (name,)]
        if own:
            return error_text(own)
    return ""


def _largest_valid(
    cls: type[TechniqueConfig], base: dict[str, Any], parsed: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The link's values that fit together: all of them, else all but one, else those that fit in link order."""
    try:
        validate(cls, {**base, **parsed})
        return dict(parsed), ""
    except ConfigError as e:
        problem = str(e)
    for name in reversed(list(parsed)):  # drop the fewest: a single value, the later ones first
        rest = {k: v for k, v in parsed.items() if k != name}
        try:
            validate(cls, {**base, **rest})
            return rest, problem
        except ConfigError:
            pass
    kept: dict[str, Any] = {}
    for name, value in parsed.items():
        try:
            validate(cls, {**base, **kept, name: value})
            kept[name] = value
        except ConfigError:
            pass
    return kept, problem


def to_params(config: TechniqueConfig, base: TechniqueConfig | None = None) -> dict[str, str]:
    """The settings that differ from ``base`` (default: the Config's defaults), as text for a URL."""
    defaults = base or type(config)()
    out = {}
    for name in form_fields(type(config)):
        value = getattr(config, name)
        if value != getattr(defaults, name):
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out
