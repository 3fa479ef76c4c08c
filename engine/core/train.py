"""The shared supervised training loop: mini-batches, Adam, live progress, stop, NaN guard.

Kept deliberately close to a bare PyTorch loop (tensors indexed in place, no DataLoader) so its overhead
stays within a few percent of hand-written code; ``benchmarks`` measures the ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

ModelT = TypeVar("ModelT", bound=nn.Module)


class StepTracker(Protocol):
    """What ``fit`` reports each epoch to: a :class:`engine.core.contract.Tracker`, or a stand-in that forwards
    to one (e.g. a phase of a longer run)."""

    def step(self, step: int, live: Any = None, **metrics: float) -> bool: ...


def fit(
    model: ModelT,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: Callable,
    epochs: int,
    lr: float,
    batch_size: int,
    tracker: StepTracker,
    evaluate: Callable[[ModelT], dict] | None = None,
    weight_decay: float = 0.0,
    params=None,
    seed: int = 0,
    optimizer: str = "adam",
    snapshot: Callable[[ModelT, int], object] | None = None,
    clip_grad_norm: float | None = None,
) -> bool:
    """Train ``model`` on (X, y); after each epoch report ``loss`` plus ``evaluate(model)`` to the tracker.

    For every supervised model trained on tensors that fit in memory (tables, images, token sequences):
    ``loss_fn(model(X[idx]), y[idx])`` per mini-batch. ``evaluate`` returns a dict of float metrics;
    ``snapshot(model, epoch)`` returns the live-figure snapshot for that epoch (or None).

    ``optimizer``: "adam" or "sgd" (with momentum 0.9). ``clip_grad_norm``: before each step, scale each
    parameter group's gradient down to at most this norm (steadies transformers; with one group per model in
    ``params``, each model of a :class:`SideBySide` is clipped on its own). Returns True when the person stopped
    the run.
    Raises ``Diverged`` when the loss is NaN or infinite.
    """
    params = params if params is not None else model.parameters()
    opt: torch.optim.Optimizer
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
            idx = order[start : start + batch_size]
            loss = loss_fn(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                for group in opt.param_groups:
                    nn.utils.clip_grad_norm_(group["params"], clip_grad_norm)
            opt.step()
            total += loss.detach() * len(idx)
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model) if evaluate else {}
            live = snapshot(model, epoch) if snapshot else None
        if tracker.step(epoch, live=live, loss=(total / n).item(), **metrics):
            return True
    return False


def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Model outputs for X in eval mode without gradients."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(1) == y).float().mean().item()


def r2(pred: torch.Tensor, y: torch.Tensor) -> float:
    ss_res = ((y - pred) ** 2).sum()
    ss_tot = ((y - y.mean()) ** 2).sum().clamp_min(1e-12)
    return (1 - ss_res / ss_tot).item()


def mlp(n_in: int, n_out: int, hidden: list[int], activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """A plain MLP whose activations are separate modules (SHAP's DeepExplainer stays exact on it)."""
    acts = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "gelu": nn.GELU,
        "leaky_relu": nn.LeakyReLU,
        "elu": nn.ELU,
        "sigmoid": nn.Sigmoid,
    }
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


class SideBySide(nn.Module):
    """Several models trained by one :func:`fit` on the same mini-batches: a batch in, (M, B, C) outputs out.

    ``inputs`` (optional) maps a model's name to a function that picks that model's own input from the batch
    (e.g. its columns of one tensor, or its rows of a precomputed tensor when the batch holds row numbers);
    by default every model sees the whole batch. Their parameters are disjoint and Adam (or SGD) updates
    every parameter from its own gradient, so training them together with :class:`SummedLoss` trains each
    exactly as its own optimiser would; per-model learning rates go into ``fit``'s ``params`` groups. To score
    one model afterwards, call :func:`predict` on it (``side.models[name]``).
    """

    def __init__(self, models: dict[str, nn.Module], inputs: dict[str, Callable] | None = None):
        super().__init__()
        self.models = nn.ModuleDict(models)
        self.inputs = dict(inputs or {})

    def forward(self, batch):
        return torch.stack(
            [m(self.inputs[name](batch) if name in self.inputs else batch) for name, m in self.models.items()]
        )  # (M, B, C)


class SummedLoss:
    """``fit``'s loss for :class:`SideBySide`: the sum of each model's ``loss_fn`` (cross-entropy by default).

    ``epoch_means()`` returns each model's mean training loss since the last call (by name) and starts afresh:
    call it from ``fit``'s ``evaluate`` for per-model learning curves.
    """

    def __init__(self, names: list[str], loss_fn: Callable = nn.functional.cross_entropy):
        self.names, self.loss_fn = list(names), loss_fn
        self.totals: torch.Tensor | float = 0.0  # (M,) summed on the device (no sync per batch)
        self.count = 0

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        losses = torch.stack([self.loss_fn(out, y) for out in outputs])  # (M,) one loss per model
        self.totals = self.totals + losses.detach() * len(y)
        self.count += len(y)
        return losses.sum()

    def epoch_means(self) -> dict[str, float]:
        totals = torch.as_tensor(self.totals, dtype=torch.float32).expand(len(self.names))
        means = dict(zip(self.names, (totals / max(self.count, 1)).tolist()))
        self.totals, self.count = 0.0, 0
        return means
