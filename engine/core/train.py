"""The shared supervised training loop: mini-batches, Adam, live progress, stop, NaN guard.

Kept deliberately close to a bare PyTorch loop (tensors indexed in place, no DataLoader) so its overhead
stays within a few percent of hand-written code; ``benchmarks`` measures the ratio.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from engine.core.contract import Tracker


def fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, loss_fn: Callable, epochs: int, lr: float,
        batch_size: int, tracker: Tracker, evaluate: Callable[[nn.Module], dict] | None = None,
        weight_decay: float = 0.0, params=None, seed: int = 0, optimizer: str = "adam") -> bool:
    """Train ``model`` on (X, y); after each epoch report ``loss`` plus ``evaluate(model)`` to the tracker.

    ``evaluate`` returns a dict of metrics; its optional ``"live"`` entry becomes the tracker's live snapshot.

    ``optimizer``: "adam" or "sgd" (with momentum 0.9). Returns True when the person stopped the run.
    Raises ``Diverged`` when the loss is NaN or infinite.
    """
    params = params if params is not None else model.parameters()
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = len(X)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen).to(X.device)
        total = torch.zeros((), device=X.device)  # summed on the device: no sync per batch
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model) if evaluate else {}
        if tracker.step(epoch, loss=(total / n).item(), **metrics):
            return True
    return False


def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Model outputs for X in eval mode without gradients."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(1) == y).float().mean().item()


def r2(pred: torch.Tensor, y: torch.Tensor) -> float:
    ss_res = ((y - pred) ** 2).sum()
    ss_tot = ((y - y.mean()) ** 2).sum().clamp_min(1e-12)
    return (1 - ss_res / ss_tot).item()


def mlp(n_in: int, n_out: int, hidden: list[int], activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """A plain MLP whose activations are separate modules (SHAP's DeepExplainer stays exact on it)."""
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
            "sigmoid": nn.Sigmoid}
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), acts[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module, trainable: bool | None = None) -> int:
    return sum(p.numel() for p in model.parameters() if trainable is None or p.requires_grad == trainable)
