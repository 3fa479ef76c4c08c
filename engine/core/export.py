"""Files a person downloads: CSV safe to open in a spreadsheet, JSON config, charts as standalone HTML."""

from __future__ import annotations

import json

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$&:@")  # ":" and "@" too: no bare http://, www. or e-mail autolinks


def markdown_text(text) -> str:
    """A person's text (a column name, a link value) made safe to place inside Markdown: every character
    Markdown or HTML could act on is backslash-escaped, so ``[x](http://...)`` or ``<img>`` shows as typed."""
    return "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in str(text).replace("\n", " "))


def neutralise(value):
    """Prefix text that a spreadsheet would run as a formula (``=cmd|...``) with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV of ``df`` with formula injection neutralised in every text cell and header."""
    safe = df.copy()
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(neutralise)
    return safe.to_csv(index=False).encode()


def metrics_frame(metrics: dict) -> pd.DataFrame:
    return pd.DataFrame({"metric": list(metrics), "value": list(metrics.values())})


def config_json(config: dict) -> bytes:
    return json.dumps(config, indent=2, sort_keys=True).encode()


def figure_html(fig) -> bytes:
    """A self-contained interactive HTML file (plotly.js embedded: it opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode()
