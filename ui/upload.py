"""A CSV upload box shared by pages: checked on the server, stored once per file, private to the session."""

from __future__ import annotations

from typing import Literal

import pandas as pd
import streamlit as st

from engine.core.data import DataError, code, read_csv, save_upload

REFUSED: Literal[False] = False  # the file was refused and the message is on the page


def csv_upload(name: str, help: str) -> tuple[str, pd.DataFrame] | Literal[False] | None:
    """Draw the uploader for page ``name``; returns (token, DataFrame), None (nothing uploaded yet) or
    ``REFUSED`` (the last file was refused: its message is shown, and the page should not add its own hint).

    A refused file leaves the box (the uploader is drawn afresh under a new key), so the box never lists a file
    the page is not using; its message stays until another file is chosen. The browser's file-type filter is only
    a convenience: ``read_csv`` checks size, binary content and shape.
    """
    round_key, error_key = f"{name}._upload_round", f"{name}._upload_error"
    rounds = st.session_state.get(round_key, 0)
    key = f"{name}.file" if not rounds else f"{name}.file.{rounds}"
    file = st.file_uploader("Your CSV file", type=["csv"], key=key, help=help)
    if file is None:
        if error_key in st.session_state:
            st.error(st.session_state[error_key], icon=":material/error:")
            return REFUSED
        return None
    st.session_state.pop(error_key, None)
    cache = st.session_state.setdefault(f"{name}._uploads", {})
    if file.file_id not in cache:
        raw = file.getvalue()
        try:
            entry = (save_upload(raw), read_csv(raw))
        except DataError as e:
            st.session_state[error_key] = f"The file {code(file.name)} was not used: {e}"
            st.session_state[round_key] = rounds + 1
            st.rerun()  # draw an empty box, with the message under it
        cache.clear()
        cache[file.file_id] = entry
    return cache[file.file_id]
