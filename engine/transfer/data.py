"""The data both tracks learn from, and the checks on a person's text CSV (light: NumPy and pandas, no torch).

Text: the built-in topics set (``datasets/transfer_topics.csv``) or an uploaded CSV, as bag-of-words or as
sentences for the encoder. Images: source and target tasks cut from scikit-learn's 8x8 digits. Both tracks
draw the same kind of split: K labelled examples per class, every other example tests.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.core.data import DataError, code, data_dir, load_upload

if TYPE_CHECKING:
    from engine.transfer.config import Config

TOPICS_CSV = Path(__file__).parents[1] / "datasets" / "transfer_topics.csv"
TOPICS_PER_CLASS = 50  # sentences per class in transfer_topics.csv
MAX_TEXT_ROWS = 2000  # the encoder reads every row; more would make a run slow
MAX_CLASSES = 20
PRETRAIN_VERSION = 2  # bump when the CNN, its pretraining or the source split changes: old cache files are not reused
SOURCE_SHARE = 0.5  # digits_all_disjoint: the share of every digit's images that pretrains (the rest is the target)


def labelled_split(y: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K labelled examples per class (seeded) and every other example as the test set."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        train.append(idx[:k])
        test.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# --- text --------------------------------------------------------------------------------------------------


def _check_columns(df, text_column: str, label_column: str) -> None:
    cols = ", ".join(code(c, 40) for c in df.columns[:20])  # a person's names: shown as code, never Markdown
    for role, name in (("text", text_column), ("label", label_column)):
        if name not in df.columns:
            raise DataError(f"The CSV has no {role} column named {code(name)}; its columns are: {cols}.")
    if text_column == label_column:
        raise DataError("The text column and the label column must be different columns.")
    if len(df) > MAX_TEXT_ROWS:
        raise DataError(
            f"The CSV has {len(df):,} rows; the text track reads at most {MAX_TEXT_ROWS:,}. Please upload a sample."
        )
    present = df[text_column].dropna()
    if len(present) == 0 or present.map(lambda v: isinstance(v, str)).mean() < 0.5:
        raise DataError(f"The column {code(text_column)} does not hold text; choose the column with the sentences.")


def _check_labels(labels, label_column: str, labels_per_class: int) -> list[str]:
    classes = sorted(labels.unique())
    if len(classes) < 2:
        raise DataError(
            f"The label column {code(label_column)} has only one class ({code(classes[0])}); "
            "a classifier needs at least two."
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"The label column {code(label_column)} has {len(classes)} classes; at most {MAX_CLASSES} are supported."
        )
    counts = labels.value_counts()
    small = counts[counts < labels_per_class + 1]
    if len(small):
        raise DataError(
            f"With {labels_per_class} labelled examples per class, every class needs at least "
            f"{labels_per_class + 1} rows (the rest are for testing), but "
            + ", ".join(f"{code(c)} has {n}" for c, n in small.items())
            + "."
        )
    return classes


def read_text_csv(df, text_column: str, label_column: str, labels_per_class: int):
    """Check a person's text CSV; returns (texts, y, class_names). Problems raise DataError in plain words."""
    _check_columns(df, text_column, label_column)
    texts, labels = df[text_column], df[label_column]
    empty = texts.isna() | texts.astype(str).str.strip().eq("") | labels.isna() | labels.astype(str).str.strip().eq("")
    if empty.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(empty.to_numpy())[:8])  # +2: header line, 1-based
        raise DataError(
            f"{int(empty.sum())} rows have no text or no label (file lines {rows}"
            f"{', ...' if empty.sum() > 8 else ''}). Fill or remove them first."
        )
    labels = labels.astype(str).str.strip()
    classes = _check_labels(labels, label_column, labels_per_class)
    y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    return [str(t).strip()[:1000] for t in texts], y, classes


def load_texts(config: Config):
    """(texts, y, class_names, title) for the text track."""
    import pandas as pd

    if config.dataset == "upload":
        texts, y, classes = read_text_csv(
            load_upload(config.upload), config.text_column, config.label_column, config.labels_per_class
        )
        return texts, y, classes, f"your CSV ({len(texts)} rows, {len(classes)} classes)"
    texts, y, classes = read_text_csv(pd.read_csv(TOPICS_CSV), "text", "label", config.labels_per_class)
    return texts, y, classes, f"the built-in topics set ({len(texts)} sentences, {len(classes)} topics)"


WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-case word tokens for the bag-of-words model."""
    return WORD.findall(text.lower())


def bag_of_words(texts: list[str], vocabulary: list[str]) -> np.ndarray:
    """Word-presence matrix (n, V) over ``vocabulary``; words outside it are ignored (the model never saw them)."""
    index = {w: j for j, w in enumerate(vocabulary)}
    X = np.zeros((len(texts), len(vocabulary)), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in words(t):
            if w in index:
                X[i, index[w]] = 1.0
    return X


# --- images ------------------------------------------------------------------------------------------------

TARGET_IMAGES_PER_CLASS = {"digits_all_disjoint": 87, "digits_0_4": 174}  # the rarest target digit's images
IMAGES_LEFT_TO_TEST = 10  # labels_per_class leaves at least this many images of every digit for testing
SOURCES = {  # source -> (what pretrains, what the few labels then teach)
    "digits_all_disjoint": ("half of every digit's images", "all ten digits (on the other half of the images)"),
    "digits_0_4": ("digits 0-4 only", "digits 5-9 (which it had never seen)"),
}


def digit_tasks(source: str):
    """Source and target tasks from scikit-learn's digits: (X_src, y_src, X_tgt, y_tgt, target class names).

    Images are (n, 1, 8, 8) in [0, 1]. ``digits_all_disjoint``: a fixed share of every digit's images pretrains
    and the rest is the target (the same ten classes, different images). ``digits_0_4``: the network learns
    digits 0-4 and then must learn digits 5-9, classes it never saw (the narrow source that shows negative transfer).
    """
    from engine.core.data import digits

    X, y = digits()  # (1797, 8, 8), labels 0-9
    X = X[:, None]  # (1797, 1, 8, 8)
    if source == "digits_0_4":
        src, tgt = y < 5, y >= 5
        return X[src], y[src], X[tgt], y[tgt] - 5, [str(d) for d in range(5, 10)]
    rng = np.random.default_rng(12345)  # the same pool for every run, so the pretrained cache is shared
    src = np.zeros(len(y), bool)
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(y == d))
        src[idx[: int(len(idx) * SOURCE_SHARE)]] = True
    return X[src], y[src], X[~src], y[~src], [str(d) for d in range(10)]


def cache_path(config: Config) -> Path:
    """Where the pretrained weights for these source settings live (one file per setting)."""
    key = {
        "source": config.source,
        "pretrain_epochs": config.pretrain_epochs,
        "rotation": config.rotation,
        "shift": config.shift,
        "version": PRETRAIN_VERSION,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return data_dir() / "cache" / f"transfer_cnn_{config.source}_{digest}.safetensors"
