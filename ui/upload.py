"""A CSV upload box shared by pages: checked on the server, stored once per file, private to the session."""

from __future__ import annotations

import streamlit as st

from engine.core.data import DataError, read_csv, save_upload


def csv_upload(name: str, help: str):
    """Draw the uploader for page ``name``; returns (token, DataFrame), or None (nothing yet, or the error shown).

    The browser's file-type filter is only a convenience: ``read_csv`` checks size, binary content and shape.
    """
    file = st.file_uploader("Your CSV file", type=["csv"], key=f"{name}.file", help=help)
    if file is None:
        return None
    cache = st.session_state.setdefault(f"{name}._uploads", {})
    if file.file_id not in cache:
        raw = file.getvalue()
        cache.clear()
        try:
            cache[file.file_id] = (save_upload(raw), read_csv(raw))
        except DataError as e:
            cache[file.file_id] = e
    entry = cache[file.file_id]
    if isinstance(entry, DataError):
        st.error(str(entry), icon=":material/error:")
        return None
    return entry
