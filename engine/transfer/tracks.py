"""Which track learns: the text track (a pretrained sentence encoder) or the images track (a pretrained CNN), by
``config.track``."""

from __future__ import annotations

from importlib import import_module

from engine.core.contract import ProgressFn, Result
from engine.transfer.config import Config


def run(config: Config, progress: ProgressFn) -> Result:
    """The one dispatch: the text track or the images track (each imports torch at its top)."""
    track = "engine.transfer.text" if config.track == "text" else "engine.transfer.images"
    return import_module(track).run(config, progress)
