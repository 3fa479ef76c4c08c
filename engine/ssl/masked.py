"""Masked-pixel prediction: hide patches of each digit and train the encoder to fill them back in.

The predictive family of self-supervised learning (as in masked autoencoders): the data supervises itself.
Each 8x8 digit is cut into sixteen 2x2 patches; a random ``mask_ratio`` of them is blanked, the same encoder f
as SimCLR's reads what is left, and a small decoder predicts all 64 pixels from h. Only the hidden pixels count
in the loss, so the encoder must learn how strokes continue, not copy what it sees.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.contract import Tracker
from engine.core.device import pick
from engine.core.train import fit
from engine.ssl.common import FEATURES, Digits, Monitor
from engine.ssl.config import Config

PATCH = 2  # patches of 2x2 pixels: single pixels are too easy to guess from their neighbours
GRID = 8 // PATCH  # 4x4 patches


def patch_mask(batch: int, ratio: float, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, 8, 8) of 0/1, with exactly round(ratio * 16) of each image's 2x2 patches set to 1 (hidden)."""
    hidden = max(1, round(ratio * GRID * GRID))
    order = torch.rand(batch, GRID * GRID, generator=gen).argsort(1)  # a random patch order per image
    mask = torch.zeros(batch, GRID * GRID).scatter_(1, order[:, :hidden], 1.0)  # (B, 16)
    return F.interpolate(mask.reshape(batch, 1, GRID, GRID), scale_factor=PATCH)  # (B, 1, 8, 8)


def decoder() -> nn.Sequential:
    """h (128) -> 64 pixel values."""
    return nn.Sequential(nn.Linear(FEATURES, 128), nn.ReLU(), nn.Linear(128, 64))


class MaskedPixels(nn.Module):
    """x -> (reconstruction (B, 1, 8, 8), mask (B, 1, 8, 8)) from the visible pixels only."""

    def __init__(self, f: nn.Module, ratio: float, seed: int):
        super().__init__()
        self.encoder, self.decoder, self.ratio = f, decoder(), ratio
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = patch_mask(len(x), self.ratio, self.gen).to(x)  # (B, 1, 8, 8)
        h = self.encoder(x * (1 - mask))  # (B, 128) from the visible pixels
        return self.decoder(h).reshape(x.shape), mask


def masked_mse(output: tuple[torch.Tensor, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden pixels only."""
    reconstruction, mask = output
    return ((reconstruction - x) ** 2 * mask).sum() / mask.sum()


def pretrain(config: Config, data: Digits, monitor: Monitor, f: nn.Module, tracker: Tracker) -> MaskedPixels:
    """Train encoder + decoder to fill in hidden patches of the unlabelled training digits (no labels read)."""
    model = MaskedPixels(f, config.mask_ratio, config.seed).to(pick())
    X = data.X_train.to(pick())
    fit(
        model,
        X,
        X,
        loss_fn=masked_mse,
        epochs=config.epochs,
        lr=config.learning_rate,
        batch_size=config.batch_size,
        tracker=tracker,
        seed=config.seed,
        evaluate=lambda m: monitor.evaluate(m.encoder),
        snapshot=lambda _m, epoch: monitor.snapshot(epoch),
    )
    return model
