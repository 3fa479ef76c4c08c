"""Reinforcement learning: an agent learns by trial and error which action pays off in which state.

Tabular agents (``q_learning``, ``sarsa``; see :mod:`engine.rl.tabular`) keep a table Q[state, action] of
expected returns on the grid worlds of :mod:`engine.rl.gridworld` (Gymnasium's FrozenLake, CliffWalking, Taxi
and the engine's own editable gridworld). A deep Q-network (``dqn``; :mod:`engine.rl.dqn`) replaces the table
with a neural network to balance CartPole, whose state is four continuous numbers. Both explore
epsilon-greedily: a random action with probability epsilon, else the best one by their current estimate.
Results are judged with exploration off (greedy evaluation episodes).
"""
from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from engine.core import charts
from engine.core.config import TechniqueConfig
from engine.core.contract import ProgressFn, Result, Tracker
from engine.rl import gridworld, tabular, views

TITLE = "Reinforcement learning"
SUMMARY = "Watch an agent learn by trial and error with Q-learning, SARSA and a deep Q-network."

TABULAR_ENVS = ("FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "Taxi-v4", "gridworld")
ENV_TITLES = {"FrozenLake-v1": "FrozenLake 4x4", "FrozenLake8x8-v1": "FrozenLake 8x8",
              "CliffWalking-v1": "CliffWalking", "Taxi-v4": "Taxi", "gridworld": "your gridworld",
              "CartPole-v1": "CartPole"}
CARTPOLE_MAX_RETURN = 500.0  # CartPole-v1 stops an episode after 500 steps (+1 reward per step)


class Config(TechniqueConfig):
    env: Literal["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "Taxi-v4", "gridworld", "CartPole-v1"] = Field(
        "FrozenLake-v1", description="The world the agent learns in. Grid worlds (FrozenLake, CliffWalking, Taxi, "
        "your own gridworld) suit the table-based agents; CartPole (balance a pole on a cart) needs the deep "
        "Q-network.", title="Environment")
    agent: Literal["q_learning", "sarsa", "dqn"] = Field(
        "q_learning", description="How it learns: Q-learning (learns the best policy while exploring), SARSA "
        "(learns the policy it actually follows, exploration included: more careful), or a deep Q-network "
        "(a neural network instead of a table, for CartPole).")
    is_slippery: bool = Field(
        False, description="Slippery ice: a move goes the intended way only 1 time in 3, else sideways "
        "(FrozenLake, CliffWalking and the gridworld; ignored for Taxi and CartPole).", title="Slippery ice")
    grid: str = Field(
        gridworld.DEFAULT_GRID, max_length=160, description="Your gridworld's map, rows separated by '/': S start, "
        ". free, # wall, T trap, G goal. Used when the world is 'gridworld'.")
    goal_reward: float = Field(1.0, ge=-10.0, le=10.0, description="Reward for reaching a goal G (gridworld).")
    trap_reward: float = Field(-1.0, ge=-10.0, le=10.0, description="Reward for falling into a trap T; the "
                               "episode ends there (gridworld).")
    step_reward: float = Field(-0.01, ge=-1.0, le=1.0, description="Reward for every other step (gridworld); "
                               "a small cost makes the agent hurry.")
    episodes: int = Field(1000, ge=1, le=20000, description="How many episodes (tries from the start to the "
                          "end) the table-based agents practise. The deep Q-network uses training steps instead.")
    max_steps: int = Field(100, ge=5, le=1000, description="An episode of a grid world is cut off after this many "
                           "moves.")
    alpha: float = Field(0.5, ge=0.001, le=1.0, description="Learning rate alpha of the table-based agents: how "
                         "far each new experience moves the table (1 = replace the old estimate).",
                         json_schema_extra={"widget": "slider"}, title="Learning rate α")
    gamma: float = Field(0.99, ge=0.0, le=1.0, description="Discount gamma: how much a reward one step later is "
                         "worth now (0 = only the next reward counts, 1 = all future rewards count fully).",
                         json_schema_extra={"widget": "slider"}, title="Discount γ")
    epsilon_start: float = Field(1.0, ge=0.0, le=1.0, description="Exploration rate epsilon at the start: the "
                                 "chance of a random move instead of the best-looking one.",
                                 json_schema_extra={"widget": "slider"}, title="Exploration ε at start")
    epsilon_end: float = Field(0.05, ge=0.0, le=1.0, description="Exploration rate after the decay.",
                               json_schema_extra={"widget": "slider"}, title="Exploration ε at end")
    epsilon_schedule: Literal["linear", "exponential", "constant"] = Field(
        "linear", description="How epsilon falls from its start to its end value (constant: stays at the start "
        "value throughout).")
    explore_fraction: float = Field(0.5, ge=0.01, le=1.0, description="Share of training over which epsilon "
                                    "decays; afterwards it stays at its end value.",
                                    json_schema_extra={"widget": "slider"})
    compare_sarsa: bool = Field(False, description="Also train the other table-based agent (SARSA next to "
                                "Q-learning, or the reverse) on the same seeds and overlay both.",
                                title="Also run SARSA")
    eval_episodes: int = Field(20, ge=1, le=200, description="Episodes played with exploration off after "
                               "training, to measure what the agent really learned.", title="Evaluation episodes")
    training_steps: int = Field(15000, ge=500, le=200000, description="Deep Q-network: how many moves it makes "
                                "in CartPole while learning.")
    hidden_layers: int = Field(2, ge=1, le=3, description="Deep Q-network: number of hidden layers.")
    width: int = Field(64, ge=8, le=256, description="Deep Q-network: neurons per hidden layer.")
    learning_rate: float = Field(0.001, ge=1e-5, le=0.1, description="Deep Q-network: step size of the Adam "
                                 "optimiser. Too high and learning becomes unstable.", json_schema_extra={"log": True})
    batch_size: int = Field(64, ge=8, le=512, description="Deep Q-network: remembered moves per learning step.")
    buffer_size: int = Field(20000, ge=1000, le=200000, description="Deep Q-network: how many past moves the "
                             "replay memory keeps (the oldest are forgotten).")
    learning_starts: int = Field(1000, ge=64, le=50000, description="Deep Q-network: random moves collected "
                                 "before learning begins.")
    train_frequency: int = Field(4, ge=1, le=512, description="Deep Q-network: learn after every this many "
                                 "moves.")
    gradient_steps: int = Field(2, ge=1, le=256, description="Deep Q-network: learning steps each time it learns.")
    target_update: int = Field(250, ge=1, le=10000, description="Deep Q-network: learning steps between copies "
                               "of the network into the frozen target network that sets its goals.")
    keep_best: bool = Field(True, description="Deep Q-network: test the greedy policy every 5% of training and keep "
                            "the best network seen (a DQN's skill can collapse late in training).",
                            title="Keep the best network")
    explain_states: int = Field(40, ge=10, le=200, description="How many states SHAP explains (more is slower).")

    # The form shows a setting only where it applies (hidden settings keep their values).
    SHOW_IF: ClassVar[dict] = {
        **dict.fromkeys(("episodes", "max_steps", "alpha", "compare_sarsa"), {"agent": ["q_learning", "sarsa"]}),
        **dict.fromkeys(("training_steps", "hidden_layers", "width", "learning_rate", "batch_size", "buffer_size",
                         "learning_starts", "train_frequency", "gradient_steps", "target_update", "keep_best"),
                        {"agent": ["dqn"]}),
        **dict.fromkeys(("grid", "goal_reward", "trap_reward", "step_reward"), {"env": ["gridworld"]}),
        "is_slippery": {"env": ["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "gridworld"]},
    }

    @field_validator("grid")
    @classmethod
    def _grid_is_a_map(cls, value: str) -> str:
        gridworld.parse_grid(value)
        return value.strip()

    @model_validator(mode="after")
    def _agent_fits_env(self):
        if self.agent == "dqn" and self.env != "CartPole-v1":
            raise ValueError(f"The deep Q-network (agent dqn) is set up for CartPole-v1, but got env {self.env!r}: "
                             "use q_learning or sarsa for a grid world.")
        if self.agent != "dqn" and self.env == "CartPole-v1":
            raise ValueError(f"CartPole-v1's state is four continuous numbers, which no table can list, so agent "
                             f"{self.agent!r} cannot learn it: use agent dqn.")
        if self.epsilon_end > self.epsilon_start:
            raise ValueError(f"`epsilon_end` must be <= `epsilon_start`, but got epsilon_end={self.epsilon_end} "
                             f"and epsilon_start={self.epsilon_start}.")
        if self.agent == "dqn" and self.learning_starts >= self.training_steps:
            raise ValueError(f"`learning_starts` must be below `training_steps`, but got learning_starts="
                             f"{self.learning_starts} and training_steps={self.training_steps}.")
        return self


PRESETS = {
    "quick": {"episodes": 1000, "training_steps": 15000},
    "better": {"episodes": 3000, "alpha": 0.3, "eval_episodes": 50, "training_steps": 40000, "width": 128,
               "explain_states": 80},
    "dqn_quick": {"env": "CartPole-v1", "agent": "dqn", "training_steps": 15000},  # a deep Q-network in ~20 s
    "solve": {"env": "CartPole-v1", "agent": "dqn", "training_steps": 50000, "width": 256, "hidden_layers": 2,
              "learning_rate": 0.0023, "batch_size": 64, "buffer_size": 100000, "learning_starts": 1000,
              "train_frequency": 256, "gradient_steps": 128, "target_update": 128, "epsilon_end": 0.04,
              "explore_fraction": 0.16, "eval_episodes": 20},
}


def _epsilon_fn(config: Config):
    return lambda done: tabular.epsilon_at(done, config.epsilon_start, config.epsilon_end, config.epsilon_schedule,
                                           config.explore_fraction)


def _make_env(config: Config):
    return gridworld.make(config.env, is_slippery=config.is_slippery, grid=config.grid,
                          goal_reward=config.goal_reward, trap_reward=config.trap_reward,
                          step_reward=config.step_reward)


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the chosen agent, then evaluate it greedily (exploration off)."""
    if config.agent == "dqn":
        return _run_dqn(config, progress)
    return _run_tabular(config, progress)


# --- tabular ----------------------------------------------------------------------------------------------

def _live_values(lay: dict, Q: np.ndarray, episode: int) -> dict:
    V, A = Q.max(1), Q.argmax(1)
    shape = (lay["n_rows"], lay["n_cols"])
    return {"cells": lay["cells"], "values": np.round(V.reshape(shape), 4).tolist(),
            "arrows": np.asarray(lay["action_arrows"])[A].reshape(shape).tolist(), "episode": episode}


def _run_tabular(config: Config, progress: ProgressFn) -> Result:
    env = _make_env(config)
    lay = gridworld.layout(config.env, env)
    agents = [config.agent]
    if config.compare_sarsa:
        agents.append("sarsa" if config.agent == "q_learning" else "q_learning")
    # each learner gets its own env and generator on the same seed: identical luck, different update rule
    learners = [tabular.Learner(a, env if i == 0 else _make_env(config), lay, config.seed)
                for i, a in enumerate(agents)]
    main = learners[0]
    epsilon = _epsilon_fn(config)
    window = tabular.smoothing_window(config.episodes)
    block = math.ceil(config.episodes / 200)  # episodes per progress report
    live_every = max(1, math.ceil(config.episodes / block / 25))
    live_ok = len(lay["feature_dims"]) == 2  # a 2-D value map (not Taxi's 500 states)
    tracker = Tracker(progress, config.episodes)
    epsilons: list[float] = []
    for ep in range(1, config.episodes + 1):
        eps = epsilon((ep - 1) / config.episodes)
        epsilons.append(eps)
        for learner in learners:
            learner.episode(eps, config.alpha, config.gamma, config.max_steps)
        if ep % block == 0 or ep == config.episodes:
            row = {"return": float(np.mean(main.returns[-block:])),
                   "return_avg": float(np.mean(main.returns[-window:])),
                   "epsilon": eps, "episode_length": float(np.mean(main.lengths[-block:])),
                   "success": float(np.mean(main.successes[-block:]))}
            for other in learners[1:]:
                row[f"{other.agent}_return_avg"] = float(np.mean(other.returns[-window:]))
            calls = len(tracker.rows)
            live = _live_values(lay, main.Q, ep) if live_ok and (calls % live_every == 0) else None
            if tracker.step(ep, live=live, **row):
                break

    counts = {"episodes_run": len(main.returns), "steps_run": int(sum(main.lengths)),
              "states_visited": int((main.visits > 0).sum()), "n_states": lay["n_states"],
              "train_return_last": float(np.mean(main.returns[-window:]))}
    metrics: dict[str, float] = {}  # evaluation first: the page shows the first metrics as headlines
    arrays: dict[str, np.ndarray] = {"epsilons": np.asarray(epsilons)}
    evals = {}
    for i, learner in enumerate(learners):
        ev = tabular.greedy_episodes(_make_env(config), learner.Q, lay, config.eval_episodes, config.max_steps,
                                     seed=config.seed + 1)
        evals[learner.agent] = ev
        prefix = "" if i == 0 else f"{learner.agent}_"
        metrics[f"{prefix}greedy_return_mean"] = float(np.mean(ev["returns"]))
        metrics[f"{prefix}success_rate"] = float(np.mean(ev["successes"]))
        metrics[f"{prefix}greedy_steps_mean"] = float(np.mean(ev["lengths"]))
        if config.env == "CliffWalking-v1":
            metrics[f"{prefix}greedy_path_length"] = int(ev["lengths"][0])
        key = "" if i == 0 else f"{learner.agent}_"
        arrays.update({f"{key}Q": learner.Q.copy(), f"{key}returns": np.asarray(learner.returns),
                       f"{key}lengths": np.asarray(learner.lengths), f"{key}visits": learner.visits.copy(),
                       f"{key}greedy_path": np.asarray(ev["path"]), f"{key}greedy_actions": np.asarray(ev["actions"]),
                       f"{key}greedy_rewards": np.asarray(ev["rewards"])})
    greedy_states = np.concatenate([np.asarray(ev["path"]) for ev in evals.values()])
    metrics.update(counts)
    return Result(
        history=tracker.history(), metrics=metrics, arrays={**arrays, "greedy_states": greedy_states},
        stopped=tracker.stopped,
        info={"env": config.env, "agent": config.agent, "agents": agents, "layout": lay, "window": window,
              "seed": config.seed, "explain_states": config.explain_states, "eval_episodes": config.eval_episodes,
              "episodes": config.episodes, "max_steps": config.max_steps, "gamma": config.gamma,
              "epsilon": [config.epsilon_start, config.epsilon_end, config.epsilon_schedule],
              "is_slippery": config.is_slippery and config.env != "Taxi-v4"})


# --- deep Q-network ---------------------------------------------------------------------------------------

def _run_dqn(config: Config, progress: ProgressFn) -> Result:
    from engine.core.train import count_parameters
    from engine.rl import dqn

    tracker = Tracker(progress, config.training_steps)
    net, log = dqn.train(config, tracker, _epsilon_fn(config))
    ev = dqn.greedy_episodes(net, config.eval_episodes, seed=config.seed + 10_000)
    returns = np.asarray(log["returns"])
    metrics = {"greedy_return_mean": float(np.mean(ev["returns"])),
               "success_rate": float(np.mean(np.asarray(ev["returns"]) >= CARTPOLE_MAX_RETURN)),
               "greedy_return_min": float(np.min(ev["returns"])),
               "train_return_first": float(returns[:20].mean()) if len(returns) else 0.0,
               "train_return_last": float(returns[-20:].mean()) if len(returns) else 0.0,
               "episodes_run": len(returns), "steps_run": int(log["steps_done"]),
               "gradient_updates": int(log["updates"]), "parameters": count_parameters(net),
               "kept_network_step": int(log["best_step"])}
    return Result(
        history=tracker.history(), metrics=metrics, models={"q_network": net}, stopped=tracker.stopped,
        arrays={"returns": returns, "end_steps": np.asarray(log["end_steps"]), "epsilons": np.asarray(log["epsilons"]),
                "rollout": ev["rollout"], "q_values": ev["q_values"], "eval_states": ev["states"],
                "checks": np.asarray(log["checks"], dtype=float).reshape(-1, 2)},
        info={"env": config.env, "agent": "dqn", "agents": ["dqn"], "feature_names": dqn.STATE_FEATURES,
              "action_names": dqn.ACTIONS, "seed": config.seed, "explain_states": config.explain_states,
              "eval_episodes": config.eval_episodes, "training_steps": config.training_steps,
              "gamma": config.gamma})


# --- figures, explanations, text --------------------------------------------------------------------------

def figures(result: Result) -> dict:
    a, info = result.arrays, result.info
    if info["agent"] == "dqn":
        checks = a["checks"]
        if len(checks):  # place each check at the episode during which it happened
            checks = np.column_stack([np.searchsorted(a["end_steps"], checks[:, 0]) + 1, checks[:, 1]])
        figs = {"Returns": views.returns_figure(a["returns"], a["epsilons"], 20, agent="dqn",
                                                x=np.arange(1, len(a["returns"]) + 1), checks=checks)}
        if len(a["q_values"]):
            figs["Q-values along an episode"] = views.q_values_figure(a["q_values"], a["rollout"], info["action_names"])
            figs["Cart-pole replay"] = views.cartpole_animation(a["rollout"], a["q_values"], info["action_names"])
        return figs
    lay, agent = info["layout"], info["agent"]
    n = len(a["returns"])
    others = {name: a[f"{name}_returns"] for name in info["agents"][1:]}
    figs = {"Returns": views.returns_figure(a["returns"], a["epsilons"][:n], info["window"], agent=agent,
                                            others=others),
            "Policy and values": views.policy_figure(lay, a["Q"], title=f"{views.AGENT_NAMES[agent]}: greedy "
                                                     "policy and state values"),
            "Greedy episode": views.replay_figure(lay, list(a["greedy_path"]), list(a["greedy_actions"]),
                                                  list(a["greedy_rewards"]), agent=agent),
            "Q-table": views.q_table_figure(lay, a["Q"])}
    for name in others:
        figs[f"{views.AGENT_NAMES[name]} policy"] = views.policy_figure(
            lay, a[f"{name}_Q"], title=f"{views.AGENT_NAMES[name]}: greedy policy and state values")
        if len(lay["feature_dims"]) == 2:
            figs["Both greedy paths"] = views.paths_figure(
                lay, {agent: list(a["greedy_path"]), name: list(a[f"{name}_greedy_path"])})
    return figs


def live_figure(payload: dict):
    """The grid's state values and greedy arrows as they are now (grid worlds other than Taxi)."""
    return views.value_live_figure(payload["cells"], payload["values"], payload["arrows"], payload["episode"])


def _tabular_states(result: Result, n: int) -> tuple[np.ndarray, np.ndarray]:
    """States to explain (the greedy paths first, then the most visited) and background states (visited)."""
    a = result.arrays
    rng = np.random.default_rng(result.info["seed"])
    visited = np.flatnonzero(a["visits"] > 0)
    by_visits = visited[np.argsort(-a["visits"][visited], kind="stable")]
    order = list(dict.fromkeys([int(s) for s in a["greedy_states"]] + [int(s) for s in by_visits]))
    background = rng.choice(visited, min(40, len(visited)), replace=False) if len(visited) else np.asarray(order[:1])
    return np.asarray(order[:n]), background


def explain(result: Result):
    """Tabular: SHAP of the greedy value max_a Q[s, a] over the decoded state features (row, column; Taxi: taxi
    row and column, passenger location, destination). DQN: SHAP of the chosen action's Q-value and of the
    preference for pushing right over the 4 state features, on states from the evaluation episodes."""
    from engine.core.explain import explain_function, explain_torch

    info, a = result.info, result.arrays
    if info["agent"] == "dqn":
        import torch
        from torch import nn

        states = a["eval_states"]
        rng = np.random.default_rng(info["seed"])
        rows = rng.choice(len(states), min(info["explain_states"], len(states)), replace=False)
        background = states[rng.choice(len(states), min(50, len(states)), replace=False)]
        net = result.models["q_network"].cpu().eval()

        def chosen_q(X: np.ndarray) -> np.ndarray:  # (n, 4) -> (n,) max_a Q(s, a), the value of the chosen action
            with torch.no_grad():
                return net(torch.as_tensor(X, dtype=torch.float32)).max(1).values.numpy()

        preference = nn.Linear(2, 1, bias=False)  # Q(right) - Q(left)
        with torch.no_grad():
            preference.weight.copy_(torch.tensor([[-1.0, 1.0]]))
        X, bg = torch.as_tensor(states[rows]), torch.as_tensor(background)
        names = info["feature_names"]
        # the max over actions switches branch between states, so a model-agnostic explainer keeps it exact
        return {"Chosen action's Q-value": explain_function(chosen_q, states[rows], background, feature_names=names,
                                                            seed=info["seed"]),
                "Push right rather than left": explain_torch(nn.Sequential(net, preference), X, bg,
                                                             feature_names=names)}
    lay = info["layout"]
    Q = a["Q"]
    states, background = _tabular_states(result, info["explain_states"])
    dims = lay["feature_dims"]

    def greedy_value(X: np.ndarray) -> np.ndarray:  # (n, features) -> (n,)
        return Q[gridworld.encode(X, dims)].max(1)

    return explain_function(greedy_value, gridworld.decode(states, dims).astype(float),
                            gridworld.decode(background, dims).astype(float), feature_names=lay["feature_names"],
                            seed=info["seed"])


def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    stopped = " You stopped it early." if result.stopped else ""
    if info["agent"] == "dqn":
        return (f"A deep Q-network with {m['parameters']:,} weights made {m['steps_run']:,} moves in CartPole "
                f"({m['episodes_run']} episodes, {m['gradient_updates']:,} learning steps).{stopped} Its return "
                f"per episode went from {m['train_return_first']:.0f} (first 20 episodes) to "
                f"{m['train_return_last']:.0f} (last 20). With exploration off it kept the pole up for "
                f"**{m['greedy_return_mean']:.0f}** steps on average over {info['eval_episodes']} episodes "
                f"(500 is the maximum; {m['success_rate']:.0%} of them reached it)."
                + (f" That is the network kept from move {m['kept_network_step']:,}, the best of the greedy checks "
                   "during training." if m["kept_network_step"] < m["steps_run"] else ""))
    name = views.AGENT_NAMES[info["agent"]]
    world = ENV_TITLES[info["env"]] + (" (slippery)" if info["is_slippery"] else "")
    start, end, schedule = info["epsilon"]
    explore = (f"exploring with epsilon {start:g}" if schedule == "constant" or start == end
               else f"exploring with epsilon falling from {start:g} to {end:g}")
    goal = "delivered the passenger" if info["env"] == "Taxi-v4" else f"reached the {info['layout']['goal_name']}"
    text = (f"{name} played {m['episodes_run']:,} episodes of {world} ({m['steps_run']:,} moves), {explore}; "
            f"it visited {m['states_visited']} of {m['n_states']} states.{stopped} With exploration off it {goal} "
            f"in **{m['success_rate']:.0%}** of {info['eval_episodes']} episodes, with a mean return of "
            f"{m['greedy_return_mean']:.2f}")
    text += f" along a {m['greedy_path_length']}-step path." if "greedy_path_length" in m else "."
    if m["success_rate"] < 0.5:
        text += (" It has not mastered this world yet: try more episodes (the *better* preset) or a slower decay "
                 "of epsilon" + (", and a smaller alpha on slippery ice." if info["is_slippery"] else "."))
    for other in info["agents"][1:]:
        oname = views.AGENT_NAMES[other]
        text += (f" {oname}, trained on the same seeds, succeeded in {m[f'{other}_success_rate']:.0%} with a mean "
                 f"return of {m[f'{other}_greedy_return_mean']:.2f}")
        if "greedy_path_length" in m:
            mine, theirs = m["greedy_path_length"], m[f"{other}_greedy_path_length"]
            sarsa_len = theirs if other == "sarsa" else mine
            q_len = mine if other == "sarsa" else theirs
            verdict = ("SARSA keeps away from the cliff edge, as theory predicts" if sarsa_len > q_len else
                       "here both took equally long paths" if sarsa_len == q_len else
                       "unusually, Q-learning took the longer path")
            text += f" along a {theirs}-step path: {verdict}"
        text += "."
    return text


def estimate_seconds(config: Config) -> float:
    """Rough, calibrated on a busy 2-core machine with one torch thread (figures and SHAP included)."""
    if config.agent == "dqn":
        learning_moves = max(0, config.training_steps - config.learning_starts)
        updates = learning_moves / config.train_frequency * config.gradient_steps
        size = 1 + config.width * config.hidden_layers / 128
        return 2.0 + config.training_steps * 1.2e-4 + updates * 6e-4 * size + config.eval_episodes * 0.05
    typical = {"FrozenLake-v1": 10, "FrozenLake8x8-v1": 30, "CliffWalking-v1": 40, "Taxi-v4": 50,
               "gridworld": 20}[config.env]
    steps = config.episodes * min(config.max_steps, typical) * (2 if config.compare_sarsa else 1)
    return 1.5 + steps * 3e-5 + config.explain_states * 0.01
