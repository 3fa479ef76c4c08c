"""Reinforcement learning settings: the world, the agent, how it explores and learns, and how it is judged."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from engine.core.config import TechniqueConfig
from engine.core.contract import Metric
from engine.rl import gridworld

TABULAR_ENVS = ("FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "Taxi-v4", "gridworld")
ENV_TITLES = {
    "FrozenLake-v1": "FrozenLake 4x4",
    "FrozenLake8x8-v1": "FrozenLake 8x8",
    "CliffWalking-v1": "CliffWalking",
    "Taxi-v4": "Taxi",
    "gridworld": "your gridworld",
    "CartPole-v1": "CartPole",
}
AGENT_NAMES = {"q_learning": "Q-learning", "sarsa": "SARSA", "dqn": "DQN"}
CARTPOLE_MAX_RETURN = 500  # CartPole-v1 stops an episode after 500 steps (+1 reward per step)


class Config(TechniqueConfig):
    STEP_UNIT: ClassVar[str] = "episode"  # a history step: episode number (DQN: see step_unit)
    PRIMARY: ClassVar[tuple[str, ...]] = (
        'env',
        'agent',
        'is_slippery',
        'episodes',
        'training_steps',
        'gamma',
    )  # the settings that change the lesson: shown first
    env: Literal["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "Taxi-v4", "gridworld", "CartPole-v1"] = Field(
        "FrozenLake-v1",
        description="The world the agent learns in. Grid worlds (FrozenLake, CliffWalking, Taxi, "
        "your own gridworld) suit the table-based agents; CartPole (balance a pole on a cart) needs the deep "
        "Q-network.",
        title="World to learn in (environment)",
        json_schema_extra={
            "labels": {
                'FrozenLake-v1': 'Frozen lake, 4x4 (FrozenLake-v1)',
                'FrozenLake8x8-v1': 'Frozen lake, 8x8 (FrozenLake8x8-v1)',
                'CliffWalking-v1': 'Cliff walk (CliffWalking-v1)',
                'Taxi-v4': 'Taxi pick-up and drop-off (Taxi-v4)',
                'gridworld': 'Your own grid (gridworld)',
                'CartPole-v1': 'Balance a pole on a cart (CartPole-v1)',
            }
        },
    )
    agent: Literal["q_learning", "sarsa", "dqn"] = Field(
        "q_learning",
        title='Learning method (agent)',
        json_schema_extra={
            'labels': {
                'q_learning': 'Q-learning (learns the best moves)',
                'sarsa': 'SARSA (learns the moves it makes: more careful)',
                'dqn': 'Deep Q-network (a neural network, for CartPole)',
            }
        },
        description="How it learns: Q-learning (learns the best policy while exploring), SARSA "
        "(learns the policy it actually follows, exploration included: more careful), or a deep Q-network "
        "(a neural network instead of a table, for CartPole).",
    )
    is_slippery: bool = Field(
        False,
        description="Slippery ice: a move goes the intended way only 1 time in 3, else sideways "
        "(FrozenLake, CliffWalking and the gridworld; ignored for Taxi and CartPole).",
        title="Slippery ice",
    )
    grid: str = Field(
        gridworld.DEFAULT_GRID,
        title="Your grid's map",
        max_length=160,
        description="Your gridworld's map, rows separated by '/': S start, "
        ". free, # wall, T trap, G goal. Used when the world is 'gridworld'.",
    )
    goal_reward: float = Field(
        1.0, title='Reward for the goal', ge=-10.0, le=10.0, description="Reward for reaching a goal G (gridworld)."
    )
    trap_reward: float = Field(
        -1.0,
        title='Reward for a trap',
        ge=-10.0,
        le=10.0,
        description="Reward for falling into a trap T; the episode ends there (gridworld).",
    )
    step_reward: float = Field(
        -0.01,
        title='Reward for each step',
        ge=-1.0,
        le=1.0,
        description="Reward for every other step (gridworld); a small cost makes the agent hurry.",
    )
    episodes: int = Field(
        1000,
        ge=1,
        le=20000,
        description="How many episodes (tries from the start to the "
        "end) the table-based agents practise. The deep Q-network uses training steps instead.",
    )
    max_steps: int = Field(
        100,
        title='Most moves per episode',
        ge=5,
        le=1000,
        description="An episode of a grid world is cut off after this many moves.",
    )
    alpha: float = Field(
        0.5,
        ge=0.001,
        le=1.0,
        description="Learning rate (α) of the table-based agents at the "
        "start: how far each new experience moves the table (1 = replace the old estimate).",
        json_schema_extra={"widget": "slider"},
        title="Learning rate (α)",
    )
    alpha_end: float = Field(
        0.05,
        ge=0.001,
        le=1.0,
        description="Learning rate (α) at the end: it falls in a "
        "straight line from its start value over the training. Small late steps let the "
        "estimates settle instead of jumping after every lucky or unlucky move.",
        json_schema_extra={"widget": "slider"},
        title="Learning rate at the end (α)",
    )
    initial_q: float = Field(
        1.0,
        ge=-100.0,
        le=100.0,
        description="The value the agent first guesses for every move in every state (its Q-table). "
        "Above what the agent can really earn (optimistic), it makes the agent try every move "
        "until experience lowers it: the way to explore when rewards are rare, as on "
        "FrozenLake 8x8. 0 leaves the agent to find the goal by chance.",
        title="Starting guess for every move's value (Q)",
    )
    gamma: float = Field(
        0.99,
        ge=0.0,
        le=1.0,
        description="How much a reward one step later is "
        "worth now (0 = only the next reward counts, 1 = all future rewards count fully).",
        json_schema_extra={"widget": "slider"},
        title="How much the future counts (γ)",
    )
    epsilon_start: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Exploration (ε) at the start: the chance of a random move instead of the best-looking one.",
        json_schema_extra={"widget": "slider"},
        title="Exploration at the start (ε)",
    )
    epsilon_end: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Exploration (ε) after it has fallen: the chance of a random move late in training.",
        json_schema_extra={"widget": "slider"},
        title="Exploration at the end (ε)",
    )
    epsilon_schedule: Literal["linear", "exponential", "constant"] = Field(
        "linear",
        title='How exploration falls (ε schedule)',
        json_schema_extra={
            'labels': {
                'linear': 'In a straight line',
                'exponential': 'Fast at first, then slowly (exponential)',
                'constant': 'Stays the same',
            }
        },
        description="How the exploration (ε) falls from its start to its end value (constant: stays at the start "
        "value throughout).",
    )
    explore_fraction: float = Field(
        0.5,
        title='Share of the run spent exploring',
        ge=0.01,
        le=1.0,
        description="Share of training over which the exploration (ε) falls; afterwards it stays at its end value.",
        json_schema_extra={"widget": "slider"},
    )
    compare_sarsa: bool = Field(
        False,
        description="Also train the other table-based agent (SARSA next to "
        "Q-learning, or Q-learning next to SARSA) on the same seeds and overlay both.",
        title="Also run the other table-based agent",
    )
    eval_episodes: int = Field(
        20,
        ge=1,
        le=200,
        description="Episodes played with exploration off after training, to measure what the agent really learned.",
        title="Evaluation episodes",
    )
    training_steps: int = Field(
        15000,
        title='Moves to learn from (deep Q-network)',
        ge=500,
        le=200000,
        description="Deep Q-network: how many moves it makes in CartPole while learning.",
    )
    hidden_layers: int = Field(
        2, title='Hidden layers (deep Q-network)', ge=1, le=3, description="Deep Q-network: number of hidden layers."
    )
    width: int = Field(
        64,
        title='Neurons per layer (deep Q-network)',
        ge=8,
        le=256,
        description="Deep Q-network: neurons per hidden layer.",
    )
    learning_rate: float = Field(
        0.001,
        title='Learning rate (deep Q-network)',
        ge=1e-5,
        le=0.1,
        description="Deep Q-network: how big a step each update takes (Adam optimiser). Too high and learning "
        "becomes unstable.",
        json_schema_extra={"log": True},
    )
    batch_size: int = Field(
        64,
        title='Moves per update (batch size)',
        ge=8,
        le=512,
        description="Deep Q-network: remembered moves per learning step.",
    )
    buffer_size: int = Field(
        20000,
        title='Moves remembered (replay buffer)',
        ge=1000,
        le=200000,
        description="Deep Q-network: how many past moves its memory keeps to learn from (the replay buffer; the "
        "oldest are forgotten).",
    )
    learning_starts: int = Field(
        1000,
        title='Random moves before learning',
        ge=64,
        le=50000,
        description="Deep Q-network: random moves collected before learning begins.",
    )
    train_frequency: int = Field(
        4,
        title='Learn every this many moves',
        ge=1,
        le=512,
        description="Deep Q-network: learn after every this many moves.",
    )
    gradient_steps: int = Field(
        2,
        title='Updates each time it learns',
        ge=1,
        le=256,
        description="Deep Q-network: updates of the network each time it learns (gradient steps).",
    )
    target_update: int = Field(
        250,
        title='Updates between goal refreshes (target network)',
        ge=1,
        le=10000,
        description="Deep Q-network: learning steps between refreshes of the frozen copy of the network that "
        "sets its goals (the target network).",
    )
    keep_best: bool = Field(
        True,
        description="Deep Q-network: test it with exploration off every 5% of training and keep "
        "the best network seen (a DQN's skill can collapse late in training).",
        title="Keep the best network",
    )
    explain_states: int = Field(
        40,
        title='Situations to explain',
        ge=10,
        le=200,
        description="How many situations the Explain tab explains with SHAP (more is slower).",
    )

    # The form shows a setting only where it applies (hidden settings keep their values).
    SHOW_IF: ClassVar[dict] = {
        **dict.fromkeys(
            ("episodes", "max_steps", "alpha", "alpha_end", "initial_q", "compare_sarsa"),
            {"agent": ["q_learning", "sarsa"]},
        ),
        **dict.fromkeys(
            (
                "training_steps",
                "hidden_layers",
                "width",
                "learning_rate",
                "batch_size",
                "buffer_size",
                "learning_starts",
                "train_frequency",
                "gradient_steps",
                "target_update",
                "keep_best",
            ),
            {"agent": ["dqn"]},
        ),
        **dict.fromkeys(("grid", "goal_reward", "trap_reward", "step_reward"), {"env": ["gridworld"]}),
        "is_slippery": {"env": ["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "gridworld"]},
    }

    @field_validator("grid")
    @classmethod
    def _grid_is_a_map(cls, value: str) -> str:
        gridworld.parse_grid(value)
        return value.strip()

    def step_unit(self) -> str:
        """A DQN reports at the end of each episode under the environment steps taken so far."""
        return "environment step" if self.agent == "dqn" else self.STEP_UNIT

    @classmethod
    def follow(cls, changed: str, values: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """A world the agent cannot learn switches the agent: CartPole needs the deep Q-network, a grid world a
        table-based agent."""
        if changed != "env":
            return {}, ""
        if values.get("env") == "CartPole-v1" and values.get("agent") != "dqn":
            return {"agent": "dqn"}, (
                "CartPole's state is four continuous numbers, which no table can list, so the agent is now the "
                "deep Q-network."
            )
        if values.get("env") != "CartPole-v1" and values.get("agent") == "dqn":
            return {"agent": "q_learning"}, (
                "The deep Q-network is set up for CartPole; a grid world is learned with a table, so the agent is "
                "now Q-learning."
            )
        return {}, ""

    @model_validator(mode="after")
    def _agent_fits_env(self):
        if self.agent == "dqn" and self.env != "CartPole-v1":
            raise ValueError(
                f"The deep Q-network (agent dqn) is set up for CartPole-v1, but got env {self.env!r}: "
                "use q_learning or sarsa for a grid world."
            )
        if self.agent != "dqn" and self.env == "CartPole-v1":
            raise ValueError(
                f"CartPole-v1's state is four continuous numbers, which no table can list, so agent "
                f"{self.agent!r} cannot learn it: use agent dqn."
            )
        if self.epsilon_end > self.epsilon_start:
            raise ValueError(
                f"`epsilon_end` must be <= `epsilon_start`, but got epsilon_end={self.epsilon_end} "
                f"and epsilon_start={self.epsilon_start}."
            )
        if self.alpha_end > self.alpha:
            raise ValueError(
                f"`alpha_end` must be <= `alpha`, but got alpha_end={self.alpha_end} and alpha={self.alpha}."
            )
        if self.agent == "dqn" and self.learning_starts >= self.training_steps:
            raise ValueError(
                f"`learning_starts` must be below `training_steps`, but got learning_starts="
                f"{self.learning_starts} and training_steps={self.training_steps}."
            )
        return self


PRESETS = {
    "quick": {"episodes": 1000, "alpha": 0.5, "alpha_end": 0.05, "initial_q": 1.0, "training_steps": 15000},
    "better": {"episodes": 3000, "eval_episodes": 50, "training_steps": 40000, "width": 128, "explain_states": 80},
    "cliff": {"env": "CliffWalking-v1", "compare_sarsa": True},  # the textbook SARSA vs Q-learning contrast
    "dqn_quick": {"env": "CartPole-v1", "agent": "dqn", "training_steps": 15000},  # a deep Q-network in ~20 s
    "solve": {
        "env": "CartPole-v1",
        "agent": "dqn",
        "training_steps": 50000,
        "width": 256,
        "hidden_layers": 2,
        "learning_rate": 0.0023,
        "batch_size": 64,
        "buffer_size": 100000,
        "learning_starts": 1000,
        "train_frequency": 256,
        "gradient_steps": 128,
        "target_update": 128,
        "epsilon_end": 0.04,
        "explore_fraction": 0.16,
        "eval_episodes": 20,
    },
}
# How the preset menu names them (the keys stay short for the CLI: ``--preset dqn_quick``).
PRESET_LABELS = {
    "quick": "Quick look",
    "better": "Better result",
    "cliff": "Cliff: SARSA vs Q-learning",
    "dqn_quick": "CartPole: deep Q-network (quick)",
    "solve": "CartPole: deep Q-network (solves it)",
}


def _agent_metrics(prefix: str, who: str) -> dict[str, Metric]:
    """The evaluation metrics of one table-based agent (``prefix`` names the second agent of a comparison). The
    headline ones are short enough for a metric tile with the agent's name (``short``); the help says the rest."""
    label = lambda text, short=None: f"{who}: {short or text}" if who else text[0].upper() + text[1:]
    return {
        f"{prefix}greedy_return_mean": Metric(
            label("return, exploration off", "return"),
            help="Mean total reward of the evaluation episodes, played with exploration off (no random moves).",
        ),
        f"{prefix}success_rate": Metric(
            label("success, exploration off", "success rate"),
            "percent",
            help="Share of evaluation episodes, played with exploration off, that reached the goal (Taxi: "
            "delivered the passenger).",
        ),
        f"{prefix}greedy_steps_mean": Metric(label("steps per evaluation episode")),
        f"{prefix}greedy_path_length": Metric(label("steps of the greedy path"), "integer"),
    }


METRICS = {
    **_agent_metrics("", ""),
    **_agent_metrics("sarsa_", "SARSA"),
    **_agent_metrics("q_learning_", "Q-learning"),
    "train_return_last": Metric("Return while learning (last episodes)"),
    "episodes_run": Metric("Episodes played", "integer"),
    "steps_run": Metric("Moves made while learning", "integer"),
    "states_visited": Metric("States visited", "integer"),
    "n_states": Metric("States in the world", "integer"),
    "balanced_steps_mean": Metric(
        f"Steps balanced, of {CARTPOLE_MAX_RETURN}",
        help="CartPole gives +1 per step the pole stays up; an episode ends when it falls "
        f"or after {CARTPOLE_MAX_RETURN} steps. Mean over the evaluation episodes, played with exploration off.",
    ),
    "balanced_steps_min": Metric(
        "Fewest steps balanced",
        "integer",
        help=f"The worst evaluation episode, of at most {CARTPOLE_MAX_RETURN} steps.",
    ),
    "full_episodes_share": Metric(f"Episodes balanced all {CARTPOLE_MAX_RETURN} steps", "percent"),
    "greedy_return_min": Metric("Lowest return, exploration off"),
    "train_return_first": Metric("Return while learning (first 20 episodes)"),
    "gradient_updates": Metric("Learning steps", "integer"),
    "parameters": Metric("Weights in the network", "integer"),
    "kept_network_step": Metric("Move of the kept network", "integer"),
}


def estimate_seconds(config: Config) -> float:
    """Rough, calibrated on a busy 2-core machine with one torch thread (figures and SHAP included)."""
    if config.agent == "dqn":
        learning_moves = max(0, config.training_steps - config.learning_starts)
        updates = learning_moves / config.train_frequency * config.gradient_steps
        size = 1 + config.width * config.hidden_layers / 128
        return 2.0 + config.training_steps * 1.2e-4 + updates * 6e-4 * size + config.eval_episodes * 0.05
    typical = {"FrozenLake-v1": 10, "FrozenLake8x8-v1": 30, "CliffWalking-v1": 40, "Taxi-v4": 50, "gridworld": 20}[
        config.env
    ]
    steps = config.episodes * min(config.max_steps, typical) * (2 if config.compare_sarsa else 1)
    return 1.5 + steps * 3e-5 + config.explain_states * 0.01
