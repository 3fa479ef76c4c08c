"""What both self-supervised methods share: the digits split, the encoder, and the live view of its features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.data import digits, split
from engine.ssl.augment import Augmentations
from engine.ssl.config import TEST_FRACTION, Config

MONITOR = 200  # test digits whose features are projected live and scored by k-NN after every epoch


def encoder() -> nn.Sequential:
    """The base encoder f(.): two conv blocks and a flatten. Its output h is the representation the probe reads."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),  # (B, 16, 8, 8)
        nn.MaxPool2d(2),  # (B, 16, 4, 4)
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),  # (B, 32, 4, 4)
        nn.MaxPool2d(2),  # (B, 32, 2, 2)
        nn.Flatten(),  # (B, 128) = h
    )


FEATURES = 128  # size of h


@dataclass
class Digits:
    """scikit-learn's digits split into an unlabelled training pool and a labelled test set."""

    X_train: torch.Tensor  # (n_train, 1, 8, 8) in [0, 1]; pretraining sees these without labels
    y_train: np.ndarray  # used only by the probe, the supervised baseline and k-NN (never by pretraining)
    X_test: torch.Tensor  # (n_test, 1, 8, 8)
    y_test: np.ndarray
    monitor: np.ndarray  # indices into the test set watched live


def load_digits(seed: int) -> Digits:
    images, y = digits()  # (1797, 8, 8), (1797,)
    train, test = split(len(y), TEST_FRACTION, seed, y)
    X = torch.as_tensor(images[:, None])  # (1797, 1, 8, 8)
    monitor = np.sort(np.random.default_rng(seed).permutation(len(test))[:MONITOR])
    return Digits(X[train], y[train], X[test], y[test], monitor)


def labelled_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of ``fraction`` of each digit's training examples (at least one). One fixed order per digit, so
    a smaller fraction's labels are always part of a larger one's."""
    rng = np.random.default_rng(seed + 1)
    picked = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        picked.append(members[: max(1, round(fraction * len(members)))])
    return np.sort(np.concatenate(picked))


def augmentations(config: Config) -> Augmentations:
    return Augmentations(
        crop=config.crop,
        shift=config.shift,
        rotation=config.rotation,
        contrast=config.contrast,
        blur=config.blur,
        noise=config.noise,
        erasing=config.erasing,
    )


def encode(f: nn.Module, X: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """h = f(x) for every image, in eval mode without gradients, on the encoder's device; returned on the CPU."""
    dev = next(f.parameters()).device
    f.eval()
    with torch.no_grad():
        return torch.cat([f(X[i : i + batch_size].to(dev)).cpu() for i in range(0, len(X), batch_size)])


def knn_predict(train_h: torch.Tensor, train_y: np.ndarray, query_h: torch.Tensor, k: int) -> np.ndarray:
    """k nearest labelled digits by cosine similarity, each voting with its similarity."""
    a = nn.functional.normalize(train_h, dim=1)  # (n_lab, d)
    q = nn.functional.normalize(query_h, dim=1)  # (n_query, d)
    sim, idx = (q @ a.T).topk(min(k, len(a)), dim=1)  # (n_query, k)
    votes = torch.zeros(len(q), int(train_y.max()) + 1)
    votes.scatter_add_(1, torch.as_tensor(train_y)[idx], sim)
    return votes.argmax(1).numpy()


def knn_k(y_labelled: np.ndarray) -> int:
    """k = 5, or fewer when some digit has fewer labelled examples (1 at one label per digit)."""
    return int(max(1, min(5, np.bincount(y_labelled).min())))


def project_2d(h: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """PCA to 2-D of the centred features scaled to length 1 (the cosine geometry that NT-Xent and k-NN use; it
    separated the digits better than raw features here), scaled to unit spread and rotated to best match the
    previous frame (orthogonal Procrustes), so consecutive frames differ only by what training changed, not by
    PCA's arbitrary signs and angles."""
    centred = h - h.mean(0)
    centred = centred / (np.linalg.norm(centred, axis=1, keepdims=True) + 1e-12)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    p = centred @ vt[:2].T  # (n, 2)
    p = p / (np.sqrt((p**2).sum(1).mean()) + 1e-12)
    if previous is not None:
        u, _, wt = np.linalg.svd(p.T @ previous)
        p = p @ (u @ wt)  # the 2x2 orthogonal map that brings p closest to the previous frame
    return p.astype(np.float32)


class Monitor:
    """After every epoch: k-NN accuracy on a fixed set of test digits and their 2-D projection (the live figure)."""

    def __init__(self, data: Digits, labelled: np.ndarray, f: nn.Module):
        self.X = data.X_test[data.monitor]  # (MONITOR, 1, 8, 8)
        self.y = data.y_test[data.monitor]
        self.X_lab, self.y_lab = data.X_train[labelled], data.y_train[labelled]
        self.k = knn_k(self.y_lab)
        self.frames = [project_2d(encode(f, self.X).numpy(), None)]  # frame 0: the random encoder

    def evaluate(self, f: nn.Module) -> dict:
        h = encode(f, self.X)
        pred = knn_predict(encode(f, self.X_lab), self.y_lab, h, self.k)
        self.frames.append(project_2d(h.numpy(), self.frames[-1]))
        return {"knn_accuracy": float((pred == self.y).mean())}

    def snapshot(self, epoch: int) -> dict:
        """A small JSON-friendly copy of the latest projection for ``views.live_figure``."""
        return {"epoch": epoch, "xy": np.round(self.frames[-1], 3).tolist(), "labels": self.y.tolist()}
