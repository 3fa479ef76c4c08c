"""One self-supervised run: pretrain without labels, then judge the encoder with a few labels.

1. Split the digits; the training pool is pretraining's unlabelled data, the test digits are never seen.
2. Pretrain the encoder with SimCLR or masked-pixel prediction (a visible dispatch to two modules), watching
   k-NN accuracy and a 2-D projection of test features after every epoch.
3. Freeze it; linear probes on it and on the same encoder at its random start, and the supervised baseline, at
   the chosen label fraction and at 1%, 10% and 100% (evaluate.py); all three on a perturbed test copy too.
4. Keep what the figures need: projections, similarities, nearest neighbours, augmented views.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.device import seeded
from engine.core.train import count_parameters
from engine.ssl import masked, simclr
from engine.ssl.augment import augment, perturb
from engine.ssl.common import (
    Digits,
    Monitor,
    augmentations,
    encode,
    encoder,
    knn_k,
    knn_predict,
    labelled_subset,
    load_digits,
)
from engine.ssl.config import Config
from engine.ssl.evaluate import Encoded, encode_all, label_sweep, sweep_fractions

GALLERY = 8  # training digits shown with two augmented views each
BATCH_SHOWN = 12  # digits (24 views) in the batch similarity matrix
QUERY_VIEWS = 16  # augmented views of each chosen digit in the similarity figure
NEIGHBOURS = 8


def run(config: Config, progress: ProgressFn) -> Result:
    """Pretrain without labels, then probe, compare with both baselines and check robustness."""
    # One BLAS thread for NumPy/scikit-learn, as torch has: small matrices, and a second thread only spins
    # against the other runs on a busy machine (a 300x128 SVD took a second that way). Seeded here, and the
    # caller's random state is left alone.
    with threadpool_limits(limits=1), seeded(config.seed):
        return _run(config, progress)


def _knn_accuracies(data, labelled: np.ndarray, encoded: dict) -> tuple[int, dict[str, float]]:
    """The k of the k-nearest-neighbour check and its test accuracy on each encoder's features (``encoded``)."""
    k = knn_k(data.y_train[labelled])
    return k, {
        name: float((knn_predict(e.train[labelled], data.y_train[labelled], e.test, k) == data.y_test).mean())
        for name, e in encoded.items()
    }


def _run(config: Config, progress: ProgressFn) -> Result:
    data = load_digits(config.seed)
    X_robust = perturb(data.X_test, config.seed)  # (n_test, 1, 8, 8) shifted, fainter, noisy, partly erased
    labelled = labelled_subset(data.y_train, config.label_fraction, config.seed)
    f = encoder()
    f0 = copy.deepcopy(f)  # the same encoder at its random start: the first baseline
    monitor = Monitor(data, labelled, f)
    tracker = Tracker(progress, config.epochs + len(sweep_fractions(config.label_fraction)))
    started = time.perf_counter()
    pretrain = simclr.pretrain if config.method == "simclr" else masked.pretrain
    model = pretrain(config, data, monitor, f, tracker).cpu().eval()
    seconds = time.perf_counter() - started
    ssl, random = encode_all(f, data, X_robust), encode_all(f0, data, X_robust)
    sweep = label_sweep(config, data, ssl, random, f0, X_robust, tracker, supervised=not tracker.stopped)
    k, knn = _knn_accuracies(data, labelled, {"ssl": ssl, "random": random})
    pictures = inspect(config, data, model, f0, ssl, random)
    metrics = summary(sweep["rows"][0], knn, pictures, tracker, data, labelled, f, seconds)
    models = {
        "encoder": f,
        "probe": sweep["probe"],
        "random_init_encoder": f0,
        "random_init_probe": sweep["random_probe"],
        **({"projection_head": model.head} if config.method == "simclr" else {"decoder": model.decoder}),
    }
    if sweep["supervised"] is not None:
        models["supervised"] = sweep["supervised"]
    with torch.no_grad():
        pred = sweep["probe"](ssl.test).argmax(1).numpy()
    background = np.random.default_rng(config.seed).choice(len(data.y_train), 30, replace=False)
    arrays = {
        "X_test": data.X_test.numpy(),
        "y_test": data.y_test,
        "X_train": data.X_train.numpy(),
        "y_train": data.y_train,
        "X_robust": X_robust.numpy(),
        "labelled": labelled,
        "pred_probe": pred,
        "frames": np.stack(monitor.frames),
        "monitor_labels": monitor.y,
        "efficiency": sweep["rows"],
        "background": data.X_train[background].numpy(),
        **pictures,
    }
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        models=models,
        arrays=arrays,
        headline=(
            "linear_probe_accuracy",
            "random_init_probe_accuracy",
            "robust_probe_accuracy",
            "robust_random_init_accuracy",
        ),
        info={"class_names": [str(c) for c in range(10)], "knn_k": k},
        stopped=tracker.stopped,
    )


def summary(
    row: dict,
    knn: dict,
    pictures: dict,
    tracker: Tracker,
    data: Digits,
    labelled: np.ndarray,
    f: nn.Module,
    seconds: float,
) -> dict:
    """The run's summary metrics (the chosen label fraction's row of the sweep)."""
    losses = [r["loss"] for r in tracker.rows if "loss" in r]
    metrics = {
        "linear_probe_accuracy": row["probe"],
        "random_init_probe_accuracy": row["random_init"],
        "knn_accuracy": knn["ssl"],
        "random_init_knn_accuracy": knn["random"],
        "robust_probe_accuracy": row["robust_probe"],
        "robust_random_init_accuracy": row["robust_random_init"],
    }
    if "supervised" in row:
        metrics.update(supervised_accuracy=row["supervised"], robust_supervised_accuracy=row["robust_supervised"])
    sim, n = pictures["batch_similarity"], BATCH_SHOWN
    positives = np.concatenate([np.diag(sim, n), np.diag(sim, -n)])
    negatives = sim[~np.eye(2 * n, dtype=bool) & ~np.eye(2 * n, k=n, dtype=bool) & ~np.eye(2 * n, k=-n, dtype=bool)]
    metrics.update(
        positive_similarity=float(positives.mean()),
        negative_similarity=float(negatives.mean()),
        n_labelled=len(labelled),
        n_unlabelled=len(data.y_train),
        n_test=len(data.y_test),
        epochs_run=len(losses),
        encoder_parameters=count_parameters(f),
        pretrain_seconds=seconds,
    )
    if losses:
        metrics["final_loss"] = losses[-1]
    return metrics


def _centred_unit(h: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Features centred on the training pool's mean, then scaled to length 1: dot products are cosines."""
    return nn.functional.normalize(h - mean, dim=1)


def inspect(
    config: Config,
    data: Digits,
    model: simclr.SimCLR | masked.MaskedPixels,
    f0: nn.Module,
    ssl: Encoded,
    random: Encoded,
) -> dict:
    """What the figures show: augmented pairs, the batch similarity matrix, one digit against its augmentations
    and the other digits, and its nearest neighbours, before (random encoder) and after pretraining."""
    aug, gen = augmentations(config), torch.Generator().manual_seed(config.seed + 7)
    order = np.random.default_rng(config.seed + 7).permutation(len(data.y_train))
    shown = data.X_train[order[:GALLERY]]  # (8, 1, 8, 8)
    gallery = torch.stack([shown, augment(shown, aug, gen), augment(shown, aug, gen)], 1)  # (8, 3, 1, 8, 8)
    batch = data.X_train[order[:BATCH_SHOWN]]
    views = torch.cat([augment(batch, aug, gen), augment(batch, aug, gen)])  # (24, 1, 8, 8): view k pairs k+12
    if isinstance(model, simclr.SimCLR):  # config.method "simclr": the projections z that NT-Xent compares
        with torch.no_grad():
            z = nn.functional.normalize(model.head(encode(model.encoder, views)), dim=1)
    else:  # no projection head: the representation h itself
        z = _centred_unit(encode(model.encoder, views), ssl.train.mean(0))
    # one test digit of each class, the first of its class among the test digits
    queries = np.asarray([int(np.flatnonzero(data.y_test == c)[0]) for c in range(10)])
    q_views = augment(data.X_test[queries].repeat_interleave(QUERY_VIEWS, 0), aug, gen)  # (160, 1, 8, 8)
    sim_views, sim_test, neighbours = [], [], []
    for f, enc in ((f0, random), (model.encoder, ssl)):  # before, after
        mean = enc.train.mean(0)
        test, train = _centred_unit(enc.test, mean), _centred_unit(enc.train, mean)
        q = test[queries]  # (10, d)
        v = _centred_unit(encode(f, q_views), mean).reshape(10, QUERY_VIEWS, -1)
        sim_views.append(torch.einsum("qd,qvd->qv", q, v).numpy())  # (10, 16)
        sim_test.append((q @ test.T).numpy())  # (10, n_test)
        neighbours.append((q @ train.T).topk(NEIGHBOURS, dim=1).indices.numpy())  # (10, 8) into the train pool
    return {
        "gallery": gallery[:, :, 0].numpy(),
        "views": views[:, 0].numpy(),
        "batch_similarity": (z @ z.T).numpy(),
        "queries": queries,
        "query_views": q_views[:, 0].numpy(),
        "sim_views": np.stack(sim_views),
        "sim_test": np.stack(sim_test),
        "neighbours": np.stack(neighbours),
    }
