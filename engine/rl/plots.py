"""Plotly figures for reinforcement learning: pure builders, data in, ``go.Figure`` out.

Grid worlds are drawn with row 0 on top, one unit per cell; ``lay`` is :func:`engine.rl.gridworld.layout`.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from engine.core import charts
from engine.rl import gridworld
from engine.rl.config import AGENT_NAMES

WALL, TRAP, GOAL, START = "#3b3b3b", "rgba(214,39,40,0.55)", "rgba(255,193,7,0.75)", "#2ca02c"
MAX_FRAMES = 150


# --- grid worlds ------------------------------------------------------------------------------------------


def _grid_axes(fig: go.Figure, lay: dict, title: str) -> go.Figure:
    n_rows, n_cols = lay["n_rows"], lay["n_cols"]
    fig.update_layout(
        title=title,
        showlegend=False,
        plot_bgcolor="white",
        xaxis=dict(
            range=[-0.5, n_cols - 0.5],
            showgrid=False,
            zeroline=False,
            tickvals=list(range(n_cols)),
            title="column",
            constrain="domain",
        ),
        yaxis=dict(
            range=[n_rows - 0.5, -0.5],
            showgrid=False,
            zeroline=False,
            tickvals=list(range(n_rows)),
            title="row",
            scaleanchor="x",
        ),
        height=max(300, min(640, 70 * n_rows + 140)),
    )
    return fig


def _cell_shapes(lay: dict) -> list[dict]:
    """Filled squares for walls, traps and goals, a green frame on the start, and Taxi's wall segments."""
    shapes = []
    for r, row in enumerate(lay["cells"]):
        for c, kind in enumerate(row):
            box = dict(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, layer="below")
            if kind == "#":
                shapes.append({**box, "fillcolor": WALL, "line": dict(width=0), "layer": "above"})
            elif kind == "T":
                shapes.append({**box, "fillcolor": TRAP, "line": dict(width=0)})
            elif kind == "G":
                shapes.append({**box, "fillcolor": GOAL, "line": dict(width=0)})
            elif kind == "S":
                shapes.append({**box, "line": dict(color=START, width=3), "layer": "above"})
    for r, c in lay["walls"]:  # Taxi: a wall on the right of cell (r, c)
        shapes.append(dict(type="line", x0=c + 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=dict(color=WALL, width=5)))
    for r in range(lay["n_rows"] + 1):
        shapes.append(
            dict(
                type="line",
                x0=-0.5,
                x1=lay["n_cols"] - 0.5,
                y0=r - 0.5,
                y1=r - 0.5,
                line=dict(color="#dddddd", width=1),
                layer="below",
            )
        )
    for c in range(lay["n_cols"] + 1):
        shapes.append(
            dict(
                type="line",
                x0=c - 0.5,
                x1=c - 0.5,
                y0=-0.5,
                y1=lay["n_rows"] - 0.5,
                line=dict(color="#dddddd", width=1),
                layer="below",
            )
        )
    return shapes


def _landmarks(lay: dict) -> list[go.Scatter]:
    """Taxi's R/G/Y/B stands as letters in the corner of their cells."""
    if not lay["landmarks"]:
        return []
    names = list(lay["landmarks"])
    rc = np.asarray([lay["landmarks"][n] for n in names], dtype=float)
    return [
        go.Scatter(
            x=rc[:, 1] - 0.32,
            y=rc[:, 0] - 0.3,
            mode="text",
            text=names,
            hoverinfo="skip",
            textfont=dict(size=13, color="#555555"),
        )
    ]


def _value_grids(lay: dict, Q: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, V (rows, cols), greedy action (rows, cols)) per view: one for a grid, one per (passenger,
    destination) pair for Taxi."""
    V, A = Q.max(1), Q.argmax(1)  # (states,)
    n_rows, n_cols = lay["n_rows"], lay["n_cols"]
    if len(lay["feature_dims"]) == 2:
        return [("", V.reshape(n_rows, n_cols), A.reshape(n_rows, n_cols))]
    names = list(lay["landmarks"])
    views = []
    for dest in range(4):
        for passenger in range(5):
            if passenger == dest:
                continue  # the passenger never waits at their own destination
            rows, cols = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
            s = gridworld.encode(
                np.stack([rows.ravel(), cols.ravel(), np.full(25, passenger), np.full(25, dest)], 1),
                lay["feature_dims"],
            )
            where = "in the taxi" if passenger == 4 else f"waiting at {names[passenger]}"
            views.append((f"passenger {where}, going to {names[dest]}", V[s].reshape(5, 5), A[s].reshape(5, 5)))
    return views


def _valueless(cells: list[str]) -> np.ndarray:
    """(rows, cols) True where a cell has no value of its own: walls, and the goal and traps, which end the
    episode (their Q-values stay 0 whatever the agent learns), so the value colours skip them."""
    return np.isin(np.asarray([list(r) for r in cells]), ["#", "T", "G"])


def policy_figure(
    lay: dict, Q: np.ndarray, *, title: str = "Greedy policy and state values", caption: str | None = None
) -> go.Figure:
    """Cells coloured by the state value max_a Q[s, a], with the greedy action as an arrow (Taxi: pick a
    passenger/destination situation from the menu; P = pick up, D = drop off). Goal and traps are marked squares,
    not coloured by value."""
    views = _value_grids(lay, Q)
    fig = go.Figure()
    skip = _valueless(lay["cells"])
    valued = np.concatenate([v[~skip] for _, v, _ in views])
    lo, hi = (float(valued.min()), float(valued.max())) if valued.size else (0.0, 1.0)
    for i, (_label, V, A) in enumerate(views):
        z = np.where(skip, np.nan, V)
        text = np.asarray(lay["action_arrows"])[A]
        kinds = np.asarray([list(r) for r in lay["cells"]])
        text = np.where(kinds == "T", "✖", np.where(kinds == "G", "★", np.where(kinds == "#", "", text)))
        fig.add_trace(
            go.Heatmap(
                z=z,
                zmin=lo,
                zmax=hi if hi > lo else lo + 1,
                colorscale="Viridis",
                colorbar=dict(title="value"),
                visible=i == 0,
                text=text,
                texttemplate="%{text}",
                textfont=dict(size=20, color="white"),
                hovertemplate="row %{y}, column %{x}<br>value %{z:.3f}<extra></extra>",
            )
        )
    for trace in _landmarks(lay):
        fig.add_trace(trace)
    fig.update_layout(shapes=_cell_shapes(lay))  # goal and trap squares show through the value-less cells
    if len(views) > 1:
        fig.update_layout(updatemenus=[_views_menu([label for label, _, _ in views], len(fig.data) - len(views))])
    _grid_axes(fig, lay, title)
    return charts.captioned(
        fig,
        caption
        or (
            "Brighter cells are worth more: the value is the best expected return from there, max over actions "
            "of Q. Arrows show the action the agent takes with exploration off. ✖ ends the episode badly "
            f"({lay['trap_name'] or 'trap'}), ★ is the {lay['goal_name']}; both end the episode, so they have no "
            "value of their own and are not coloured. The green frame is the start."
        ),
    )


def _views_menu(labels: list[str], extra: int) -> dict:
    """A dropdown that shows one of the first ``len(labels)`` traces at a time (the ``extra`` ones after them stay)."""
    n = len(labels)
    buttons = [
        dict(label=label, method="update", args=[{"visible": [j == i for j in range(n)] + [True] * extra}])
        for i, label in enumerate(labels)
    ]
    return dict(type="dropdown", x=0, y=1.12, xanchor="left", showactive=True, buttons=buttons)


def q_table_figure(lay: dict, Q: np.ndarray) -> go.Figure:
    """The whole Q-table: one row per state, one column per action."""
    names = lay["feature_names"]
    feats = gridworld.decode(np.arange(len(Q)), lay["feature_dims"])
    labels = [
        ", ".join(f"{n[:1] if len(names) == 2 else n.split()[-1][:4]}{v}" for n, v in zip(names, f)) for f in feats
    ]
    hover = ["<br>".join(f"{n} = {v}" for n, v in zip(names, f)) for f in feats]
    lim = float(np.abs(Q).max()) or 1.0
    small = len(Q) <= 100  # per-cell hover text for small tables only: Taxi's 500 x 6 would bloat the figure
    fig = go.Figure(
        go.Heatmap(
            z=Q,
            x=lay["action_names"],
            y=[f"{i}" for i in range(len(Q))],
            customdata=np.asarray(hover)[:, None].repeat(Q.shape[1], 1) if small else None,
            colorscale="RdBu",
            zmid=0,
            zmin=-lim,
            zmax=lim,
            colorbar=dict(title="Q"),
            hovertemplate="state %{y}<br>"
            + ("%{customdata}<br>" if small else "")
            + "action %{x}<br>Q = %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Q-table: expected return of each action in each state",
        xaxis_title="action",
        yaxis=dict(
            title="state",
            autorange="reversed",
            showticklabels=len(Q) <= 64,
            tickvals=list(range(len(Q))) if len(Q) <= 64 else None,
            ticktext=labels if len(Q) <= 64 else None,
        ),
        height=max(360, min(900, 16 * len(Q) + 120)),
    )
    return charts.captioned(
        fig,
        "Each row is a state, each column an action; blue means the agent expects a "
        "high total reward after taking that action there, red a low one. The agent "
        "acts by picking the bluest cell of its row. White rows were never learned.",
    )


def _positions(lay: dict, path) -> np.ndarray:
    """(T, 2) (row, column) of the agent along a path of states."""
    return gridworld.decode(path, lay["feature_dims"])[:, :2].astype(float)


def replay_figure(lay: dict, path: list[int], actions: list[int], rewards: list[float], *, agent: str) -> go.Figure:
    """An animated greedy episode: press Play or drag the slider to follow the agent step by step."""
    pos = _positions(lay, path)
    taxi = len(lay["feature_dims"]) == 4
    feats = gridworld.decode(path, lay["feature_dims"])
    stands = list(lay["landmarks"].values())
    ticks = np.unique(np.linspace(0, len(path) - 1, min(len(path), MAX_FRAMES)).astype(int))

    def traces(t: int) -> list[go.Scatter]:
        out = [
            go.Scatter(
                x=pos[: t + 1, 1],
                y=pos[: t + 1, 0],
                mode="lines",
                line=dict(color="#ff7f0e", width=3),
                hoverinfo="skip",
            ),
            go.Scatter(
                x=[pos[t, 1]],
                y=[pos[t, 0]],
                mode="markers+text",
                marker=dict(size=28, color="#ff7f0e", line=dict(color="black", width=1)),
                text=["🚕" if taxi else ""],
                hoverinfo="skip",
            ),
        ]
        if taxi:
            out += _taxi_marks(pos[t], stands, int(feats[t, 2]), int(feats[t, 3]))
        return out

    def label(t: int) -> str:
        if t == 0:
            return "start"
        return f"step {t}: {lay['action_names'][actions[t - 1]]}, reward {rewards[t - 1]:+g}"

    fig = go.Figure(
        data=traces(0) + _landmarks(lay),
        frames=[
            go.Frame(data=traces(t), name=str(t), layout=dict(title_text=f"Greedy episode: {label(t)}")) for t in ticks
        ],
    )
    fig.update_layout(shapes=_cell_shapes(lay), **charts.play_controls(ticks, 250, -0.08))
    total = sum(rewards)
    _grid_axes(fig, lay, f"Greedy episode: {label(0)}")
    who = "taxi" if taxi else "agent"
    return charts.captioned(
        fig,
        f"The trained {AGENT_NAMES.get(agent, agent)} agent playing one episode with "
        f"exploration off: {len(actions)} steps, total reward {total:+g}. Press Play or "
        f"drag the slider; the orange line is the {who}'s trail"
        + (", the blue dot the passenger and the blue square the destination." if taxi else "."),
    )


def _taxi_marks(taxi_at: np.ndarray, stands: list, passenger: int, dest: int) -> list[go.Scatter]:
    """Taxi's passenger (a blue dot: at its stand, or riding at ``taxi_at``) and destination (a blue square)."""
    where = taxi_at if passenger == 4 else np.asarray(stands[passenger], float)
    destination = dict(size=34, color="rgba(0,0,0,0)", symbol="square", line=dict(color="#1f77b4", width=3))
    return [
        go.Scatter(
            x=[where[1] + 0.25],
            y=[where[0] + 0.25],
            mode="markers",
            marker=dict(size=14, color="#1f77b4", symbol="circle"),
            hoverinfo="skip",
        ),
        go.Scatter(x=[stands[dest][1]], y=[stands[dest][0]], mode="markers", marker=destination, hoverinfo="skip"),
    ]


def path_figure(lay: dict, path: list[int], title: str, caption: str) -> go.Figure:
    """One greedy walk on the grid, from its first cell (a big dot) to where it ended."""
    pos = _positions(lay, path)
    fig = go.Figure(
        [
            go.Scatter(x=pos[:, 1], y=pos[:, 0], mode="lines+markers", line=dict(color="#ff7f0e", width=3)),
            go.Scatter(x=pos[:1, 1], y=pos[:1, 0], mode="markers", marker=dict(size=18, color="#ff7f0e")),
        ]
    )
    fig.update_layout(shapes=_cell_shapes(lay), showlegend=False)
    _grid_axes(fig, lay, title)
    return charts.captioned(fig, caption)


def paths_figure(lay: dict, paths: dict[str, list[int]], caption: str = "") -> go.Figure:
    """Several agents' greedy paths on one grid (Q-learning vs SARSA)."""
    fig = go.Figure()
    colours = ["#ff7f0e", "#1f77b4", "#9467bd"]
    for i, (agent, path) in enumerate(paths.items()):
        pos = _positions(lay, path) + (i - 0.5 * (len(paths) - 1)) * 0.12  # offset so overlapping paths show
        fig.add_trace(
            go.Scatter(
                x=pos[:, 1],
                y=pos[:, 0],
                mode="lines+markers",
                name=f"{AGENT_NAMES[agent]} ({len(path) - 1} steps)",
                line=dict(color=colours[i], width=3),
                marker=dict(size=6),
            )
        )
    fig.add_traces(_landmarks(lay))
    fig.update_layout(shapes=_cell_shapes(lay))
    _grid_axes(fig, lay, "Greedy paths of both agents")
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.2))
    return charts.captioned(
        fig,
        "Where each agent walks with exploration off. SARSA learns the value of the "
        "exploring policy it follows, Q-learning the value of the best policy." + (f" {caption}" if caption else ""),
    )


def returns_figure(
    returns: np.ndarray,
    epsilons: np.ndarray,
    window: int,
    *,
    agent: str,
    x: np.ndarray | None = None,
    x_title: str = "episode",
    others: dict[str, np.ndarray] | None = None,
    checks: np.ndarray | None = None,
) -> go.Figure:
    """Return per episode (faint), its moving average, and epsilon on a second axis; ``checks`` (k, 2) adds
    (x, mean greedy return) markers of the DQN's periodic greedy checks."""
    from engine.rl.tabular import moving_average

    x = np.arange(1, len(returns) + 1) if x is None else np.asarray(x)
    name, fig = AGENT_NAMES[agent], go.Figure()
    fig.add_trace(_curve(x, returns, f"{name} return", color="rgba(31,119,180,0.25)", width=1))
    fig.add_trace(_curve(x, moving_average(returns, window), f"{name} moving average ({window})", color="#1f77b4"))
    for other_agent, other in (others or {}).items():
        label = f"{AGENT_NAMES[other_agent]} moving average ({window})"
        fig.add_trace(_curve(x[: len(other)], moving_average(other, window), label, color="#ff7f0e"))
    checked = checks is not None and len(checks) > 0
    if checks is not None and checked:
        fig.add_trace(
            go.Scatter(
                x=checks[:, 0],
                y=checks[:, 1],
                mode="markers",
                name="greedy check (5 episodes)",
                marker=dict(symbol="diamond", size=9, color="#2ca02c"),
            )
        )
    fig.add_trace(_curve(x, epsilons, "epsilon (exploration)", color="grey", dash="dot", width=2, yaxis="y2"))
    fig.update_layout(
        title="Return per episode while learning",
        xaxis_title=x_title,
        yaxis_title="return",
        yaxis2=charts.right_axis(title="epsilon", range=[0, 1.05], tickmode="linear", tick0=0, dtick=0.2),
        hovermode="x unified",
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "The return is the total reward of one episode. It is noisy while the agent "
        "explores (epsilon, dotted, is the chance of a random move), so the thick line "
        "averages recent episodes. It rises as the agent learns."
        + (" Both agents saw the same seeds." if others else "")
        + (" Green diamonds: the network tested with exploration off; the best one is kept." if checked else ""),
    )


def _curve(x, y, name: str, *, color: str, width: float = 3, dash: str | None = None, yaxis: str = "y") -> go.Scatter:
    """One line of :func:`returns_figure`."""
    return go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=color, width=width, dash=dash), yaxis=yaxis)


def value_live_figure(lay_cells: list[str], values: list[list[float]], arrows: list[str], episode: int) -> go.Figure:
    """A light live view of the state values and greedy arrows while learning (a grid world, not Taxi)."""
    V = np.asarray(values, dtype=float)
    kinds = np.asarray([list(r) for r in lay_cells])
    text = np.where(kinds == "T", "✖", np.where(kinds == "G", "★", np.where(kinds == "#", "■", np.asarray(arrows))))
    fig = go.Figure(
        go.Heatmap(
            z=np.where(_valueless(lay_cells), np.nan, V),  # the goal and traps have no value of their own
            colorscale="Viridis",
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=18, color="white"),
            colorbar=dict(title="value"),
        )
    )
    fig.update_layout(
        title=f"State values after episode {episode}",
        yaxis=dict(autorange="reversed", scaleanchor="x"),
        height=max(280, 60 * len(lay_cells) + 120),
    )
    return charts.captioned(
        fig, "Values spread back from the goal as the agent learns; arrows are its current greedy moves."
    )


# --- CartPole ---------------------------------------------------------------------------------------------


def returns_live_figure(returns: list[float], first_episode: int) -> go.Figure:
    """A light live view of the DQN's recent episode returns (steps balanced) and their moving average."""
    from engine.rl.tabular import moving_average

    x = np.arange(first_episode, first_episode + len(returns))
    fig = go.Figure(
        [
            go.Scatter(
                x=x, y=returns, mode="lines", name="steps balanced", line=dict(color="rgba(31,119,180,0.3)", width=1)
            ),
            go.Scatter(
                x=x,
                y=moving_average(returns, 20),
                mode="lines",
                name="moving average (20)",
                line=dict(color="#1f77b4", width=3),
            ),
        ]
    )
    fig.update_layout(
        title="Steps balanced per episode while learning",
        xaxis_title="episode",
        yaxis=dict(title="steps balanced (return)", range=[0, 520]),
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "Each episode ends when the pole falls or after 500 steps; the line rises as the "
        "network learns (it still explores, so single episodes stay noisy).",
    )


def q_values_figure(q_values: np.ndarray, rollout: np.ndarray, actions: list[str]) -> go.Figure:
    """Predicted Q-values (T, 2) along one greedy episode, with the pole angle for context."""
    t = np.arange(len(q_values))
    fig = go.Figure()
    for j, name in enumerate(actions):
        fig.add_trace(go.Scatter(x=t, y=q_values[:, j], mode="lines", name=f"Q({name})"))
    fig.add_trace(
        go.Scatter(
            x=t,
            y=np.degrees(rollout[: len(t), 2]),
            mode="lines",
            name="pole angle (degrees)",
            yaxis="y2",
            line=dict(color="grey", dash="dot"),
        )
    )
    fig.update_layout(
        title="Predicted Q-values along a greedy episode",
        xaxis_title="time step",
        yaxis_title="Q-value (expected future reward)",
        yaxis2=charts.right_axis(title="pole angle (°)"),
        hovermode="x unified",
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "At each step the network predicts the total future reward of pushing left or "
        "right and takes the larger one. With a discount of gamma, a pole that stays up "
        "forever is worth about 1 / (1 - gamma); the two lines stay close because one "
        "wrong push is easy to correct.",
    )


def _cartpole_shapes(x: float, theta: float) -> list[dict]:
    pole_len, cart_w, cart_h = 1.0, 0.5, 0.3
    top = (x + pole_len * np.sin(theta), cart_h / 2 + pole_len * np.cos(theta))
    return [
        dict(type="line", x0=-2.4, x1=2.4, y0=-cart_h / 2, y1=-cart_h / 2, line=dict(color="black", width=2)),
        dict(
            type="rect",
            x0=x - cart_w / 2,
            x1=x + cart_w / 2,
            y0=-cart_h / 2,
            y1=cart_h / 2,
            fillcolor="#1f77b4",
            line=dict(color="black", width=1),
        ),
        dict(type="line", x0=x, y0=cart_h / 2, x1=float(top[0]), y1=float(top[1]), line=dict(color="#d62728", width=8)),
        dict(
            type="circle",
            x0=x - 0.04,
            x1=x + 0.04,
            y0=cart_h / 2 - 0.04,
            y1=cart_h / 2 + 0.04,
            fillcolor="black",
            line=dict(width=0),
        ),
    ]


def cartpole_animation(rollout: np.ndarray, q_values: np.ndarray, actions: list[str]) -> go.Figure:
    """A drawn cart-pole replay of one greedy episode (Plotly shapes per frame; no renderer needed)."""
    ticks = np.unique(np.linspace(0, len(rollout) - 1, min(len(rollout), MAX_FRAMES)).astype(int))

    def label(t: int) -> str:
        x, theta = rollout[t, 0], np.degrees(rollout[t, 2])
        move = f", next: {actions[int(q_values[t].argmax())]}" if t < len(q_values) else " (end)"
        return f"step {t}: cart at {x:+.2f}, pole {theta:+.1f}°{move}"

    fig = go.Figure(
        data=[go.Scatter(x=[-2.4, 2.4], y=[-0.5, 1.4], mode="markers", marker=dict(opacity=0), hoverinfo="skip")],
        frames=[
            go.Frame(
                name=str(t),
                layout=dict(
                    shapes=_cartpole_shapes(float(rollout[t, 0]), float(rollout[t, 2])), title_text=label(int(t))
                ),
            )
            for t in ticks
        ],
    )
    fig.update_layout(
        title=label(0),
        shapes=_cartpole_shapes(float(rollout[0, 0]), float(rollout[0, 2])),
        showlegend=False,
        xaxis=dict(range=[-2.6, 2.6], title="cart position (the episode ends beyond ±2.4)", zeroline=False),
        yaxis=dict(range=[-0.5, 1.4], visible=False, scaleanchor="x"),
        height=380,
        **charts.play_controls(ticks, 60, -0.15),
    )
    return charts.captioned(
        fig,
        f"The trained network balancing the pole with exploration off ({len(rollout) - 1} "
        "steps; 500 is the most CartPole allows). Press Play or drag the slider.",
    )
