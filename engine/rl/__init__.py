"""Reinforcement learning: an agent learns by trial and error which action pays off in which state.

Tabular agents (``q_learning``, ``sarsa``; :mod:`engine.rl.tabular`) keep a table Q[state, action] of expected
returns on the grid worlds of :mod:`engine.rl.gridworld` (Gymnasium's FrozenLake, CliffWalking, Taxi and the
engine's own editable gridworld). A deep Q-network (``dqn``; :mod:`engine.rl.dqn`) replaces the table with a
neural network to balance CartPole, whose state is four continuous numbers. Both explore epsilon-greedily: a
random action with probability epsilon, else the best one by their current estimate. Results are judged with
exploration off (greedy evaluation episodes). :mod:`engine.rl.agents` picks the algorithm by ``config.agent``.

Anchors: Sutton & Barto, *Reinforcement Learning: An Introduction* (2nd ed.), chapter 6 (Q-learning, SARSA,
the cliff-walking example 6.6) and section 2.6 (optimistic initial values); Mnih et al. 2015 (DQN).

:mod:`engine.rl.analysis` computes SHAP of what the agent learned (where the network is), :mod:`engine.rl.views`
draws the charts from the stored run (with the builders of :mod:`engine.rl.plots`) and :mod:`engine.rl.summary`
writes the "What just happened" text.
"""

from engine.core.contract import lazy
from engine.rl.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.rl.summary import describe
from engine.rl.views import explain_figures, figures, live_figure

explain = lazy("engine.rl.analysis", "explain")
run = lazy("engine.rl.agents", "run")

__all__ = [
    "METRICS",
    "PRESETS",
    "PRESET_LABELS",
    "Config",
    "describe",
    "estimate_seconds",
    "explain",
    "explain_figures",
    "figures",
    "live_figure",
    "run",
]
