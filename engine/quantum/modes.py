"""Which mode runs: the circuit lab simulates a gate list; the classifier trains a QNN and its baseline."""

from __future__ import annotations

from importlib import import_module

from engine.core.contract import ProgressFn, Result
from engine.quantum.config import Config


def run(config: Config, progress: ProgressFn) -> Result:
    """The one dispatch: the circuit lab simulates a gate list; the classifier trains a QNN and its baseline."""
    algorithm = "engine.quantum.circuit_lab" if config.mode == "circuit_lab" else "engine.quantum.qnn"
    return import_module(algorithm).run(config, progress)  # imported on first use: torch only where it is needed
