"""Reinforcement learning page: tabular Q-learning and SARSA on grid worlds, a deep Q-network on CartPole."""
import pandas as pd
import streamlit as st

from engine.rl.gridworld import edit_grid
from ui.page import technique_page

INTRO = """
An **agent** acts in a world one move at a time and gets a **reward** after each move; it learns which action pays
off most in each **state**, counting future rewards too (discounted by **gamma**). It explores: with probability
**epsilon** it tries a random move, otherwise it takes the best move it knows, and epsilon shrinks as it learns.

- **Q-learning** keeps a table Q[state, action] and after every move nudges it toward
  reward + gamma × (best Q of the next state), at a learning rate **alpha**.
- **SARSA** nudges toward the Q of the move it actually takes next, exploration included, so it learns a more
  careful policy. Turn on *Also run SARSA* on **CliffWalking** to see the classic contrast: Q-learning walks the
  cliff edge (shortest), SARSA keeps its distance.
- **Deep Q-network** (CartPole only) replaces the table with a neural network fed from a replay memory, with a frozen
  target network that is refreshed now and then. The *solve* preset balances the pole for the full 500 steps.

Build your own **gridworld** with the grid editor (world: *gridworld*): `S` start, `.` free, `#` wall, `T` trap,
`G` goal.
"""
SYMBOLS = [".", "#", "T", "G", "S"]


def grid_editor() -> dict:
    """For the engine's own gridworld: the map as an editable grid of cells (kept in the `grid` setting)."""
    if st.session_state.get("rl.env") != "gridworld":
        return {}
    text = st.session_state.get("rl.grid", "")
    rows = text.split("/")
    if len({len(r) for r in rows}) != 1:
        return {}  # a ragged map: the form already says what is wrong with it
    cells = pd.DataFrame([list(r) for r in rows], columns=[str(c) for c in range(len(rows[0]))])

    def apply():
        st.session_state["rl.grid"] = edit_grid(text, st.session_state["rl._grid_editor"]["edited_rows"])

    st.caption("Grid editor: pick a cell's type (. free, # wall, T trap, G goal, S start); the map above follows.")
    st.data_editor(cells, key="rl._grid_editor", on_change=apply, hide_index=True, num_rows="fixed",
                   column_config={c: st.column_config.SelectboxColumn(c, options=SYMBOLS, required=True)
                                  for c in cells.columns})
    return {}


technique_page("rl", intro=INTRO, extra_inputs=grid_editor)
