"""A data set a person draws: points clicked on a chart, carried in the settings as a short text (numpy only).

The drawing lives in the link itself, never on the server: each point snaps to a 41 x 41 grid over [-1, 1]²
(steps of 0.05, the default spread of the data) and is written as two letters, one per coordinate
(``A``-``Z`` then ``a``-``o`` for grid lines 0-40). ``"UUAA"`` is the point (0, 0) then (-1, -1). So a link can
be copied, the settings line of a stored run shows it, and nothing a visitor writes is ever a path or a token.

Decoding is strict: anything but pairs of those letters, fewer than :data:`MIN_POINTS` or more than
:data:`MAX_POINTS` points, or every point on one spot is refused with a plain sentence (:class:`DrawingError`).

The GAN learns the drawing as a mixture: each drawn point is the centre of a small Gaussian blob whose width is
the "Spread of the data" setting. Coverage is counted per *group* of the drawing: points that touch (chained
within :data:`LINK` of each other) form one group, and each group's fair share of samples is its share of the
drawn points.
"""

from __future__ import annotations

import re

import numpy as np

LEVELS = 41  # grid lines per axis over [-1, 1]
STEP = 2.0 / (LEVELS - 1)  # 0.05
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno"  # grid line k is written LETTERS[k]
FORMAT = re.compile(r"\A(?:[A-Za-o]{2})*\Z")  # \Z: "$" would accept a trailing newline
MIN_POINTS = 3
MAX_POINTS = 400
MAX_CHARS = 2 * MAX_POINTS + 2  # a link's value is cut here: one point too many still reads as "too many"
ONE_SPOT = 0.1  # points that all fit in a box this wide are "everything on one spot"
LINK = 0.15  # points closer than this (three grid steps) belong to one group
MAX_GROUPS = 12  # more groups than this: the link distance grows until they merge
PREFIX = "drawn:"  # the data module's name for a drawing: "drawn:" + its text


class DrawingError(ValueError):
    """A drawing that cannot be learned; its text is a plain sentence (it never quotes the drawing)."""


def snap(points) -> np.ndarray:
    """Grid indices (n, 2) of points in [-1, 1]² (outside points go to the nearest edge)."""
    xy = np.clip(np.asarray(points, dtype=float).reshape(-1, 2), -1.0, 1.0)
    return np.rint((xy + 1.0) / STEP).astype(int)


def encode(points) -> str:
    """The drawing's text: two letters per point, in drawing order (so undo drops the last two)."""
    return "".join(LETTERS[i] + LETTERS[j] for i, j in snap(points))


def parse(text: str) -> np.ndarray:
    """The points (n, 2) of a drawing's text, checking its letters only (not how many points there are)."""
    if not isinstance(text, str) or len(text) > 2 * MAX_POINTS or not FORMAT.match(text):
        if isinstance(text, str) and len(text) > 2 * MAX_POINTS:
            raise DrawingError(too_many())
        raise DrawingError(
            "The drawing in these settings is not one this page wrote (it should be pairs of letters, one pair per "
            "point). Draw the points again."
        )
    index = np.array([LETTERS.index(c) for c in text], dtype=int).reshape(-1, 2)
    return (index * STEP - 1.0).astype(np.float32)


def too_many(n: int | None = None) -> str:
    """The sentence for a drawing of ``n`` points (None: an unknown number) past :data:`MAX_POINTS`."""
    have = f"{n:,} points" if n is not None else f"more than {MAX_POINTS} points"
    return f"The drawing has {have}; at most {MAX_POINTS} fit in a link. Clear it and draw fewer, or use smaller loops."


def check(points: np.ndarray) -> np.ndarray:
    """The points again when a GAN can learn them; otherwise :class:`DrawingError` saying what to change."""
    n = len(points)
    if n < MIN_POINTS:
        have = "no points yet" if n == 0 else f"only {n} point{'s' if n > 1 else ''}"
        raise DrawingError(
            f"The drawing has {have}: draw at least {MIN_POINTS} (click on the chart, or lasso a region of it)."
        )
    if n > MAX_POINTS:
        raise DrawingError(too_many(n))
    if float(np.ptp(points, axis=0).max()) < ONE_SPOT:
        raise DrawingError(
            "All the drawn points sit on one spot, so there is no shape to learn: spread them out over the chart "
            "(a few separate blobs or a curve show the GAN at work)."
        )
    return points


def points_of(text: str) -> np.ndarray:
    """The checked points (n, 2) of a drawing's text; :class:`DrawingError` with a plain sentence otherwise."""
    return check(parse(text))


# --- groups: what coverage counts ----------------------------------------------------------------------------


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def _components(d: np.ndarray, link: float) -> np.ndarray:
    """Labels 0..K-1 of the groups of points chained within ``link`` (single linkage), numbered by first point."""
    label = -np.ones(len(d), dtype=int)
    k = 0
    for start in range(len(d)):
        if label[start] >= 0:
            continue
        label[start], todo = k, [start]
        while todo:
            near = np.flatnonzero((d[todo.pop()] <= link) & (label < 0))
            label[near] = k
            todo.extend(near.tolist())
        k += 1
    return label


def groups(points: np.ndarray) -> np.ndarray:
    """Group labels (n,) of the drawn points: touching points form a group; at most :data:`MAX_GROUPS` groups."""
    d, link = _pairwise(points, points), LINK
    label = _components(d, link)
    while label.max() + 1 > MAX_GROUPS:
        link *= 1.5
        label = _components(d, link)
    return label


# --- the data set ------------------------------------------------------------------------------------------


def is_drawn(dataset: str) -> bool:
    return dataset.startswith(PREFIX)


def samples(dataset: str, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """n samples (n, 2) of the drawn data ``"drawn:<text>"``: a drawn point picked at random, plus N(0, noise²)."""
    points = points_of(dataset.removeprefix(PREFIX))
    return (points[rng.integers(0, len(points), n)] + rng.normal(0, noise, (n, 2))).astype(np.float32)


class DrawnReference:
    """What "high quality" and "covered" mean for a drawing (the same interface as ``quality.CurveReference``).

    A sample is *high quality* within 3 spreads (HQ_STDS x noise) of its nearest drawn point; it counts for the
    group of that point. A group is *covered* with at least COVER_SHARE of its fair share of the samples, the fair
    share being the group's share of the drawn points (a group drawn with twice the points holds twice the data).
    """

    def __init__(self, dataset: str, noise: float):
        from engine.gan.config import COVER_SHARE, HQ_STDS

        self.points = points_of(dataset.removeprefix(PREFIX))
        self.label = groups(self.points)
        k = int(self.label.max()) + 1
        self.weights = np.bincount(self.label, minlength=k) / len(self.points)  # (K,) shares of the data
        self.centres = np.stack([self.points[self.label == j].mean(0) for j in range(k)])  # (K, 2)
        self.radius, self.share = HQ_STDS * noise, COVER_SHARE

    def metrics(self, samples: np.ndarray) -> dict:
        d = _pairwise(np.asarray(samples, dtype=float), self.points.astype(float))  # (n, P)
        nearest, dist = d.argmin(1), d.min(1)
        good = dist <= self.radius
        counts = np.bincount(self.label[nearest[good]], minlength=len(self.centres))
        needed = self.share * len(samples) * self.weights
        return {
            "modes_covered": int((counts >= needed).sum()),
            "high_quality_ratio": float(good.mean()),
            "counts": counts,
        }
