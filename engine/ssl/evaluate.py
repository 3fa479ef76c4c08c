"""Judging a representation with labels: the linear probe, the two baselines, robustness, label efficiency.

The SimCLR protocol: freeze the encoder, train a linear classifier on its features (a *linear probe*), and compare
with the same encoder at random initialisation (what pretraining added) and with the same network trained
end to end on the same labels (what supervision alone reaches). Features are standardised before any probe:
a random encoder's raw features have wildly different scales, which would make it look worse than it is.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from torch import nn

from engine.core.contract import Tracker
from engine.core.device import pick, seeded
from engine.core.train import fit, predict
from engine.ssl.common import FEATURES, Digits, encode, labelled_subset
from engine.ssl.config import EFFICIENCY_FRACTIONS, SUPERVISED_EPOCHS, SUPERVISED_MIN_STEPS, Config

CLASSES = 10


@dataclass
class Encoded:
    """A frozen encoder's features h of the training pool, the test digits and their perturbed copy."""

    train: torch.Tensor  # (n_train, 128)
    test: torch.Tensor  # (n_test, 128)
    robust: torch.Tensor  # (n_test, 128)


def freeze(f: nn.Module) -> nn.Module:
    """No gradient will ever reach f again: the probe only reads its features."""
    for p in f.parameters():
        p.requires_grad_(False)
    return f.eval()


def encode_all(f: nn.Module, data: Digits, X_robust: torch.Tensor) -> Encoded:
    freeze(f)
    return Encoded(encode(f, data.X_train), encode(f, data.X_test), encode(f, X_robust))


def linear_probe(h_train: torch.Tensor, y_train: np.ndarray, labelled: np.ndarray) -> nn.Linear:
    """Multinomial logistic regression on standardised features of the labelled digits, as one nn.Linear on h.

    The standardisation uses the mean and spread of the whole unlabelled pool (no labels needed) and is folded
    into the weights: W (h - mean) / std + b = (W / std) h + (b - W mean / std).
    """
    h = h_train.numpy().astype(np.float64)
    mean, std = h.mean(0), h.std(0) + 1e-6
    clf = LogisticRegression(max_iter=3000).fit((h[labelled] - mean) / std, y_train[labelled])
    weight = clf.coef_ / std  # (10, 128)
    bias = clf.intercept_ - weight @ mean  # (10,)
    probe = nn.Linear(FEATURES, CLASSES)
    with torch.no_grad():
        probe.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        probe.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return probe.eval()


def probe_accuracies(probe: nn.Linear, enc: Encoded, y_test: np.ndarray) -> tuple[float, float]:
    """(clean, perturbed) test accuracy of a probe on precomputed features."""
    with torch.no_grad():
        return (
            float((probe(enc.test).argmax(1).numpy() == y_test).mean()),
            float((probe(enc.robust).argmax(1).numpy() == y_test).mean()),
        )


def supervised_baseline(f0: nn.Module, data: Digits, labelled: np.ndarray, seed: int) -> nn.Sequential:
    """The same encoder from the same random start plus a linear head, trained end to end on the labelled digits
    only (cross-entropy, Adam, batches of 64, 12 epochs but at least 100 steps however few the labels; no
    augmentation). More steps did not help with few labels (it over-fits them) and add ~2 points at 100%."""
    with seeded(seed):  # the head's initial weights, from the seed alone
        model = nn.Sequential(copy.deepcopy(f0), nn.Linear(FEATURES, CLASSES)).to(pick())
    for p in model.parameters():
        p.requires_grad_(True)  # the copied random encoder was frozen for its own probe
    n = len(labelled)
    batch = min(64, n)
    epochs = max(SUPERVISED_EPOCHS, math.ceil(SUPERVISED_MIN_STEPS / math.ceil(n / batch)))
    X = data.X_train[labelled].to(pick())
    y = torch.as_tensor(data.y_train[labelled]).to(pick())
    fit(
        model,
        X,
        y,
        loss_fn=F.cross_entropy,
        epochs=epochs,
        lr=3e-3,
        batch_size=batch,
        tracker=Tracker(None, epochs),
        seed=seed,
    )
    return model.cpu().eval()


def model_accuracies(model: nn.Module, data: Digits, X_robust: torch.Tensor) -> tuple[float, float]:
    return (
        float((predict(model, data.X_test).argmax(1).numpy() == data.y_test).mean()),
        float((predict(model, X_robust).argmax(1).numpy() == data.y_test).mean()),
    )


def sweep_fractions(chosen: float) -> list[float]:
    """The chosen label fraction first (its numbers are the headline), then the chart's others, ascending."""
    return [chosen] + sorted(f for f in EFFICIENCY_FRACTIONS if not math.isclose(f, chosen))


def label_sweep(
    config: Config,
    data: Digits,
    ssl: Encoded,
    random: Encoded,
    f0: nn.Module,
    X_robust: torch.Tensor,
    tracker: Tracker,
    supervised: bool = True,
) -> dict:
    """Probe both encoders (and train the supervised baseline) at each label fraction; one progress step each.

    Returns {"rows": [per-fraction accuracies], "probe"/"random_probe"/"supervised": the chosen fraction's models}.
    """
    out: dict = {"rows": []}
    fractions = sweep_fractions(config.label_fraction) if supervised else [config.label_fraction]
    for j, fraction in enumerate(fractions):
        labelled = labelled_subset(data.y_train, fraction, config.seed)
        probe = linear_probe(ssl.train, data.y_train, labelled)
        random_probe = linear_probe(random.train, data.y_train, labelled)
        row = {"label_fraction": fraction, "n_labelled": len(labelled)}
        row["probe"], row["robust_probe"] = probe_accuracies(probe, ssl, data.y_test)
        row["random_init"], row["robust_random_init"] = probe_accuracies(random_probe, random, data.y_test)
        model = None
        if supervised:
            model = supervised_baseline(f0, data, labelled, config.seed)
            row["supervised"], row["robust_supervised"] = model_accuracies(model, data, X_robust)
        out["rows"].append(row)
        if j == 0:
            out.update(probe=probe, random_probe=random_probe, supervised=model, labelled=labelled)
        if supervised and tracker.step(
            config.epochs + j + 1,
            label_fraction=fraction,
            probe_accuracy=row["probe"],
            random_init_probe_accuracy=row["random_init"],
            supervised_accuracy=row["supervised"],
        ):
            break
    return out
