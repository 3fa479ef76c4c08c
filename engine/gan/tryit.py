"""Try it on the GAN page: move a point in latent space and see the generated sample move; for the 2-D sets,
click anywhere to read the discriminator's score there. SHAP splits the discriminator's score of the generated
sample over its coordinates (or pixels).

Both networks are rebuilt from the run's settings and stored weights; the real data is regenerated from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.explain import explain_torch
from engine.core.tryit import Answer, figure, heatmap, restore
from engine.core.tryit import waterfall as shap_waterfall
from engine.gan.config import Config
from engine.gan.data import real_samples, source, to_data, to_model
from engine.gan.training import network, surface_grid
from engine.gan.views import GENERATED, REAL, surface_style

CLOUD = 300  # generated samples drawn around your point (2-D sets)


@dataclass
class Bundle:
    config: Config
    G: torch.nn.Module
    D: torch.nn.Module
    real: np.ndarray  # (n, d) real samples in data space (2-D sets: the cloud drawn behind)
    cloud: np.ndarray  # (CLOUD, d) generated samples from fixed latent points, data space
    background: torch.Tensor  # (100, d) model space: SHAP's reference (real and generated)
    surface: np.ndarray | None  # (S, S) the discriminator's score over the plane (2-D sets)

    @property
    def two_d(self) -> bool:
        return self.config.dataset != "digits"

    @property
    def wgan(self) -> bool:
        return self.config.loss == "wgan_gp"

    def score(self, x_data: np.ndarray) -> np.ndarray:
        """The discriminator on data-space points (n, d): P(real), or the critic's score for WGAN."""
        x = torch.as_tensor(to_model(np.asarray(x_data, dtype=np.float32), self.config.dataset, self.config.output))
        with torch.no_grad():
            logit = self.D(x)[:, 0]
        return (logit if self.wgan else torch.sigmoid(logit)).double().numpy()

    def generate(self, z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = self.G(torch.as_tensor(np.asarray(z, dtype=np.float32).reshape(-1, self.config.latent_size)))
        return to_data(out, self.config.dataset, self.config.output).numpy()


def load(config: Config, weights: bytes, info: dict) -> Bundle:
    d = 64 if config.dataset == "digits" else 2
    G = restore(
        network(config.latent_size, d, config.g_width, config.g_layers, config, config.output), weights, "generator"
    )
    D = restore(network(d, 1, config.d_width, config.d_layers, config), weights, "discriminator")
    real = real_samples(source(config), 1000, config.noise, config.seed + 7)
    rng = np.random.default_rng(config.seed)
    bundle = Bundle(config, G, D, real, np.zeros((0, d)), torch.zeros(0), None)
    bundle.cloud = bundle.generate(rng.standard_normal((CLOUD, config.latent_size)))
    mixed = np.concatenate([real[rng.choice(len(real), 50, replace=False)], bundle.cloud[:50]])
    bundle.background = torch.as_tensor(to_model(mixed.astype(np.float32), config.dataset, config.output))
    if bundle.two_d:
        xx, _, points = surface_grid()
        bundle.surface = bundle.score(points).reshape(xx.shape)
    answer(bundle, {"z": np.zeros(config.latent_size)})  # warm-up: SHAP's first call
    return bundle


def examples(bundle: Bundle) -> list[dict]:
    """A few latent points (and, on the plane, clicked points) for benchmarks and tests."""
    rng = np.random.default_rng(1)
    return [
        {
            "z": rng.standard_normal(bundle.config.latent_size),
            **({"point": rng.uniform(-1, 1, 2)} if bundle.two_d else {}),
        }
        for _ in range(5)
    ]


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """``inputs["z"]``: a latent point (latent_size,); 2-D sets may add ``inputs["point"]`` (x1, x2) to score."""
    z = np.asarray(inputs["z"], dtype=np.float32).reshape(-1)
    sample = bundle.generate(z)[0]  # (d,) data space
    judged = "critic score" if bundle.wgan else "P(real)"
    score = float(bundle.score(sample[None])[0])
    summary = {f"Discriminator on the generated sample ({judged})": f"{score:.3g}"}
    prediction = {"sample": sample.tolist(), "discriminator": score}
    x = torch.as_tensor(to_model(sample[None].astype(np.float32), bundle.config.dataset, bundle.config.output))
    names = ["x1", "x2"] if bundle.two_d else [f"pixel ({r + 1}, {c + 1})" for r in range(8) for c in range(8)]
    exp = explain_torch(bundle.D, x, bundle.background, feature_names=names, data=sample[None].astype(np.float64))
    if bundle.two_d:
        point = inputs.get("point")
        if point is not None:
            at = float(bundle.score(np.asarray(point, dtype=np.float32)[None])[0])
            summary[f"Discriminator at your point ({judged})"] = f"{at:.3g}"
            prediction["point_score"] = at
        figs = {"Latent point → sample": plane_figure(bundle, sample, point)}
        why = shap_waterfall(
            exp,
            None,
            f"How x1 and x2 push the {'critic' if bundle.wgan else 'discriminator'}'s verdict on this sample "
            f"(SHAP, {'in its score' if bundle.wgan else 'in its score before the sigmoid turns it into P(real)'})",
        )
    else:
        figs = {
            "Generated digit": heatmap(
                sample.reshape(8, 8), "Generated digit", "The generator's image for your latent point (ink 0-1)."
            )
        }
        why = heatmap(
            np.asarray(exp.values).reshape(8, 8),
            "Pixels behind the discriminator's score (SHAP)",
            "Red pixels make the discriminator's score higher (more 'real'), blue pixels lower.",
            diverging=True,
        )
    figs["SHAP: discriminator on the sample"] = why
    return Answer(summary=summary, prediction=prediction, explanation=exp, figures=figs)


def _points(xy: np.ndarray, name: str, **marker):
    """A named cloud of 2-D points ``xy`` (n, 2) for :func:`plane_figure`."""
    import plotly.graph_objects as go

    xy = np.asarray(xy)
    return go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name=name, marker=marker)


def plane_figure(bundle: Bundle, sample: np.ndarray, point=None):
    """Real data, the generator's cloud, your sample, and the discriminator's score as the background."""
    import plotly.graph_objects as go

    xx, yy, _ = surface_grid()
    label = "critic score" if bundle.wgan else "P(real)"
    ticks = np.linspace(xx.min(), xx.max(), 26)  # clickable points over the plane (a heatmap is not selectable)
    gx, gy = np.meshgrid(ticks, ticks)
    traces = [
        go.Heatmap(
            x=xx[0],
            y=yy[:, 0],
            z=bundle.surface,
            opacity=0.55,
            **surface_style(bundle.wgan),
            hovertemplate=f"x1 %{{x:.2f}}, x2 %{{y:.2f}}: {label} %{{z:.2f}}<extra></extra>",
        ),
        go.Scatter(
            x=gx.ravel(),
            y=gy.ravel(),
            mode="markers",
            name="click to score",
            showlegend=False,
            marker=dict(size=14, color="rgba(0,0,0,0.01)"),
            hoverinfo="skip",
        ),
        _points(bundle.real[:400], "real data", size=4, color=REAL),
        _points(bundle.cloud, "generated", size=4, color=GENERATED),
        _points(
            np.reshape(sample, (1, 2)),
            "your latent point's sample",
            size=16,
            color="black",
            symbol="star",
            line=dict(width=1, color="white"),
        ),
    ]
    if point is not None:
        traces.append(_points(np.reshape(point, (1, 2)), "your point", size=14, color="#ff7f0e", symbol="x"))
    return figure(
        traces,
        f"Green: real data; purple: the generator's samples (the colours of the Results tab); black star: the "
        f"sample for your latent point. The background is the discriminator's {label}; click anywhere to read it.",
        title="Where your latent point lands",
        xaxis_title="x1",
        yaxis=dict(title="x2", scaleanchor="x"),
        clickmode="event+select",
        legend=dict(orientation="h", y=-0.15),  # below the chart, clear of the colour bar
    )
