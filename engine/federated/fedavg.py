"""FedAvg (McMahan et al. 2017) and FedProx (Li et al. 2020) on clients simulated in one process.

Each round the server samples a fraction of the clients and sends them the global model; each client runs a few
epochs of plain SGD on its own data (FedProx adds the proximal pull ``mu/2 ||w - w_global||^2``) and sends back
its update; the server averages the updates weighted by client data size (optionally clipped and noised: DP).
Beside it, on the same data and from the same initial weights: one centralised model (all data pooled) and one
local-only model per client, each trained for the same epochs per round, so every curve is comparable per round.
With one client and full participation all three are the same learner, step for step.

Everything runs on the CPU: the network is tiny and the clients train one after another in small steps, where a
GPU's launch overhead costs more than it saves.
"""

from __future__ import annotations

import time
from copy import deepcopy as copy_module
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.data import digits, sklearn_table, split
from engine.core.device import seeded
from engine.core.train import count_parameters, mlp, predict
from engine.federated.config import Config
from engine.federated.partition import class_counts, partition

BYTES_PER_WEIGHT = 4  # float32 on the wire


# --- the data as the clients and the server hold it -----------------------------------------------------------


@dataclass
class Federation:
    X_train: np.ndarray  # (n, d) float32, every client's rows
    y_train: np.ndarray  # (n,)
    X_test: np.ndarray  # (m, d) the server's held-out rows, never trained on
    y_test: np.ndarray
    parts: list[np.ndarray]  # client -> its row ids into X_train
    counts: np.ndarray  # (n_clients, n_classes)
    feature_names: list[str]
    class_names: list[str]
    image_shape: tuple[int, ...] | None  # (8, 8) for digits


def load_data(dataset: str, seed: int) -> tuple:
    """Features (scaled), labels, a stratified 75/25 train/test split, names, and the image shape if any."""
    if dataset == "digits":
        images, y = digits()  # (1797, 8, 8) in [0, 1]: a known range, so no statistics need pooling
        X, shape = images.reshape(len(y), -1), (8, 8)  # (1797, 64)
        names, classes = [f"pixel {r},{c}" for r in range(8) for c in range(8)], [str(d) for d in range(10)]
    else:
        table = sklearn_table(dataset)
        X, y, names, classes, shape = table.X, table.y.astype(np.int64), table.feature_names, table.classes(), None
    train, test = split(len(y), 0.25, seed, y)
    if shape is None:  # standardise; a real federation would sum per-feature moments in one secure round
        mean, std = X[train].mean(0), X[train].std(0) + 1e-8
        X = (X - mean) / std
    return X[train].astype(np.float32), y[train], X[test].astype(np.float32), y[test], names, classes, shape


def federation(config: Config) -> Federation:
    X_tr, y_tr, X_te, y_te, names, classes, shape = load_data(config.dataset, config.seed)
    parts = partition(
        y_tr,
        config.n_clients,
        config.partition,
        alpha=config.alpha,
        classes_per_client=config.classes_per_client,
        unequal=config.unequal_sizes,
        seed=config.seed,
    )
    return Federation(X_tr, y_tr, X_te, y_te, parts, class_counts(y_tr, parts, len(classes)), names, classes, shape)


# --- one client's training, and the server's aggregation (the Flower app reuses both) --------------------------


def local_sgd(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    gen: torch.Generator,
    anchor: list[torch.Tensor] | None = None,
    mu: float = 0.0,
    steps: int | None = None,
) -> float:
    """Plain mini-batch SGD on tensors (no DataLoader); returns the mean loss of the last epoch.

    ``anchor`` (the global weights) with ``mu > 0`` adds FedProx's proximal term, whose gradient is
    ``mu * (w - w_global)``. The same function trains clients, the centralised and the local-only baselines.
    ``steps``: stop after that many steps (a straggler's partial work), else every step of every epoch.
    """
    params: list[torch.Tensor] = list(model.parameters())
    n = len(X)
    left = steps if steps is not None else epochs * -(-n // batch_size)
    model.train()
    for _ in range(epochs):
        if left <= 0:
            break
        order = torch.randperm(n, generator=gen)
        total, seen = torch.zeros(()), 0
        for start in range(0, n, batch_size):
            if left <= 0:
                break
            left -= 1
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                if anchor is not None and mu > 0:
                    torch._foreach_add_(grads, torch._foreach_sub(params, anchor), alpha=mu)
                torch._foreach_add_(params, grads, alpha=-lr)
            total, seen = total + loss.detach() * len(idx), seen + len(idx)
    return float(total / max(seen, 1))


def get_weights(model: nn.Module) -> torch.Tensor:
    """All parameters as one flat vector (P,)."""
    return nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def set_weights(model: nn.Module, flat: torch.Tensor) -> None:
    """Copy a flat vector (P,) into the parameters (copied: training must not write into ``flat``)."""
    with torch.no_grad():
        start = 0
        for p in model.parameters():
            p.copy_(flat[start : start + p.numel()].view_as(p))
            start += p.numel()


def client_generator(seed: int, client: int, round_: int) -> torch.Generator:
    """The shuffling RNG of ``client`` in round ``round_``: derived, not stored, so a real client process that
    starts fresh for every round (as Flower's do) shuffles exactly as the simulated client."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, client, round_]).generate_state(1)[0]))


def client_update(
    model: nn.Module,
    global_w: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    config: Config,
    gen: torch.Generator,
    share: float = 1.0,
) -> tuple[torch.Tensor, float]:
    """Start from the global weights, train locally, return the update (P,) and the client's training loss.
    ``share`` < 1: a straggler, which gets through only that share of its local steps (at least one)."""
    set_weights(model, global_w)
    steps = config.local_epochs * -(-len(y) // config.batch_size)
    anchor = [p.detach().clone() for p in model.parameters()] if config.algorithm == "fedprox" else None
    loss = local_sgd(
        model,
        X,
        y,
        epochs=config.local_epochs,
        lr=config.learning_rate,
        batch_size=config.batch_size,
        gen=gen,
        anchor=anchor,
        mu=config.mu,
        steps=max(1, round(share * steps)),
    )
    return get_weights(model) - global_w, loss


def clip(update: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale an update down to L2 norm ``max_norm`` if it is longer (DP's bound on one client's influence)."""
    return update * min(1.0, max_norm / (float(update.norm()) + 1e-12))


def aggregate(updates: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """FedAvg: the average of the updates (k, P) weighted by the clients' data sizes (k,) -> (P,)."""
    w = sizes.to(updates.dtype) / sizes.sum()
    return (w[:, None] * updates).sum(0)


def dp_noise_std(sizes: torch.Tensor, clip_norm: float, noise_multiplier: float) -> float:
    """Noise std for the weighted average: sigma x its sensitivity (one clipped update moves it by at most
    ``clip_norm * largest weight``)."""
    return noise_multiplier * clip_norm * float(sizes.max() / sizes.sum())


def drift(updates: torch.Tensor, average: torch.Tensor) -> torch.Tensor:
    """Each client's distance from the averaged update, relative to the average's length (k,)."""
    return (updates - average).norm(dim=1) / (average.norm() + 1e-12)


def server_update(
    global_w: torch.Tensor, updates: torch.Tensor, sizes: torch.Tensor, config: Config, noise_gen: torch.Generator
) -> tuple[torch.Tensor, dict]:
    """The server's step, given the updates (k, P) that came back and the clients' data sizes (k,): (with DP,
    clip each update), average weighted by size, (with DP, add Gaussian noise), apply. Returns the new global
    weights and the drift (k,), the average's length and the noise std of this round."""
    if config.dp:
        updates = torch.stack([clip(u, config.clip_norm) for u in updates])
    average = aggregate(updates, sizes)  # (P,)
    info: dict[str, Any] = {
        "drift": drift(updates, average).numpy(),
        "update_norm": float(average.norm()),
        "noise_std": 0.0,
    }
    if config.dp:
        info["noise_std"] = dp_noise_std(sizes, config.clip_norm, config.noise_multiplier)
        average = average + info["noise_std"] * torch.randn(average.shape, generator=noise_gen)
    return global_w + average, info


# --- evaluation --------------------------------------------------------------------------------------------------


def class_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, n_classes: int) -> np.ndarray:
    """Test accuracy per true class (n_classes,)."""
    right = (predict(model, X).argmax(1) == y).double()
    hits = torch.zeros(n_classes, dtype=torch.float64).index_add_(0, y, right)
    return (hits / torch.bincount(y, minlength=n_classes).clamp_min(1)).numpy()


def mix_accuracy(per_class: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Accuracy on each client's own mix of classes (n_clients,): per-class test accuracy weighted by what the
    client holds, i.e. the expected accuracy on fresh samples drawn like that client's data."""
    return counts @ per_class / counts.sum(1)


def overall(per_class: np.ndarray, y_test: np.ndarray) -> float:
    return float(per_class @ np.bincount(y_test, minlength=len(per_class)) / len(y_test))


# --- the run -----------------------------------------------------------------------------------------------------


@dataclass
class Learners:
    """Everything that trains: the federation's worker model and global weights, and the two baselines."""

    worker: nn.Module  # one module the simulated clients take turns on
    global_w: torch.Tensor  # (P,)
    central: nn.Module
    local: list[nn.Module]


def initial_model(config: Config, n_in: int, n_out: int) -> nn.Module:
    """The network every learner starts from (seeded without touching the global RNG); 2 hidden layers."""
    with seeded(config.seed):
        return mlp(n_in, n_out, [config.width, config.width])


def learners(config: Config, n_in: int, n_out: int) -> Learners:
    worker = initial_model(config, n_in, n_out)
    return Learners(
        worker, get_weights(worker), copy_module(worker), [copy_module(worker) for _ in range(config.n_clients)]
    )


def federated_round(
    config: Config,
    fleet: Learners,
    data: list[tuple[torch.Tensor, torch.Tensor]],
    r: int,
    rng: np.random.Generator,
    noise_gen: torch.Generator,
) -> dict:
    """Round ``r``: sample clients, train them, aggregate what comes back. Returns the round's numbers (status
    per client: 0 not asked, 1 trained and sent its update, 2 asked but dropped out or, with FedAvg, too slow to
    finish, 3 a straggler whose partial work FedProx kept)."""
    n = config.n_clients
    asked = rng.choice(n, max(1, round(config.fraction * n)), replace=False)
    done = [int(k) for k in np.sort(asked) if rng.random() >= config.client_dropout]
    share = straggler_shares(config, rng, done)  # client -> share of its local steps it gets through
    status = np.zeros(n, dtype=int)
    status[asked] = 2
    if config.algorithm == "fedavg":  # FedAvg waits for full work only: a straggler's update is dropped
        done = [k for k in done if share[k] == 1.0]
    status[done] = [1 if share[k] == 1.0 else 3 for k in done]
    out: dict[str, Any] = {
        "status": status,
        "drift": np.full(n, np.nan),
        "loss": float("nan"),
        "noise_std": 0.0,
        "update_norm": 0.0,
        "bytes": BYTES_PER_WEIGHT * len(fleet.global_w) * (len(asked) + len(done)),
    }
    if not done:  # every asked client dropped out: the global model waits for the next round
        return out
    results = [
        client_update(fleet.worker, fleet.global_w, *data[k], config, client_generator(config.seed, k, r), share[k])
        for k in done
    ]
    updates = torch.stack([u for u, _ in results])  # (k, P)
    sizes = torch.tensor([len(data[k][1]) for k in done], dtype=torch.float32)  # (k,)
    fleet.global_w, info = server_update(fleet.global_w, updates, sizes, config, noise_gen)
    out["drift"][done] = info.pop("drift")
    out.update(info, loss=float(np.average([loss for _, loss in results], weights=sizes.numpy())))
    return out


def straggler_shares(config: Config, rng: np.random.Generator, done: list[int]) -> dict[int, float]:
    """Which of the clients that answer are stragglers (each with chance ``config.stragglers``) and the share of
    their local steps they get through (uniform between none and all, as Li et al. 2020 draw their epochs); 1.0
    for the others. The draws do not depend on the algorithm, so FedAvg and FedProx see the same stragglers."""
    if config.stragglers == 0:
        return dict.fromkeys(done, 1.0)  # nothing drawn: runs without stragglers repeat exactly as before
    slow, part = rng.random(len(done)) < config.stragglers, rng.random(len(done))
    return {k: float(p) if s else 1.0 for k, s, p in zip(done, slow, part)}


def train_baselines(
    config: Config,
    fleet: Learners,
    X: torch.Tensor,
    y: torch.Tensor,
    data: list[tuple[torch.Tensor, torch.Tensor]],
    r: int,
) -> None:
    """Round ``r``'s epochs for the centralised model (all rows) and every local-only model. Learner k shuffles
    like client k (the centralised one like client 0), so one client with full participation, FedAvg and
    centralised training are the same learner step for step."""
    kw: dict[str, Any] = dict(epochs=config.local_epochs, lr=config.learning_rate, batch_size=config.batch_size)
    local_sgd(fleet.central, X, y, gen=client_generator(config.seed, 0, r), **kw)
    for k, (Xk, yk) in enumerate(data):
        local_sgd(fleet.local[k], Xk, yk, gen=client_generator(config.seed, k, r), **kw)


@dataclass
class RoundLog:
    """Per-round, per-client numbers kept for the figures and the replay (rounds grow as they run)."""

    client_accuracy: list  # per round: the global model's accuracy on each client's mix (n_clients,)
    status: list  # per round: 0 not asked, 1 trained, 2 dropped out (n_clients,)
    drift: list  # per round: relative drift of each trained client (n_clients,), NaN elsewhere
    bytes: list  # per round: bytes sent both ways
    update_norm: list  # per round: length of the averaged update (before any DP noise)
    noise_std: float = 0.0
    seconds: float = 0.0  # the federated rounds alone
    fedavg: dict | None = None  # with FedProx: plain FedAvg's last numbers on the same clients (see Twin)


def evaluate(fleet: Learners, X: torch.Tensor, y: torch.Tensor, counts: np.ndarray) -> dict:
    """Per-class test accuracy of the global, centralised and local-only models, and what follows from it."""
    n_classes = counts.shape[1]
    set_weights(fleet.worker, fleet.global_w)
    glob = class_accuracy(fleet.worker, X, y, n_classes)
    local = np.stack([class_accuracy(m, X, y, n_classes) for m in fleet.local])  # (n_clients, n_classes)
    yn = y.numpy()
    return {
        "global": overall(glob, yn),
        "central": overall(class_accuracy(fleet.central, X, y, n_classes), yn),
        "clients": mix_accuracy(glob, counts),  # (n_clients,)
        "local": np.array([overall(a, yn) for a in local]),  # each local model on every class
        "local_own": np.einsum("kc,kc->k", local, counts) / counts.sum(1),
    }  # each on its own mix


@dataclass
class Twin:
    """Plain FedAvg beside a FedProx run: the same clients, the same starting weights and the same draws (who is
    asked, who drops out, who is slow: its own generators, seeded alike), its own global weights."""

    config: Config
    fleet: Learners
    rng: np.random.Generator
    noise_gen: torch.Generator


def fedavg_twin(config: Config, fleet: Learners) -> Twin | None:
    if config.algorithm != "fedprox" or not config.compare_fedavg:
        return None
    twin = Learners(fleet.worker, fleet.global_w.clone(), fleet.central, fleet.local)  # only the weights are its own
    rng, noise_gen = np.random.default_rng(config.seed), torch.Generator().manual_seed(config.seed + 1)
    return Twin(config.model_copy(update={"algorithm": "fedavg"}), twin, rng, noise_gen)


def twin_round(twin: Twin, data: list, r: int, X_test: torch.Tensor, y_test: torch.Tensor, counts: np.ndarray) -> dict:
    """Plain FedAvg's round ``r`` and its global model's test accuracy, overall and for the worst-served client."""
    federated_round(twin.config, twin.fleet, data, r, twin.rng, twin.noise_gen)
    set_weights(twin.fleet.worker, twin.fleet.global_w)
    per_class = class_accuracy(twin.fleet.worker, X_test, y_test, counts.shape[1])
    return {
        "fedavg_global_accuracy": overall(per_class, y_test.numpy()),
        "fedavg_worst_client_accuracy": float(mix_accuracy(per_class, counts).min()),
    }


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the federation round by round beside its centralised and local-only baselines."""
    fed = federation(config)
    X, y = torch.as_tensor(fed.X_train), torch.as_tensor(fed.y_train)  # (n, d), (n,)
    X_test, y_test = torch.as_tensor(fed.X_test), torch.as_tensor(fed.y_test)
    data = [(X[p], y[p]) for p in fed.parts]  # each client's own tensors, sliced once
    fleet = learners(config, X.shape[1], len(fed.class_names))
    rng, noise_gen = np.random.default_rng(config.seed), torch.Generator().manual_seed(config.seed + 1)
    log, tracker = RoundLog([], [], [], [], []), Tracker(progress, config.rounds)
    twin = fedavg_twin(config, fleet)
    for r in range(1, config.rounds + 1):
        started = time.perf_counter()
        out = federated_round(config, fleet, data, r, rng, noise_gen)
        log.seconds += time.perf_counter() - started
        train_baselines(config, fleet, X, y, data, r)
        ev = evaluate(fleet, X_test, y_test, fed.counts)
        log.client_accuracy.append(ev["clients"])
        log.status.append(out["status"])
        log.drift.append(out["drift"])
        log.bytes.append(out["bytes"])
        log.update_norm.append(out["update_norm"])
        log.noise_std = out["noise_std"] or log.noise_std
        row = {
            "global_accuracy": ev["global"],
            "centralized_accuracy": ev["central"],
            "local_only_accuracy_mean": ev["local"].mean(),
            "worst_client_accuracy": ev["clients"].min(),
        }
        if np.isfinite(out["loss"]):  # no client sent an update: no loss and no drift this round
            row.update(loss=out["loss"], client_drift=float(np.nanmean(out["drift"])))
        if twin is not None:
            log.fedavg = twin_round(twin, data, r, X_test, y_test, fed.counts)
            row.update(log.fedavg)
        live = {
            "round": r,
            "client_accuracy": np.round(ev["clients"], 4).tolist(),
            "status": out["status"].tolist(),
            "megabytes": sum(log.bytes) / 1e6,
        }
        if tracker.step(r, live=live, **row):
            break
    return package(config, fed, fleet, log, ev, tracker)


def _metrics(fleet: Learners, log: RoundLog, ev: dict, drifts: np.ndarray) -> dict[str, float]:
    """The run's numbers: the global model's and the baselines' accuracies (``ev``), and what the rounds cost."""
    finite = [np.nanmean(d) for d in drifts if np.isfinite(d).any()]
    return {
        "global_accuracy": ev["global"],
        "centralized_accuracy": ev["central"],
        "local_only_accuracy_mean": float(ev["local"].mean()),
        "worst_client_accuracy": float(ev["clients"].min()),
        "local_only_own_accuracy_mean": float(ev["local_own"].mean()),
        "rounds": len(log.bytes),
        "bytes_communicated": int(sum(log.bytes)),
        "client_drift": float(finite[-1]) if finite else 0.0,
        "updates_received": int(np.isin(np.array(log.status), (1, 3)).sum()),  # full work, or a straggler's part
        "parameters": count_parameters(fleet.worker),
        "federated_seconds": log.seconds,
    }


def package(config: Config, fed: Federation, fleet: Learners, log: RoundLog, ev: dict, tracker: Tracker) -> Result:
    drifts = np.array(log.drift)  # (rounds, n_clients)
    metrics = _metrics(fleet, log, ev, drifts)
    if config.dp:
        metrics["dp_noise_std"] = log.noise_std
    metrics.update(log.fedavg or {})
    set_weights(fleet.worker, fleet.global_w)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(fed.y_test))  # SHAP rows and background: the server's held-out samples
    n = min(config.explain_rows, len(order) - 30)  # keep 30 rows apart as SHAP's background
    rows, background = order[:n], order[n : n + 30]
    k = config.explain_client
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        stopped=tracker.stopped,
        headline=(  # at most 4 tiles: with plain FedAvg beside FedProx, its accuracy takes local-only's place
            ("global_accuracy", "fedavg_global_accuracy", "worst_client_accuracy", "centralized_accuracy")
            if log.fedavg
            else ("global_accuracy", "centralized_accuracy", "local_only_accuracy_mean", "worst_client_accuracy")
        ),
        models={
            "global": fleet.worker.eval(),
            "centralized": fleet.central.eval(),
            f"local_{k}": fleet.local[k].eval(),
        },
        arrays={
            "counts": fed.counts,
            "client_accuracy": np.array(log.client_accuracy),
            "status": np.array(log.status),
            "drift": drifts,
            "bytes": np.array(log.bytes),
            "update_norm": np.array(log.update_norm),
            "local_accuracy": ev["local"],
            "local_own_accuracy": ev["local_own"],
            "X_explain": fed.X_test[rows],
            "y_explain": fed.y_test[rows],
            "background": fed.X_test[background],
        },
        info={
            "feature_names": fed.feature_names,
            "class_names": fed.class_names,
            "image_shape": list(fed.image_shape) if fed.image_shape else None,
            "n_train": len(fed.y_train),
            "n_test": len(fed.y_test),
        },
    )
