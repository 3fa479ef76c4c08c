"""GANs: a generator turns random noise into samples, a discriminator scores samples as real or fake, and the two
train against each other until the fakes look like the data (Goodfellow et al. 2014).

In the spirit of GAN Lab (poloclub/ganlab): 2-D data so a person can *see* the generated distribution move over the
discriminator's decision surface, separate controls for the two networks, three games (the original minimax loss,
the non-saturating loss, and WGAN-GP: the Wasserstein loss with a gradient penalty, Gulrajani et al. 2017), plus
scikit-learn's 8x8 digits as a small image set.

``config`` (settings, presets, metrics; no torch), ``data`` (the real sets and the data/model spaces), ``training``
(the networks, the losses and the loop: ``run``), ``quality`` (precision and recall, Kynkäänniemi et al. 2019; MMD;
mode and class coverage, each also computed for uniform noise and for a second held-out real sample so every number
has a scale; and a copying check: are the samples nearer to the training points than fresh real data is?),
``analysis`` (in the worker after training: SHAP of the discriminator), ``views`` (the figures, drawn from the stored
data) and ``summary`` (the "What just happened" text).
"""

from engine.core.contract import lazy
from engine.gan.config import METRICS, PRESET_LABELS, PRESETS, Config, estimate_seconds
from engine.gan.summary import describe
from engine.gan.views import explain_figures, figures, live_figure

run = lazy("engine.gan.training", "run")
explain = lazy("engine.gan.analysis", "explain")

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
