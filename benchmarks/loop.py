"""Training-loop overhead: ``engine.core.train.fit`` against a bare PyTorch loop doing the same training.

Same MLP (xai's quick shape: 30 -> 32 -> 32 -> 2, ReLU), same standardised breast-cancer rows, same initial
weights, same batch order (a seeded ``torch.randperm`` per epoch), Adam, batch 64, one torch thread. The bare
loop is what a person would write by hand: shuffle, forward, loss, zero_grad, backward, step; it keeps no
per-epoch loss. ``fit`` additionally sums the epoch loss, switches train/eval mode and reports each epoch to a
``Tracker`` (that is its job). Repetitions are interleaved (bare, fit, bare, fit, ...) so background load hits
both alike, and medians are compared. The ratio is judged on CPU time (``time.process_time``): with one torch
thread the work runs in this process, and CPU time does not count the moments another process held the core,
which on a shared 2-core machine otherwise swamp a 10 % difference. Wall-clock medians are reported beside it.
"""
from __future__ import annotations

import copy
import statistics
import time


def _data():
    import numpy as np
    import torch
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y.astype(np.int64))


def bare_loop(model, X, y, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    import torch
    from torch import nn

    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(X)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def engine_loop(model, X, y, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    from torch import nn

    from engine.core.contract import Tracker
    from engine.core.train import fit

    fit(model, X, y, loss_fn=nn.CrossEntropyLoss(), epochs=epochs, lr=lr, batch_size=batch_size,
        tracker=Tracker(lambda *_: False, epochs), seed=seed)


def loop_overhead(epochs: int = 40, repeats: int = 15, batch_size: int = 64, lr: float = 0.003) -> dict:
    import torch

    from engine.core.train import mlp

    torch.set_num_threads(1)
    X, y = _data()
    torch.manual_seed(0)
    template = mlp(X.shape[1], 2, [32, 32], "relu", 0.0)
    times = {"bare": [], "fit": []}
    walls = {"bare": [], "fit": []}
    runners = {"bare": bare_loop, "fit": engine_loop}
    for rep in range(repeats + 1):  # the first round warms up autograd and the allocator; it is not counted
        for kind in ("bare", "fit") if rep % 2 else ("fit", "bare"):
            model = copy.deepcopy(template)
            cpu, wall = time.process_time(), time.perf_counter()
            runners[kind](model, X, y, epochs, lr, batch_size, seed=0)
            if rep:
                times[kind].append(time.process_time() - cpu)
                walls[kind].append(time.perf_counter() - wall)
    bare, fit = statistics.median(times["bare"]), statistics.median(times["fit"])
    wall_bare, wall_fit = statistics.median(walls["bare"]), statistics.median(walls["fit"])
    return {"epochs": epochs, "rows": len(X), "batch_size": batch_size, "repeats": repeats,
            "steps": epochs * -(-len(X) // batch_size),
            "bare_cpu_median_s": round(bare, 4), "fit_cpu_median_s": round(fit, 4), "ratio": round(fit / bare, 3),
            "bare_wall_median_s": round(wall_bare, 4), "fit_wall_median_s": round(wall_fit, 4),
            "wall_ratio": round(wall_fit / wall_bare, 3),
            "pairwise_cpu_ratio_median": round(statistics.median(f / b for f, b in zip(times["fit"], times["bare"])), 3),
            "best_cpu_ratio": round(min(times["fit"]) / min(times["bare"]), 3)}
