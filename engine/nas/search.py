"""Neural architecture search on 8x8 digits: several strategies take turns proposing, each candidate trains briefly.

Read top to bottom: the data split, the evaluator (trains a candidate or looks it up in the cache), the search
loop (round-robin, so every strategy has spent the same budget at every moment, even after Stop; repeated
``searches`` times from fresh strategy seeds, as NAS papers compare strategies over several runs), then the
packaging of the Result. Each trial keeps its own training curve (train_loss_<epoch>, val_accuracy_<epoch>).

Candidates are evaluated one after another, on purpose. Evolution and the controller must be told a round's
accuracies before they propose again, so at most one round (one candidate per strategy: 3 in the quick preset)
could train at once, a 1.5x ceiling on 2 workers; the app already runs one job per core with one torch thread
each, so a second process per run takes a core from another run; and fresh workers pay torch's import. Measured
on the 2-core machine (the quick preset's 29 trainings; 2 spawn workers, one round at a time, same accuracies):
idle (load ~1): sequential 12.0 / 10.1 s, parallel 17.1 / 17.4 s (5.8 / 5.4 s of it starting the workers); shared
with other work (load 7-12): sequential 24.7 / 41.4 s, parallel 73 / 100 s. Parallel never won.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from engine.core.contract import Diverged, ProgressFn, Result, Tracker
from engine.core.data import digits, split
from engine.core.device import pick, seeded
from engine.core.train import accuracy, count_parameters, fit, predict
from engine.nas import strategies
from engine.nas.config import STARTING_MODEL, STRATEGIES, Config, space_size
from engine.nas.space import DECISIONS, best_architecture, build, key

LEARNING_RATE, BATCH_SIZE = 1e-2, 64  # the same training recipe for every candidate


@dataclass
class Digits:
    X_train: torch.Tensor  # (n_train, 1, 8, 8) in [0, 1]
    y_train: torch.Tensor  # (n_train,)
    X_val: torch.Tensor  # candidates are ranked on these images
    y_val: torch.Tensor
    X_test: torch.Tensor  # only the winner is ever scored on these
    y_test: torch.Tensor


def load_digits(seed: int) -> Digits:
    images, labels = digits()
    rest, test = split(len(labels), 0.2, seed, labels)
    tr, va = split(len(rest), 0.2, seed, labels[rest])
    dev = pick()
    t = lambda idx: (
        torch.as_tensor(images[idx][:, None], device=dev),
        torch.as_tensor(labels[idx], device=dev),
    )
    return Digits(*t(rest[tr]), *t(rest[va]), *t(test))


@dataclass
class Trained:
    accuracy: float  # validation accuracy
    parameters: int
    model: nn.Module
    seconds: float
    curve: dict[str, float]  # train_loss_<epoch> and val_accuracy_<epoch> for each epoch it trained


class Evaluator:
    """Trains a candidate for a few epochs, or returns the cached result when the architecture was seen before.

    Each architecture trains from a seed derived from the run's seed and the architecture itself, so it gets
    the same accuracy whichever strategy proposes it, and whenever.
    """

    def __init__(self, data: Digits, epochs: int, seed: int):
        self.data, self.epochs, self.seed = data, epochs, seed
        self.cache: dict[str, Trained] = {}
        self.trainings = 0

    def __call__(self, arch: dict) -> tuple[Trained, bool]:
        k = key(arch)
        if k in self.cache:
            return self.cache[k], True
        started = time.perf_counter()
        seed = (self.seed * 1_000_003 + zlib.crc32(k.encode())) % 2**31
        d = self.data
        epochs = Tracker(None, self.epochs)  # the candidate's own training curve, one row per epoch
        # the same initial weights and dropout masks for this architecture every time
        with seeded(seed, d.X_train.device):
            model = build(arch).to(d.X_train.device)
            try:
                fit(
                    model,
                    d.X_train,
                    d.y_train,
                    loss_fn=nn.CrossEntropyLoss(),
                    epochs=self.epochs,
                    lr=LEARNING_RATE,
                    batch_size=BATCH_SIZE,
                    tracker=epochs,
                    seed=seed,
                    evaluate=lambda m: {"val_accuracy": accuracy(m(d.X_val), d.y_val)},
                )
            except Diverged:
                pass  # a candidate whose loss blew up simply scores badly (its curve ends where it diverged)
        score = accuracy(predict(model, d.X_val), d.y_val)
        curve = curve_columns(epochs.rows)
        self.trainings += 1
        self.cache[k] = Trained(
            score, count_parameters(model), model.cpu().eval(), time.perf_counter() - started, curve
        )
        return self.cache[k], False


def curve_columns(rows: list[dict]) -> dict[str, float]:
    """fit's per-epoch rows as flat history columns: train_loss_1, val_accuracy_1, train_loss_2, ..."""
    return {
        f"{out}_{row['step']}": row[name]
        for row in rows
        for name, out in (("loss", "train_loss"), ("val_accuracy", "val_accuracy"))
    }


def strategy_seed(seed: int, name: str, search_number: int) -> int:
    """One independent 32-bit seed per strategy and search (``search_number`` counts from 1)."""
    entropy = [seed, list(STRATEGIES).index(name), search_number - 1]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def search(config: Config, evaluate: Evaluator, tracker: Tracker, start_accuracy: float):
    """``config.searches`` searches one after another; within each, round-robin: every strategy asks for one
    candidate, it is evaluated (or looked up: all searches share the cache), the strategy is told. Returns the
    trials, the first search's strategies (their population and policy are drawn) and the best-so-far curves
    per strategy, (searches, budget) with NaN where a stopped run never got."""
    names = config.strategies
    rows: list[dict] = []
    curves = {n: np.full((config.searches, config.budget), np.nan) for n in names}
    first: dict = {}
    step = 0
    for number in range(1, config.searches + 1):
        searchers = {n: strategies.make(n, strategy_seed(config.seed, n, number), config) for n in names}
        first = first or searchers
        best: dict[str, list[float]] = {n: [] for n in names}  # this search's best so far, one per candidate
        for candidate in range(1, config.budget + 1):
            for name, searcher in searchers.items():
                arch = searcher.ask()
                trained, cached = evaluate(arch)
                searcher.tell(arch, trained.accuracy)
                best[name].append(max([trained.accuracy, *best[name][-1:]]))
                curves[name][number - 1, candidate - 1] = best[name][-1]
                step += 1
                rows.append(
                    {
                        "step": step,
                        "strategy": name,
                        "search": number,
                        "candidate": candidate,
                        "accuracy": trained.accuracy,
                        "best_so_far": best[name][-1],
                        "parameters": trained.parameters,
                        "cached": cached,
                        "train_seconds": 0.0 if cached else trained.seconds,
                        **arch,
                        **trained.curve,
                    }
                )
                live = {"best": best, "start": start_accuracy, "search": number, "searches": config.searches}
                if tracker.step(step, live=live, accuracy=trained.accuracy, best_so_far=best[name][-1]):
                    return rows, first, curves
    return rows, first, curves


def winner(trials: pd.DataFrame, evaluate: Evaluator) -> tuple[dict, Trained]:
    """The best architecture found (``space.best_architecture``'s rule) and its trained network."""
    arch = best_architecture(trials)
    return arch, evaluate.cache[key(arch)]


def summary(
    config: Config,
    trials: pd.DataFrame,
    evaluate: Evaluator,
    start: Trained,
    best: Trained,
    test_accuracy: float,
    seconds: float,
) -> dict[str, float]:
    unique = len(trials.drop_duplicates(subset=list(DECISIONS)))
    metrics = {"best_accuracy": best.accuracy}
    for name in config.strategies:
        mine = trials[trials.strategy == name]
        if len(mine):
            metrics[f"mean_accuracy_{name}"] = float(mine.accuracy.mean())  # every proposal, every search
            metrics[f"best_accuracy_{name}"] = float(mine.accuracy.max())
            finals = mine.groupby("search").best_so_far.last()  # each search's best at the end of its budget
            metrics[f"median_best_{name}"] = float(finals.median())
    metrics.update(
        best_test_accuracy=test_accuracy,
        best_parameters=best.parameters,
        starting_model_accuracy=start.accuracy,
        starting_model_parameters=start.parameters,
        candidates=len(trials),
        unique_architectures=unique,
        repeats=len(trials) - unique,
        space_size=space_size(),
        validation_images=len(evaluate.data.y_val),
        search_seconds=seconds,
        candidates_per_second=len(trials) / max(seconds, 1e-9),
    )
    return metrics


def run(config: Config, progress: ProgressFn) -> Result:
    """Search the space with every switched-on strategy at the same budget; return all trials and the winner."""
    started = time.perf_counter()
    data = load_digits(config.seed)
    evaluate = Evaluator(data, config.epochs_per_candidate, config.seed)
    start, _ = evaluate(STARTING_MODEL)  # the course's model, trained the same way: the bar to beat
    tracker = Tracker(progress, config.budget * len(config.strategies) * config.searches)
    rows, searchers, curves = search(config, evaluate, tracker, start.accuracy)
    trials = pd.DataFrame(rows)
    arch, best = winner(trials, evaluate)
    X_test, y_test = data.X_test.cpu(), data.y_test.cpu()
    test_accuracy = accuracy(predict(best.model, X_test), y_test)
    metrics = summary(config, trials, evaluate, start, best, test_accuracy, time.perf_counter() - started)
    metrics["starting_model_test_accuracy"] = accuracy(predict(start.model, X_test), y_test)
    # the claim: the mean proposal at equal budget (the best found is shown too, but one draw of it is luck)
    headline = tuple(f"mean_accuracy_{n}" for n in config.strategies if f"mean_accuracy_{n}" in metrics)
    arrays: dict = {"best_so_far": curves}  # {strategy: (searches, budget)}: the best-so-far chart's data
    if "evolution" in searchers:  # the first search's population and policy
        evo = searchers["evolution"]
        arrays["population"] = np.array([m + [-1] * (evo.size - len(m)) for m in evo.members], dtype=int).reshape(
            -1, evo.size
        )  # (evolution candidates, population size): candidate numbers alive, -1 = empty seat
        arrays["parents"] = np.array(evo.parents[: len(evo.members)], dtype=int)
    if "rl" in searchers:
        arrays["controller_probabilities"] = np.stack(searchers["rl"].history)  # (told + 1, total options)
    return Result(
        config=config,
        history=trials,
        metrics=metrics,
        headline=(*headline, "best_test_accuracy")[:4],
        models={"best": best.model},
        arrays=arrays,
        info={"best_architecture": arch},
        stopped=tracker.stopped,
    )
