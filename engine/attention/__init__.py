"""Attention & transformers: train a small transformer classifier and look inside it.

Built up in three steps, each written out from its equations in ``models.py``:

1. **Self-attention** (``attention``, ``SelfAttention``): queries, keys and values are learned projections
   of the input (Q = X Wq, K = X Wk, V = X Wv); scores = Q K^T / sqrt(d); a softmax over the keys turns each
   row of scores into weights that sum to 1; the output is weights V. Padding keys get zero weight.
2. **The transformer block** (``MultiHeadAttention``, ``TransformerBlock``): several heads side by side, each
   in its own slice of the embedding, then a feed-forward network, with residual connections, dropout and
   layer normalisation (post-norm as in the original paper, pre-norm as an option).
3. **A classifier** (``TransformerClassifier``): token embeddings + a positional encoding (sinusoidal,
   learned or none), a learned ``[CLS]`` token in front, 1-4 blocks, and a softmax head on ``[CLS]``.

It trains side by side (``training.py``) with a no-attention baseline (``AveragedEmbeddingBaseline``: token
embeddings averaged, then an MLP), which sees which tokens occur but not their order, and, when asked, the same
transformer without positional encoding, which cannot see order either. The tasks (``tasks.py``) are generated
(which marked token comes first, balanced brackets, sentiment with negation) or come with
scikit-learn (8x8 digits read as 8 row-tokens); every task has one label per sequence. ``analysis.py`` computes
token-level SHAP (and the reference sinusoidal table when a run used no positional encoding) where the model is,
``views.py`` draws the attention maps, the positional encodings and token-level SHAP from the stored run, and
``summary.py`` writes the "What just happened" text.
"""

from engine.attention.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.attention.summary import describe
from engine.attention.views import explain_figures, figures, live_figure
from engine.core.contract import lazy

explain = lazy("engine.attention.analysis", "explain")
measure = lazy("engine.attention.analysis", "measure")
run = lazy("engine.attention.training", "run")

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
