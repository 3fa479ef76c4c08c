"""The shape of every technique's "What just happened" text, written once.

A summary leads with one plain verdict sentence, then the few numbers that support it; everything else follows
after a marker line, which the app folds under "More about this run" (``split_summary``). A summary stays one
Markdown string (the CLI prints it, the store keeps it), and reads well with the marker left in.
"""

from __future__ import annotations

from collections.abc import Iterable

MORE_MARKER = "*More about this run:*"


def _join(parts: str | Iterable[str]) -> str:
    if isinstance(parts, str):
        return parts.strip()
    return " ".join(p.strip() for p in parts if p and p.strip())


def summary_text(verdict: str, support: str | Iterable[str] = "", more: str | Iterable[str] = "") -> str:
    """``verdict`` (one sentence) and ``support`` (the numbers behind it) form the lead paragraph; ``more``, when
    not empty, follows after the marker line."""
    lead = _join([verdict, _join(support)])
    rest = _join(more)
    return f"{lead}\n\n{MORE_MARKER}\n\n{rest}" if rest else lead


def split_summary(text: str) -> tuple[str, str]:
    """(lead, more) of a summary; a text without the marker (older runs' wording) is all lead."""
    lead, _, more = text.partition(f"\n\n{MORE_MARKER}\n\n")
    return lead.strip(), more.strip()
