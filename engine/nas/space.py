"""The search space as code: sample, mutate, encode and build architectures for 8x8 digit images.

An architecture is a plain dict of one value per decision in ``SPACE`` (JSON-friendly, so a run record can carry
it); ``build(arch)`` turns it into a ``torch.nn.Module`` that maps (B, 1, 8, 8) images to (B, 10) logits. The Edge AI
page rebuilds a NAS winner with ``build`` and loads its stored weights.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from engine.nas.config import SPACE, blocks  # noqa: F401  (blocks: the layers as text, for diagrams)

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}
DECISIONS = tuple(SPACE)  # the order every strategy makes its choices in


def key(arch: dict) -> str:
    """A stable text key: the same architecture always gets the same key (the cache and the table use it)."""
    return "|".join(f"{d}={arch[d]}" for d in DECISIONS)


def check(arch: dict) -> dict:
    """The arch with each value validated against the space (raises ValueError naming what is wrong)."""
    missing = [d for d in DECISIONS if d not in arch]
    if missing:
        raise ValueError(f"The architecture lacks {', '.join(missing)}.")
    for d in DECISIONS:
        if arch[d] not in SPACE[d]:
            raise ValueError(f"`{d}` must be one of {SPACE[d]}, but got {arch[d]!r}.")
    return {d: arch[d] for d in DECISIONS}


def sample(rng: np.random.Generator) -> dict:
    """One architecture with every choice uniformly at random."""
    return {d: SPACE[d][rng.integers(len(SPACE[d]))] for d in DECISIONS}


def mutate(arch: dict, rng: np.random.Generator) -> dict:
    """A copy of ``arch`` with exactly one decision changed to a different option."""
    d = DECISIONS[rng.integers(len(DECISIONS))]
    others = [o for o in SPACE[d] if o != arch[d]]
    return {**arch, d: others[rng.integers(len(others))]}


def encode(arch: dict) -> list[float]:
    """Numbers for a surrogate model: the value for numeric decisions, the option's index for named ones."""
    return [float(arch[d]) if isinstance(arch[d], (int, float)) else float(SPACE[d].index(arch[d])) for d in DECISIONS]


def best_architecture(trials) -> dict:
    """The winner of a search from its table of trials (a run's history, also as stored): the highest validation
    accuracy, then the fewest weights, then the first proposed. Values come back as plain Python types."""
    ranked = trials.sort_values(["accuracy", "parameters", "step"], ascending=[False, True, True], kind="stable")
    row = ranked.iloc[0]
    return check({d: (row[d].item() if hasattr(row[d], "item") else row[d]) for d in DECISIONS})


def build(arch: dict) -> nn.Module:
    """The network for ``arch``: (B, 1, 8, 8) -> (B, 10) logits. Activations are separate modules."""
    arch = check(arch)
    act = ACTIVATIONS[arch["activation"]]
    layers: list[nn.Module] = []
    channels, side = 1, 8
    k, f = arch["kernel_size"], arch["filters"]
    for _ in range(arch["conv_blocks"]):
        layers += [nn.Conv2d(channels, f, k, padding=k // 2), act()]  # (B, f, side, side)
        layers.append(nn.MaxPool2d(2) if arch["pooling"] == "max" else nn.AvgPool2d(2))
        side //= 2  # (B, f, side / 2, side / 2): 8 -> 4 -> 2 -> 1
        channels = f
    layers.append(nn.Flatten())  # (B, f * side * side)
    width = channels * side * side
    for _ in range(arch["dense_layers"]):
        if arch["dropout"]:
            layers.append(nn.Dropout(arch["dropout"]))
        layers += [nn.Linear(width, arch["dense_width"]), act()]
        width = arch["dense_width"]
    if arch["dropout"]:
        layers.append(nn.Dropout(arch["dropout"]))
    layers.append(nn.Linear(width, 10))  # (B, 10)
    return nn.Sequential(*layers)
