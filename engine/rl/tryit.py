"""Try it on the RL page. CartPole (deep Q-network): set the cart and pole's start state yourself and replay the
greedy policy from there; SHAP splits the Q-value of the first chosen action over the four state numbers. A grid
world (Q-learning, SARSA): pick any free cell and watch the trained agent walk from there, with that cell's
Q-values (the table is stored as the run's weights).

The Q-network or Q-table is rebuilt from the run's settings and stored weights. Taxi has no Try it: its state also
holds the passenger and the destination, not only a cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.tryit import Answer, bars, figure, restore
from engine.core.tryit import waterfall as shap_waterfall
from engine.rl.config import AGENT_NAMES, Config
from engine.rl.dqn import ACTIONS, STATE_FEATURES, q_network

MAX_STEPS = 500  # CartPole-v1's own limit
LIMITS = {"cart position": 2.4, "cart velocity": 2.0, "pole angle": 0.2095, "pole angular velocity": 2.0}


@dataclass
class TableBundle:
    """A table-based agent: its Q-table (states, actions), the grid's layout and the settings to replay with."""

    Q: np.ndarray
    layout: dict
    config: Config


@dataclass
class Bundle:
    net: torch.nn.Module
    background: torch.Tensor  # (64, 4) states from greedy play: SHAP's reference
    start: np.ndarray  # a typical start state


def unavailable(config: Config) -> str | None:
    if config.env == "Taxi-v4":
        return (
            "Try it lets you pick a cell for the agent to start from. In Taxi a situation is more than a cell "
            "(where the passenger waits and where they go), so Taxi has no Try it: its Results tab shows the "
            "agent's moves for each passenger and destination."
        )
    return None


def load(config: Config, weights: bytes, info: dict) -> Bundle | TableBundle:
    if config.agent != "dqn":
        from engine.core.tryit import tensors
        from engine.rl import gridworld, tabular

        lay = gridworld.layout(config.env, tabular.make_env(config))
        return TableBundle(tensors(weights, "q_table")["table"].numpy(), lay, config)
    net = restore(q_network(config.hidden_layers, config.width), weights, "q_network")
    bundle = Bundle(net, torch.zeros(1, 4), np.zeros(4, dtype=np.float32))
    states = replay(bundle, np.random.default_rng(config.seed).uniform(-0.05, 0.05, 4))["states"]
    pick = np.linspace(0, len(states) - 1, min(64, len(states))).astype(int)
    bundle.background = torch.as_tensor(states[pick], dtype=torch.float32)
    answer(bundle, examples(bundle)[0])  # warm-up: SHAP's first call
    return bundle


def examples(bundle: Bundle | TableBundle) -> list[dict]:
    if isinstance(bundle, TableBundle):
        from engine.rl import gridworld

        free = [i for i, k in enumerate("".join(bundle.layout["cells"])) if k in ".S"]
        start = dict.fromkeys([i for i in free if "".join(bundle.layout["cells"])[i] == "S"] + free[:4])
        return [{"cell": gridworld.decode([s], bundle.layout["feature_dims"])[0].tolist()} for s in start]
    rng = np.random.default_rng(3)
    return [{"state": rng.uniform(-0.05, 0.05, 4)} for _ in range(5)]


def replay(bundle: Bundle, state: np.ndarray) -> dict:
    """The greedy policy from ``state`` in CartPole-v1 until the pole falls, the cart leaves, or 500 steps."""
    import gymnasium as gym
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    cart = env.unwrapped
    if not isinstance(cart, CartPoleEnv):
        raise TypeError(f"CartPole-v1 made a {type(cart).__name__}, not Gymnasium's CartPoleEnv.")
    cart.state = np.asarray(state, dtype=np.float64)
    obs, states, actions = np.asarray(state, dtype=np.float32), [], []
    for _ in range(MAX_STEPS):
        with torch.no_grad():
            action = int(bundle.net(torch.as_tensor(obs[None]))[0].argmax())
        states.append(obs)
        actions.append(action)
        obs, _reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    env.close()
    return {"states": np.asarray(states, dtype=np.float32), "actions": np.asarray(actions)}


def answer(bundle: Bundle | TableBundle, inputs: dict) -> Answer:
    """``inputs["state"]``: (cart position, cart velocity, pole angle, pole angular velocity); for a table-based
    agent ``inputs["cell"]``: (row, column) to start from."""
    if isinstance(bundle, TableBundle):
        return table_answer(bundle, inputs["cell"])
    from engine.core.tryit import explain_output

    state = np.asarray(inputs["state"], dtype=np.float32).reshape(4)
    x = torch.as_tensor(state[None])
    with torch.no_grad():
        q = bundle.net(x)[0].double().numpy()
    k = int(q.argmax())
    episode = replay(bundle, state)
    exp = explain_output(
        bundle.net, x, bundle.background, k, feature_names=STATE_FEATURES, data=state[None].astype(np.float64)
    )
    steps = len(episode["actions"])
    summary = {
        "First move": ACTIONS[k],
        "Balanced for": f"{steps} steps" + (" (the maximum)" if steps == MAX_STEPS else ""),
        "SHAP check": f"base + sum of SHAP = Q within {exp.additivity_error:.1g}",
    }
    figs = {
        "Replay": replay_figure(episode),
        "Q-values": bars(
            ACTIONS,
            q,
            "Q-values at your start state",
            "The network's expected return of each move from your start state; it picks the larger.",
            x_title="action",
            y_title="Q-value",
        ),
        "SHAP waterfall": shap_waterfall(exp, None, f"Why '{ACTIONS[k]}' first (SHAP of its Q-value)"),
    }
    return Answer(
        summary=summary,
        prediction={"q_values": dict(zip(ACTIONS, q.tolist())), "steps": steps},
        explanation=exp,
        figures=figs,
    )


def replay_figure(episode: dict):
    import plotly.graph_objects as go

    s = episode["states"]
    t = np.arange(len(s))
    traces = [
        go.Scatter(x=t, y=s[:, 0] / LIMITS["cart position"], name="cart position (share of the track's half)"),
        go.Scatter(x=t, y=s[:, 2] / LIMITS["pole angle"], name="pole angle (share of the 12° limit)"),
    ]
    return figure(
        traces,
        "The greedy policy replayed from your start state: the episode ends when either line "
        "leaves [-1, 1] (the pole falls or the cart leaves the track) or after 500 steps.",
        title="Your episode, step by step",
        xaxis_title="step",
        yaxis=dict(title="share of the limit", range=[-1.1, 1.1]),
    )


def walk(bundle: TableBundle, state: int) -> tuple[list[int], bool, bool]:
    """The greedy walk from ``state`` (exploration off, slippery ice included): (states visited, whether it
    ended, whether it ended at the goal), after at most the run's ``max_steps`` moves."""
    from engine.rl import gridworld, tabular

    env = tabular.make_env(bundle.config)
    env.reset(seed=bundle.config.seed)
    env.s = state  # every tabular grid world keeps its state in ``s``
    path, terminated = [state], False
    for _ in range(bundle.config.max_steps):
        state, _reward, terminated, _truncated, _ = env.step(int(np.argmax(bundle.Q[state])))
        path.append(int(state))
        if terminated:
            break
    return path, terminated, gridworld.reached_goal(bundle.layout, state, terminated)


def table_answer(bundle: TableBundle, cell) -> Answer:
    """Where the trained agent goes from the cell a person picked, and that cell's Q-values."""
    from engine.core.tryit import TryItUnavailable
    from engine.rl import gridworld, plots

    lay = bundle.layout
    row, col = (int(v) for v in cell)
    kind = lay["cells"][row][col] if 0 <= row < lay["n_rows"] and 0 <= col < lay["n_cols"] else "#"
    if kind != "." and kind != "S":
        what = {"T": lay["trap_name"] or "trap", "G": lay["goal_name"], "#": "wall"}[kind]
        raise TryItUnavailable(f"That cell is a {what}: there is nothing to play from it. Pick a free cell.")
    state = int(gridworld.encode([[row, col]], lay["feature_dims"])[0])
    path, ended, goal = walk(bundle, state)
    moves = len(path) - 1
    ends = (
        f"reached the {lay['goal_name']}" if goal else f"hit a {lay['trap_name'] or 'trap'}" if ended else "move limit"
    )
    q = bundle.Q[state]
    first = lay["action_names"][int(np.argmax(q))]
    figs = {
        "Path": plots.path_figure(
            lay,
            path,
            f"{AGENT_NAMES[bundle.config.agent]} from row {row}, column {col}",  # the chosen agent's table
            "The trained agent's walk from your cell with exploration off (the big dot is where it starts); red "
            f"squares end the episode badly ({lay['trap_name'] or 'trap'}), gold is the {lay['goal_name']}. Start it "
            "next to one or far from the start: the table holds a move for every cell it learned.",
        ),
        "Q-values": bars(
            lay["action_names"],
            q,
            "Q-values of your cell",
            "The expected return of each move from this cell, read from the Q-table; the agent takes the highest.",
            x_title="move",
            y_title="Q-value",
        ),
    }
    return Answer(
        summary={"First move": first, "Ends": ends, "Moves": str(moves)},  # short: metric tiles on a phone
        prediction={"q_values": dict(zip(lay["action_names"], q.tolist())), "path": path, "reached_goal": goal},
        figures=figs,
    )
