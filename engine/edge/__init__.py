"""Edge AI: make a trained model small and fast enough for a phone, and measure what it costs.

Start from a trained network (trained here, or a finished Explainable AI or NAS run), then apply model
compression, each technique alone and chained: dynamic and static int8 quantization (PyTorch), magnitude pruning
(unstructured or structured, iterative, fine-tuned), knowledge distillation into a smaller student (Hinton et al.
2015), and export to ONNX run by ONNX Runtime with its own int8 quantization. Every variant is measured the same
way (file size, weights and non-zeros, latency at batch 1, throughput, accuracy, agreement with the original);
every exported file is reloaded and checked before it is offered; SHAP shows whether the explanation drifted.

``config`` (settings, presets, metrics; no torch), ``source`` (the starting network: trained here or rebuilt from a
stored run), ``techniques`` (quantization, pruning, distillation, ONNX export), ``evaluate`` (size, latency,
accuracy, file checks), ``compress`` (``run``), ``analysis`` (in the worker after the run: the SHAP explanations
and the shipped file), ``views`` (the figures, drawn from the stored data) and ``summary`` (the "What just
happened" text).
"""

from engine.core.contract import lazy
from engine.edge.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.edge.summary import describe
from engine.edge.views import explain_figures, figures, live_figure

run = lazy("engine.edge.compress", "run")
explain = lazy("engine.edge.analysis", "explain")
downloads = lazy("engine.edge.analysis", "downloads")

__all__ = [
    "METRICS",
    "PRESETS",
    "PRESET_LABELS",
    "Config",
    "describe",
    "downloads",
    "estimate_seconds",
    "explain",
    "explain_figures",
    "figures",
    "live_figure",
    "run",
]
