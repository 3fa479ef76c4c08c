"""How the data is split across clients: IID, Dirichlet label skew, or pathological shards (NumPy only).

Every function returns one index array per client; together they cover every sample exactly once.
Flower's partitioners (``flwr_datasets.partitioner``) split data the same three ways; a Flower ClientApp
(``flower/``) calls :func:`partition` too, so a real deployment sees the same clients as the simulation.
"""

from __future__ import annotations

import numpy as np

MIN_CLIENT_SIZE = 2  # a client needs a couple of samples to take a gradient step


def client_weights(n_clients: int, unequal: bool, rng: np.random.Generator) -> np.ndarray:
    """Relative client sizes (sum 1): equal, or log-normal (sigma 1: the largest client is often 5-10x the smallest)."""
    w = rng.lognormal(0.0, 1.0, n_clients) if unequal else np.ones(n_clients)
    return w / w.sum()


def split_class(idx: np.ndarray, proportions: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle one class's sample ids and cut them into consecutive pieces of the given proportions."""
    idx = rng.permutation(idx)
    cuts = np.round(np.cumsum(proportions)[:-1] * len(idx)).astype(int)
    return np.split(idx, cuts)


def iid(y: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Every client gets the same mix of classes (each class cut in proportion to the client sizes)."""
    return _by_class(y, len(weights), lambda c: weights, rng)


def dirichlet(y: np.ndarray, weights: np.ndarray, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Label skew: each class is shared among clients with proportions drawn from Dirichlet(alpha, ..., alpha).

    Large alpha gives every client nearly the same share (IID); small alpha hands most of a class to a few
    clients (Hsu et al. 2019; Flower's DirichletPartitioner). Client sizes scale the draw when unequal.
    """

    def proportions(c):
        p = rng.dirichlet(np.full(len(weights), alpha)) * weights
        return p / p.sum()

    return _by_class(y, len(weights), proportions, rng)


def shards(y: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Pathological non-IID (McMahan et al. 2017): each client holds exactly ``k`` classes.

    Classes go round-robin along a shuffled class order, so any k in a row are distinct and every class has a
    holder when n_clients * k >= classes; each class is then cut among its holders in proportion to their sizes.
    """
    classes = np.unique(y)
    order = rng.permutation(classes)
    holds = [order[(i * k + np.arange(k)) % len(classes)] for i in range(len(weights))]  # client -> its classes

    def proportions(c):
        p = np.array([weights[i] if c in holds[i] else 0.0 for i in range(len(weights))])
        return p / p.sum()

    return _by_class(y, len(weights), proportions, rng)


def _by_class(y: np.ndarray, n_clients: int, proportions, rng: np.random.Generator) -> list[np.ndarray]:
    """Cut each class among the clients with ``proportions(c)`` (n_clients,), then gather each client's pieces."""
    pieces: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
    for c in np.unique(y):
        for i, part in enumerate(split_class(np.flatnonzero(y == c), proportions(c), rng)):
            pieces[i].append(part)
    return [np.sort(np.concatenate(p)) for p in pieces]


def top_up(parts: list[np.ndarray], rng: np.random.Generator, minimum: int = MIN_CLIENT_SIZE) -> list[np.ndarray]:
    """Move random samples from the largest client to any client below ``minimum`` (coverage stays exact)."""
    parts = [p.copy() for p in parts]
    for i in range(len(parts)):
        while len(parts[i]) < minimum:
            big = int(np.argmax([len(p) for p in parts]))
            j = rng.integers(len(parts[big]))
            parts[i] = np.sort(np.append(parts[i], parts[big][j]))
            parts[big] = np.delete(parts[big], j)
    return parts


def partition(
    y: np.ndarray,
    n_clients: int,
    scheme: str,
    *,
    alpha: float = 0.5,
    classes_per_client: int = 2,
    unequal: bool = False,
    seed: int = 0,
) -> list[np.ndarray]:
    """Sample ids (into ``y``) per client for ``scheme`` "iid", "dirichlet" or "shards"; each sample once."""
    rng = np.random.default_rng(seed)
    weights = client_weights(n_clients, unequal, rng)
    if scheme == "iid":
        parts = iid(y, weights, rng)
    elif scheme == "dirichlet":
        parts = dirichlet(y, weights, alpha, rng)
    elif scheme == "shards":
        parts = shards(y, weights, min(classes_per_client, len(np.unique(y))), rng)
    else:
        raise ValueError(f"`partition` must be one of iid, dirichlet, shards, but got {scheme!r}.")
    return top_up(parts, rng)


def class_counts(y: np.ndarray, parts: list[np.ndarray], n_classes: int) -> np.ndarray:
    """(n_clients, n_classes) how many samples of each class every client holds (the partition heatmap)."""
    return np.stack([np.bincount(y[p], minlength=n_classes) for p in parts])
