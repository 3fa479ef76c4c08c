"""GAN analysis, run in the worker after training: SHAP of the discriminator (torch)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.gan.data import to_model


def explain(result: Result):
    """SHAP of the discriminator's "real" score (its logit) on real and on generated samples."""
    import torch

    from engine.core.explain import explain_torch

    a, c = result.arrays, result.config
    t = lambda x: torch.as_tensor(to_model(np.asarray(x, np.float32), c.dataset, c.output))
    names = None if c.dataset == "digits" else ["x1", "x2"]  # pixels are drawn as images by explain_figures
    return {
        title: explain_torch(
            result.models["discriminator"], t(a[key]), t(a["background"]), feature_names=names, data=a[key]
        )
        for title, key in (("Real samples", "explain_real"), ("Generated samples", "explain_fake"))
    }
