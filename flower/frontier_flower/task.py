"""Glue between Flower's records and engine.federated: settings, a client's data, weights in and out."""

from __future__ import annotations

import numpy as np
import torch
from flwr.app import ArrayRecord

from engine.core.config import validate
from engine.federated.config import Config
from engine.federated.fedavg import get_weights, initial_model, load_data, set_weights
from engine.federated.partition import partition

N_CLASSES = {"digits": 10, "breast_cancer": 2}
N_FEATURES = {"digits": 64, "breast_cancer": 30}


def engine_config(run_config: dict) -> Config:
    """The engine's Config from the app's run config (the keys in pyproject.toml, overridable per run)."""
    values = {k: run_config[k] for k in Config.model_fields if k in run_config}
    return validate(Config, {**values, "explain_client": 0})


def new_model(config: Config) -> torch.nn.Module:
    """The seeded initial network: the same weights the in-process simulation starts from."""
    return initial_model(config, N_FEATURES[config.dataset], N_CLASSES[config.dataset])


def client_data(config: Config, partition_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This SuperNode's rows: the same split and partition the simulation gives client ``partition_id``."""
    X, y, *_ = load_data(config.dataset, config.seed)
    parts = partition(
        y,
        config.n_clients,
        config.partition,
        alpha=config.alpha,
        classes_per_client=config.classes_per_client,
        unequal=config.unequal_sizes,
        seed=config.seed,
    )
    idx = parts[partition_id]
    return torch.as_tensor(X[idx]), torch.as_tensor(y[idx])


def test_data(config: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """The server's held-out rows (the same the simulation scores on)."""
    _, _, X_test, y_test, *_ = load_data(config.dataset, config.seed)
    return torch.as_tensor(X_test), torch.as_tensor(y_test)


def to_record(model: torch.nn.Module, flat: torch.Tensor) -> ArrayRecord:
    """Flat weights (P,) as the ArrayRecord Flower sends (the model's state dict)."""
    set_weights(model, flat)
    return ArrayRecord(model.state_dict())


def from_record(model: torch.nn.Module, record: ArrayRecord) -> torch.Tensor:
    """An ArrayRecord back to flat weights (P,)."""
    model.load_state_dict(record.to_torch_state_dict())
    return get_weights(model)


def accuracy(model: torch.nn.Module, flat: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> float:
    set_weights(model, flat)
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def sample(nodes: list[int], fraction: float, rng: np.random.Generator) -> list[int]:
    """The SuperNodes asked this round (as the simulation samples clients: a fraction, at least one)."""
    picked = rng.choice(len(nodes), max(1, round(fraction * len(nodes))), replace=False)  # by position: node ids
    return [nodes[i] for i in sorted(picked)]  # are 64-bit unsigned and would lose digits in a NumPy array
