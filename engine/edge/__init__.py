"""Edge AI: make a trained model small and fast enough for a phone, and measure what it costs.

Start from a trained network (trained here, or a finished Explainable AI or NAS run), then apply model
compression, each technique alone and chained: dynamic and static int8 quantization (PyTorch), magnitude pruning
(unstructured or structured, iterative, fine-tuned), knowledge distillation into a smaller student (Hinton et al.
2015), and export to ONNX run by ONNX Runtime with its own int8 quantization. Every variant is measured the same
way (file size, weights and non-zeros, latency at batch 1, throughput, accuracy, agreement with the original);
every exported file is reloaded and checked before it is offered; SHAP shows whether the explanation drifted.
"""

from engine.core.contract import lazy
from engine.edge.config import METRICS, PRESETS, Config, estimate_seconds
from engine.edge.views import describe, downloads, explain, explain_figures, figures, live_figure

run = lazy("engine.edge.compress", "run")

__all__ = [
    "METRICS",
    "PRESETS",
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
