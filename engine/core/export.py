"""Files a person downloads: CSV safe to open in a spreadsheet, JSON config, charts as standalone HTML."""

from __future__ import annotations

import json
import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$&:@")
WORD_JOINER = "\u2060"  # invisible, and no line break: the text reads and wraps as typed
# GitHub-flavoured Markdown (Streamlit's) links a bare http://, https://, www. or e-mail address even when every
# character of it is backslash-escaped: remark-gfm looks for them in the text *after* the escapes are read. A word
# joiner inside each such start ("http\u2060://", "www\u2060.", "me\u2060@") leaves nothing it can link.
BARE_LINK_START = re.compile(r"(?=://)|(?<=[wW]{3})(?=\.)|(?=@)")
CODE_SPAN = re.compile(r"(`[^`\n]*`)")


def markdown_text(text) -> str:
    """A person's text (a column name, a link value) made safe to place inside Markdown: every character
    Markdown or HTML could act on is backslash-escaped, so ``[x](http://...)`` or ``<img>`` shows as typed, and
    bare addresses are broken up invisibly, so ``http://...``, ``www.`` and ``a@b.c`` never become links."""
    plain = BARE_LINK_START.sub(WORD_JOINER, str(text).replace("\n", " "))
    return "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in plain)


def message_markdown(text) -> str:
    """A message that may quote a person's text (an error naming what they typed or linked), safe to show as
    Markdown: its `code` spans stay code (inert whatever they hold), everything else goes through
    :func:`markdown_text`; "<=" and ">=" stay readable (neither can open an HTML tag)."""
    parts = CODE_SPAN.split(str(text))
    escaped = "".join(p if i % 2 else markdown_text(p) for i, p in enumerate(parts))
    return escaped.replace("\\<=", "<=").replace("\\>=", ">=")


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
