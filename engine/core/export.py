"""Files a person downloads: CSV safe to open in a spreadsheet, JSON config, charts as standalone HTML."""
from __future__ import annotations

import json

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
