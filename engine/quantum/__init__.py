"""Quantum neural networks: simulated quantum circuits as layers of ordinary PyTorch models.

Two modes share one Config (``config``), each in its own module:

* **classifier** (``qnn``): a variational circuit (inputs embedded as qubit rotations, trainable entangling
  layers, one Pauli-Z expectation value per qubit) wrapped by PennyLane's ``TorchLayer`` inside an ``nn.Module``
  and trained with the shared loop; a classical MLP with about as many parameters learns the same split, and
  SHAP explains both. Anchors: Schuld et al. 2020 (circuit-centric classifiers), Pérez-Salinas et al. 2020
  (data re-uploading), Schuld, Sweke & Meyer 2021 (input scaling sets the frequencies a circuit can fit).
* **circuit_lab** (``circuit_lab``): no training; a short gate list ("H 0; CNOT 0 1" is the Bell state) is
  simulated and its circuit, amplitudes and measurement probabilities (exact and sampled) are drawn.

``views`` draws both (circuits as real diagrams), explains the classifier with SHAP and writes the summary.
"""

from importlib import import_module

from engine.quantum.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.quantum.views import describe, explain, explain_figures, figures, live_figure


def run(config: Config, progress):
    """The one dispatch: the circuit lab simulates a gate list; the classifier trains a QNN and its baseline."""
    algorithm = "engine.quantum.circuit_lab" if config.mode == "circuit_lab" else "engine.quantum.qnn"
    return import_module(algorithm).run(config, progress)  # imported on first use: keeps torch out of here


__all__ = [
    "METRICS",
    "PRESETS",
    "PRESET_LABELS",
    "Config",
    "describe",
    "estimate_seconds",
    "explain",
    "explain_figures",
    "figures",
    "live_figure",
    "run",
]
