"""GAN training: a generator G and a discriminator D (a critic, for the Wasserstein loss) play their game.

Read top to bottom: the two networks, the three losses, one update of the game, the fixed probes that watch
training (snapshots of G's samples and D's decision surface every 10%), the loop, and the packaging of the
results with every quality measure beside its noise and real-data references (:mod:`engine.gan.quality`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.device import pick, seeded
from engine.core.train import count_parameters, mlp, predict
from engine.gan.config import EVAL_SAMPLES, SNAPSHOTS, SURFACE_LIMIT, SURFACE_STEPS, Config
from engine.gan.data import source, to_data, to_model, training_set
from engine.gan.quality import Judge, baselines, digits_classifier

QUALITY = ("precision", "recall", "mmd", "copy_ratio")  # plus the modes (2-D) or classes (digits) measures below
MODES = ("modes_covered", "high_quality_ratio")
CLASSES = ("class_coverage", "mean_confidence")


# --- the two networks --------------------------------------------------------------------------------------


def network(n_in: int, n_out: int, width: int, depth: int, config: Config, out: str | None = None) -> nn.Sequential:
    """The engine's MLP (a fresh activation module per layer) with the chosen LeakyReLU slope and output."""
    net = mlp(n_in, n_out, [width] * depth, config.activation)
    for layer in net:
        if isinstance(layer, nn.LeakyReLU):
            layer.negative_slope = config.leaky_slope
    if out is not None:
        net.append(nn.Tanh() if out == "tanh" else nn.Sigmoid())
    return net


@dataclass
class Game:
    """G and D, their Adam optimisers, the real training pool (model space) and the sampling generator."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    pool: torch.Tensor  # (N, d) real samples in model space
    gen: torch.Generator


def build(config: Config, dev: torch.device) -> Game:
    n_features = 64 if config.dataset == "digits" else 2
    real = training_set(source(config), config.noise, config.seed)  # (N, d) data space; the copying check reads it
    pool = torch.as_tensor(to_model(real, config.dataset, config.output), device=dev)
    with seeded(config.seed):  # seeded weights without touching the global generator
        G = network(config.latent_size, n_features, config.g_width, config.g_layers, config, config.output).to(dev)
        D = network(n_features, 1, config.d_width, config.d_layers, config).to(dev)
    opt_g = torch.optim.Adam(
        G.parameters(), lr=config.g_learning_rate, betas=(config.g_beta1, config.g_beta2), foreach=True
    )
    opt_d = torch.optim.Adam(
        D.parameters(), lr=config.d_learning_rate, betas=(config.d_beta1, config.d_beta2), foreach=True
    )
    return Game(G, D, opt_g, opt_d, pool, torch.Generator(device=dev).manual_seed(config.seed))


# --- the losses --------------------------------------------------------------------------------------------


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean of (||grad_x D(x)|| - 1)^2 at random points between real and fake."""
    eps = torch.rand(len(real), 1, generator=gen, device=real.device)  # (B, 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, d) interpolates
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)  # (B, d)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def discriminator_loss(config: Config, game: Game, real: torch.Tensor, fake: torch.Tensor):
    """D's loss on a batch, and its raw outputs on the real and the fake half (B,) each."""
    B = len(real)
    logits = game.D(torch.cat([real, fake])).squeeze(1)  # (2B,): one pass for both halves
    real_logit, fake_logit = logits[:B], logits[B:]
    if config.loss == "wgan_gp":  # the critic widens the score gap, kept 1-Lipschitz by the penalty
        loss = fake_logit.mean() - real_logit.mean() + config.gp_weight * gradient_penalty(game.D, real, fake, game.gen)
    else:  # cross-entropy; real labels 1 - smoothing (one-sided label smoothing)
        real_label = torch.full_like(real_logit, 1 - config.label_smoothing)
        loss = F.binary_cross_entropy_with_logits(real_logit, real_label) + F.binary_cross_entropy_with_logits(
            fake_logit, torch.zeros_like(fake_logit)
        )
    return loss, real_logit, fake_logit


def generator_loss(config: Config, logit: torch.Tensor) -> torch.Tensor:
    """G's loss from D's raw output on fresh fakes (B,)."""
    if config.loss == "wgan_gp":
        return -logit.mean()
    if config.loss == "minimax":
        return -F.softplus(logit).mean()  # minimise log(1 - D(G(z))) = -softplus(logit)
    return F.softplus(-logit).mean()  # non-saturating: minimise -log D(G(z))


def game_step(config: Config, game: Game) -> torch.Tensor:
    """``d_steps`` updates of D, then one of G; returns (g_loss, d_loss, d_real, d_fake) as a tensor (4,)."""
    B, dev = config.batch_size, game.pool.device
    for _ in range(config.d_steps):
        real = game.pool[torch.randint(0, len(game.pool), (B,), generator=game.gen, device=dev)]  # (B, d)
        z = torch.randn(B, config.latent_size, generator=game.gen, device=dev)  # (B, latent)
        with torch.no_grad():
            fake = game.G(z)  # (B, d)
        d_loss, real_logit, fake_logit = discriminator_loss(config, game, real, fake)
        game.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        game.opt_d.step()
    z = torch.randn(B, config.latent_size, generator=game.gen, device=dev)
    g_loss = generator_loss(config, game.D(game.G(z)).squeeze(1))
    game.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    game.opt_g.step()
    with torch.no_grad():  # d_real/d_fake: P(real) for the classic losses, the critic's score for WGAN
        probe = (lambda t: t.mean()) if config.loss == "wgan_gp" else (lambda t: torch.sigmoid(t).mean())
        return torch.stack([g_loss.detach(), d_loss.detach(), probe(real_logit), probe(fake_logit)])


# --- watching training -------------------------------------------------------------------------------------


def surface_grid():
    """The data-space grid D's decision surface is evaluated on: xx, yy (S, S), points (S*S, 2)."""
    ticks = np.linspace(-SURFACE_LIMIT, SURFACE_LIMIT, SURFACE_STEPS)
    xx, yy = np.meshgrid(ticks, ticks)
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)


@dataclass
class Watch:
    """Fixed inputs seen at every snapshot (the same noise, the same grid) and the snapshots taken so far."""

    config: Config
    judge: Judge
    z: torch.Tensor  # (E, latent) fixed noise
    grid: torch.Tensor  # (S*S, 2) model space
    snaps: dict = field(default_factory=lambda: {"step": [], "samples": [], "surface": [], "mmd": []})
    best: tuple[float, int, dict] | None = None  # keep_best: (training-data MMD, step, G and D weights)

    @classmethod
    def make(cls, config: Config, dev: torch.device) -> Watch:
        eval_gen = torch.Generator(device=dev).manual_seed(config.seed + 1)
        z = torch.randn(EVAL_SAMPLES, config.latent_size, generator=eval_gen, device=dev)  # (E, latent)
        grid = torch.as_tensor(to_model(surface_grid()[2], config.dataset, config.output), device=dev)
        return cls(config, Judge(source(config), config.noise, config.seed), z, grid)

    @property
    def two_d(self) -> bool:
        return self.config.dataset != "digits"

    def generate(self, G: nn.Module, z: torch.Tensor) -> np.ndarray:
        return to_data(predict(G, z).float().cpu().numpy(), self.config.dataset, self.config.output)  # (n, d)

    def surface(self, D: nn.Module, grid: torch.Tensor) -> np.ndarray:
        """P(real) for the classic losses, the critic's score for WGAN, over the grid (S, S)."""
        logit = predict(D, grid).squeeze(1)
        out = logit if self.config.loss == "wgan_gp" else torch.sigmoid(logit)
        return out.float().cpu().numpy().reshape(SURFACE_STEPS, SURFACE_STEPS)

    def snapshot(self, step: int, game: Game) -> None:
        fake = self.generate(game.G, self.z)
        self.snaps["step"].append(step)
        self.snaps["samples"].append(fake[:300] if self.two_d else fake[:10])  # (300, 2) or 10 images (10, 64)
        self.snaps["surface"].append(self.surface(game.D, self.grid) if self.two_d else None)
        self.snaps["mmd"].append(self.judge.mmd(fake))
        if self.config.keep_best:  # chosen on the training data, never on the held-out data it is measured on
            distance = self.judge.mmd(fake, against=self.judge.train)
            self.snaps.setdefault("train_mmd", []).append(distance)
            if self.best is None or distance < self.best[0]:
                weights = {k: copy.deepcopy(m.state_dict()) for k, m in (("G", game.G), ("D", game.D))}
                self.best = (distance, step, weights)

    def restore_best(self, game: Game) -> int | None:
        """Put back the kept generator and discriminator; the step they came from (None without keep_best)."""
        if self.best is None:
            return None
        game.G.load_state_dict(self.best[2]["G"])
        game.D.load_state_dict(self.best[2]["D"])
        return self.best[1]

    def live(self, step: int) -> dict:
        """A small JSON-friendly copy of the latest snapshot for ``live_figure``."""
        small = lambda a, digits=3: np.round(a, digits).tolist()
        if not self.two_d:
            return {"kind": "images", "step": step, "images": small(self.snaps["samples"][-1], 2)}
        axis = surface_grid()[0][0]
        return {
            "kind": "2d",
            "step": step,
            "real": small(self.judge.real[:200]),
            "fake": small(self.snaps["samples"][-1][:200]),
            "surface": small(self.snaps["surface"][-1][::2, ::2]),
            "axis": small(axis[::2]),
            "wgan": self.config.loss == "wgan_gp",
        }


# --- the loop ----------------------------------------------------------------------------------------------


def train(config: Config, game: Game, watch: Watch, tracker: Tracker) -> int:
    """Play the game for ``config.steps`` generator updates; returns the last step (earlier when stopped).

    History rows (at most ~200) hold window means of g_loss, d_loss, d_real, d_fake; the snapshot rows add mmd.
    """
    snap_steps = {round(k * config.steps / SNAPSHOTS) for k in range(SNAPSHOTS + 1)}
    every = max(1, config.steps // 200)
    watch.snapshot(0, game)
    sums, count, step = torch.zeros(4, device=game.pool.device), 0, 0
    for step in range(1, config.steps + 1):
        sums += game_step(config, game)
        count += 1
        at_snapshot = step in snap_steps
        if step % every and not at_snapshot and step != config.steps:
            continue
        g, d, dr, df = (sums / count).tolist()
        sums.zero_()
        count, extra, live = 0, {}, None
        if at_snapshot:
            watch.snapshot(step, game)
            extra, live = {"mmd": watch.snaps["mmd"][-1]}, watch.live(step)
        if tracker.step(step, live=live, g_loss=g, d_loss=d, d_real=dr, d_fake=df, **extra):
            break
    if watch.snaps["step"][-1] != step:  # stopped between snapshots: keep the final state in the figures
        watch.snapshot(step, game)
    return step


# --- packaging ---------------------------------------------------------------------------------------------


def quality_metrics(config: Config, judge: Judge, fake: np.ndarray) -> tuple[dict, dict]:
    """Every quality measure for the generated samples and, prefixed noise_/real_, for both references; and
    the arrays their charts are drawn from (samples per mode or class, the copying check's distances)."""
    names = QUALITY + (CLASSES if config.dataset == "digits" else MODES)
    scores = judge.scores(fake)
    metrics = {name: scores[name] for name in names}
    for prefix, ref in baselines(judge, config.seed).items():
        metrics.update({f"{prefix}_{name}": ref[name] for name in names})
    arrays = {
        "mode_counts": np.asarray(scores["counts"]),
        "copy_train_distance": scores["train_distance"],  # (n,) generated -> nearest training sample
        "copy_held_distance": scores["held_distance"],  # (n,) held-out real -> nearest training sample
    }
    return metrics, arrays


def explain_inputs(config: Config, watch: Watch, fake: np.ndarray, G: nn.Module) -> dict:
    """SHAP inputs (data space): real and generated samples, a background mixing both, a latent path."""
    rng = np.random.default_rng(config.seed)
    real = watch.judge.real
    n_explain = 40 if watch.two_d else 12
    z_pair = watch.z[:2].cpu()
    ts = torch.linspace(0, 1, 12)[:, None]  # (12, 1)
    return {
        "explain_real": real[rng.choice(len(real), n_explain, replace=False)],
        "explain_fake": fake[rng.choice(len(fake), n_explain, replace=False)],
        "background": np.concatenate(
            [real[rng.choice(len(real), 50, replace=False)], fake[rng.choice(len(fake), 50, replace=False)]]
        ),
        "interpolation": watch.generate(G, (1 - ts) * z_pair[0] + ts * z_pair[1]),
    }  # (12, d)


def package(config: Config, game: Game, watch: Watch, tracker: Tracker, step: int) -> Result:
    kept = watch.restore_best(game)
    G, D = game.G.cpu().eval(), game.D.cpu().eval()
    fake = watch.generate(G, watch.z.cpu())  # (E, d) data space
    metrics, quality_arrays = quality_metrics(config, watch.judge, fake)
    digits = config.dataset == "digits"
    if digits:
        metrics.update(classes_total=10, classifier_accuracy=digits_classifier()[1])
        mode_names = [str(k) for k in range(10)]
    else:
        unit = "group" if config.dataset == "drawn" else "region" if watch.judge.curve else "mode"
        centres = watch.judge.centres
        if centres is None:
            raise ValueError(f"The {config.dataset!r} data set has no modes or regions to count.")
        mode_names = [f"{unit} {k + 1}" for k in range(len(centres))]
        metrics["modes_total"] = len(mode_names)
    last = tracker.rows[-1]  # the loop always reports at least once (at its last or stopping step)
    metrics.update(
        mmd_start=watch.snaps["mmd"][0],
        steps_run=step,
        kept_step=step if kept is None else kept,
        d_real_final=last["d_real"],
        d_fake_final=last["d_fake"],
        g_parameters=count_parameters(G),
        d_parameters=count_parameters(D),
    )
    snaps = watch.snaps
    arrays = {
        "snapshot_steps": np.asarray(snaps["step"]),
        "snapshot_samples": np.stack(snaps["samples"]),
        "snapshot_mmd": np.asarray(snaps["mmd"]),
        **({"snapshot_train_mmd": np.asarray(snaps["train_mmd"])} if "train_mmd" in snaps else {}),
        "real": watch.judge.real,
        "fake": fake,
        **quality_arrays,
        **explain_inputs(config, watch, fake, G),
    }
    if not digits:
        xx, yy, _ = surface_grid()
        arrays.update(
            snapshot_surfaces=np.stack(snaps["surface"]),
            grid_x=xx[0],
            grid_y=yy[:, 0],
            final_surface=watch.surface(D, watch.grid.cpu()),
            centres=watch.judge.centres,
        )
    headline = ("precision", "recall", "class_coverage" if digits else "modes_covered")
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=headline,
        models={"generator": G, "discriminator": D},
        arrays=arrays,
        info={"mode_names": mode_names},
        stopped=tracker.stopped,
    )


def run(config: Config, progress: ProgressFn) -> Result:
    """Train G and D against each other, then measure how close G's samples come to held-out real data."""
    dev = pick()
    game = build(config, dev)
    watch = Watch.make(config, dev)
    tracker = Tracker(progress, config.steps)
    step = train(config, game, watch, tracker)
    return package(config, game, watch, tracker, step)
