"""Reinforcement learning views: the figures, SHAP of what the agent learned, and the plain-language summary.

Every function takes the Result of :mod:`engine.rl.tabular` or :mod:`engine.rl.dqn` (``result.config.agent``
says which); the figure builders themselves are in :mod:`engine.rl.plots`.
"""

from __future__ import annotations

import numpy as np

from engine.core import charts
from engine.core.contract import Result
from engine.rl import gridworld, plots
from engine.rl.config import AGENT_NAMES, CARTPOLE_MAX_RETURN, ENV_TITLES, PRESET_LABELS

CLIFF_EDGE_PATH = 13  # steps of the shortest way along the cliff edge: 1 up, 11 right, 1 down
RANDOM_CARTPOLE = 22  # about how long random pushing keeps CartPole's pole up


# --- figures --------------------------------------------------------------------------------------------


def figures(result: Result) -> dict:
    return _dqn_figures(result) if result.config.agent == "dqn" else _tabular_figures(result)


def _dqn_figures(result: Result) -> dict:
    a, info = result.arrays, result.info
    checks = a["checks"]
    if len(checks):  # place each check at the episode during which it happened
        checks = np.column_stack([np.searchsorted(a["end_steps"], checks[:, 0]) + 1, checks[:, 1]])
    figs = {
        "Returns": plots.returns_figure(
            a["returns"], a["epsilons"], 20, agent="dqn", x=np.arange(1, len(a["returns"]) + 1), checks=checks
        )
    }
    if len(a["q_values"]):
        figs["Q-values along an episode"] = plots.q_values_figure(a["q_values"], a["rollout"], info["action_names"])
        figs["Cart-pole replay"] = plots.cartpole_animation(a["rollout"], a["q_values"], info["action_names"])
    return figs


def _tabular_figures(result: Result) -> dict:
    a, info, config = result.arrays, result.info, result.config
    lay, agent = info["layout"], config.agent
    n = len(a["returns"])
    others = {name: a[f"{name}_returns"] for name in info["agents"][1:]}
    unvisited = (
        f" States it never visited keep their starting value of {config.initial_q:g}."
        if config.initial_q != 0 and (a["visits"] == 0).any()
        else ""
    )
    figs = {
        "Returns": plots.returns_figure(a["returns"], a["epsilons"][:n], info["window"], agent=agent, others=others),
        "Policy and values": plots.policy_figure(
            lay, a["Q"], title=f"{AGENT_NAMES[agent]}: greedy policy and state values"
        ),
        "Greedy episode": plots.replay_figure(
            lay, list(a["greedy_path"]), list(a["greedy_actions"]), list(a["greedy_rewards"]), agent=agent
        ),
        "Q-table": plots.q_table_figure(lay, a["Q"]),
    }
    if unvisited:
        fig = figs["Policy and values"]
        figs["Policy and values"] = charts.captioned(fig, charts.caption_of(fig) + unvisited)
    for name in others:
        figs[f"{AGENT_NAMES[name]} policy"] = plots.policy_figure(
            lay, a[f"{name}_Q"], title=f"{AGENT_NAMES[name]}: greedy policy and state values"
        )
        if len(lay["feature_dims"]) == 2:
            paths = {agent: list(a["greedy_path"]), name: list(a[f"{name}_greedy_path"])}
            figs["Both greedy paths"] = plots.paths_figure(lay, paths, _cliff_contrast(result) or "")
    return figs


def live_figure(snapshot):
    """Grid worlds (not Taxi): the state values and greedy arrows as they are now. DQN: recent returns."""
    if not snapshot:
        return None
    if "cells" in snapshot:
        return plots.value_live_figure(snapshot["cells"], snapshot["values"], snapshot["arrows"], snapshot["episode"])
    return plots.returns_live_figure(snapshot["returns"], snapshot["first_episode"])


# --- SHAP -----------------------------------------------------------------------------------------------


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


def explain_figures(result: Result, explanation) -> dict:
    return {}  # the standard SHAP views (bar, beeswarm, waterfall, dependence) say it all


# --- "What just happened" -------------------------------------------------------------------------------


def describe(result: Result) -> str:
    text = _describe_dqn(result) if result.config.agent == "dqn" else _describe_tabular(result)
    return text + (" You stopped it early." if result.stopped else "")


def _describe_dqn(result: Result) -> str:
    m, config = result.metrics, result.config
    mean, low, full = m["balanced_steps_mean"], m["balanced_steps_min"], m["full_episodes_share"]
    text = (
        f"A deep Q-network with {m['parameters']:,} weights made {m['steps_run']:,} moves in CartPole "
        f"({m['episodes_run']} episodes, {m['gradient_updates']:,} learning steps). Its return per episode went "
        f"from {m['train_return_first']:.0f} (first 20 episodes) to {m['train_return_last']:.0f} (last 20). "
        f"With exploration off it balanced the pole for **{mean:.0f} of {CARTPOLE_MAX_RETURN} steps** on "
        f"average over {config.eval_episodes} episodes (fewest {low:.0f})."
    )
    if low >= CARTPOLE_MAX_RETURN:
        text += " Every episode lasted the full 500 steps: it has solved CartPole."
    elif full > 0:
        text += (
            f" {full:.0%} of them lasted the full {CARTPOLE_MAX_RETURN} steps; the rest fell earlier, so "
            "its balance is good but not yet reliable."
        )
    if full == 0 and mean >= 3 * RANDOM_CARTPOLE:
        text += (
            f" That is far longer than random pushing (about {RANDOM_CARTPOLE} steps), though no episode "
            f"reached {CARTPOLE_MAX_RETURN}: more training steps (preset *{PRESET_LABELS['solve']}*) help."
        )
    elif mean < 3 * RANDOM_CARTPOLE:
        text += (
            f" That is not much better than random pushing (about {RANDOM_CARTPOLE} steps): it has not learned "
            f"to balance yet. Try more training steps or the preset *{PRESET_LABELS['solve']}*."
        )
    if m["kept_network_step"] < m["steps_run"]:
        text += (
            f" These numbers come from the network kept from move {m['kept_network_step']:,}, the best of the "
            "greedy checks during training."
        )
    return text


def _goal_words(result: Result) -> tuple[str, str]:
    """(reached ..., never reached ...) phrases for this world."""
    if result.config.env == "Taxi-v4":
        return "delivered the passenger", "never delivered the passenger"
    goal = result.info["layout"]["goal_name"]
    return f"reached the {goal}", f"never reached the {goal}"


def _evaluation_sentence(result: Result, prefix: str = "") -> str:
    """How one agent did with exploration off, and why it failed when it did (checked on its own episodes)."""
    m, config = result.metrics, result.config
    reached, never = _goal_words(result)
    rate, ret = m[f"{prefix}success_rate"], m[f"{prefix}greedy_return_mean"]
    if rate > 0:
        text = f"{reached} in **{rate:.0%}** of {config.eval_episodes} episodes, with a mean return of {ret:.2f}"
        path = m.get(f"{prefix}greedy_path_length")
        return text + (f" along a {path:.0f}-step path." if path is not None and rate == 1 else ".")
    path = [int(s) for s in result.arrays[f"{prefix}greedy_path"]]
    if m[f"{prefix}greedy_steps_mean"] >= config.max_steps:
        first = next((i for i, s in enumerate(path) if s in path[:i]), None)  # the first state seen twice
        loop = first - path.index(path[first]) if first is not None else 0
        cut = f"until the episode is cut off after {config.max_steps} moves"
        if config.is_slippery or not loop:
            why = f"it wanders without arriving {cut}"
        elif loop == 1:
            why = f"its greedy move runs into the edge or a wall, so it stays where it is {cut}"
        else:
            why = f"its greedy moves go round a loop of {loop} states {cut}"
    else:
        why = f"its greedy moves end in a {result.info['layout']['trap_name'] or 'dead end'}"
    return f"**{never}** in {config.eval_episodes} episodes (mean return {ret:.2f}): {why}."


def _advice(result: Result) -> str:
    """What to change when the main agent did not master the world (only called when it did not)."""
    config = result.config
    tips = [f"more episodes (the *{PRESET_LABELS['better']}* preset)"]
    if config.initial_q <= 0 and config.env != "Taxi-v4":
        tips.append("an optimistic starting Q-value such as 1, so it tries every move")
    if config.is_slippery and config.env != "Taxi-v4":
        tips.append("a smaller learning rate (on slippery ice every outcome is noisy)")
    elif config.alpha_end > 0.1:
        tips.append("a smaller learning rate at the end, so its estimates settle")
    return (
        " It has not mastered this world yet: try "
        + ", ".join(tips[:-1])
        + (" or " if len(tips) > 1 else "")
        + tips[-1]
        + "."
    )


def _describe_tabular(result: Result) -> str:
    m, config, info = result.metrics, result.config, result.info
    world = ENV_TITLES[config.env] + (" (slippery)" if config.is_slippery and config.env != "Taxi-v4" else "")
    start, end = config.epsilon_start, config.epsilon_end
    explore = (
        f"exploring with epsilon {start:g}"
        if config.epsilon_schedule == "constant" or start == end
        else f"exploring with epsilon falling from {start:g} to {end:g}"
    )
    text = (
        f"{AGENT_NAMES[config.agent]} played {m['episodes_run']:,} episodes of {world} ({m['steps_run']:,} "
        f"moves), {explore}; it visited {m['states_visited']} of {m['n_states']} states. With exploration off "
        f"it {_evaluation_sentence(result)}"
    )
    if m["success_rate"] < 0.5:
        text += _advice(result)
    elif config.is_slippery and m["success_rate"] < 1 and config.env != "Taxi-v4":
        text += " On slippery ice a move can go sideways, so even a good policy falls in now and then."
    for other in info["agents"][1:]:
        text += f" {AGENT_NAMES[other]}, trained on the same seeds, {_evaluation_sentence(result, f'{other}_')}"
    contrast = _cliff_contrast(result)
    return text + (f" {contrast}" if contrast else "")


def _cliff_contrast(result: Result) -> str | None:
    """The textbook comparison on the cliff, from the two agents' own greedy paths and training returns."""
    m, info, a = result.metrics, result.info, result.arrays
    if result.config.env != "CliffWalking-v1" or len(info["agents"]) < 2:
        return None
    q_key = "" if info["agents"][0] == "q_learning" else "q_learning_"
    s_key = "" if info["agents"][0] == "sarsa" else "sarsa_"
    if m[f"{q_key}success_rate"] < 1 or m[f"{s_key}success_rate"] < 1:
        return (
            "One of the two agents did not reach the goal, so their paths cannot be compared yet: try more "
            "episodes or a smaller learning rate at the end."
        )
    q_len, s_len = m[f"{q_key}greedy_path_length"], m[f"{s_key}greedy_path_length"]
    if s_len > q_len:
        edge = " right along the cliff edge" if q_len == CLIFF_EDGE_PATH else ""
        rows = gridworld.decode(a[f"{s_key}greedy_path"], info["layout"]["feature_dims"])[1:-1, 0]
        away = "detour away from it" if rows.min() < 2 else "path"  # row 2 runs along the cliff (row 3)
        text = (
            f"Q-learning walks the {q_len:.0f}-step path{edge}, SARSA a {s_len:.0f}-step {away}: "
            "SARSA's values include its own random moves, and exploring next to the edge sometimes falls."
        )
    elif s_len == q_len:
        text = (
            f"Both took {q_len:.0f}-step paths, so the classic contrast did not show on this run; the textbook "
            "setting keeps epsilon at 0.1 throughout."
        )
    else:
        text = "Unusually, Q-learning took the longer path."
    q_ret, s_ret = a[f"{q_key}returns"], a[f"{s_key}returns"]
    tail = max(1, len(q_ret) // 5)
    if s_ret[-tail:].mean() > q_ret[-tail:].mean():
        text += (
            f" While learning, SARSA earned more per episode over the last {tail} episodes "
            f"({s_ret[-tail:].mean():.1f} against {q_ret[-tail:].mean():.1f}): it fell off the cliff less."
        )
    return text
