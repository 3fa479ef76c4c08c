"""Tabular Q-learning and SARSA: a table Q[state, action] of expected returns, improved one step at a time.

Q-learning (off-policy) learns the value of acting greedily from the next state on:
    Q[s,a] += alpha * (r + gamma * max_a' Q[s',a'] - Q[s,a])
SARSA (on-policy) learns the value of the epsilon-greedy policy it actually follows:
    Q[s,a] += alpha * (r + gamma * Q[s',a'] - Q[s,a])      where a' is the action it takes next.
On the cliff this is the classic contrast: exploration sometimes pushes the agent off the edge, so SARSA's
values steer away from it (a longer, safe path) while Q-learning's greedy path runs right along it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.rl import gridworld


def epsilon_at(progress: float, start: float, end: float, schedule: str, explore_fraction: float) -> float:
    """Exploration rate once a share ``progress`` (0..1) of training is done.

    "constant" keeps ``start``; "linear" and "exponential" go from ``start`` to ``end`` over the first
    ``explore_fraction`` of training and then stay at ``end``.
    """
    if schedule == "constant":
        return start
    t = min(1.0, progress / max(explore_fraction, 1e-9))
    if schedule == "linear":
        return start + (end - start) * t
    floor = max(end, 1e-3)  # exponential decay cannot reach exactly zero
    return max(end, start * (floor / max(start, floor)) ** t)


def q_learning_update(Q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float,
                      gamma: float) -> float:
    """One Q-learning step on Q (n_states, n_actions) in place; returns the TD error.

    A terminal next state has no future, so its bootstrap term is zero (a time-limit cut is not terminal).
    """
    target = r + (0.0 if terminated else gamma * Q[s_next].max())
    td_error = target - Q[s, a]
    Q[s, a] += alpha * td_error
    return float(td_error)


def sarsa_update(Q: np.ndarray, s: int, a: int, r: float, s_next: int, a_next: int, terminated: bool,
                 alpha: float, gamma: float) -> float:
    """One SARSA step on Q in place, bootstrapping on the action ``a_next`` actually taken next."""
    target = r + (0.0 if terminated else gamma * Q[s_next, a_next])
    td_error = target - Q[s, a]
    Q[s, a] += alpha * td_error
    return float(td_error)


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability epsilon, else a best action (ties broken at random, so an untrained
    all-zero row does not always pick action 0)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


@dataclass
class Learner:
    """One tabular agent with its own env copy and random generator, so two agents can learn side by side on
    the same seeds."""

    agent: str  # "q_learning" | "sarsa"
    env: object
    layout: dict
    seed: int
    Q: np.ndarray = field(init=False)
    rng: np.random.Generator = field(init=False)
    visits: np.ndarray = field(init=False)  # (n_states,) how often each state was seen while learning
    returns: list = field(default_factory=list)
    lengths: list = field(default_factory=list)
    successes: list = field(default_factory=list)

    def __post_init__(self):
        n_s, n_a = self.layout["n_states"], self.layout["n_actions"]
        self.Q = np.zeros((n_s, n_a))  # (states, actions)
        self.rng = np.random.default_rng(self.seed)
        self.visits = np.zeros(n_s, dtype=np.int64)
        self.env.reset(seed=self.seed)  # seeds the env's generator once; later resets continue it

    def episode(self, epsilon: float, alpha: float, gamma: float, max_steps: int) -> None:
        """Play one epsilon-greedy episode, updating Q after every step."""
        s, _ = self.env.reset()
        a = epsilon_greedy(self.Q[s], epsilon, self.rng)
        total, steps, terminated, r = 0.0, 0, False, 0.0
        for steps in range(1, max_steps + 1):
            self.visits[s] += 1
            s_next, r, terminated, _, _ = self.env.step(a)
            total += r
            a_next = epsilon_greedy(self.Q[s_next], epsilon, self.rng)
            if self.agent == "q_learning":
                q_learning_update(self.Q, s, a, r, s_next, terminated, alpha, gamma)
            else:
                sarsa_update(self.Q, s, a, r, s_next, a_next, terminated, alpha, gamma)
            s, a = s_next, a_next
            if terminated:
                break
        self.visits[s] += 1
        self.returns.append(total)
        self.lengths.append(steps)
        self.successes.append(gridworld.reached_goal(self.layout, s, terminated))


def greedy_episodes(env, Q: np.ndarray, lay: dict, episodes: int, max_steps: int, seed: int) -> dict:
    """Play ``episodes`` episodes with exploration off (always the first best action).

    Returns per-episode ``returns``, ``lengths``, ``successes`` and the first episode's ``path`` (states
    visited, start included), ``actions`` and ``rewards``.
    """
    env.reset(seed=seed)
    returns, lengths, successes = [], [], []
    path, actions, rewards = [], [], []
    for ep in range(episodes):
        s, _ = env.reset()
        total, steps, terminated = 0.0, 0, False
        first = ep == 0
        if first:
            path.append(int(s))
        for steps in range(1, max_steps + 1):
            a = int(np.argmax(Q[s]))
            s, r, terminated, _, _ = env.step(a)
            total += r
            if first:
                path.append(int(s))
                actions.append(a)
                rewards.append(float(r))
            if terminated:
                break
        returns.append(total)
        lengths.append(steps)
        successes.append(gridworld.reached_goal(lay, s, terminated))
    return {"returns": returns, "lengths": lengths, "successes": successes, "path": path,
            "actions": actions, "rewards": rewards}


def moving_average(x, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (the first points average what exists so far)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def smoothing_window(episodes: int) -> int:
    return max(5, min(100, math.ceil(episodes / 20)))
