"""Reinforcement learning page: tabular Q-learning and SARSA on grid worlds, a deep Q-network on CartPole."""
from ui.page import technique_page

INTRO = """
An **agent** acts in a world one move at a time and gets a **reward** after each move; it learns which action pays
off most in each **state**, counting future rewards too (discounted by **gamma**). It explores: with probability
**epsilon** it tries a random move, otherwise it takes the best move it knows, and epsilon shrinks as it learns.

- **Q-learning** keeps a table Q[state, action] and after every move nudges it toward
  reward + gamma × (best Q of the next state), at a learning rate **alpha**.
- **SARSA** nudges toward the Q of the move it actually takes next, exploration included, so it learns a more
  careful policy. Turn on *compare sarsa* on **CliffWalking** to see the classic contrast: Q-learning walks the cliff
  edge (shortest), SARSA keeps its distance.
- **Deep Q-network** (CartPole only) replaces the table with a neural network fed from a replay memory, with a frozen
  target network that is refreshed now and then. The *solve* preset balances the pole for the full 500 steps.

Edit your own **gridworld** in *grid*: rows separated by `/`, with `S` start, `.` free, `#` wall, `T` trap, `G` goal.
"""

technique_page("rl", intro=INTRO)
