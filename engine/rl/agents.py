"""Which algorithm learns: the table-based agents (Q-learning, SARSA) or the deep Q-network, by ``config.agent``."""

from __future__ import annotations

from engine.core.contract import ProgressFn, Result
from engine.rl.config import Config


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the chosen agent, then evaluate it greedily (exploration off)."""
    if config.agent == "dqn":
        from engine.rl import dqn  # torch is imported only for the deep Q-network

        return dqn.run(config, progress)
    from engine.rl import tabular

    return tabular.run(config, progress)
