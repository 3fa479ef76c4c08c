"""The tasks: generated sequences where order and context matter, one control where they do not (is there an X),
plus digits read row by row.

Each task has one label per sequence. Token id 0 is padding. Everything is generated here from a seeded
NumPy generator (or comes with scikit-learn), so nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.contract import RunError

TASKS = {
    "first_marked": "Which marked token comes first (X or Y)?",
    "contains_x": "Is there an X among the marked tokens (order does not matter)?",
    "brackets": "Are the brackets balanced?",
    "sentiment": "Sentiment with negation (\"not good\" vs \"good\")",
    "digits": "Handwritten digits read as 8 rows of 8 pixels",
}


@dataclass
class SequenceTask:
    """A generated classification task. ``X`` holds token ids (0 is padding), or (n, T, width) floats."""

    X: np.ndarray  # (n, T) int64 token ids, or (n, T, width) float32 for digits
    y: np.ndarray  # (n,) int64 labels
    vocab: list[str]  # token id -> text; vocab[0] == "<pad>"
    class_names: list[str]
    title: str
    row_width: int = 0  # > 0: tokens are feature vectors of this width (digits), not ids

    def tokens(self, i: int) -> list[str]:
        """The tokens of sequence ``i`` as text, padding dropped."""
        if self.row_width:
            return [f"row {t + 1}" for t in range(self.X.shape[1])]
        return [self.vocab[t] for t in self.X[i] if t != 0]


def _ids(vocab: list[str], words) -> list[int]:
    index = {w: i for i, w in enumerate(vocab)}
    return [index[w] for w in words]


def first_marked_task(n: int, seq_len: int, rng: np.random.Generator) -> SequenceTask:
    """Random filler letters with one X and one Y at random places; the label says which comes first.

    Both classes use exactly the same tokens, so only their order tells them apart.
    """
    fillers = list("abcdefghij")
    vocab = ["<pad>", *fillers, "X", "Y"]
    X = rng.integers(1, 1 + len(fillers), size=(n, seq_len))
    pos = np.argsort(rng.random((n, seq_len)), axis=1)[:, :2]  # two distinct positions per row
    rows = np.arange(n)
    X[rows, pos[:, 0]] = len(vocab) - 2  # X
    X[rows, pos[:, 1]] = len(vocab) - 1  # Y
    y = (pos[:, 1] < pos[:, 0]).astype(np.int64)  # 0: X first, 1: Y first
    return SequenceTask(X.astype(np.int64), y, vocab, ["X first", "Y first"], TASKS["first_marked"])


def contains_x_task(n: int, seq_len: int, rng: np.random.Generator) -> SequenceTask:
    """The control for the order tasks: the same letters as :func:`first_marked_task`, but two marks that are an
    X and a Y in half of the sequences and two Ys in the other half; the label says whether an X is there.

    Only which tokens occur decides the answer, never where: shuffling a sequence never changes its label.
    """
    fillers = list("abcdefghij")
    vocab = ["<pad>", *fillers, "X", "Y"]
    X = rng.integers(1, 1 + len(fillers), size=(n, seq_len))
    pos = np.argsort(rng.random((n, seq_len)), axis=1)[:, :2]  # two distinct positions per row
    y = rng.integers(0, 2, size=n).astype(np.int64)  # 1: an X is there
    rows = np.arange(n)
    X[rows, pos[:, 0]] = np.where(y == 1, len(vocab) - 2, len(vocab) - 1)  # X or a second Y
    X[rows, pos[:, 1]] = len(vocab) - 1  # Y
    return SequenceTask(X.astype(np.int64), y, vocab, ["no X", "X present"], TASKS["contains_x"])


def is_balanced(brackets: str) -> bool:
    """True when every ``(`` is closed by a later ``)``."""
    depth = 0
    for ch in brackets:
        depth += 1 if ch == "(" else -1
        if depth < 0:
            return False
    return depth == 0


BRACKETS_MIN_LENGTH = 20  # shorter strings have so few balanced orders (132 at 12) that tests repeat training


def brackets_length(seq_len: int) -> int:
    """The length of the bracket strings for a requested length: even, and at least BRACKETS_MIN_LENGTH."""
    return max(BRACKETS_MIN_LENGTH, seq_len - seq_len % 2)


def brackets_task(n: int, seq_len: int, rng: np.random.Generator) -> SequenceTask:
    """Half balanced bracket strings, half unbalanced ones with the same number of ``(`` and ``)``.

    Equal counts in both classes mean that counting is not enough: the order of the brackets decides.
    """
    length = brackets_length(seq_len)
    vocab = ["<pad>", "(", ")"]
    base = np.array([1] * (length // 2) + [2] * (length // 2))
    want = {True: n - n // 2, False: n // 2}
    got: dict[bool, list[np.ndarray]] = {True: [], False: []}
    while any(len(got[b]) < want[b] for b in want):
        batch = base[np.argsort(rng.random((4 * n, length)), axis=1)]  # random orders of the same brackets
        depth = np.cumsum(np.where(batch == 1, 1, -1), axis=1)
        balanced = (depth >= 0).all(axis=1)
        for b in (True, False):
            got[b].extend(batch[balanced == b][: want[b] - len(got[b])])
    X = np.array(got[True] + got[False], dtype=np.int64)
    y = np.array([1] * want[True] + [0] * want[False], dtype=np.int64)
    order = rng.permutation(n)
    return SequenceTask(X[order], y[order], vocab, ["unbalanced", "balanced"], TASKS["brackets"])


SUBJECTS = [
    "the movie",
    "the food",
    "the service",
    "this phone",
    "the book",
    "the hotel",
    "the game",
    "the show",
    "my day",
    "the trip",
]
POSITIVE = ["good", "great", "fine", "nice", "excellent", "lovely", "fun"]
NEGATIVE = ["bad", "awful", "boring", "poor", "terrible", "dull", "rude"]
# (template, which adjective decides, flipped?): {a} and {b} are adjectives of opposite sentiment
SENTIMENT_TEMPLATES = [
    ("{s} was {a}", "a", False),
    ("{s} was really {a}", "a", False),
    ("{s} was not {a}", "a", True),
    ("{s} was never {a}", "a", True),
    ("{s} was not {a} but {b}", "b", False),
    ("{s} was {a} , not {b}", "a", False),
    ("{s} was {a} but not {b}", "a", False),
    ("not {a} , {s} was {b}", "b", False),
    ("i did not think {s} was {a}", "a", True),
    ("i thought {s} was {a}", "a", False),
    ("{s} was not {a} at all", "a", True),
    ("{s} was not really {a}", "a", True),
]


SENTIMENT_LENGTH = 8  # words in the longest template ("i did not think the movie was good")


def sentiment_sentences(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Short reviews from varied templates; ``not`` flips a word's sentiment and its place matters.

    "the food was not good but bad" and "the food was not bad but good" hold the same words with opposite
    labels (1 = positive).
    """
    texts, labels = [], []
    for _ in range(n):
        template, decides, flipped = SENTIMENT_TEMPLATES[rng.integers(len(SENTIMENT_TEMPLATES))]
        positive = bool(rng.integers(2))  # sentiment of {a}
        a = rng.choice(POSITIVE if positive else NEGATIVE)
        b = rng.choice(NEGATIVE if positive else POSITIVE)
        text = template.format(s=SUBJECTS[rng.integers(len(SUBJECTS))], a=a, b=b)
        label = positive if decides == "a" else not positive
        texts.append(text)
        labels.append(int(label != flipped))
    return texts, np.array(labels, dtype=np.int64)


def sentiment_task(n: int, rng: np.random.Generator) -> SequenceTask:
    texts, y = sentiment_sentences(n, rng)  # at most SENTIMENT_LENGTH words each
    words = sorted(
        {w for t in texts for w in t.split()}
        | set(POSITIVE)
        | set(NEGATIVE)
        | {w for s in SUBJECTS for w in s.split()}
        | {"not", "but", "never", "really", "at", "all", "i", "did", "think", "thought", "was", ","}
    )
    vocab = ["<pad>", *words]
    X = np.zeros((n, SENTIMENT_LENGTH), dtype=np.int64)  # right-padded with 0
    for i, t in enumerate(texts):
        ids = _ids(vocab, t.split())
        X[i, : len(ids)] = ids
    return SequenceTask(X, y, vocab, ["negative", "positive"], TASKS["sentiment"])


def digits_task() -> SequenceTask:
    from engine.core.data import digits

    images, y = digits()  # (1797, 8, 8) in [0, 1]
    return SequenceTask(images, y, ["<pad>"], [str(d) for d in range(10)], TASKS["digits"], row_width=8)


def make_task(
    name: str, seq_len: int, train_examples: int, seed: int
) -> tuple[SequenceTask, np.ndarray, np.ndarray, np.ndarray]:
    """The task's sequences plus train/validation/test index arrays.

    Held-out sequences that also occur in training are dropped: they would be memorised, not understood.
    """
    rng = np.random.default_rng(seed)
    if name == "digits":
        task = digits_task()
        order = rng.permutation(len(task.y))
        n_test = n_val = len(order) // 5
        return task, order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]
    n_val, n_test = 500, 1000
    n = train_examples + n_val + n_test
    if name == "sentiment":
        task = sentiment_task(n, rng)
    else:
        generate = {"first_marked": first_marked_task, "contains_x": contains_x_task, "brackets": brackets_task}
        task = generate[name](n, seq_len, rng)
    train = np.arange(train_examples)
    val, test = train_examples + np.arange(n_val), n - n_test + np.arange(n_test)
    seen = {task.X[i].tobytes() for i in train}
    val = np.array([i for i in val if task.X[i].tobytes() not in seen], dtype=np.int64)
    test = np.array([i for i in test if task.X[i].tobytes() not in seen], dtype=np.int64)
    if len(test) < 100 or len(val) < 50:
        raise RunError(
            f"Sequences of length {seq_len} allow so few different examples for the '{name}' task "
            "that almost every test sequence also appears in training. Choose a longer sequence "
            "length."
        )
    return task, train, val, test
