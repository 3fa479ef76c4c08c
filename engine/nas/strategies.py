"""Four ways to propose the next architecture, all behind the same ask/tell interface (as in Optuna).

``ask()`` proposes an architecture; ``tell(arch, accuracy)`` reports how it did. Each strategy owns its random
generator, so what it proposes depends only on the seed and on the accuracies it was told, never on which other
strategies ran beside it.

- ``RandomSearch``: every choice uniformly at random; the baseline (Li & Talwalkar 2019 show it is strong).
- ``RegularisedEvolution``: Real et al. 2019 ("aging evolution"): a population of the most recent candidates;
  the parent is the best of a random tournament; the child changes one choice; the oldest member dies.
- ``Controller``: Zoph & Le 2017 in miniature: a factorised policy (one softmax per decision) samples one choice
  per step and learns with REINFORCE, a moving-average baseline and an entropy bonus.
- ``TPE``: Optuna's Tree-structured Parzen Estimator through its real ask/tell API.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from engine.nas.config import SPACE
from engine.nas.space import DECISIONS, mutate, sample

if TYPE_CHECKING:
    import optuna


class RandomSearch:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def ask(self) -> dict:
        return sample(self.rng)

    def tell(self, arch: dict, accuracy: float) -> None:
        pass  # random search learns nothing


class RegularisedEvolution:
    """Aging evolution. ``members`` records, after each tell, which candidates (by number) were alive."""

    def __init__(self, seed: int, population_size: int, tournament_size: int):
        self.rng = np.random.default_rng(seed)
        self.size, self.tournament = population_size, tournament_size
        self.population: deque[tuple[int, dict, float]] = deque()  # (candidate number, arch, accuracy), oldest first
        self.told = 0
        self.members: list[list[int]] = []
        self.parents: list[int] = []  # the parent's candidate number for each child (-1: random founder)

    def ask(self) -> dict:
        if len(self.population) < self.size:  # founders: the first population is random
            self.parents.append(-1)
            return sample(self.rng)
        picks = self.rng.choice(len(self.population), self.tournament, replace=False)
        number, parent, _ = max((self.population[i] for i in picks), key=lambda m: m[2])  # first best on ties
        self.parents.append(number)
        return mutate(parent, self.rng)

    def tell(self, arch: dict, accuracy: float) -> None:
        self.population.append((self.told, arch, accuracy))
        if len(self.population) > self.size:
            self.population.popleft()  # the oldest dies, however good it was: the "regularisation"
        self.told += 1
        self.members.append([number for number, _, _ in self.population])


class Controller(nn.Module):
    """A factorised policy over the decisions, trained with REINFORCE on validation accuracy."""

    def __init__(self, seed: int, learning_rate: float, entropy_bonus: float, baseline_decay: float = 0.8):
        super().__init__()
        self.logits = nn.ParameterList([nn.Parameter(torch.zeros(len(SPACE[d]))) for d in DECISIONS])
        self.opt = torch.optim.Adam(self.parameters(), lr=learning_rate)
        self.gen = torch.Generator().manual_seed(seed)
        self.entropy_bonus, self.decay = entropy_bonus, baseline_decay
        self.baseline: float | None = None
        self.history = [self.probabilities()]  # choice probabilities before each update, then after the last

    def probabilities(self) -> np.ndarray:
        """All decisions' option probabilities, concatenated in DECISIONS order: (total options,)."""
        with torch.no_grad():
            return torch.cat([torch.softmax(l, 0) for l in self.logits]).numpy().copy()

    def ask(self) -> dict:
        # one choice per step: decision i is sampled from its own softmax (no recurrence: factorised)
        with torch.no_grad():
            picks = [int(torch.multinomial(torch.softmax(l, 0), 1, generator=self.gen).item()) for l in self.logits]
        return {d: SPACE[d][i] for d, i in zip(DECISIONS, picks)}

    def tell(self, arch: dict, accuracy: float) -> None:
        picks = torch.tensor([SPACE[d].index(arch[d]) for d in DECISIONS])  # (decisions,)
        if self.baseline is None:
            self.baseline = accuracy  # the first candidate only sets the bar
        advantage = accuracy - self.baseline
        log_probs = [torch.log_softmax(l, 0) for l in self.logits]  # each (options of decision,)
        zero = torch.zeros(())  # sum()'s start: a tensor, so the sums are tensors (0 + x is exactly x)
        log_prob = sum((lp[i] for lp, i in zip(log_probs, picks)), zero)  # log pi(arch): the sum over decisions
        entropy = sum((-(lp.exp() * lp).sum() for lp in log_probs), zero)
        loss = -advantage * log_prob - self.entropy_bonus * entropy  # REINFORCE with a baseline, plus exploration
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.baseline = self.decay * self.baseline + (1 - self.decay) * accuracy
        self.history.append(self.probabilities())


class TPE:
    """Optuna's TPESampler, asked for one value per decision; its first trials are random (its start-up)."""

    def __init__(self, seed: int, budget: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, budget // 3)))
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.trial: optuna.trial.Trial | None = None

    def ask(self) -> dict:
        trial = self.trial = self.study.ask()
        return {d: trial.suggest_categorical(d, list(SPACE[d])) for d in DECISIONS}

    def tell(self, arch: dict, accuracy: float) -> None:
        if self.trial is None:
            raise RuntimeError("TPE.tell() needs a candidate from ask() first.")
        self.study.tell(self.trial, accuracy)


def make(name: str, seed: int, config) -> RandomSearch | RegularisedEvolution | Controller | TPE:
    """The strategy ``name`` with the run's settings."""
    if name == "random":
        return RandomSearch(seed)
    if name == "evolution":
        return RegularisedEvolution(seed, config.population_size, config.tournament_size)
    if name == "rl":
        return Controller(seed, config.controller_learning_rate, config.entropy_bonus)
    return TPE(seed, config.budget)
