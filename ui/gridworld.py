"""The gridworld editor: the RL page's map as a grid of cells, kept in the ``grid`` setting.

The engine takes the map only as a string (``S../.#G``); translating ``st.data_editor``'s edits into that
string happens here, on the Streamlit side.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.form import set_setting, setting

SYMBOLS = [".", "#", "T", "G", "S"]


def apply_edits(text: str, edited_rows: dict) -> str:
    """A map string with a data editor's cell edits ``{row: {column: symbol}}`` applied (keys may be strings;
    a cleared cell becomes free, cells off the grid are ignored)."""
    cells = [list(row) for row in text.split("/")]
    for r, change in edited_rows.items():
        for c, symbol in change.items():
            r_i, c_i = int(r), int(c)
            if 0 <= r_i < len(cells) and 0 <= c_i < len(cells[r_i]):
                cells[r_i][c_i] = (symbol or ".")[0]
    return "/".join("".join(row) for row in cells)


def grid_editor_ui(name: str = "rl") -> dict:
    """When the world is the engine's own gridworld: an editable grid of the map (edits go to the ``grid``
    setting, so the text field, the URL and the run follow). Returns no extra settings."""
    if setting(name, "env") != "gridworld":
        return {}
    text = setting(name, "grid", "")
    rows = text.split("/")
    if len({len(r) for r in rows}) != 1:
        return {}  # a ragged map: the form already says what is wrong with it
    cells = pd.DataFrame([list(r) for r in rows], columns=[str(c) for c in range(len(rows[0]))])
    editor_key = f"{name}._grid_editor"

    def apply():
        set_setting(name, "grid", apply_edits(text, st.session_state[editor_key]["edited_rows"]))

    st.caption("Grid editor: pick a cell's type (. free, # wall, T trap, G goal, S start); the map above follows.")
    st.data_editor(
        cells,
        key=editor_key,
        on_change=apply,
        hide_index=True,
        num_rows="fixed",
        column_config={c: st.column_config.SelectboxColumn(c, options=SYMBOLS, required=True) for c in cells.columns},
    )
    return {}
