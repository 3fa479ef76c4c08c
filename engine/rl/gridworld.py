"""The grid worlds the tabular agents learn in: Gymnasium's toy-text envs and the engine's own editable gridworld.

Every grid world here is a Gymnasium env with a transition table ``P[s][a] = [(prob, s', reward, terminated)]``
and a discrete state that decodes into a few named integer features (row, column; for Taxi also the passenger
location and destination) by mixed-radix decoding: ``state = np.ravel_multi_index(features, feature_dims)``.
:func:`make` builds the env; :func:`layout` describes it for drawing and explaining (JSON-friendly).
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_GRID = "S...../.##.T./...#../.T.#../....TG"

# FrozenLake and our gridworld share Gymnasium's FrozenLake action order.
GRID_ACTIONS = (["left", "down", "right", "up"], ["←", "↓", "→", "↑"], [(0, -1), (1, 0), (0, 1), (-1, 0)])
CLIFF_ACTIONS = (["up", "right", "down", "left"], ["↑", "→", "↓", "←"], [(-1, 0), (0, 1), (1, 0), (0, -1)])
TAXI_ACTIONS = (
    ["south", "north", "east", "west", "pick up", "drop off"],
    ["↓", "↑", "→", "←", "P", "D"],
    [(1, 0), (-1, 0), (0, 1), (0, -1), (0, 0), (0, 0)],
)
TAXI_LOCATIONS = ["R", "G", "Y", "B"]  # Taxi's four pick-up/drop-off cells, in Gymnasium's order


def parse_grid(text: str) -> list[str]:
    """Rows of a gridworld map such as ``"S..#/..TG"``; raises ValueError with a plain sentence when invalid.

    ``S`` start (exactly one), ``.`` free, ``#`` wall, ``T`` trap (ends the episode with the trap reward),
    ``G`` goal (ends it with the goal reward, at least one). Rows are separated by ``/`` and have equal length.
    """
    rows = [r.strip() for r in text.strip().split("/")]
    if not (2 <= len(rows) <= 12):
        raise ValueError(f"The gridworld map needs 2 to 12 rows separated by '/', but got {len(rows)}.")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ValueError(f"Every row of the gridworld map must have the same length, but got lengths {sorted(widths)}.")
    width = widths.pop()
    if not 2 <= width <= 12:
        raise ValueError(f"Gridworld rows need 2 to 12 cells, but got {width}.")
    bad = sorted(set("".join(rows)) - set("S.#TG"))
    if bad:
        raise ValueError(f"The gridworld map may only use S . # T G, but got {' '.join(repr(c) for c in bad)}.")
    cells = "".join(rows)
    if cells.count("S") != 1:
        raise ValueError(f"The gridworld map needs exactly one start S, but got {cells.count('S')}.")
    if "G" not in cells:
        raise ValueError("The gridworld map needs at least one goal G.")
    if not _goal_reachable(rows):
        raise ValueError(
            "No goal G can be reached from the start S: walls (#) and traps (T) block every way. Open a path."
        )
    return rows


def _goal_reachable(rows: list[str]) -> bool:
    """Breadth-first search from S through free cells (traps end an episode, so they do not lead on)."""
    start = divmod("".join(rows).index("S"), len(rows[0]))
    seen, frontier = {start}, [start]
    while frontier:
        r, c = frontier.pop()
        for dr, dc in GRID_ACTIONS[2]:
            nr, nc = r + dr, c + dc
            if 0 <= nr < len(rows) and 0 <= nc < len(rows[0]) and (nr, nc) not in seen:
                if rows[nr][nc] == "G":
                    return True
                if rows[nr][nc] in "S.":
                    seen.add((nr, nc))
                    frontier.append((nr, nc))
    return False


def _gridworld_env(rows: list[str], is_slippery: bool, goal_reward: float, trap_reward: float, step_reward: float):
    """The engine's gridworld as a Gymnasium env (built on demand so importing this module stays cheap)."""
    import gymnasium as gym
    from gymnasium import spaces

    class GridWorldEnv(gym.Env):
        """Walk from S to a goal G; walls block moves, traps end the episode. Slippery: 1/3 chance each of
        the intended move and the two perpendicular ones (as in FrozenLake)."""

        def __init__(self):
            self.rows = rows
            n_rows, n_cols = len(rows), len(rows[0])
            self.observation_space = spaces.Discrete(n_rows * n_cols)
            self.action_space = spaces.Discrete(4)
            deltas = GRID_ACTIONS[2]
            self.P = {}
            for r in range(n_rows):
                for c in range(n_cols):
                    s = r * n_cols + c
                    self.P[s] = {}
                    for a in range(4):
                        moves = [(a - 1) % 4, a, (a + 1) % 4] if is_slippery else [a]
                        out = []
                        for m in moves:
                            nr, nc = r + deltas[m][0], c + deltas[m][1]
                            if not (0 <= nr < n_rows and 0 <= nc < n_cols) or rows[nr][nc] == "#":
                                nr, nc = r, c  # a wall or the edge: stay put
                            cell = rows[nr][nc]
                            reward = goal_reward if cell == "G" else trap_reward if cell == "T" else step_reward
                            out.append((1 / len(moves), nr * n_cols + nc, reward, cell in "GT"))
                        self.P[s][a] = out
            start = "".join(rows).index("S")
            self.start = start
            self.s = start

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.s = self.start
            return self.s, {}

        def step(self, action):
            outcomes = self.P[self.s][int(action)]
            i = int(self.np_random.choice(len(outcomes))) if len(outcomes) > 1 else 0
            _, self.s, reward, terminated = outcomes[i]
            return self.s, reward, terminated, False, {}

    return GridWorldEnv()


def make(
    env: str,
    *,
    is_slippery: bool = False,
    grid: str = DEFAULT_GRID,
    goal_reward: float = 1.0,
    trap_reward: float = -1.0,
    step_reward: float = 0.0,
):
    """The bare Gymnasium env (no wrappers: the agent counts steps itself) for a tabular grid world."""
    import gymnasium as gym

    if env == "gridworld":
        return _gridworld_env(parse_grid(grid), is_slippery, goal_reward, trap_reward, step_reward)
    if env == "FrozenLake-v1":
        return gym.make("FrozenLake-v1", map_name="4x4", is_slippery=is_slippery).unwrapped
    if env == "FrozenLake8x8-v1":
        return gym.make("FrozenLake-v1", map_name="8x8", is_slippery=is_slippery).unwrapped
    if env == "CliffWalking-v1":
        return gym.make("CliffWalking-v1", is_slippery=is_slippery).unwrapped
    if env == "Taxi-v4":
        return gym.make("Taxi-v4").unwrapped
    raise ValueError(f"{env!r} is not a tabular grid world.")


def layout(env_name: str, env) -> dict:
    """What figures and SHAP need to know about a grid world, JSON-friendly.

    ``cells``: one string per row, ``S``/``.``/``#``/``T``/``G`` (FrozenLake's holes and the cliff are ``T``);
    ``feature_names`` and ``feature_dims`` decode a state; ``walls``: Taxi's wall segments ((row, col) cells
    with a wall on their right).
    """
    u = env
    out: dict[str, Any] = {"walls": [], "landmarks": {}}
    if env_name.startswith("FrozenLake"):
        desc = np.asarray(u.desc).astype(str)
        cells = ["".join({"F": ".", "H": "T"}.get(ch, ch) for ch in row) for row in desc]
        names, arrows, _ = GRID_ACTIONS
        out.update(trap_name="hole", goal_name="gift")
    elif env_name == "CliffWalking-v1":
        cells = ["." * 12, "." * 12, "." * 12, "S" + "T" * 10 + "G"]
        names, arrows, _ = CLIFF_ACTIONS
        out.update(trap_name="cliff", goal_name="goal")
    elif env_name == "Taxi-v4":
        cells = ["." * 5] * 5
        names, arrows, _ = TAXI_ACTIONS
        desc = np.asarray(u.desc).astype(str)  # 7 x 11 characters, '|' between cells marks a wall
        out["walls"] = [[r, c] for r in range(5) for c in range(4) if desc[r + 1][2 * c + 2] == "|"]
        out["landmarks"] = {name: list(loc) for name, loc in zip(TAXI_LOCATIONS, u.locs)}
        out.update(trap_name="", goal_name="destination")
    else:
        cells = list(u.rows)
        names, arrows, _ = GRID_ACTIONS
        out.update(trap_name="trap", goal_name="goal")
    n_rows, n_cols = len(cells), len(cells[0])
    if env_name == "Taxi-v4":
        out.update(
            feature_names=["taxi row", "taxi column", "passenger location", "destination"], feature_dims=[5, 5, 5, 4]
        )
    else:
        out.update(feature_names=["row", "column"], feature_dims=[n_rows, n_cols])
    out.update(
        cells=cells,
        n_rows=n_rows,
        n_cols=n_cols,
        action_names=names,
        action_arrows=arrows,
        n_states=int(u.observation_space.n),
        n_actions=int(u.action_space.n),
    )
    return out


def decode(states, feature_dims) -> np.ndarray:
    """(n,) states -> (n, features) integer features (row, column, ...)."""
    return np.stack(np.unravel_index(np.asarray(states, dtype=np.int64), tuple(feature_dims)), axis=-1)


def encode(features, feature_dims) -> np.ndarray:
    """(n, features) values (rounded and clipped into range) -> (n,) states."""
    f = np.rint(np.asarray(features, dtype=np.float64)).astype(np.int64)
    f = np.clip(f, 0, np.asarray(feature_dims) - 1)
    return np.ravel_multi_index(tuple(f.T), tuple(feature_dims))


def reached_goal(lay: dict, state: int, terminated: bool) -> bool:
    """Did an episode that ended in ``state`` reach the goal? (Taxi ends only after a correct drop-off.)"""
    if not terminated:
        return False
    if len(lay["feature_dims"]) == 4:
        return True
    row, col = divmod(int(state), lay["n_cols"])
    return lay["cells"][row][col] == "G"
