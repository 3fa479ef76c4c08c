"""Datasets that ship with installed packages or that the engine generates, and validated CSV uploads.

Nothing here downloads anything. Uploads are stored under ``<data dir>/uploads/<token>.csv`` where the
token is a random 128-bit hex string: a config refers to an upload only through that token.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.paths import data_dir

MAX_UPLOAD_BYTES = int(os.environ.get("FRONTIER_MAX_UPLOAD_MB", "5")) * 1024 * 1024
MAX_UPLOAD_ROWS = 50_000
TOKEN = re.compile(r"\A[0-9a-f]{32}\Z")  # \Z: "$" would accept a trailing newline


class DataError(ValueError):
    """A problem with the person's data; its text is shown as is (as Markdown), so every piece of the person's
    text inside it (a column name, a value) goes through :func:`code`."""


def code(text, limit: int = 60) -> str:
    """A person's text as a Markdown code span: shown literally, never as a link, image or HTML."""
    one_line = " ".join(str(text).split())
    short = one_line[:limit] + ("…" if len(one_line) > limit else "")
    return "`" + (short.replace("`", "'") or " ") + "`"


@dataclass
class Table:
    """A tabular learning problem: features X (n, d), target y, and names for people."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    task: str  # "classification" | "regression"
    class_names: list[str] | None = None
    title: str = ""

    def classes(self) -> list[str]:
        """The class names of a classification table; a regression table has none (ValueError)."""
        if self.class_names is None:
            raise ValueError(f"{self.title or 'This table'} is a regression table: it has no classes.")
        return self.class_names


SKLEARN_TABLES = {  # name -> (loader, task, title, rows): the one place that knows the bundled tables' sizes
    "breast_cancer": ("load_breast_cancer", "classification", "Breast cancer (569 tumours, 30 measurements)", 569),
    "wine": ("load_wine", "classification", "Wine (178 wines, 13 chemical measurements, 3 cultivars)", 178),
    "iris": ("load_iris", "classification", "Iris (150 flowers, 4 measurements, 3 species)", 150),
    "diabetes": ("load_diabetes", "regression", "Diabetes (442 patients, 10 measurements, disease progression)", 442),
}
DIGITS_ROWS = 1797  # scikit-learn's 8x8 digits
READABLE_NAMES = {  # name -> (feature names, class names) for people, from scikit-learn's DESCR; None: keep its own
    "wine": (
        [
            "alcohol",
            "malic acid",
            "ash",
            "alcalinity of ash",
            "magnesium",
            "total phenols",
            "flavanoids",
            "nonflavanoid phenols",
            "proanthocyanins",
            "colour intensity",
            "hue",
            "OD280/OD315 of diluted wines",
            "proline",
        ],
        ["cultivar 1", "cultivar 2", "cultivar 3"],
    ),
    # scikit-learn ships these mean-centred and scaled (each column's squares sum to 1), not in years, mmHg or mg/dl
    "diabetes": (
        [
            "age (scaled)",
            "sex (scaled)",
            "body mass index (scaled)",
            "average blood pressure (scaled)",
            "total cholesterol (s1, scaled)",
            "LDL cholesterol (s2, scaled)",
            "HDL cholesterol (s3, scaled)",
            "cholesterol / HDL ratio (s4, scaled)",
            "log triglycerides (s5, scaled)",
            "blood sugar (s6, scaled)",
        ],
        None,
    ),
}


def sklearn_table(name: str) -> Table:
    import sklearn.datasets as ds

    loader, task, title, _rows = SKLEARN_TABLES[name]
    bunch = getattr(ds, loader)()
    names, classes = READABLE_NAMES.get(name, (None, None))
    names = list(names or [str(n) for n in bunch.feature_names])
    if task == "classification":
        classes = list(classes or [str(c) for c in bunch.target_names])
    return Table(bunch.data.astype(np.float32), bunch.target, names, task, classes, title)


# --- uploads ---------------------------------------------------------------------------------------------


def read_csv(raw: bytes) -> pd.DataFrame:
    """Parse an uploaded CSV, checking what the browser's file filter cannot."""
    if not raw:
        raise DataError("The file is empty.")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise DataError(f"The file is {len(raw) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB.")
    raw = _as_utf8(raw)
    sep = separator(raw)
    try:
        df = pd.read_csv(io.BytesIO(raw), sep=sep, nrows=MAX_UPLOAD_ROWS + 1)
    except UnicodeDecodeError:
        raise DataError(
            "The file is not UTF-8 text. Save it as \"CSV UTF-8\" (Excel: Save As, CSV UTF-8) and upload it again."
        ) from None
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(f"Could not read the file as CSV: {code(str(e).splitlines()[0], 200)}") from None
    if df.empty or len(df.columns) == 0:
        raise DataError("The CSV has no data rows.")
    if len(df) > MAX_UPLOAD_ROWS:
        raise DataError(f"The CSV has more than {MAX_UPLOAD_ROWS:,} rows; please upload a sample.")
    df.columns = _column_names(df.columns)
    if sep == ";":  # a semicolon file (Excel in much of Europe) writes decimals with a comma: 1,5
        df = _decimal_commas(df)
    return df


SEPARATORS = (",", ";", "\t")
DECIMAL_COMMA = re.compile(r"\A\s*[-+]?\d*,\d+\s*\Z")


def separator(raw: bytes, lines: int = 20) -> str:
    """The column separator of a CSV: comma, semicolon or tab, judged on its first lines. A separator counts when
    it splits the header into several columns and every sample line into as many; of those, the one giving the
    most columns wins (a comma first on a tie). Nothing fits: a comma (a one-column file, read as such)."""
    text = raw[: 64 * 1024].decode("utf-8", errors="replace").lstrip("\ufeff")
    sample = [line for line in text.splitlines()[:lines] if line.strip()]
    if len(text) == 64 * 1024 and len(sample) > 1:
        sample = sample[:-1]  # the last line may be cut short
    best, most = ",", 1
    for sep in SEPARATORS:
        counts = {len(row) for row in csv.reader(sample, delimiter=sep)}
        if len(counts) == 1 and (n := counts.pop()) > most:
            best, most = sep, n
    return best


def _decimal_commas(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every value is a number written with a decimal comma ("1,5") become numbers."""
    for column in df.columns:
        values = df[column]
        if (values.dtype == object or pd.api.types.is_string_dtype(values)) and values.notna().any():
            present = values.dropna().astype(str)
            if present.str.match(DECIMAL_COMMA).all():
                df[column] = pd.to_numeric(values.str.replace(",", ".", regex=False))
    return df


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _as_utf8(raw: bytes) -> bytes:
    """UTF-16 text (as Excel's "Unicode text" writes it) re-encoded as UTF-8; other binary data refused."""
    head = raw[:4096]
    if raw.startswith(UTF16_BOMS):
        encoding = "utf-16"
    elif b"\x00" in head and head[1::2].count(0) > 0.9 * len(head[1::2]):
        encoding = "utf-16-le"  # ASCII text with every other byte zero: UTF-16 without its byte-order mark
    elif b"\x00" in head and head[0::2].count(0) > 0.9 * len(head[0::2]):
        encoding = "utf-16-be"
    elif b"\x00" in head:
        raise DataError(
            "This does not look like a CSV text file (it contains binary data). "
            "Save it as \"CSV UTF-8\" and upload it again."
        )
    else:
        return raw
    try:
        return raw.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        raise DataError(
            "The file looks like UTF-16 text but does not decode as such. Save it as \"CSV UTF-8\" and upload it again."
        ) from None


def _column_names(columns) -> list[str]:
    """Trimmed names (at most 60 characters, none empty); names that coincide once trimmed are refused."""
    names = [" ".join(str(c).split())[:60] or f"column_{i}" for i, c in enumerate(columns)]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    repeated = [n for n, k in seen.items() if k > 1]
    if repeated:
        listed = ", ".join(code(n) for n in repeated[:5])
        raise DataError(
            f"Every column needs its own name, but {listed} appears more than once (after removing "
            "spaces at the ends and cutting names to 60 characters). Rename the columns and upload "
            "the file again."
        )
    return names


def save_upload(raw: bytes) -> str:
    """Validate and store an upload; returns its token."""
    read_csv(raw)
    token = secrets.token_hex(16)
    folder = data_dir() / "uploads"
    folder.mkdir(exist_ok=True)
    (folder / f"{token}.csv").write_bytes(raw)
    return token


def load_upload(token: str) -> pd.DataFrame:
    if not TOKEN.match(token or ""):
        raise DataError("That upload reference is not valid; please upload the file again.")
    path = data_dir() / "uploads" / f"{token}.csv"
    if not path.exists():
        raise DataError("The uploaded file is no longer available; please upload it again.")
    path.touch()  # last use: retention (engine.core.retention) counts from here
    return read_csv(path.read_bytes())


def left_out(df: pd.DataFrame, target: str) -> dict[str, str]:
    """The columns :func:`table_from_csv` does not learn from, each with why (for people)."""
    out = {}
    for column in df.columns:
        if column == target or (
            pd.api.types.is_numeric_dtype(df[column]) and not pd.api.types.is_bool_dtype(df[column])
        ):
            continue
        if pd.api.types.is_bool_dtype(df[column]):
            why = "true/false values"
        elif pd.api.types.is_datetime64_any_dtype(df[column]):
            why = "dates"
        else:
            sample = df[column].dropna().astype(str)
            example = next((v for v in sample if not _is_number(v)), None)
            why = "text" + (f", for example {code(example, 30)}" if example is not None else "")
        out[column] = why
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def left_out_text(df: pd.DataFrame, target: str, limit: int = 10) -> str:
    """One sentence naming the columns left out of the features and why; empty when none are."""
    dropped = left_out(df, target)
    if not dropped:
        return ""
    listed = "; ".join(f"{code(c)} ({why})" for c, why in list(dropped.items())[:limit])
    more = f"; and {len(dropped) - limit} more" if len(dropped) > limit else ""
    return f"Not used as features, because the network learns from numbers only: {listed}{more}."


def table_from_csv(df: pd.DataFrame, target: str, max_classes: int = 20) -> Table:
    """Numeric feature columns + a target column, with clear messages for what cannot be learned."""
    if target not in df.columns:
        raise DataError(
            f"The target column {code(target)} is not in the file; columns: "
            f"{', '.join(code(c) for c in df.columns[:20])}."
        )
    if df[target].isna().any():
        raise DataError(f"The target column {code(target)} has {int(df[target].isna().sum())} missing values.")
    features = df.drop(columns=[target]).select_dtypes(include="number")
    if features.shape[1] == 0:
        raise DataError(f"The file has no numeric feature columns besides the target. {left_out_text(df, target)}")
    missing = features.isna().sum()
    if missing.any():
        cols = ", ".join(f"{code(c)} ({n})" for c, n in missing[missing > 0].items())
        raise DataError(f"Some feature columns have missing values: {cols}. Fill or remove them first.")
    if len(df) < 20:
        raise DataError(f"The file has {len(df)} rows; at least 20 are needed to train and test.")
    t = df[target]
    numeric_many = pd.api.types.is_numeric_dtype(t) and t.nunique() > max_classes
    if numeric_many:
        return Table(
            features.to_numpy(np.float32),
            t.to_numpy(np.float32),
            list(features.columns),
            "regression",
            title=f"Your CSV ({len(df)} rows), predicting {target}",
        )
    classes = sorted(t.astype(str).unique())
    if len(classes) < 2:
        raise DataError(
            f"The target column {code(target)} has only one class ({code(classes[0])}); "
            "a classifier needs at least two."
        )
    if len(classes) > max_classes:
        raise DataError(
            f"The target column {code(target)} has {len(classes)} text classes; at most {max_classes} are supported."
        )
    y = t.astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    return Table(
        features.to_numpy(np.float32),
        y,
        list(features.columns),
        "classification",
        classes,
        f"Your CSV ({len(df)} rows), predicting {target}",
    )


# --- 2-D toy sets ----------------------------------------------------------------------------------------


def toy_2d(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labelled 2-D sets: moons, circles, xor, spiral (two arms). X is standardised-ish, y in {0, 1}."""
    from sklearn.datasets import make_circles, make_moons

    rng = np.random.default_rng(seed)
    if name == "moons":
        X, y = make_moons(n, noise=noise, random_state=seed)
        X = (X - [0.5, 0.25]) / [0.87, 0.5]
    elif name == "circles":
        X, y = make_circles(n, noise=noise, factor=0.5, random_state=seed)
        X = X * 1.4
    elif name == "xor":
        X = rng.uniform(-1, 1, (n, 2))
        y = (X[:, 0] * X[:, 1] > 0).astype(int)
        X = X + rng.normal(0, noise, X.shape)
    elif name == "spiral":
        y = rng.integers(0, 2, n)
        t = rng.uniform(0.25, 1, n) * 3 * np.pi
        X = np.stack([t * np.cos(t + np.pi * y), t * np.sin(t + np.pi * y)], 1) / (3 * np.pi) * 1.5
        X = X + rng.normal(0, noise, X.shape)
    else:
        raise DataError(f"Unknown 2-D dataset {name!r}.")
    return X.astype(np.float32), np.asarray(y, dtype=np.int64)


def split(n: int, test_fraction: float, seed: int, stratify: np.ndarray | None = None):
    """Train/test index split, stratified for classification."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    return train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=stratify)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits: images (1797, 8, 8) scaled to [0, 1] and labels 0-9."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def grid_2d(X: np.ndarray, steps: int = 80, margin: float = 0.5):
    """A regular grid covering 2-D points X: (xx, yy, points (steps*steps, 2)) for decision surfaces."""
    lo, hi = X.min(0) - margin, X.max(0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
