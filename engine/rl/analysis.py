"""Reinforcement learning, worker side: SHAP of what the agent learned (the Q-table's greedy values, or the
deep Q-network's chosen Q-value and its preference for pushing right; the network needs torch)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.rl import gridworld


def _tabular_states(result: Result, n: int) -> tuple[np.ndarray, np.ndarray]:
    """States to explain (the greedy paths first, then the most visited) and background states (visited)."""
    a = result.arrays
    rng = np.random.default_rng(result.config.seed)
    visited = np.flatnonzero(a["visits"] > 0)
    by_visits = visited[np.argsort(-a["visits"][visited], kind="stable")]
    order = list(dict.fromkeys([int(s) for s in a["greedy_states"]] + [int(s) for s in by_visits]))
    background = rng.choice(visited, min(40, len(visited)), replace=False) if len(visited) else np.asarray(order[:1])
    return np.asarray(order[:n]), background


def _explain_tabular(result: Result):
    """SHAP of the greedy value max_a Q[s, a] over the decoded state features (row, column; Taxi: taxi row and
    column, passenger location, destination)."""
    from engine.core.explain import explain_function

    lay, Q = result.info["layout"], result.arrays["Q"]
    states, background = _tabular_states(result, result.config.explain_states)
    dims = lay["feature_dims"]

    def greedy_value(X: np.ndarray) -> np.ndarray:  # (n, features) -> (n,)
        return Q[gridworld.encode(X, dims)].max(1)

    return explain_function(
        greedy_value,
        gridworld.decode(states, dims).astype(float),
        gridworld.decode(background, dims).astype(float),
        feature_names=lay["feature_names"],
        seed=result.config.seed,
    )


def _explain_dqn(result: Result) -> dict:
    """SHAP of the chosen action's Q-value and of the preference for pushing right over the 4 state features,
    on states from the evaluation episodes."""
    import torch
    from torch import nn

    from engine.core.explain import explain_function, explain_torch

    states, config = result.arrays["eval_states"], result.config
    rng = np.random.default_rng(config.seed)
    rows = rng.choice(len(states), min(config.explain_states, len(states)), replace=False)
    background = states[rng.choice(len(states), min(50, len(states)), replace=False)]
    net = result.models["q_network"].cpu().eval()

    def chosen_q(X: np.ndarray) -> np.ndarray:  # (n, 4) -> (n,) max_a Q(s, a), the value of the chosen action
        with torch.no_grad():
            return net(torch.as_tensor(X, dtype=torch.float32)).max(1).values.numpy()

    preference = nn.Linear(2, 1, bias=False)  # Q(right) - Q(left)
    with torch.no_grad():
        preference.weight.copy_(torch.tensor([[-1.0, 1.0]]))
    names = result.info["feature_names"]
    # the max over actions switches branch between states, so a model-agnostic explainer keeps it exact
    return {
        "Chosen action's Q-value": explain_function(
            chosen_q, states[rows], background, feature_names=names, seed=config.seed
        ),
        "Push right rather than left": explain_torch(
            nn.Sequential(net, preference),
            torch.as_tensor(states[rows]),
            torch.as_tensor(background),
            feature_names=names,
        ),
    }


def explain(result: Result):
    """Tabular: SHAP of the greedy state value. DQN: SHAP of the chosen Q-value and of push right vs left."""
    return _explain_dqn(result) if result.config.agent == "dqn" else _explain_tabular(result)
