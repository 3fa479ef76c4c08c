"""The textbook effects each page claims, as checks on a run's metrics (issue 28).

``python -m benchmarks.faithfulness --effects`` runs every effect below on seeds 0-7 through the app's own path
(the settings over the Config's defaults, seeded as ``engine.core.pipeline.execute`` seeds a run) and writes one
row per effect: the numbers it compares on each seed and whether the effect held. An effect is what a page says
will happen for the settings it offers; a test per effect (tests/engine) checks it on at least four seeds in a
small budget, this table on eight at the page's own settings.

Each technique's effects sit in its own block; add an effect where its technique's block is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Effect:
    technique: str
    claim: str  # the plain sentence the page shows or implies, e.g. "distillation beats the student trained alone"
    compare: tuple[str, ...]  # the metrics the table shows, in order (the first two are usually compared)
    holds: Callable[[dict[str, float]], bool]  # the run's metrics -> did the effect hold on this seed
    settings: dict = field(default_factory=dict)  # over the preset (or the Config's defaults)
    preset: str | None = None  # a preset of the technique, or None for the Config's defaults

    def command(self) -> str:
        """The CLI command that reproduces one seed of this effect (seed 0)."""
        sets = " ".join(f"--set {k}={v}" for k, v in self.settings.items())
        preset = f" --preset {self.preset}" if self.preset else ""
        return f"python -m engine run {self.technique}{preset} {sets} --set seed=0".replace("  ", " ")


def greater(a: str, b: str, by: float = 0.0) -> Callable[[dict[str, float]], bool]:
    """The effect holds when metric ``a`` beats metric ``b`` by more than ``by``."""
    return lambda m: m[a] > m[b] + by


EFFECTS: list[Effect] = []

# --- edge ------------------------------------------------------------------------------------------------------

# --- ssl -------------------------------------------------------------------------------------------------------

# --- gan -------------------------------------------------------------------------------------------------------

# --- nas -------------------------------------------------------------------------------------------------------

# --- federated -------------------------------------------------------------------------------------------------

# --- attention -------------------------------------------------------------------------------------------------
