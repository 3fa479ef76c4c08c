"""The real data a GAN imitates, and the two coordinate spaces it lives in (numpy only, no torch).

Every dataset lives in a *data space*: the 2-D sets roughly inside [-1, 1]², digits as 64 pixels in [0, 1].
The networks work in a *model space* that matches the generator's output activation ([-1, 1] for tanh,
[0, 1] for sigmoid). ``to_model`` / ``to_data`` map between them; metrics and figures use data space.
Digits are split once (the same split as the digits classifier): the GAN learns from 80% of the images and
is judged against the held-out 20%.
"""

from __future__ import annotations

import numpy as np

from engine.core.data import digits, split, toy_2d
from engine.gan.drawing import PREFIX, is_drawn
from engine.gan.drawing import samples as drawn_samples

DIGITS_HELD_OUT = 0.2  # share of the digits kept out of training, to judge the generated images against


def source(config) -> str:
    """The name the functions below take for a config's data: its dataset, or "drawn:<text>" for a drawing."""
    return PREFIX + config.drawing if config.dataset == "drawn" else config.dataset


def mode_centres(dataset: str) -> np.ndarray | None:
    """Mode centres in data space (K, 2) for the Gaussian mixtures, None for sets without centres."""
    if dataset == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        return 0.8 * np.stack([np.cos(angles), np.sin(angles)], 1)
    if dataset == "grid":
        ticks = np.linspace(-0.8, 0.8, 5)
        return np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2)
    return None


def digit_images(part: str) -> np.ndarray:
    """The "train" (80%) or "held_out" (20%) digits as flat images (n, 64), pixels in [0, 1]."""
    images, labels = digits()  # (1797, 8, 8)
    train_idx, test_idx = split(len(labels), DIGITS_HELD_OUT, 0, labels)
    return images.reshape(len(images), 64)[train_idx if part == "train" else test_idx]


def real_samples(dataset: str, n: int, noise: float, seed: int) -> np.ndarray:
    """n fresh real samples in data space (n, 2); for digits, up to n training images (n, 64)."""
    rng = np.random.default_rng(seed)
    if dataset == "digits":
        return digit_images("train")[:n]
    if is_drawn(dataset):  # each drawn point is the centre of a small blob
        return drawn_samples(dataset, n, noise, rng)
    centres = mode_centres(dataset)
    if centres is not None:
        X = centres[rng.integers(0, len(centres), n)]
    else:  # the engine's noise-free curve, scaled into about [-0.8, 0.8]
        X, _ = toy_2d(dataset, n, 0.0, seed)
        X = X * {"spiral": 0.8 / 1.5, "moons": 0.8 / 1.72}[dataset]
    return (X + rng.normal(0, noise, X.shape)).astype(np.float32)


TRAIN_SAMPLES = 5000  # the training pool of the 2-D sets (digits: all of its training images)


def training_set(dataset: str, noise: float, seed: int) -> np.ndarray:
    """The real samples the GAN trains on (N, d), data space: the copying check measures distances to these."""
    return real_samples(dataset, TRAIN_SAMPLES, noise, seed)


def held_out(dataset: str, n: int, noise: float, seed: int) -> np.ndarray:
    """Real samples the GAN never trains on (n, d): what generated samples are judged against."""
    if dataset == "digits":
        return digit_images("held_out")[:n]
    return real_samples(dataset, n, noise, seed + 3)


def uniform_noise(dataset: str, n: int, seed: int) -> np.ndarray:
    """The baseline every quality number is compared with: n points uniform over the data range (n, d)."""
    lo, hi = data_range(dataset)
    d = 64 if dataset == "digits" else 2
    return np.random.default_rng(seed + 4).uniform(lo, hi, (n, d)).astype(np.float32)


def data_range(dataset: str) -> tuple[float, float]:
    return (0.0, 1.0) if dataset == "digits" else (-1.0, 1.0)


def model_range(output: str) -> tuple[float, float]:
    return (-1.0, 1.0) if output == "tanh" else (0.0, 1.0)


def to_model(x, dataset: str, output: str):
    """Data space -> the generator's output range (works on numpy arrays and tensors)."""
    (a, b), (c, d) = data_range(dataset), model_range(output)
    return (x - a) / (b - a) * (d - c) + c


def to_data(x, dataset: str, output: str):
    """The generator's output range -> data space."""
    (a, b), (c, d) = data_range(dataset), model_range(output)
    return (x - c) / (d - c) * (b - a) + a
