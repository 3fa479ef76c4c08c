"""Self-supervised learning: learn features from unlabelled digits, then check them with a few labels.

The network makes its own training signal from scikit-learn's 8x8 digits, treated as unlabelled; labels are used
only to evaluate. Two families, one encoder (a small CNN, ``common.encoder``):

- **Contrastive** (``simclr``): SimCLR (Chen et al., 2020). Two random augmentations (``augment``: crop, shift,
  rotation, contrast, blur, noise, erasing) of each digit pass through the encoder and a 128-unit projection
  head; the NT-Xent loss, written out as in the paper, pulls the two views together and pushes them away from
  the other digits of the batch (temperature and batch size matter).
- **Predictive** (``masked``): hide random 2x2 patches and reconstruct them from the visible pixels.

Evaluation follows the SimCLR protocol (``evaluate``): freeze the encoder, train a standardised linear probe on 1%,
10% and 100% of the labels (and the chosen share), and compare with the same encoder at random initialisation
and with the same network trained supervised on the same labels; all three also on a perturbed test copy. The
views show the embedding move from a blur to clusters (PCA, live and animated, like the Embedding Projector),
the batch similarity matrix, similarities and nearest neighbours before and after, and pixel SHAP of the probe
versus the supervised model. ``analysis`` computes SHAP where the models are, ``views`` draws the charts from the
stored run and ``summary`` writes the "What just happened" text.
"""

from engine.core.contract import lazy
from engine.ssl.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.ssl.summary import describe
from engine.ssl.views import explain_figures, figures, live_figure

explain = lazy("engine.ssl.analysis", "explain")
measure = lazy("engine.ssl.analysis", "measure")
run = lazy("engine.ssl.experiment", "run")

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
    "measure",
    "run",
]
