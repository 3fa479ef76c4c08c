"""Try it on the RL page (CartPole, deep Q-network): set the cart and pole's start state yourself and replay the
greedy policy from there; SHAP splits the Q-value of the first chosen action over the four state numbers.

The Q-network is rebuilt from the run's settings and stored weights. The table-based agents (Q-learning, SARSA)
keep their Q-table as an array, which the run store does not hold as weights, so they have no Try it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.tryit import Answer, bars, figure, restore
from engine.core.tryit import waterfall as shap_waterfall
from engine.rl.config import Config
from engine.rl.dqn import ACTIONS, STATE_FEATURES, q_network

MAX_STEPS = 500  # CartPole-v1's own limit
LIMITS = {"cart position": 2.4, "cart velocity": 2.0, "pole angle": 0.2095, "pole angular velocity": 2.0}


@dataclass
class Bundle:
    net: torch.nn.Module
    background: torch.Tensor  # (64, 4) states from greedy play: SHAP's reference
    start: np.ndarray  # a typical start state


def unavailable(config: Config) -> str | None:
    if config.agent != "dqn":
        return (
            "Try it replays the deep Q-network on CartPole. The table-based agents keep their Q-table as a "
            "table, which this app does not store as model weights; choose the CartPole preset to try one."
        )
    return None


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    net = restore(q_network(config.hidden_layers, config.width), weights, "q_network")
    bundle = Bundle(net, torch.zeros(1, 4), np.zeros(4, dtype=np.float32))
    states = replay(bundle, np.random.default_rng(config.seed).uniform(-0.05, 0.05, 4))["states"]
    pick = np.linspace(0, len(states) - 1, min(64, len(states))).astype(int)
    bundle.background = torch.as_tensor(states[pick], dtype=torch.float32)
    answer(bundle, examples(bundle)[0])  # warm-up: SHAP's first call
    return bundle


def examples(bundle: Bundle) -> list[dict]:
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


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["state"]``: (cart position, cart velocity, pole angle, pole angular velocity)."""
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
