"""Reinforcement learning page: tabular Q-learning and SARSA on grid worlds, a deep Q-network on CartPole."""

from ui.gridworld import grid_editor_ui
from ui.page import technique_page

INTRO = """
An **agent** acts in a world one move at a time and gets a **reward** after each move; it learns which action pays
off most in each **state**, counting future rewards too (discounted by **gamma**). It explores: with probability
**epsilon** it tries a random move, otherwise it takes the best move it knows, and epsilon shrinks as it learns.

- **Q-learning** keeps a table Q[state, action] and after every move nudges it toward
  reward + gamma × (best Q of the next state), at a learning rate **alpha**.
- **SARSA** nudges toward the Q of the move it actually takes next, exploration included, so it learns a more
  careful policy. Pick the preset *Cliff: SARSA vs Q-learning* (or turn on *Also run the other table-based agent*
  on **CliffWalking**) to see the classic contrast: Q-learning walks the cliff edge (shortest), SARSA keeps its
  distance.
- A table that starts **optimistic** (every Q-value 1, more than the agent can earn on FrozenLake) makes the agent
  try each move until experience lowers it: that is how it finds the one rewarding cell of FrozenLake 8x8.
- **Deep Q-network** (CartPole only) replaces the table with a neural network fed from a replay memory, with a frozen
  target network that is refreshed now and then. The preset *CartPole: deep Q-network (solves it)* balances the
  pole for the full 500 steps.

Build your own **gridworld** with the grid editor (world: *gridworld*): `S` start, `.` free, `#` wall, `T` trap,
`G` goal.
"""

technique_page("rl", intro=INTRO, extra_inputs=grid_editor_ui)
