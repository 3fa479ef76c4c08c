"""Quantum neural networks: simulated quantum circuits as layers of ordinary PyTorch models.

Two modes share one Config (``config``), each in its own module (``modes.run`` picks one):

* **classifier** (``qnn``): a variational circuit (inputs embedded as qubit rotations, trainable entangling
  layers, one Pauli-Z expectation value per qubit) wrapped by PennyLane's ``TorchLayer`` inside an ``nn.Module``
  and trained with the shared loop; a classical MLP with about as many parameters learns the same split, and
  SHAP explains both. Anchors: Schuld et al. 2020 (circuit-centric classifiers), Pérez-Salinas et al. 2020
  (data re-uploading), Schuld, Sweke & Meyer 2021 (input scaling sets the frequencies a circuit can fit).
* **circuit_lab** (``circuit_lab``): no training; a short gate list ("H 0; CNOT 0 1" is the Bell state) is
  simulated and its circuit, amplitudes and measurement probabilities (exact and sampled) are drawn.

``analysis`` explains the classifier with SHAP (in the worker after training), ``views`` draws both modes from the
stored data (circuits as real diagrams) and ``summary`` writes the "What just happened" text.
"""

from engine.core.contract import lazy
from engine.quantum.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.quantum.summary import describe
from engine.quantum.views import explain_figures, figures, live_figure

run = lazy("engine.quantum.modes", "run")  # the one dispatch to circuit_lab or qnn
explain = lazy("engine.quantum.analysis", "explain")

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
