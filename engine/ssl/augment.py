"""Random augmentations of 8x8 digit batches, written in torch so a whole batch is augmented in one go.

Every function takes images ``x`` of shape (B, 1, 8, 8) with values in [0, 1] and returns the same shape and
range, drawing its randomness from the ``torch.Generator`` it is given (a seeded run is reproducible).
A strength of 0 switches an augmentation off. The order follows SimCLR's: geometry (crop, shift, rotation),
then contrast, blur, noise and erasing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SIDE = 8  # the digits are 8x8 pixels
PIXEL = 2 / SIDE  # one pixel in affine_grid's normalised coordinates (-1..1 across the image)


@dataclass(frozen=True)
class Augmentations:
    """How strongly each augmentation is applied (0 switches it off)."""

    crop: float = 0.0  # zoom into a window covering at least (1 - crop) of the image's area
    shift: int = 0  # move the digit up to this many whole pixels in x and y
    rotation: float = 0.0  # rotate by up to this many degrees either way
    contrast: float = 0.0  # scale the ink's intensity by a random factor in [1 - contrast, 1]
    blur: float = 0.0  # probability of a Gaussian blur (sigma 0.5-1 pixel)
    noise: float = 0.0  # standard deviation of added Gaussian pixel noise
    erasing: float = 0.0  # probability of blanking a random 2-4 pixel rectangle

    @property
    def any(self) -> bool:
        return any((self.crop, self.shift, self.rotation, self.contrast, self.blur, self.noise, self.erasing))


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def affine(x: torch.Tensor, crop: float, shift: int, rotation: float, gen: torch.Generator) -> torch.Tensor:
    """Random resized crop + whole-pixel shift + rotation as one affine warp (bilinear, zeros outside)."""
    B = len(x)
    side = torch.sqrt(_uniform(B, 1.0 - crop, 1.0, gen))  # (B,) window side as a share of the image side
    centre = (torch.rand(B, 2, generator=gen) * 2 - 1) * (1 - side)[:, None]  # (B, 2) the window stays inside
    pixels = torch.randint(-shift, shift + 1, (B, 2), generator=gen).float() * PIXEL  # (B, 2)
    angle = _uniform(B, -1.0, 1.0, gen) * math.radians(rotation)  # (B,)
    cos, sin = torch.cos(angle) * side, torch.sin(angle) * side
    theta = torch.stack(
        [
            torch.stack([cos, -sin, centre[:, 0] - pixels[:, 0]], 1),
            torch.stack([sin, cos, centre[:, 1] - pixels[:, 1]], 1),
        ],
        1,
    )  # (B, 2, 3) output -> input
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)  # (B, 8, 8, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def contrast_jitter(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Fainter ink: multiply each image by a random factor in [1 - strength, 1] (SimCLR's colour distortion,
    for greyscale digits)."""
    return x * _uniform(len(x), 1.0 - strength, 1.0, gen)[:, None, None, None].to(x)


def gaussian_blur(x: torch.Tensor, probability: float, gen: torch.Generator) -> torch.Tensor:
    """A 3x3 Gaussian blur (sigma 0.5-1 pixel) on a random share of the images."""
    B = len(x)
    sigma = _uniform(B, 0.5, 1.0, gen)
    apply = torch.rand(B, generator=gen) < probability
    taps = torch.exp(-torch.tensor([1.0, 0.0, 1.0])[None] / (2 * sigma[:, None] ** 2))  # (B, 3)
    taps = torch.where(apply[:, None], taps, torch.tensor([0.0, 1.0, 0.0]))  # identity where not applied
    taps = taps / taps.sum(1, keepdim=True)
    kernel = (taps[:, :, None] * taps[:, None, :])[:, None].to(x)  # (B, 1, 3, 3) one kernel per image
    padded = F.pad(x.reshape(1, B, SIDE, SIDE), (1, 1, 1, 1), mode="replicate")  # (1, B, 10, 10)
    return F.conv2d(padded, kernel, groups=B).reshape(B, 1, SIDE, SIDE)


def gaussian_noise(x: torch.Tensor, std: float, gen: torch.Generator) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=gen).to(x)
    return (x + std * noise).clamp(0.0, 1.0)


def random_erasing(
    x: torch.Tensor, probability: float, gen: torch.Generator, low: int = 2, high: int = 4
) -> torch.Tensor:
    """Blank (set to 0) a random low..high x low..high pixel rectangle in a random share of the images."""
    B = len(x)
    h, w = (torch.randint(low, high + 1, (B, 1), generator=gen) for _ in range(2))  # (B, 1) each
    top = (torch.rand(B, 1, generator=gen) * (SIDE - h + 1)).floor()
    left = (torch.rand(B, 1, generator=gen) * (SIDE - w + 1)).floor()
    pos = torch.arange(SIDE)[None]  # (1, 8)
    rows = (pos >= top) & (pos < top + h)  # (B, 8)
    cols = (pos >= left) & (pos < left + w)
    apply = (torch.rand(B, generator=gen) < probability)[:, None, None]
    erase = rows[:, :, None] & cols[:, None, :] & apply  # (B, 8, 8)
    return x.masked_fill(erase[:, None].to(x.device), 0.0)


def augment(x: torch.Tensor, aug: Augmentations, gen: torch.Generator) -> torch.Tensor:
    """One random view of each image: the switched-on augmentations in SimCLR's order."""
    if aug.crop or aug.shift or aug.rotation:
        x = affine(x, aug.crop, aug.shift, aug.rotation, gen)
    if aug.contrast:
        x = contrast_jitter(x, aug.contrast, gen)
    if aug.blur:
        x = gaussian_blur(x, aug.blur, gen)
    if aug.noise:
        x = gaussian_noise(x, aug.noise, gen)
    if aug.erasing:
        x = random_erasing(x, aug.erasing, gen)
    return x


def perturb(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The robustness check's fixed corruption of test digits: a 1-pixel shift, lower contrast, noise, a hole.

    The same recipe for every run (only the seed varies), so robust accuracies compare across settings.
    """
    gen = torch.Generator().manual_seed(seed)
    x = affine(x, 0.0, 1, 0.0, gen)
    x = gaussian_noise(contrast_jitter(x, 0.5, gen), 0.1, gen)
    return random_erasing(x, 0.5, gen, low=2, high=3)
