"""SimCLR (Chen et al., 2020): contrastive learning of visual representations, on 8x8 digits.

Each digit in a batch of N becomes two random views (augment.py). The encoder f turns each view into h, a
projection head g (an MLP) into z = g(h), 128 numbers. The NT-Xent loss makes the two views of a digit the most
similar pair among all 2N views, so the encoder learns what survives augmentation (the digit's shape) and
ignores what does not (position, angle, ink). After pretraining the head is dropped and h is the representation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.contract import Tracker
from engine.core.device import pick
from engine.core.train import fit
from engine.ssl.augment import Augmentations, augment
from engine.ssl.common import FEATURES, Digits, Monitor, augmentations
from engine.ssl.config import Config

PROJECTION = 128  # z: the projection head's output, where the loss is computed


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The normalised temperature-scaled cross-entropy loss, as defined in the SimCLR paper.

    z1, z2: (N, d), row k of each is a view of image k. With the 2N views z_1..z_2N and
    s_ij = z_i . z_j / (|z_i| |z_j|) (cosine similarity), the loss of the positive pair (i, j) is
        l(i, j) = -log( exp(s_ij / t) / sum_{k != i} exp(s_ik / t) )
    and the batch loss averages l over both orders of every pair: L = 1/(2N) sum_k [l(2k-1, 2k) + l(2k, 2k-1)].
    """
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, d) unit vectors, so z_i . z_j = s_ij
    logits = z @ z.T / temperature  # (2N, 2N): s_ik / t
    self_pairs = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))  # the sum runs over k != i
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)  # view i's positive is i +- N
    positive = logits[torch.arange(2 * n, device=z.device), partner]  # (2N,) s_ij / t
    return (torch.logsumexp(logits, dim=1) - positive).mean()  # -log(exp(pos) / sum exp), averaged


def projection_head() -> nn.Sequential:
    """g(.): h (128) -> hidden (128) -> z (128), as in the paper (a one-hidden-layer MLP)."""
    return nn.Sequential(nn.Linear(FEATURES, 128), nn.ReLU(), nn.Linear(128, PROJECTION))


class SimCLR(nn.Module):
    """x -> two augmented views -> z for both: (2B, 128), the first B rows the first views."""

    def __init__(self, f: nn.Module, aug: Augmentations, seed: int):
        super().__init__()
        self.encoder, self.head, self.aug = f, projection_head(), aug
        self.gen = torch.Generator().manual_seed(seed)  # the augmentations' own random stream

    def views(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([augment(x, self.aug, self.gen), augment(x, self.aug, self.gen)])  # (2B, 1, 8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.views(x)))  # (2B, 128)


def pretrain(config: Config, data: Digits, monitor: Monitor, f: nn.Module, tracker: Tracker) -> SimCLR:
    """Train encoder + head with NT-Xent on the unlabelled training digits (labels are never read here)."""
    model = SimCLR(f, augmentations(config), config.seed).to(pick())
    X = data.X_train.to(pick())
    unused = torch.zeros(len(X), device=X.device)  # fit's targets; contrastive learning has none

    def loss_fn(z: torch.Tensor, _target: torch.Tensor) -> torch.Tensor:
        half = len(z) // 2
        return nt_xent_loss(z[:half], z[half:], config.temperature)

    fit(
        model,
        X,
        unused,
        loss_fn=loss_fn,
        epochs=config.epochs,
        lr=config.learning_rate,
        batch_size=config.batch_size,
        tracker=tracker,
        seed=config.seed,
        evaluate=lambda m: monitor.evaluate(m.encoder),
        snapshot=lambda _m, epoch: monitor.snapshot(epoch),
    )
    return model
