"""Where Frontier Lab keeps its files (kept import-light: the home page's sidebar needs it)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Where runs and uploads live: ``FRONTIER_DATA_DIR`` or ``~/.frontier-lab``."""
    path = Path(os.environ.get("FRONTIER_DATA_DIR") or Path.home() / ".frontier-lab")
    path.mkdir(parents=True, exist_ok=True)
    return path
