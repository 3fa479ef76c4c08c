"""Training-loop overhead: ``engine.core.train.fit`` against a bare PyTorch loop doing the same training.

Same MLP (xai's quick shape: 30 -> 32 -> 32 -> 2, ReLU), same standardised breast-cancer rows, same initial
weights, same batch order (a seeded ``torch.randperm`` per epoch), Adam, batch 64, one torch thread. The bare
loop is what a person would write by hand: shuffle, forward, loss, zero_grad, backward, step; it keeps no
per-epoch loss. ``fit`` additionally sums the epoch loss, switches train/eval mode and reports each epoch to a
``Tracker`` (that is its job). Repetitions are interleaved (bare, fit, bare, fit, ...) so background load hits
both alike, and medians are compared. The ratio is judged on CPU time (``time.process_time``): with one torch
thread the work runs in this process, and CPU time does not count the moments another process held the core,
which on a shared 2-core machine otherwise swamp a 10 % difference. Wall-clock medians are reported beside it.

``ssl_loop_overhead`` does the same for the self-supervised page's SimCLR pretraining (issue 14): the engine's
model (encoder + projection head + the batch's two augmented views) and ``nt_xent_loss`` on the digits' training
pool, batch 256, Adam, trained by ``fit`` and by a hand-written loop. Both get the same initial weights, batch
order and augmentation stream. The page's per-epoch k-NN monitor and the probes afterwards are the same code
whichever loop trains, so they are left out: the ratio is the loop's own cost, not diluted by shared work.
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


def _bare(model, n: int, batch_loss, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    """The hand-written loop: each epoch a seeded shuffle of the ``n`` rows, then per batch of row indices
    ``batch_loss(idx)`` (forward and loss), zero_grad, backward, step."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            loss = batch_loss(order[start : start + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def bare_loop(model, X, y, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    from torch import nn

    loss_fn = nn.CrossEntropyLoss()
    _bare(model, len(X), lambda idx: loss_fn(model(X[idx]), y[idx]), epochs, lr, batch_size, seed)


def engine_loop(model, X, y, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    from torch import nn

    from engine.core.contract import Tracker
    from engine.core.train import fit

    fit(
        model,
        X,
        y,
        loss_fn=nn.CrossEntropyLoss(),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        tracker=Tracker(lambda *_: False, epochs),
        seed=seed,
    )


def _interleaved(runners: dict, make_model, args: tuple, repeats: int) -> dict:
    """Median CPU and wall times of ``runners`` (bare, fit) on fresh copies of one model, interleaved."""
    times = {kind: [] for kind in runners}
    walls = {kind: [] for kind in runners}
    for rep in range(repeats + 1):  # the first round warms up autograd and the allocator; it is not counted
        for kind in ("bare", "fit") if rep % 2 else ("fit", "bare"):
            model = make_model()
            cpu, wall = time.process_time(), time.perf_counter()
            runners[kind](model, *args)
            if rep:
                times[kind].append(time.process_time() - cpu)
                walls[kind].append(time.perf_counter() - wall)
    bare, fit = statistics.median(times["bare"]), statistics.median(times["fit"])
    wall_bare, wall_fit = statistics.median(walls["bare"]), statistics.median(walls["fit"])
    return {
        "repeats": repeats,
        "bare_cpu_median_s": round(bare, 4),
        "fit_cpu_median_s": round(fit, 4),
        "ratio": round(fit / bare, 3),
        "bare_wall_median_s": round(wall_bare, 4),
        "fit_wall_median_s": round(wall_fit, 4),
        "wall_ratio": round(wall_fit / wall_bare, 3),
        "pairwise_cpu_ratio_median": round(statistics.median(f / b for f, b in zip(times["fit"], times["bare"])), 3),
        "best_cpu_ratio": round(min(times["fit"]) / min(times["bare"]), 3),
    }


def loop_overhead(epochs: int = 40, repeats: int = 15, batch_size: int = 64, lr: float = 0.003) -> dict:
    import torch

    from engine.core.train import mlp

    torch.set_num_threads(1)
    X, y = _data()
    torch.manual_seed(0)
    template = mlp(X.shape[1], 2, [32, 32], "relu", 0.0)
    timed = _interleaved(
        {"bare": bare_loop, "fit": engine_loop},
        lambda: copy.deepcopy(template),
        (X, y, epochs, lr, batch_size, 0),
        repeats,
    )
    return {
        "work": "MLP 30-32-32-2 on breast cancer",
        "epochs": epochs,
        "rows": len(X),
        "batch_size": batch_size,
        "steps": epochs * -(-len(X) // batch_size),
        **timed,
    }


def _simclr_parts(seed: int = 0):
    """The SSL quick preset's SimCLR model factory, its unlabelled training digits and its loss."""
    import torch

    from engine.ssl.common import augmentations, encoder, load_digits
    from engine.ssl.config import PRESETS, Config
    from engine.ssl.simclr import SimCLR, nt_xent_loss

    config = Config(**PRESETS["quick"], seed=seed)
    X = load_digits(seed).X_train  # (n, 1, 8, 8)

    def make_model():
        torch.manual_seed(seed)  # the same initial weights and augmentation stream for both loops
        return SimCLR(encoder(), augmentations(config), seed)

    def loss_fn(z, _target=None):
        half = len(z) // 2
        return nt_xent_loss(z[:half], z[half:], config.temperature)

    return config, X, make_model, loss_fn


def bare_simclr_loop(model, X, loss_fn, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    _bare(model, len(X), lambda idx: loss_fn(model(X[idx])), epochs, lr, batch_size, seed)


def engine_simclr_loop(model, X, loss_fn, epochs: int, lr: float, batch_size: int, seed: int) -> None:
    import torch

    from engine.core.contract import Tracker
    from engine.core.train import fit

    fit(
        model,
        X,
        torch.zeros(len(X)),
        loss_fn=loss_fn,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        tracker=Tracker(lambda *_: False, epochs),
        seed=seed,
    )


def ssl_loop_overhead(epochs: int = 20, repeats: int = 5) -> dict:
    """fit vs a bare loop on the SSL quick preset's SimCLR pretraining (its 20 epochs on the digits' training pool)."""
    import torch

    torch.set_num_threads(1)
    config, X, make_model, loss_fn = _simclr_parts()
    timed = _interleaved(
        {"bare": bare_simclr_loop, "fit": engine_simclr_loop},
        make_model,
        (X, loss_fn, epochs, config.learning_rate, config.batch_size, 0),
        repeats,
    )
    return {
        "work": "SimCLR pretraining (SSL quick preset)",
        "epochs": epochs,
        "rows": len(X),
        "batch_size": config.batch_size,
        "steps": epochs * -(-len(X) // config.batch_size),
        **timed,
    }
