"""How close generated samples come to the real data, always beside two references that give it a scale.

Every measure is computed three times: for the generated samples, for uniform noise over the data range
(what a generator that learned nothing scores) and for a second real sample (what a perfect generator scores).

- **Precision and recall** (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
  Generative Models"): each held-out real sample gets a ball reaching to its k-th nearest real neighbour; their
  union estimates the real data's support. *Precision* is the share of generated samples inside it (do the fakes
  look real?). Symmetrically, *recall* is the share of real samples inside the generated samples' balls (is every
  part of the data produced?). Mode collapse shows as high precision with low recall; a generator smeared over the
  gaps between modes shows the reverse. On 2-D data uniform noise reaches almost every real sample (high
  recall) but rarely lands on the data (low precision): read the two together. Digits are compared as pixels.
- **MMD**: the maximum mean discrepancy with Gaussian kernels (0 = indistinguishable to the kernel). The kernel
  widths follow the median distance between real samples; on the 2-D sets a quarter of it, so the kernel
  resolves the separate blobs instead of seeing one cloud (at the full median, noise and data score alike).
- **Modes** (ring, grid): a sample is *high quality* within 3 standard deviations of its nearest centre; a mode
  is *covered* with at least 20% of its fair share (n / modes) of high-quality samples (PacGAN-style counting).
  Spiral and moons use 8 k-means regions of the data and a calibrated distance instead of centres.
- **Digit classes**: a classifier trained here on real digits labels the generated images; a class is covered
  with at least 50% of its fair share of samples that it recognises with confidence >= 0.9 *and* that lie on the
  real data (inside its k-NN balls, as precision counts them): a handful of blurry images names no class.
- **Copying** (memorisation): each generated sample's distance to its nearest *training* sample, beside the same
  distance for held-out real samples (the data-copying test of Meehan et al. 2020, "A Non-Parametric Test to
  Detect Data-Copying in Generative Models"; the authenticity of Alaa et al. 2022). A generator that draws new
  samples lands as far from the training points as fresh real data does (ratio ~1); one that reproduces its
  training set lands on them (ratio ~0). Precision and recall cannot see this: a copy of the training set scores
  like real data.

The reference is always held out: real samples the GAN never trains on (2-D: fresh draws from the same
distribution; digits: the 20% of the images kept out of training, split in two halves, one to judge against and
one as the "second real sample").
"""

from __future__ import annotations

import numpy as np
import torch

from engine.core.contract import Tracker
from engine.core.data import digits, split
from engine.core.device import seeded
from engine.core.train import fit, mlp, predict
from engine.gan.config import CLASS_CONFIDENCE, CLASS_SHARE, COVER_SHARE, EVAL_SAMPLES, HQ_STDS, NEIGHBOURS
from engine.gan.data import DIGITS_HELD_OUT, held_out, mode_centres, real_samples, training_set, uniform_noise
from engine.gan.drawing import DrawnReference, is_drawn


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def distances(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """Pairwise Euclidean distances (n, m); torch keeps to the one thread a run may use."""
    return torch.cdist(_t(a), _t(b))


def nearest_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of ``a``, the distance to its nearest row of ``b``."""
    return distances(a, b).min(1).values.numpy()


# --- precision and recall (Kynkäänniemi et al. 2019) -------------------------------------------------------


def knn_radii(x: np.ndarray, k: int = NEIGHBOURS) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row (n,): the radius of its ball."""
    return distances(x, x).kthvalue(k + 1, dim=1).values  # the 1st smallest is the point itself (0)


def inside_manifold(points: np.ndarray, support: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Whether each of ``points`` (n, d) lies in the union of the k-NN balls of ``support`` (m, d)."""
    return (distances(points, support) <= knn_radii(support, k)[None, :]).any(1).numpy()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = NEIGHBOURS) -> tuple[float, float]:
    """Precision: share of ``fake`` inside real's k-NN manifold; recall: share of ``real`` inside fake's."""
    return float(inside_manifold(fake, real, k).mean()), float(inside_manifold(real, fake, k).mean())


# --- MMD ---------------------------------------------------------------------------------------------------


def mmd(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Squared maximum mean discrepancy between sample sets x (n, d) and y (m, d), biased estimate.

    Gaussian kernels at 0.5x, 1x and 2x ``bandwidth``, summed; 0 when the two sets coincide.
    """

    def k(a, b):  # mean of the summed kernels over all pairs
        d2 = torch.cdist(a, b).square()  # (n, m)
        wide = torch.exp(-d2 / (2 * (2 * bandwidth) ** 2))  # exp(-d2 / 2s^2) at s = 2, 1, 0.5 bandwidths:
        mid = wide.square().square()  # halving the bandwidth raises the kernel to the 4th power
        return float((wide + mid + mid.square().square()).mean())

    tx, ty = _t(x), _t(y)
    return max(k(tx, tx) + k(ty, ty) - 2 * k(tx, ty), 0.0)


def median_distance(x: np.ndarray) -> float:
    """The median pairwise distance of x: the usual MMD bandwidth."""
    d = distances(x, x).numpy()
    return float(np.median(d[np.triu_indices(len(x), 1)]))


# --- modes and regions -------------------------------------------------------------------------------------


def mode_metrics(samples: np.ndarray, centres: np.ndarray, std: float) -> dict:
    """Mode coverage of 2-D ``samples`` (n, 2) around known ``centres`` (K, 2) with per-mode ``std``.

    Returns ``modes_covered`` (modes holding at least COVER_SHARE of their fair share n/K of high-quality
    samples), ``high_quality_ratio`` (share of samples within HQ_STDS * std of their nearest centre) and
    ``counts`` (high-quality samples per mode).
    """
    d = distances(samples, centres).numpy()  # (n, K)
    nearest, dist = d.argmin(1), d.min(1)
    good = dist <= HQ_STDS * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    needed = COVER_SHARE * len(samples) / len(centres)
    return {"modes_covered": int((counts >= needed).sum()), "high_quality_ratio": float(good.mean()), "counts": counts}


def k_means(X: np.ndarray, k: int, iterations: int = 25) -> np.ndarray:
    """Lloyd's k-means from a farthest-point start (deterministic); returns the k centres (k, d)."""
    picked = [X[0]]
    for _ in range(k - 1):  # each new centre: the point farthest from the centres so far
        picked.append(X[nearest_distance(X, np.stack(picked)).argmax()])
    centres = np.stack(picked)
    for _ in range(iterations):
        label = distances(X, centres).argmin(1).numpy()
        centres = np.stack([X[label == j].mean(0) if (label == j).any() else centres[j] for j in range(k)])
    return centres


class CurveReference:
    """What "high quality" and "covered" mean for spiral and moons, which have no mode centres."""

    def __init__(self, dataset: str, noise: float, seed: int, regions: int = 8):
        self.reference = real_samples(dataset, 2000, noise, seed + 1)
        fresh = real_samples(dataset, 1000, noise, seed + 2)
        self.threshold = float(np.quantile(nearest_distance(fresh, self.reference), 0.95))
        self.centres = k_means(self.reference, regions)

    def metrics(self, samples: np.ndarray) -> dict:
        good = nearest_distance(samples, self.reference) <= self.threshold
        region = distances(samples, self.centres).argmin(1).numpy()
        counts = np.bincount(region[good], minlength=len(self.centres))
        needed = COVER_SHARE * len(samples) / len(self.centres)
        return {
            "modes_covered": int((counts >= needed).sum()),
            "high_quality_ratio": float(good.mean()),
            "counts": counts,
        }


# --- digit classes -----------------------------------------------------------------------------------------

_CLASSIFIER: dict = {}  # the digits classifier, trained once per process


def digits_classifier():
    """A small MLP trained on the GAN's 80% of the real digits; returns (model, accuracy on the held-out 20%)."""
    if "model" not in _CLASSIFIER:
        images, labels = digits()
        X, y = torch.as_tensor(images.reshape(-1, 64)), torch.as_tensor(labels)
        train_idx, test_idx = split(len(y), DIGITS_HELD_OUT, 0, labels)
        with seeded(0):
            model = mlp(64, 10, [128])
            fit(
                model,
                X[train_idx],
                y[train_idx],
                loss_fn=torch.nn.functional.cross_entropy,
                epochs=80,
                lr=0.01,
                batch_size=len(train_idx),
                tracker=Tracker(None, 80),
            )  # full batch: 1437 images
        acc = float((predict(model, X[test_idx]).argmax(1) == y[test_idx]).float().mean())
        _CLASSIFIER.update(model=model, accuracy=acc)
    return _CLASSIFIER["model"], _CLASSIFIER["accuracy"]


def class_metrics(images: np.ndarray, realistic: np.ndarray | None = None) -> dict:
    """Class coverage of generated digit images (n, 64) in [0, 1] by the engine's digits classifier.

    ``class_coverage``: classes holding at least CLASS_SHARE of their fair share n/10 of samples that the
    classifier assigns to them with confidence >= CLASS_CONFIDENCE and that are ``realistic`` (n,) (a mask: on the
    real data; all of them when None); ``mean_confidence``: mean top-class probability; ``counts`` (10,).
    """
    model, _ = digits_classifier()
    probs = torch.softmax(predict(model, torch.as_tensor(images, dtype=torch.float32)), 1).numpy()
    label, conf = probs.argmax(1), probs.max(1)
    counted = conf >= CLASS_CONFIDENCE if realistic is None else (conf >= CLASS_CONFIDENCE) & realistic
    counts = np.bincount(label[counted], minlength=10)
    return {
        "class_coverage": int((counts >= CLASS_SHARE * len(images) / 10).sum()),
        "mean_confidence": float(conf.mean()),
        "counts": counts,
    }


# --- copying the training set ------------------------------------------------------------------------------


def copying(samples: np.ndarray, train: np.ndarray, held: np.ndarray) -> dict:
    """Do ``samples`` (n, d) copy the ``train``ing points (N, d)? Any point sets, 2-D or images.

    ``copy_ratio``: the median distance from a sample to its nearest training point over the same median for
    ``held`` (m, d), real samples never trained on. About 1 for a generator that draws new samples like fresh
    real data, towards 0 for one that reproduces its training points (a copy scores exactly 0), above 1 for
    samples off the data. ``train_distance`` (n,) and ``held_distance`` (m,): the distances, for the chart.
    """
    generated, fresh = nearest_distance(samples, train), nearest_distance(held, train)
    scale = float(np.median(fresh))
    ratio = float(np.median(generated)) / scale if scale > 0 else float("nan")
    return {"copy_ratio": ratio, "train_distance": generated, "held_distance": fresh}


# --- one judge for the generated samples and both references ----------------------------------------------


def references(dataset: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two real sample sets the GAN never trains on: the one every measure judges against, and a second one
    scored like a generator (what a perfect generator gets). 2-D: fresh draws of n each; digits: the held-out
    images split in two halves (180 each), so neither is a training image."""
    if dataset == "digits":
        images = held_out(dataset, n, noise, seed)
        return images[0::2], images[1::2]
    return held_out(dataset, n, noise, seed), real_samples(dataset, n, noise, seed + 5)


class Judge:
    """Held-out real samples and every measure against them; ``scores`` treats any sample set the same way."""

    def __init__(self, dataset: str, noise: float, seed: int, n: int = EVAL_SAMPLES):
        self.dataset, self.noise = dataset, noise
        self.real, self.second = references(dataset, n, noise, seed)  # (n, d) data space; digits: 180 images each
        self.train = training_set(dataset, noise, seed)  # (N, d): what the GAN trains on, for the copying check
        scale = 1.0 if dataset == "digits" else 0.25  # see the module docstring (MMD)
        self.bandwidth = scale * median_distance(self.real[:500])
        self.curve: CurveReference | DrawnReference | None = None
        if dataset in ("spiral", "moons"):
            self.curve = CurveReference(dataset, noise, seed)
        elif is_drawn(dataset):  # a drawing: its groups of points are what coverage counts
            self.curve = DrawnReference(dataset, noise)

    @property
    def centres(self) -> np.ndarray | None:
        return self.curve.centres if self.curve else mode_centres(self.dataset)

    def mmd(self, samples: np.ndarray, against: np.ndarray | None = None) -> float:
        """MMD to the held-out real samples, or to ``against`` (the training set, to pick a checkpoint by)."""
        ref = self.real if against is None else against
        n = min(500, len(ref))  # as many generated as real samples: the biased estimate depends on the count
        return mmd(ref[:n], samples[:n], self.bandwidth)

    def scores(self, samples: np.ndarray) -> dict:
        """precision, recall, mmd, copy_ratio and the modes (or classes) measures of ``samples`` (n, d), plus
        ``counts`` and the copying distances (``train_distance``, ``held_distance``)."""
        samples = samples[: len(self.real)]  # as many as the real samples: k-NN radii depend on the count
        realistic = inside_manifold(samples, self.real)
        precision, recall = float(realistic.mean()), float(inside_manifold(self.real, samples).mean())
        out = {"precision": precision, "recall": recall, "mmd": self.mmd(samples)}
        out.update(copying(samples, self.train, self.real))
        if self.dataset == "digits":
            return {**out, **class_metrics(samples, realistic)}
        if self.curve:
            return {**out, **self.curve.metrics(samples)}
        centres = self.centres
        if centres is None:
            raise ValueError(f"The {self.dataset!r} data set has no mode centres to score samples against.")
        return {**out, **mode_metrics(samples, centres, self.noise)}


def baselines(judge: Judge, seed: int) -> dict[str, dict]:
    """The same scores for uniform noise (learned nothing) and for a second held-out real sample (perfect)."""
    return {
        "noise": judge.scores(uniform_noise(judge.dataset, len(judge.real), seed)),
        "real": judge.scores(judge.second),
    }
