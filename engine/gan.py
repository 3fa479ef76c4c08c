"""GANs: a generator turns random noise into samples, a discriminator scores samples as real or fake, and
the two train against each other until the fakes look like the data.

In the spirit of GAN Lab (poloclub/ganlab): 2-D data so a person can *see* the generated distribution move
over the discriminator's decision surface, separate controls for the two networks, and the quality metrics
GAN papers use on these toy sets, plus scikit-learn's 8x8 digits as a small image set.

Spaces: every dataset lives in a *data space* (2-D sets roughly inside [-1, 1]², digits as pixels in [0, 1]);
the networks work in a *model space* that matches the generator's output activation ([-1, 1] for tanh,
[0, 1] for sigmoid). ``to_model`` / ``to_data`` map between them; metrics and figures use data space.

Quality metrics:
- ring / grid (mode centres known): a generated sample is *high quality* when it lies within 3 standard
  deviations (``3 * noise``) of its nearest mode centre; a mode is *covered* when at least 20% of its fair
  share (n / modes) of the samples are high-quality samples of that mode (PacGAN-style counting).
- spiral / moons (no centres): a sample is high quality when its distance to the nearest real sample is
  within the 95th percentile of the same distance for fresh real samples (so real data scores about 0.95);
  the "modes" are 8 regions of the data found by k-means, covered by the same 20%-of-fair-share rule.
- digits: a classifier trained here on real digits (cached per process) labels the generated images; a
  class is covered when at least 20% of its fair share of samples are confidently (>= 0.5) that class.
- all sets: the maximum mean discrepancy (MMD, Gaussian kernels) between real and generated samples at
  the start and the end of training (0 means the two sample sets are indistinguishable to the kernel).
"""
from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from engine.core import charts
from engine.core.config import TechniqueConfig
from engine.core.contract import ProgressFn, Result, Tracker

TITLE = "GANs"
SUMMARY = "Watch a generator learn to fool a discriminator until its fake samples look like the real data."

DATASET_TITLES = {"ring": "ring of 8 Gaussians", "grid": "5x5 grid of Gaussians", "spiral": "spiral",
                  "moons": "two moons", "digits": "8x8 handwritten digits"}
LOSS_TITLES = {"minimax": "original minimax", "non_saturating": "non-saturating",
               "wgan_gp": "Wasserstein with gradient penalty"}
SNAPSHOTS = 10  # snapshots of G and D after every 10% of training (plus one before training)
EVAL_SAMPLES = 1000  # generated samples the metrics are computed on
HQ_STDS = 3.0  # "high quality" = within this many standard deviations of a mode centre
COVER_SHARE = 0.2  # a mode counts as covered with at least this share of its fair share of samples
SURFACE_LIMIT = 1.25  # the decision surface is drawn over [-limit, limit]² in data space
SURFACE_STEPS = 50


class Config(TechniqueConfig):
    dataset: Literal["ring", "grid", "spiral", "moons", "digits"] = Field(
        "ring", description="The real data the generator must learn to imitate: 2-D point clouds you can see "
                            "(ring of 8 blobs, 5x5 grid of blobs, spiral, two moons) or 8x8 handwritten digits.")
    noise: float = Field(0.05, ge=0.01, le=0.2, description="How spread out the 2-D data is: the width of each "
                         "blob or the fuzz around the spiral and moons (not used for digits).",
                         json_schema_extra={"widget": "slider"})
    loss: Literal["minimax", "non_saturating", "wgan_gp"] = Field(
        "non_saturating", description="The game the two networks play: the original minimax loss, the "
                                      "non-saturating loss (the generator gets stronger feedback early on), or "
                                      "the Wasserstein loss with gradient penalty (a critic scores realness).")
    latent_size: int = Field(8, ge=1, le=128, description="How many random numbers the generator turns into "
                             "one sample.")
    g_layers: int = Field(2, ge=1, le=6, description="Hidden layers in the generator.", title="Generator layers")
    g_width: int = Field(64, ge=4, le=512, description="Neurons in each hidden layer of the generator.",
                         title="Generator width")
    d_layers: int = Field(2, ge=1, le=6, description="Hidden layers in the discriminator.",
                          title="Discriminator layers")
    d_width: int = Field(64, ge=4, le=512, description="Neurons in each hidden layer of the discriminator.",
                         title="Discriminator width")
    activation: Literal["relu", "leaky_relu"] = Field(
        "leaky_relu", description="The non-linearity inside both networks. LeakyReLU lets a little signal "
                                  "through for negative inputs, which often keeps GAN training alive.")
    leaky_slope: float = Field(0.2, ge=0.01, le=0.5, description="For LeakyReLU: how much of a negative "
                               "input passes through.", json_schema_extra={"widget": "slider"})
    output: Literal["tanh", "sigmoid"] = Field(
        "tanh", description="The generator's last activation: tanh gives values in [-1, 1], sigmoid in [0, 1]; "
                            "the real data is rescaled to the same range.", title="Generator output")
    g_learning_rate: float = Field(0.002, ge=1e-5, le=0.1, description="Step size of the generator's Adam "
                                   "optimiser.", json_schema_extra={"log": True}, title="Generator learning rate")
    d_learning_rate: float = Field(0.002, ge=1e-5, le=0.1, description="Step size of the discriminator's Adam "
                                   "optimiser.", json_schema_extra={"log": True}, title="Discriminator learning rate")
    g_beta1: float = Field(0.5, ge=0.0, le=0.99, description="Generator Adam momentum (beta 1). GANs usually "
                           "train better with 0.5 than Adam's usual 0.9.", json_schema_extra={"widget": "slider"},
                           title="Generator Adam β1")
    g_beta2: float = Field(0.999, ge=0.5, le=0.9999, description="Generator Adam beta 2: how long Adam "
                           "remembers the size of past gradients.", title="Generator Adam β2")
    d_beta1: float = Field(0.5, ge=0.0, le=0.99, description="Discriminator Adam momentum (beta 1).",
                           json_schema_extra={"widget": "slider"}, title="Discriminator Adam β1")
    d_beta2: float = Field(0.999, ge=0.5, le=0.9999, description="Discriminator Adam beta 2.",
                           title="Discriminator Adam β2")
    d_steps: int = Field(1, ge=1, le=10, description="Discriminator updates for every generator update "
                         "(Wasserstein GANs usually use 5).", title="Discriminator steps per generator step")
    batch_size: int = Field(128, ge=8, le=1024, description="Real and fake samples per update.")
    steps: int = Field(1000, ge=10, le=20000, description="Generator updates in total: longer training, "
                       "better samples (usually).")
    label_smoothing: float = Field(0.0, ge=0.0, le=0.3, description="Tell the discriminator real samples are "
                                   "only this much less than 100% real, so it grows less over-confident "
                                   "(not used by the Wasserstein loss).", json_schema_extra={"widget": "slider"})
    gp_weight: float = Field(10.0, ge=0.1, le=100.0, description="For the Wasserstein loss: how strongly the "
                             "gradient penalty keeps the critic smooth.", json_schema_extra={"log": True},
                             title="Gradient penalty weight")

    # The form shows a setting only where it applies (hidden settings keep their values).
    SHOW_IF: ClassVar[dict] = {
        "leaky_slope": {"activation": ["leaky_relu"]},
        "gp_weight": {"loss": ["wgan_gp"]},
        "label_smoothing": {"loss": ["minimax", "non_saturating"]},
        "noise": {"dataset": ["ring", "grid", "spiral", "moons"]},
    }

    @model_validator(mode="after")
    def _smoothing_needs_probabilities(self):
        if self.loss == "wgan_gp" and self.label_smoothing > 0:
            raise ValueError(f"Label smoothing only applies to the minimax and non-saturating losses: the "
                             f"Wasserstein critic has no labels. Set label smoothing to 0 or pick another loss "
                             f"(got label smoothing {self.label_smoothing} with the Wasserstein loss).")
        return self


PRESETS = {
    "quick": {"steps": 1000, "batch_size": 128, "g_width": 64, "d_width": 64, "g_layers": 2, "d_layers": 2},
    "better": {"steps": 6000, "batch_size": 256, "g_width": 128, "d_width": 128, "g_layers": 3, "d_layers": 3,
               "g_learning_rate": 0.0005, "d_learning_rate": 0.0005},
    # WGAN-GP needs a well-trained critic (5 updates per generator update, Adam beta2 0.9 as in Gulrajani et
    # al. 2017); it matches the overall shape fast (MMD falls) but separates tight modes more slowly.
    "wasserstein": {"loss": "wgan_gp", "d_steps": 5, "g_learning_rate": 0.0002, "d_learning_rate": 0.001,
                    "g_beta2": 0.9, "d_beta2": 0.9, "steps": 2000, "label_smoothing": 0.0},
}


# --- data ------------------------------------------------------------------------------------------------

def mode_centres(dataset: str) -> np.ndarray | None:
    """Mode centres in data space (K, 2) for the Gaussian mixtures, None for sets without centres."""
    if dataset == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        return 0.8 * np.stack([np.cos(angles), np.sin(angles)], 1)
    if dataset == "grid":
        ticks = np.linspace(-0.8, 0.8, 5)
        return np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2)
    return None


def real_samples(dataset: str, n: int, noise: float, seed: int) -> np.ndarray:
    """n real samples in data space: (n, 2) for the 2-D sets, (n, 64) pixels in [0, 1] for digits."""
    from engine.core.data import digits, toy_2d

    rng = np.random.default_rng(seed)
    if dataset == "digits":
        images, _ = digits()  # (1797, 8, 8)
        return images.reshape(len(images), 64)[:n]
    centres = mode_centres(dataset)
    if centres is not None:
        X = centres[rng.integers(0, len(centres), n)]
    else:  # the engine's noise-free curve, scaled into about [-0.8, 0.8]
        X, _ = toy_2d(dataset, n, 0.0, seed)
        X = X * {"spiral": 0.8 / 1.5, "moons": 0.8 / 1.72}[dataset]
    return (X + rng.normal(0, noise, X.shape)).astype(np.float32)


def data_range(dataset: str) -> tuple[float, float]:
    return (0.0, 1.0) if dataset == "digits" else (-1.0, 1.0)


def model_range(output: str) -> tuple[float, float]:
    return (-1.0, 1.0) if output == "tanh" else (0.0, 1.0)


def to_model(x, dataset: str, output: str):
    """Data space -> the generator's output range (works on numpy arrays and tensors)."""
    (a, b), (c, d) = data_range(dataset), model_range(output)
    return (x - a) / (b - a) * (d - c) + c


def to_data(x, dataset: str, output: str):
    """The generator's output range -> data space."""
    (a, b), (c, d) = data_range(dataset), model_range(output)
    return (x - c) / (d - c) * (b - a) + a


# --- metrics ---------------------------------------------------------------------------------------------

def mode_metrics(samples: np.ndarray, centres: np.ndarray, std: float) -> dict:
    """Mode coverage of 2-D ``samples`` (n, 2) around known ``centres`` (K, 2) with per-mode ``std``.

    Returns ``modes_covered`` (modes holding at least COVER_SHARE of their fair share n/K of high-quality
    samples), ``high_quality_ratio`` (share of samples within HQ_STDS * std of their nearest centre) and
    ``counts`` (high-quality samples per mode).
    """
    d = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)  # (n, K)
    nearest, dist = d.argmin(1), d.min(1)
    good = dist <= HQ_STDS * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    needed = COVER_SHARE * len(samples) / len(centres)
    return {"modes_covered": int((counts >= needed).sum()), "high_quality_ratio": float(good.mean()),
            "counts": counts}


def nearest_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of ``a``, the distance to its nearest row of ``b``."""
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min(1)


def k_means(X: np.ndarray, k: int, iterations: int = 25) -> np.ndarray:
    """Lloyd's k-means from a farthest-point start (deterministic); returns the k centres (k, d)."""
    centres = [X[0]]
    for _ in range(k - 1):  # each new centre: the point farthest from the centres so far
        centres.append(X[nearest_distance(X, np.stack(centres)).argmax()])
    centres = np.stack(centres)
    for _ in range(iterations):
        label = np.linalg.norm(X[:, None] - centres[None], axis=-1).argmin(1)
        centres = np.stack([X[label == j].mean(0) if (label == j).any() else centres[j] for j in range(k)])
    return centres


class CurveReference:
    """What "high quality" and "covered" mean for spiral and moons, which have no mode centres."""

    def __init__(self, dataset: str, noise: float, seed: int, regions: int = 8):
        self.reference = real_samples(dataset, 2000, noise, seed + 1)
        fresh = real_samples(dataset, 1000, noise, seed + 2)
        self.threshold = float(np.quantile(nearest_distance(fresh, self.reference), 0.95))
        self.centres = k_means(self.reference, regions)

    def metrics(self, samples: np.ndarray) -> dict:
        good = nearest_distance(samples, self.reference) <= self.threshold
        region = np.linalg.norm(samples[:, None] - self.centres[None], axis=-1).argmin(1)
        counts = np.bincount(region[good], minlength=len(self.centres))
        needed = COVER_SHARE * len(samples) / len(self.centres)
        return {"modes_covered": int((counts >= needed).sum()), "high_quality_ratio": float(good.mean()),
                "counts": counts}


_CLASSIFIER: dict = {}  # the digits classifier, trained once per process


def digits_classifier():
    """A small MLP trained on 80% of the real digits (pixels in [0, 1]); returns (model, held-out accuracy)."""
    if "model" not in _CLASSIFIER:
        import torch
        from torch import nn

        from engine.core.data import digits, split

        images, labels = digits()
        X, y = torch.as_tensor(images.reshape(-1, 64)), torch.as_tensor(labels)
        train_idx, test_idx = split(len(y), 0.2, 0, labels)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
            opt = torch.optim.Adam(model.parameters(), lr=0.01)
            for _ in range(80):  # full-batch: 1438 images
                loss = nn.functional.cross_entropy(model(X[train_idx]), y[train_idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(X[test_idx]).argmax(1) == y[test_idx]).float().mean())
        _CLASSIFIER.update(model=model, accuracy=acc)
    return _CLASSIFIER["model"], _CLASSIFIER["accuracy"]


def class_metrics(images: np.ndarray) -> dict:
    """Class coverage of generated digit images (n, 64) in [0, 1] by the engine's digits classifier.

    ``class_coverage``: classes holding at least COVER_SHARE of their fair share n/10 of samples that the
    classifier assigns to them with confidence >= 0.5; ``mean_confidence``: mean top-class probability.
    """
    import torch

    model, _ = digits_classifier()
    with torch.no_grad():
        probs = torch.softmax(model(torch.as_tensor(images, dtype=torch.float32)), 1).numpy()
    label, conf = probs.argmax(1), probs.max(1)
    counts = np.bincount(label[conf >= 0.5], minlength=10)
    return {"class_coverage": int((counts >= COVER_SHARE * len(images) / 10).sum()),
            "mean_confidence": float(conf.mean()), "counts": counts}


def mmd(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Squared maximum mean discrepancy between sample sets x (n, d) and y (m, d), biased estimate.

    Gaussian kernels at 0.5x, 1x and 2x ``bandwidth``, summed; 0 when the two sets coincide.
    """
    import torch  # torch keeps to the one thread a run may use (numpy's BLAS would start its own)

    def k(a, b):  # mean of the summed kernels over all pairs
        d2 = torch.cdist(a, b).square()  # (n, m)
        wide = torch.exp(-d2 / (2 * (2 * bandwidth) ** 2))  # exp(-d2 / 2s^2) at s = 2, 1, 0.5 bandwidths:
        mid = wide.square().square()  # halving the bandwidth raises the kernel to the 4th power
        return float((wide + mid + mid.square().square()).mean())
    x, y = torch.as_tensor(np.asarray(x), dtype=torch.float64), torch.as_tensor(np.asarray(y), dtype=torch.float64)
    return max(k(x, x) + k(y, y) - 2 * k(x, y), 0.0)


def median_distance(x: np.ndarray) -> float:
    """The median pairwise distance of x: the usual MMD bandwidth."""
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return float(np.median(d[np.triu_indices(len(x), 1)]))


# --- models ----------------------------------------------------------------------------------------------

def network(n_in: int, n_out: int, width: int, depth: int, activation: str, slope: float, out: str | None):
    """An MLP with a fresh activation module per layer (SHAP's DeepExplainer stays exact on it)."""
    from torch import nn

    layers, size = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.LeakyReLU(slope) if activation == "leaky_relu" else nn.ReLU()]
        size = width
    layers.append(nn.Linear(size, n_out))
    if out is not None:
        layers.append(nn.Tanh() if out == "tanh" else nn.Sigmoid())
    return nn.Sequential(*layers)


def gradient_penalty(D, real, fake, gen):
    """WGAN-GP: mean of (||grad_x D(x)|| - 1)^2 at random points between real and fake samples."""
    import torch

    eps = torch.rand(len(real), 1, generator=gen, device=real.device)  # (B, 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, d)
    grad, = torch.autograd.grad(D(x).sum(), x, create_graph=True)  # (B, d)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


# --- training --------------------------------------------------------------------------------------------

def run(config: Config, progress: ProgressFn) -> Result:
    """Train G and D against each other and measure how close the generated samples get to the data.

    G and D are snapshotted before training and after every 10% of it (samples from fixed noise, D's decision
    surface, MMD); each snapshot also goes to the page as a live payload. History rows (at most ~200) hold
    the window means of g_loss, d_loss, d_real, d_fake (P(real) for the classic losses, critic scores for WGAN).
    """
    import torch
    import torch.nn.functional as F

    from engine.core.device import pick
    from engine.core.train import count_parameters

    ds, two_d = config.dataset, config.dataset != "digits"
    dev = pick()
    n_features = 2 if two_d else 64
    pool_np = real_samples(ds, 5000, config.noise, config.seed)  # data space
    pool = torch.as_tensor(to_model(pool_np, ds, config.output), device=dev)  # (N, d) model space
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the global generator
        torch.manual_seed(config.seed)
        G = network(config.latent_size, n_features, config.g_width, config.g_layers, config.activation,
                    config.leaky_slope, config.output).to(dev)
        D = network(n_features, 1, config.d_width, config.d_layers, config.activation, config.leaky_slope,
                    None).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.g_learning_rate, betas=(config.g_beta1, config.g_beta2),
                             foreach=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.d_learning_rate, betas=(config.d_beta1, config.d_beta2),
                             foreach=True)
    gen = torch.Generator(device=dev).manual_seed(config.seed)
    B, wgan = config.batch_size, config.loss == "wgan_gp"

    # fixed evaluation inputs: the same noise and real samples at every snapshot
    eval_gen = torch.Generator(device=dev).manual_seed(config.seed + 1)
    z_eval = torch.randn(EVAL_SAMPLES, config.latent_size, generator=eval_gen, device=dev)  # (E, latent)
    real_eval = real_samples(ds, 500, config.noise, config.seed + 3)  # data space
    bandwidth = median_distance(real_eval)
    xx, yy, grid = _surface_grid()
    grid_t = torch.as_tensor(to_model(grid, ds, config.output), device=dev)  # (S*S, 2)
    curve = CurveReference(ds, config.noise, config.seed) if ds in ("spiral", "moons") else None

    def generate(z):
        with torch.no_grad():
            return to_data(G(z).float().cpu().numpy(), ds, config.output)  # (n, d) data space

    def d_score(x):  # what the heatmap shows: P(real) for the classic losses, the critic's score for WGAN
        with torch.no_grad():
            logit = D(x).squeeze(1)
            return (logit if wgan else torch.sigmoid(logit)).float().cpu().numpy()

    snap_steps = sorted({round(k * config.steps / SNAPSHOTS) for k in range(SNAPSHOTS + 1)})
    snaps: dict[str, list] = {"step": [], "samples": [], "surface": [], "mmd": []}

    def snapshot(step):
        fake = generate(z_eval)
        snaps["step"].append(step)
        snaps["samples"].append(fake[:300] if two_d else fake[:10])  # (300, 2) or 10 images (10, 64)
        snaps["surface"].append(d_score(grid_t).reshape(xx.shape) if two_d else None)
        snaps["mmd"].append(mmd(real_eval, fake[:500], bandwidth))

    def live_payload(step):  # a small JSON-friendly copy of the latest snapshot for live_figure
        small = lambda a, digits=3: np.round(a, digits).tolist()  # noqa: E731
        if two_d:
            return {"kind": "2d", "step": step, "real": small(real_eval[:200]),
                    "fake": small(snaps["samples"][-1][:200]), "surface": small(snaps["surface"][-1][::2, ::2]),
                    "axis": small(xx[0, ::2]), "wgan": wgan}
        return {"kind": "images", "step": step, "images": small(snaps["samples"][-1], 2)}

    tracker = Tracker(progress, config.steps)
    snapshot(0)
    every = max(1, config.steps // 200)  # at most ~200 history rows
    sums = torch.zeros(4, device=dev)  # running g_loss, d_loss, d_real, d_fake over the report window
    count, step = 0, 0
    for step in range(1, config.steps + 1):
        for _ in range(config.d_steps):
            real = pool[torch.randint(0, len(pool), (B,), generator=gen, device=dev)]  # (B, d)
            z = torch.randn(B, config.latent_size, generator=gen, device=dev)  # (B, latent)
            with torch.no_grad():
                fake = G(z)  # (B, d)
            logits = D(torch.cat([real, fake])).squeeze(1)  # (2B,): one pass for both halves
            real_logit, fake_logit = logits[:B], logits[B:]  # (B,) each
            if wgan:
                d_loss = fake_logit.mean() - real_logit.mean() + config.gp_weight * gradient_penalty(
                    D, real, fake, gen)
            else:  # cross-entropy; real labels 1 - smoothing (one-sided label smoothing)
                real_label = torch.full_like(real_logit, 1 - config.label_smoothing)
                d_loss = (F.binary_cross_entropy_with_logits(real_logit, real_label)
                          + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        z = torch.randn(B, config.latent_size, generator=gen, device=dev)
        logit = D(G(z)).squeeze(1)  # (B,)
        if wgan:
            g_loss = -logit.mean()
        elif config.loss == "minimax":
            g_loss = -F.softplus(logit).mean()  # minimise log(1 - D(G(z))) = -softplus(logit)
        else:
            g_loss = F.softplus(-logit).mean()  # minimise -log D(G(z))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

        with torch.no_grad():
            probe = (lambda t: t.mean()) if wgan else (lambda t: torch.sigmoid(t).mean())
            sums += torch.stack([g_loss.detach(), d_loss.detach(), probe(real_logit), probe(fake_logit)])
        count += 1
        at_snapshot = step in snap_steps
        if step % every == 0 or at_snapshot or step == config.steps:
            g, d, dr, df = (sums / count).tolist()
            extra = {}
            payload = None
            if at_snapshot:
                snapshot(step)
                extra["mmd"] = snaps["mmd"][-1]
                payload = live_payload(step)
            sums.zero_()
            count = 0
            if tracker.step(step, live=payload, g_loss=g, d_loss=d, d_real=dr, d_fake=df, **extra):
                break
    if snaps["step"][-1] != step:  # stopped between snapshots: keep the final state in the figures
        snapshot(step)

    G, D = G.cpu().eval(), D.cpu().eval()
    fake = generate(z_eval.cpu())  # (E, d) data space
    metrics: dict = {}  # quality first: the page shows the first four as headline numbers
    if two_d:
        quality = curve.metrics(fake) if curve else mode_metrics(fake, mode_centres(ds), config.noise)
        centres = curve.centres if curve else mode_centres(ds)
        metrics.update(modes_covered=quality["modes_covered"], high_quality_ratio=quality["high_quality_ratio"])
        mode_names = [f"{'region' if curve else 'mode'} {k + 1}" for k in range(len(centres))]
    else:
        quality = class_metrics(fake)
        metrics.update(class_coverage=quality["class_coverage"], mean_confidence=quality["mean_confidence"])
        mode_names, centres = [str(k) for k in range(10)], None
    metrics.update(mmd_end=mmd(real_eval, fake[:500], bandwidth), mmd_start=snaps["mmd"][0], steps_run=step)
    if two_d:
        metrics["modes_total"] = len(centres)
    else:
        metrics.update(classes_total=10, classifier_accuracy=digits_classifier()[1])
    last = tracker.rows[-1]  # the loop always reports at least once (at its last or stopping step)
    metrics.update(d_real_final=last["d_real"], d_fake_final=last["d_fake"],
                   g_parameters=count_parameters(G), d_parameters=count_parameters(D))

    # SHAP inputs (model space): real and generated samples, and a background mixing both
    rng = np.random.default_rng(config.seed)
    n_explain = 40 if two_d else 12
    real_x = real_eval[rng.choice(len(real_eval), n_explain, replace=False)]
    fake_x = fake[rng.choice(len(fake), n_explain, replace=False)]
    background = np.concatenate([real_eval[rng.choice(len(real_eval), 50, replace=False)],
                                 fake[rng.choice(len(fake), 50, replace=False)]])
    z_pair = z_eval[:2].cpu()
    ts = torch.linspace(0, 1, 12)[:, None]
    with torch.no_grad():
        path = to_data(G((1 - ts) * z_pair[0] + ts * z_pair[1]).numpy(), ds, config.output)  # (12, d)
        final_surface = d_score(grid_t.cpu()).reshape(xx.shape) if two_d else None
    arrays = {
        "snapshot_steps": np.asarray(snaps["step"]), "snapshot_samples": np.stack(snaps["samples"]),
        "snapshot_mmd": np.asarray(snaps["mmd"]), "real": real_eval, "fake": fake, "interpolation": path,
        "mode_counts": np.asarray(quality["counts"]), "explain_real": real_x, "explain_fake": fake_x,
        "background": background,
    }
    if two_d:
        arrays.update(snapshot_surfaces=np.stack(snaps["surface"]), grid_x=xx[0],
                      grid_y=yy[:, 0], final_surface=final_surface, centres=centres)
    info = {"dataset": ds, "dataset_title": DATASET_TITLES[ds], "loss": config.loss,
            "loss_title": LOSS_TITLES[config.loss], "output": config.output, "mode_names": mode_names,
            "two_d": two_d, "noise": config.noise, "steps": config.steps, "seed": config.seed,
            "curve": curve is not None}
    return Result(history=tracker.history(), metrics=metrics, models={"generator": G, "discriminator": D},
                  arrays=arrays, info=info, stopped=tracker.stopped)


def _surface_grid():
    """The data-space grid the discriminator's decision surface is evaluated on: xx, yy (S, S), points (S*S, 2)."""
    ticks = np.linspace(-SURFACE_LIMIT, SURFACE_LIMIT, SURFACE_STEPS)
    xx, yy = np.meshgrid(ticks, ticks)
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)


# --- figures ---------------------------------------------------------------------------------------------

def _surface_style(wgan: bool) -> dict:
    if wgan:
        return dict(colorscale=charts.DIVERGING, colorbar=dict(title="critic<br>score"))  # red high, blue low
    return dict(colorscale=charts.DIVERGING, zmin=0, zmax=1, colorbar=dict(title="P(real)"))


def _square(fig, limit: float = SURFACE_LIMIT):
    """Equal, fixed axes over the decision-surface window so frames and figures line up."""
    fig.update_xaxes(range=[-limit, limit], title="x1", constrain="domain")
    fig.update_yaxes(range=[-limit, limit], title="x2", scaleanchor="x")
    return fig


def live_figure(payload: dict):
    """Real vs generated samples right now (2-D, over D's surface) or the current generated digits."""
    import plotly.graph_objects as go

    if payload.get("kind") == "images":
        fig = go.Figure(go.Heatmap(z=_montage(np.asarray(payload["images"]), cols=5), colorscale="Greys",
                                   zmin=0, zmax=1, showscale=False))
        fig.update_layout(title=f"Generated digits at step {payload['step']}",
                          yaxis=dict(autorange="reversed", scaleanchor="x", visible=False), xaxis_visible=False)
        return charts.captioned(fig, "What the generator draws right now from ten fixed noise vectors.")
    real, fake = np.asarray(payload["real"]), np.asarray(payload["fake"])
    axis = payload["axis"]
    fig = go.Figure([
        go.Heatmap(x=axis, y=axis, z=payload["surface"], opacity=0.7, **_surface_style(payload.get("wgan", False))),
        go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real", marker=dict(color="#2ca02c", size=5)),
        go.Scatter(x=fake[:, 0], y=fake[:, 1], mode="markers", name="generated",
                   marker=dict(color="#9467bd", size=5, line=dict(width=0.5, color="white"))),
    ])
    fig.update_layout(title=f"Real vs generated at step {payload['step']}", legend=dict(orientation="h", y=-0.15))
    return charts.captioned(_square(fig), "Green: real data; purple: the generator's samples. Background: where "
                                          "the discriminator thinks samples look real (red) or fake (blue).")


def _montage(images: np.ndarray, cols: int, gap: float = np.nan) -> np.ndarray:
    """Tile flat 8x8 images (n, 64) into one array with a one-pixel gap between tiles."""
    n = len(images)
    rows = math.ceil(n / cols)
    out = np.full((rows * 9 - 1, cols * 9 - 1), gap)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        out[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = np.asarray(img).reshape(8, 8)
    return out


def _animation(result: Result):
    """Generated samples over training on top of the discriminator's decision surface, with a slider."""
    import plotly.graph_objects as go

    a, wgan = result.arrays, result.info["loss"] == "wgan_gp"
    steps, samples, surfaces = a["snapshot_steps"], a["snapshot_samples"], a["snapshot_surfaces"]
    real = a["real"][:300]
    last = len(steps) - 1

    def traces(k):
        return [go.Heatmap(x=a["grid_x"], y=a["grid_y"], z=surfaces[k], opacity=0.7, **_surface_style(wgan)),
                go.Scatter(x=samples[k][:, 0], y=samples[k][:, 1], mode="markers", name="generated",
                           marker=dict(color="#9467bd", size=5, line=dict(width=0.5, color="white")))]

    fig = go.Figure([*traces(last)[:1],
                     go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real",
                                marker=dict(color="#2ca02c", size=4, opacity=0.6)),
                     traces(last)[1]])
    fig.frames = [go.Frame(data=traces(k), traces=[0, 2], name=str(int(s))) for k, s in enumerate(steps)]
    fig.update_layout(
        title="Generated samples over training", legend=dict(orientation="h", x=1, xanchor="right", y=1.0,
                                                              yanchor="bottom"),
        **charts.play_controls([int(t) for t in steps], 500, y=-0.12, active=last, from_start=True))
    what = "the critic's realness score (red high, blue low)" if wgan else \
        "the discriminator's probability that a point is real (red) or fake (blue)"
    return charts.captioned(_square(fig), f"Green: real data; purple: generated samples from the same noise at each "
                                          f"snapshot. Background: {what}. Drag the slider or press Play to watch the "
                                          f"generator chase the regions the discriminator calls real.")


def figures(result: Result) -> dict:
    import plotly.graph_objects as go

    a, info, h = result.arrays, result.info, result.history
    figs = {}
    if info["two_d"]:
        figs["Training animation"] = _animation(result)
        path, real = a["interpolation"], a["real"]
        fig = go.Figure([
            go.Heatmap(x=a["grid_x"], y=a["grid_y"], z=a["final_surface"], opacity=0.4,
                       **_surface_style(info["loss"] == "wgan_gp")),
            go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real", marker=dict(color="#2ca02c", size=4)),
            go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="G along the noise path",
                       marker=dict(color=np.linspace(0, 1, len(path)), colorscale="Viridis", size=10,
                                   line=dict(width=1, color="black")), line=dict(color="black", width=1))])
        fig.update_layout(title="Latent interpolation: walking in a straight line between two noise vectors",
                          legend=dict(orientation="h", y=-0.15))
        figs["Latent interpolation"] = charts.captioned(
            _square(fig), "Twelve noise vectors evenly spaced on a straight line from one random noise vector "
                          "(dark) to another (yellow), each turned into a point by the generator. A generator "
                          "that covers several modes must jump across the empty space between them somewhere.")
        unit = "region" if info["curve"] else "mode"
    else:
        steps, samples = a["snapshot_steps"], a["snapshot_samples"]  # (snapshots, 10, 64)
        fig = go.Figure(go.Heatmap(z=_montage(samples.reshape(-1, 64), cols=samples.shape[1]), colorscale="Greys",
                                   zmin=0, zmax=1, showscale=False, hoverinfo="skip"))
        fig.update_layout(title="Generated digits over training (rows: training step)",
                          yaxis=dict(autorange="reversed", scaleanchor="x",
                                     tickvals=[4 + 9 * k for k in range(len(steps))],
                                     ticktext=[f"step {int(s)}" for s in steps]), xaxis_visible=False,
                          height=120 + 45 * len(steps))
        figs["Digits over training"] = charts.captioned(
            fig, "Each column is one fixed noise vector, each row the generator at a later point in training: "
                 "noise turns into strokes, then into digits.")
        fig = go.Figure(go.Heatmap(z=_montage(a["interpolation"], cols=len(a["interpolation"])), colorscale="Greys",
                                   zmin=0, zmax=1, showscale=False, hoverinfo="skip"))
        fig.update_layout(title="Latent interpolation between two noise vectors",
                          yaxis=dict(autorange="reversed", scaleanchor="x", visible=False), xaxis_visible=False,
                          height=220)
        figs["Latent interpolation"] = charts.captioned(
            fig, "Twelve noise vectors on a straight line between two random ones, each drawn by the final "
                 "generator: a smooth morph means the generator learned a continuous space of digits.")
        unit = "class"
    figs["Losses"] = charts.learning_curves(
        h, ["g_loss", "d_loss"], title="Generator and discriminator losses",
        caption="GAN losses do not fall to zero: the two networks push against each other. Wild swings or a "
                "discriminator loss stuck near zero (it always wins) are signs of trouble.")
    wgan = info["loss"] == "wgan_gp"
    figs["D(real) and D(fake)"] = charts.learning_curves(
        h, ["d_real", "d_fake"], title="Critic score on real and generated samples" if wgan
        else "Discriminator's average P(real) on real and generated samples",
        caption="The critic's average score for real and for generated samples; the gap between them estimates "
                "how far apart the two distributions are." if wgan else
        "At the game's equilibrium the discriminator cannot tell them apart and both lines sit near 0.5.")
    figs["MMD over training"] = charts.learning_curves(
        h.dropna(subset=["mmd"]) if "mmd" in h else h.iloc[:0], ["mmd"],
        title="MMD between real and generated samples",
        caption="Maximum mean discrepancy: a distance between the real and the generated samples (0 = the same "
                "distribution). It should fall as the generator learns.")
    names, n = info["mode_names"], len(a["fake"])
    which = "confidently recognised samples" if unit == "class" else "high-quality samples"
    figs["Coverage"] = charts.bar(
        names, a["mode_counts"].tolist(), title=f"Generated {which} per {unit} (out of {n})",
        caption=f"How many of {n} generated samples land on each {unit}. A {unit} counts as covered with at "
                f"least {COVER_SHARE:.0%} of its fair share ({COVER_SHARE * n / len(names):.0f} samples); short "
                f"or empty bars are {unit}s the generator missed (mode collapse).")
    return figs


# --- explain ---------------------------------------------------------------------------------------------

def explain(result: Result):
    """SHAP of the discriminator's "real" score (its logit) on real and on generated samples."""
    import torch

    from engine.core.explain import explain_torch

    a, info = result.arrays, result.info
    D = result.models["discriminator"]
    ds, out = info["dataset"], info["output"]
    t = lambda x: torch.as_tensor(to_model(np.asarray(x, np.float32), ds, out))  # noqa: E731
    names = ["x1", "x2"] if info["two_d"] else None  # pixels are drawn as images by explain_figures
    return {title: explain_torch(D, t(a[key]), t(a["background"]), feature_names=names, data=a[key])
            for title, key in (("Real samples", "explain_real"), ("Generated samples", "explain_fake"))}


def explain_figures(result: Result, explanation) -> dict:
    """For digits: per-pixel SHAP heatmaps over each image, with a slider to pick the example."""
    import plotly.graph_objects as go

    if result.info["two_d"] or not explanation:
        return {}
    figs = {}
    for title, exp in explanation.items():
        values, images = np.asarray(exp.values).reshape(-1, 8, 8), np.asarray(exp.data).reshape(-1, 8, 8)
        lim = float(np.abs(values).max()) or 1.0

        def traces(k):
            return [go.Heatmap(z=values[k], colorscale=charts.DIVERGING, zmin=-lim, zmax=lim,
                               colorbar=dict(title="SHAP")),
                    go.Contour(z=images[k], showscale=False, contours_coloring="lines", ncontours=4,
                               colorscale=[[0, "black"], [1, "black"]], line=dict(width=1), hoverinfo="skip")]

        fig = go.Figure(traces(0))
        fig.frames = [go.Frame(data=traces(k), name=str(k)) for k in range(len(values))]
        fig.update_layout(
            title=f"{title}: which pixels make the discriminator say 'real'",
            yaxis=dict(autorange="reversed", scaleanchor="x"), xaxis=dict(constrain="domain"),
            sliders=[dict(active=0, currentvalue=dict(prefix="example "), steps=[
                dict(label=str(k + 1), method="animate", args=[[str(k)], dict(mode="immediate", frame=dict(
                    duration=0, redraw=True), transition=dict(duration=0))]) for k in range(len(values))])])
        figs[f"Pixel SHAP: {title.lower()}"] = charts.captioned(
            fig, "Red pixels push the discriminator's 'real' score up, blue pixels push it down; black lines "
                 "outline the digit's strokes. Pick an example with the slider.")
    return figs


# --- text and timing -------------------------------------------------------------------------------------

def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    head = (f"The generator trained for {m['steps_run']:,} steps against the discriminator on the "
            f"{info['dataset_title']} with the {info['loss_title']} loss"
            f"{' (you stopped it early)' if result.stopped else ''}.")
    trend = "fell" if m["mmd_end"] < m["mmd_start"] else "did not fall"
    mmd_text = (f" The distance between generated and real samples (MMD) {trend} from {m['mmd_start']:.3f} "
                f"to {m['mmd_end']:.3f}.")
    if info["two_d"]:
        unit = "regions of the data" if info["curve"] else "modes"
        found, total = m["modes_covered"], m["modes_total"]
        body = (f" It found **{found} of {total}** {unit}, and {m['high_quality_ratio']:.0%} of its samples are "
                f"high quality (close to the real data).")
    else:
        unit = "digit classes"
        found, total = m["class_coverage"], m["classes_total"]
        body = (f" A digits classifier ({m['classifier_accuracy']:.0%} accurate on real digits) recognises "
                f"**{found} of {total}** {unit} among its samples, with {m['mean_confidence']:.0%} mean "
                f"confidence.")
    warn = ""
    if found <= total / 2:
        warn = (f"\n\n**Mode collapse:** the generator covers only {found} of {total} {unit}. It found a few "
                f"outputs that fool the discriminator and stopped exploring the rest. Try more steps, a lower "
                f"learning rate, a wider generator, or another seed.")
    return head + body + mmd_text + warn


def estimate_seconds(config: Config) -> float:
    """Calibrated on one CPU thread (2026-11): ~1 ms of dispatch per network update plus ~34 GFLOP/s of matmuls."""
    wgan = config.loss == "wgan_gp"
    n_features = 64 if config.dataset == "digits" else 2
    g = config.g_width * (config.latent_size + config.g_width * (config.g_layers - 1) + n_features)  # MACs/sample
    d = config.d_width * (n_features + config.d_width * (config.d_layers - 1) + 1)
    # a D update: G forward on B, D forward+backward on 2B (x2 again for the gradient penalty's double
    # backward); a G update: G and D forward+backward on B
    mflop = 2 * config.batch_size * (config.d_steps * (g + (12 if wgan else 6) * d) + 3 * g + 3 * d) / 1e6
    per_step_ms = 1.07 + config.d_steps * (1.7 if wgan else 1.1) + 0.029 * mflop
    fixed = 1.0 + (1.0 if config.dataset == "digits" else 0.0)  # snapshots, figures, SHAP (+ digits classifier)
    return fixed + config.steps * per_step_ms / 1000
