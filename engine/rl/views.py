"""Reinforcement learning pictures: pure functions of a stored run (no torch, no models).

Every function takes the Result of :mod:`engine.rl.tabular` or :mod:`engine.rl.dqn` (``result.config.agent``
says which); the figure builders themselves are in :mod:`engine.rl.plots`. SHAP of what the agent learned is
computed in :mod:`engine.rl.analysis`, the plain-language summary is in :mod:`engine.rl.summary`.
"""

from __future__ import annotations

import numpy as np

from engine.core import charts
from engine.core.contract import Result
from engine.rl import plots
from engine.rl.config import AGENT_NAMES
from engine.rl.summary import cliff_contrast

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
            figs["Both greedy paths"] = plots.paths_figure(lay, paths, cliff_contrast(result) or "")
    return figs


def live_figure(snapshot):
    """Grid worlds (not Taxi): the state values and greedy arrows as they are now. DQN: recent returns."""
    if not snapshot:
        return None
    if "cells" in snapshot:
        return plots.value_live_figure(snapshot["cells"], snapshot["values"], snapshot["arrows"], snapshot["episode"])
    return plots.returns_live_figure(snapshot["returns"], snapshot["first_episode"])


# --- SHAP -----------------------------------------------------------------------------------------------


def explain_figures(result: Result, explanation) -> dict:
    return {}  # the standard SHAP views (bar, beeswarm, waterfall, dependence) say it all
