"""Neural architecture search settings: which strategies search, how many candidates each trains, how long.

The search space lives here too (plain Python, no torch), so the page can show it before anything runs.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator

from engine.core.config import TechniqueConfig
from engine.core.contract import Metric

# The course's starting model is Conv2D(32, 3x3, relu) -> MaxPool(2x2) -> Flatten -> Dense(64, relu) -> Dense(10).
# Every decision below widens one of its parts; the starting model is one point of the space.
SPACE: dict[str, tuple] = {
    "conv_blocks": (1, 2, 3),  # Conv -> activation -> pooling, repeated
    "filters": (8, 16, 32, 64),  # filters in every conv layer
    "kernel_size": (3, 5),  # square kernels, padded so the image keeps its size
    "pooling": ("max", "avg"),  # 2x2 pooling after each block: 8x8 -> 4x4 -> 2x2 -> 1x1
    "dense_layers": (0, 1, 2),  # hidden dense layers before the 10-way output
    "dense_width": (32, 64, 128),  # neurons in each hidden dense layer
    "activation": ("relu", "tanh", "elu"),
    "dropout": (0.0, 0.25, 0.5),  # before each dense layer
}
SPACE_HELP = {
    "conv_blocks": "convolution blocks (conv, activation, pooling)",
    "filters": "filters per convolution",
    "kernel_size": "kernel width and height",
    "pooling": "2x2 pooling after each block",
    "dense_layers": "hidden dense layers",
    "dense_width": "neurons per dense layer",
    "activation": "non-linearity everywhere",
    "dropout": "dropout before dense layers",
}
DECISION_LABELS = {  # a decision's name as a person reads it (charts and tables)
    "conv_blocks": "Convolution blocks",
    "filters": "Filters per convolution",
    "kernel_size": "Kernel size (pixels)",
    "pooling": "Pooling",
    "dense_layers": "Hidden dense layers",
    "dense_width": "Neurons per dense layer",
    "activation": "Activation",
    "dropout": "Dropout",
}
STARTING_MODEL = {
    "conv_blocks": 1,
    "filters": 32,
    "kernel_size": 3,
    "pooling": "max",
    "dense_layers": 1,
    "dense_width": 64,
    "activation": "relu",
    "dropout": 0.0,
}
STRATEGIES = {
    "random": "Random search",
    "evolution": "Regularised evolution",
    "rl": "RL controller",
    "tpe": "Optuna TPE",
}
SHORT_NAMES = {**STRATEGIES, "evolution": "Evolution"}  # for metric tiles (Metric.TILE_LABEL_MAX characters)
MIN_TRIALS_TO_EXPLAIN = 8  # distinct architectures before a surrogate is fitted and explained
# The smallest budget per search at which a guided strategy's average proposal beat random search's on every
# seed 0-7 (2 searches, the other defaults; measured, see benchmarks/effects.py); below it, ``Config.expectation``
# says so before Train. Evolution (population 4): 12 held 8/8, 10 held 7/8. RL controller: 20 held 8/8 (by 3.2
# points or more), 15 held 7/8 (seed 7: -0.3 points), 10 held 7/8. TPE: not measured on the digits; as the RL
# controller.
MIN_CHILDREN = 8  # evolution: children beyond its random founders
MIN_BUDGET = {"rl": 20, "tpe": 20}


def space_size() -> int:
    """How many different architectures the space holds."""
    return math.prod(len(options) for options in SPACE.values())


def blocks(arch: dict) -> list[tuple[str, str]]:
    """The layers as (name, output shape) pairs, for diagrams; follows ``space.build`` exactly (kept here, without
    torch, so the app can draw any candidate from a stored run)."""
    side, out = 8, [("Input", "8x8x1")]
    k, f, act = arch["kernel_size"], arch["filters"], arch["activation"]
    for _ in range(arch["conv_blocks"]):
        out.append((f"Conv {k}x{k}, {act}", f"{side}x{side}x{f}"))
        side //= 2
        out.append((f"{arch['pooling'].capitalize()}Pool 2x2", f"{side}x{side}x{f}"))
    width = side * side * f
    out.append(("Flatten", str(width)))
    for _ in range(arch["dense_layers"]):
        if arch["dropout"]:
            out.append((f"Dropout {arch['dropout']:g}", str(width)))
        width = arch["dense_width"]
        out.append((f"Dense {width}, {act}", str(width)))
    if arch["dropout"]:
        out.append((f"Dropout {arch['dropout']:g}", str(width)))
    out.append(("Dense 10", "10 logits"))
    return out


class Config(TechniqueConfig):
    STEP_UNIT: ClassVar[str] = "candidate"  # a history step: one candidate proposed (all strategies, all searches)
    PRIMARY: ClassVar[tuple[str, ...]] = (
        'random',
        'evolution',
        'rl',
        'tpe',
        'budget',
        'searches',
    )  # the settings that change the lesson: shown first
    SHOW_IF = {
        "population_size": {"evolution": [True]},
        "tournament_size": {"evolution": [True]},
        "controller_learning_rate": {"rl": [True]},
        "entropy_bonus": {"rl": [True]},
    }

    random: bool = Field(
        True,
        title="Random search",
        description="Sample every choice uniformly at random: the baseline every NAS paper beats (or fails to).",
    )
    evolution: bool = Field(
        True,
        title="Regularised evolution",
        description="Keep a population; copy the best of a random few with one choice changed; "
        "drop the oldest (Real et al. 2019).",
    )
    rl: bool = Field(
        True,
        title="Learning controller (RL)",  # short enough for a toggle in a three-column form
        description="RL controller: a policy picks one choice per step and learns from each candidate's accuracy "
        "with REINFORCE (Zoph & Le 2017).",
    )
    tpe: bool = Field(
        False,
        title="Optuna TPE",
        description="Optuna's Tree-structured Parzen Estimator, a Bayesian-style sampler, as a library reference.",
    )
    budget: int = Field(
        20,
        title='Candidates per strategy (budget)',
        ge=2,
        le=200,
        description="Candidates each strategy proposes in one search (repeated proposals included; a "
        "repeated architecture is looked up, not retrained).",
    )
    searches: int = Field(
        2,
        title="Searches per strategy (repeats of the search)",
        ge=1,
        le=10,
        description="Each strategy searches this many times from fresh random seeds, as papers compare "
        "strategies: the chart shows the median best-so-far and its spread, and the headline averages every "
        "proposal. Each search costs about a whole budget again (an architecture already trained is looked up).",
    )
    epochs_per_candidate: int = Field(
        2,
        ge=1,
        le=30,
        description="Training passes per candidate: few epochs make the search fast but its accuracies rough.",
    )
    population_size: int = Field(
        4, ge=2, le=50, description="Evolution: architectures alive at once (the first ones are random)."
    )
    tournament_size: int = Field(
        3, ge=1, le=50, description="Evolution: how many population members compete to be the next parent."
    )
    controller_learning_rate: float = Field(
        0.3,
        ge=1e-3,
        le=1.0,
        description="RL controller: step size of its policy updates.",
        json_schema_extra={"log": True},
    )
    entropy_bonus: float = Field(
        0.01,
        ge=0.0,
        le=0.5,
        description="RL controller: reward for keeping its choices varied, so it keeps exploring.",
        json_schema_extra={"widget": "slider"},
    )

    @model_validator(mode="after")
    def _check(self):
        if not self.strategies:
            raise ValueError("Switch on at least one search strategy (random, evolution, RL controller or TPE).")
        if self.tournament_size > self.population_size:
            raise ValueError(
                f"`tournament_size <= population_size` must hold, but got "
                f"(tournament_size={self.tournament_size}, population_size={self.population_size})."
            )
        return self

    @property
    def strategies(self) -> tuple[str, ...]:
        """The switched-on strategies, in a fixed order."""
        return tuple(name for name in STRATEGIES if getattr(self, name))

    def expectation(self) -> str:
        """Said before Train when these settings are not expected to show a guided strategy's average proposal
        beating random search's (the page's headline), and why: the budgets below which that did not hold on
        seeds 0-7 at the defaults (benchmarks/effects.py, nas block)."""
        notes = []
        if not self.random:
            notes.append(
                "Random search is off, so nothing shows whether the guided strategies beat chance: switch it on "
                "as the baseline."
            )
        short = [
            (label, least, why)
            for name, label, least, why in (
                (
                    "evolution",
                    "regularised evolution",
                    self.population_size + MIN_CHILDREN,
                    f"its first {self.population_size} candidates are random founders",
                ),
                ("rl", "the RL controller", MIN_BUDGET["rl"], "its policy learns a little from each candidate"),
                ("tpe", "Optuna's TPE", MIN_BUDGET["tpe"], "its first candidates are random start-up trials"),
            )
            if getattr(self, name) and self.budget < least
        ]
        if short and self.random:
            names = " and ".join(f"{label} ({why})" for label, _, why in short)
            measured = [(least, label) for label, least, _ in short if "TPE" not in label]  # TPE: not measured
            parts = [
                f"{least} candidates per search for {label}" if i == 0 else f"{least} for {label}"
                for i, (least, label) in enumerate(measured)
            ]
            took = (
                f": on seeds 0-7 (the other settings at their defaults) it took {' and '.join(parts)} to beat it "
                "on every seed."
            )
            notes.append(
                f"At {self.budget} candidates per search, expect {names} to propose no better than random search "
                "on average on some seeds" + (took if measured else ".")
            )
        if self.searches == 1:
            notes.append(
                "With one search per strategy the best-so-far chart has no spread to show, and one search's "
                "average and best are both much more a matter of luck: use 2 or more searches to compare strategies."
            )
        return " ".join(notes)


PRESETS = {
    "quick": {
        "random": True,
        "evolution": True,
        "rl": True,
        "tpe": False,
        "budget": 20,
        "searches": 2,
        "epochs_per_candidate": 2,
        "population_size": 4,
        "tournament_size": 3,
    },
    "better": {
        "random": True,
        "evolution": True,
        "rl": True,
        "tpe": True,
        "budget": 40,
        "searches": 2,
        "epochs_per_candidate": 4,
        "population_size": 10,
        "tournament_size": 3,
    },
}
PRESET_LABELS = {"quick": "Quick look", "better": "Better result"}

METRICS = {
    "best_accuracy": Metric("Best validation accuracy (any strategy)", "percent"),
    **{
        f"mean_accuracy_{name}": Metric(  # the headline: how good a typical proposal is, at equal budget
            f"{SHORT_NAMES[name]}: average",
            "percent",
            help=f"{title}: average proposal, the mean validation accuracy of every candidate it proposed, over all "
            "its searches "
            "(repeated proposals included). A strategy that learns spends its budget on better architectures, so "
            "this is where it beats random search; the single best found is largely luck at a small budget.",
        )
        for name, title in STRATEGIES.items()
    },
    **{
        f"median_best_{name}": Metric(
            f"{title}: best per search (median)",
            "percent",
            help=f"{title}: the best validation accuracy at the end of each search's budget, the median over "
            "its searches (the end of the line in the best-so-far chart).",
        )
        for name, title in STRATEGIES.items()
    },
    **{
        f"best_accuracy_{name}": Metric(  # short for a metric tile; the full wording is the help
            f"{title}: best",
            "percent",
            help=f"{title}: best validation accuracy. The best candidate this strategy found in all its searches, "
            "on the validation images.",
        )
        for name, title in STRATEGIES.items()
    },
    "best_test_accuracy": Metric(
        "Winner's test accuracy", "percent", help="The overall winner on test images no search step ever saw."
    ),
    "best_parameters": Metric("Winner's weights", "integer"),
    "starting_model_accuracy": Metric(
        "Starting model (from the course): validation accuracy",
        "percent",
        help="Conv(32, 3x3) -> MaxPool -> Dense(64) trained the same way.",
    ),
    "starting_model_test_accuracy": Metric("Starting model (from the course): test accuracy", "percent"),
    "starting_model_parameters": Metric("Starting model (from the course): weights", "integer"),
    "candidates": Metric("Candidates proposed", "integer", help="All strategies together, repeats included."),
    "unique_architectures": Metric("Different architectures proposed", "integer"),
    "repeats": Metric("Repeated proposals (served from the cache)", "integer"),
    "validation_images": Metric("Validation images", "integer", help="Candidates are ranked on these."),
    "space_size": Metric("Architectures in the search space", "integer"),
    "search_seconds": Metric("Search time", "seconds", measured=True),
    "candidates_per_second": Metric("Candidates per second", "number", measured=True),
}


def estimate_seconds(config: Config) -> float:
    # a few repeated proposals are free (82-86 trainings for 90 proposals at the defaults); +1 starting model
    trainings = config.budget * len(config.strategies) * config.searches * 0.95 + 1
    return 4.0 + trainings * (0.05 + 0.25 * config.epochs_per_candidate)
