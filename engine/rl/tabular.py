"""Tabular Q-learning and SARSA: a table Q[state, action] of expected returns, improved one step at a time.

Q-learning (off-policy) learns the value of acting greedily from the next state on:
    Q[s,a] += alpha * (r + gamma * max_a' Q[s',a'] - Q[s,a])
SARSA (on-policy) learns the value of the epsilon-greedy policy it actually follows:
    Q[s,a] += alpha * (r + gamma * Q[s',a'] - Q[s,a])      where a' is the action it takes next.
On the cliff this is the classic contrast (Sutton & Barto, Example 6.6): exploration sometimes pushes the agent
off the edge, so SARSA's values steer away from it (a longer, safe path) while Q-learning's greedy path runs
right along it.

Exploration is epsilon-greedy, and the table starts at ``initial_q``: an optimistic start makes every untried
move look good until tried (Sutton & Barto, section 2.6), which is what finds the single rewarding cell of
FrozenLake 8x8. The learning rate falls from ``alpha`` to ``alpha_end`` so that late estimates settle
(SARSA's targets depend on its own random moves; with a large constant step its greedy policy can end up
walking in circles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.core.contract import ProgressFn, Result, Tracker
from engine.rl import gridworld
from engine.rl.config import Config

if TYPE_CHECKING:
    import gymnasium as gym


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


def alpha_at(progress: float, start: float, end: float) -> float:
    """Learning rate once a share ``progress`` (0..1) of training is done: a straight line from start to end."""
    return start + (end - start) * min(1.0, progress)


def q_learning_update(
    Q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool, alpha: float, gamma: float
) -> float:
    """One Q-learning step on Q (n_states, n_actions) in place; returns the TD error.

    A terminal next state has no future, so its bootstrap term is zero (a time-limit cut is not terminal).
    """
    target = r + (0.0 if terminated else gamma * Q[s_next].max())
    td_error = target - Q[s, a]
    Q[s, a] += alpha * td_error
    return float(td_error)


def sarsa_update(
    Q: np.ndarray, s: int, a: int, r: float, s_next: int, a_next: int, terminated: bool, alpha: float, gamma: float
) -> float:
    """One SARSA step on Q in place, bootstrapping on the action ``a_next`` actually taken next."""
    target = r + (0.0 if terminated else gamma * Q[s_next, a_next])
    td_error = target - Q[s, a]
    Q[s, a] += alpha * td_error
    return float(td_error)


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability epsilon, else a best action (ties broken at random, so an untrained
    all-equal row does not always pick action 0)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def initial_table(layout: dict, initial_q: float) -> np.ndarray:
    """Q (n_states, n_actions) filled with ``initial_q``; cells that end an episode (holes, traps, goals, the
    cliff) are never left again, so their rows stay 0 and draw as worth nothing."""
    Q = np.full((layout["n_states"], layout["n_actions"]), float(initial_q))  # (states, actions)
    if len(layout["feature_dims"]) == 2:
        cells = np.asarray([list(row) for row in layout["cells"]]).ravel()
        Q[np.isin(cells, ["T", "G"])] = 0.0
    return Q


@dataclass
class Learner:
    """One tabular agent with its own env copy and random generator, so two agents can learn side by side on
    the same seeds."""

    agent: str  # "q_learning" | "sarsa"
    env: gym.Env
    layout: dict
    seed: int
    initial_q: float = 0.0
    Q: np.ndarray = field(init=False)
    rng: np.random.Generator = field(init=False)
    visits: np.ndarray = field(init=False)  # (n_states,) how often each state was seen while learning
    returns: list = field(default_factory=list)
    lengths: list = field(default_factory=list)
    successes: list = field(default_factory=list)

    def __post_init__(self):
        self.Q = initial_table(self.layout, self.initial_q)
        self.rng = np.random.default_rng(self.seed)
        self.visits = np.zeros(self.layout["n_states"], dtype=np.int64)
        self.env.reset(seed=self.seed)  # seeds the env's generator once; later resets continue it

    def episode(self, epsilon: float, alpha: float, gamma: float, max_steps: int) -> None:
        """Play one epsilon-greedy episode, updating Q after every step."""
        s, _ = self.env.reset()
        a = epsilon_greedy(self.Q[s], epsilon, self.rng)
        total, steps, terminated, r = 0.0, 0, False, 0.0
        for steps in range(1, max_steps + 1):  # noqa: B007 (the episode length, read after the loop)
            self.visits[s] += 1
            s_next, reward, terminated, _, _ = self.env.step(a)
            r = float(reward)
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
        for steps in range(1, max_steps + 1):  # noqa: B007 (the episode length, read after the loop)
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
    return {
        "returns": returns,
        "lengths": lengths,
        "successes": successes,
        "path": path,
        "actions": actions,
        "rewards": rewards,
    }


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


# --- the run ---------------------------------------------------------------------------------------------


def make_env(config: Config):
    return gridworld.make(
        config.env,
        is_slippery=config.is_slippery,
        grid=config.grid,
        goal_reward=config.goal_reward,
        trap_reward=config.trap_reward,
        step_reward=config.step_reward,
    )


def agents_of(config: Config) -> list[str]:
    """The chosen agent, then the other table-based one when the comparison is on."""
    if not config.compare_sarsa:
        return [config.agent]
    return [config.agent, "sarsa" if config.agent == "q_learning" else "q_learning"]


def live_values(lay: dict, Q: np.ndarray, episode: int) -> dict:
    """A small JSON-friendly snapshot for the live value map: cells, state values, greedy arrows."""
    V, A = Q.max(1), Q.argmax(1)
    shape = (lay["n_rows"], lay["n_cols"])
    return {
        "cells": lay["cells"],
        "values": np.round(V.reshape(shape), 4).tolist(),
        "arrows": np.asarray(lay["action_arrows"])[A].reshape(shape).tolist(),
        "episode": episode,
    }


def train(config: Config, learners: list[Learner], tracker: Tracker) -> list[float]:
    """Every learner plays ``config.episodes`` episodes; one progress row per block of episodes. Returns the
    exploration rate of each episode played."""
    main, lay = learners[0], learners[0].layout
    window = smoothing_window(config.episodes)
    block = math.ceil(config.episodes / 200)  # episodes per progress report
    live_every = max(1, math.ceil(config.episodes / block / 25))
    live_ok = len(lay["feature_dims"]) == 2  # a 2-D value map (not Taxi's 500 states)
    epsilons: list[float] = []
    for ep in range(1, config.episodes + 1):
        done = (ep - 1) / config.episodes
        eps = epsilon_at(
            done, config.epsilon_start, config.epsilon_end, config.epsilon_schedule, config.explore_fraction
        )
        alpha = alpha_at(done, config.alpha, config.alpha_end)
        epsilons.append(eps)
        for learner in learners:
            learner.episode(eps, alpha, config.gamma, config.max_steps)
        if ep % block == 0 or ep == config.episodes:
            row = {
                "return": np.mean(main.returns[-block:]),
                "return_avg": np.mean(main.returns[-window:]),
                "epsilon": eps,
                "alpha": alpha,
                "episode_length": np.mean(main.lengths[-block:]),
                "success": np.mean(main.successes[-block:]),
            }
            for other in learners[1:]:
                row[f"{other.agent}_return_avg"] = np.mean(other.returns[-window:])
            live = live_values(lay, main.Q, ep) if live_ok and len(tracker.rows) % live_every == 0 else None
            if tracker.step(ep, live=live, **row):
                break
    return epsilons


def evaluate(config: Config, learners: list[Learner]) -> tuple[dict, dict]:
    """Greedy evaluation episodes of every learner: summary metrics (the second agent's prefixed with its
    name) and arrays (tables, returns, the first greedy episode)."""
    metrics, arrays, paths = {}, {}, []
    for i, learner in enumerate(learners):
        ev = greedy_episodes(
            make_env(config), learner.Q, learner.layout, config.eval_episodes, config.max_steps, seed=config.seed + 1
        )
        key = "" if i == 0 else f"{learner.agent}_"
        metrics[f"{key}greedy_return_mean"] = float(np.mean(ev["returns"]))
        metrics[f"{key}success_rate"] = float(np.mean(ev["successes"]))
        metrics[f"{key}greedy_steps_mean"] = float(np.mean(ev["lengths"]))
        if config.env == "CliffWalking-v1":
            metrics[f"{key}greedy_path_length"] = float(ev["lengths"][0])
        arrays.update(
            {
                f"{key}Q": learner.Q.copy(),
                f"{key}returns": np.asarray(learner.returns),
                f"{key}lengths": np.asarray(learner.lengths),
                f"{key}visits": learner.visits.copy(),
                f"{key}greedy_path": np.asarray(ev["path"]),
                f"{key}greedy_actions": np.asarray(ev["actions"]),
                f"{key}greedy_rewards": np.asarray(ev["rewards"]),
            }
        )
        paths.append(np.asarray(ev["path"]))
    arrays["greedy_states"] = np.concatenate(paths)
    return metrics, arrays


def q_table_module(Q: np.ndarray):
    """The trained table as a model the run store keeps: a module whose one buffer is the table, so its weights go
    out as safetensors like any network's and Try it can rebuild it from a stored run."""
    import torch

    class QTable(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("table", torch.as_tensor(Q, dtype=torch.float64))

        def extra_repr(self) -> str:
            return f"{Q.shape[0]} states x {Q.shape[1]} actions (no layers: one number per pair)"

    return QTable()


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the table-based agent(s) on the grid world, then evaluate greedily (exploration off)."""
    env = make_env(config)
    lay = gridworld.layout(config.env, env)
    agents = agents_of(config)
    # each learner gets its own env and generator on the same seed: identical luck, different update rule
    learners = [
        Learner(a, env if i == 0 else make_env(config), lay, config.seed, config.initial_q)
        for i, a in enumerate(agents)
    ]
    tracker = Tracker(progress, config.episodes)
    epsilons = train(config, learners, tracker)
    metrics, arrays = evaluate(config, learners)
    main = learners[0]
    metrics.update(
        train_return_last=float(np.mean(main.returns[-smoothing_window(config.episodes) :])),
        episodes_run=len(main.returns),
        steps_run=int(sum(main.lengths)),
        states_visited=int((main.visits > 0).sum()),
        n_states=lay["n_states"],
    )
    headline = ["greedy_return_mean", "success_rate"] + [
        f"{a}_{m}" for a in agents[1:] for m in ("greedy_return_mean", "success_rate")
    ]
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=tuple(headline),
        arrays={**arrays, "epsilons": np.asarray(epsilons)},
        # the chosen agent's table, for Try it; not a network: the pipeline stores any model's state_dict
        models={"q_table": q_table_module(main.Q.copy())},
        stopped=tracker.stopped,
        info={"agents": agents, "layout": lay, "window": smoothing_window(config.episodes)},
    )
