"""GANs: real training for every loss, metrics on hand-made sample sets, the ring quick preset, figures, SHAP."""
import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from engine import gan
from engine.core.config import ConfigError, validate

torch.set_num_threads(1)

TINY = {"steps": 30, "g_width": 16, "d_width": 16, "batch_size": 32}


@pytest.fixture(scope="module")
def ring():
    """One run of the ring quick preset, with every progress call recorded."""
    calls = []

    def progress(step, total, metrics):
        calls.append((step, total, metrics))
        return False

    config = validate(gan.Config, gan.PRESETS["quick"])
    assert config.dataset == "ring"
    return gan.run(config, progress), calls


@pytest.fixture(scope="module")
def digits_run():
    return gan.run(validate(gan.Config, {**TINY, "dataset": "digits", "steps": 40}), lambda *_: False)


# --- settings ---------------------------------------------------------------------------------------------

def test_defaults_and_presets_validate_and_quick_uses_the_ring():
    assert gan.Config().dataset == "ring" and gan.Config().loss == "non_saturating"
    for name, values in gan.PRESETS.items():
        validate(gan.Config, values)
    assert validate(gan.Config, gan.PRESETS["wasserstein"]).loss == "wgan_gp"


def test_bad_settings_are_rejected_with_plain_messages():
    with pytest.raises(ConfigError, match="Label smoothing only applies"):
        validate(gan.Config, {"loss": "wgan_gp", "label_smoothing": 0.1})
    with pytest.raises(ConfigError, match=r"`steps` must be >= 10, but got 5"):
        validate(gan.Config, {"steps": 5})
    with pytest.raises(ConfigError, match="`dataset` must be one of"):
        validate(gan.Config, {"dataset": "cats"})
    with pytest.raises(ConfigError, match="`leaky_slope` must be <= 0.5"):
        validate(gan.Config, {"leaky_slope": 0.9})


# --- metrics on hand-made samples -------------------------------------------------------------------------

def test_mode_metrics_count_all_modes_one_mode_and_none():
    centres = gan.mode_centres("ring")  # (8, 2)
    rng = np.random.default_rng(0)
    everywhere = np.repeat(centres, 50, axis=0) + rng.normal(0, 0.01, (400, 2))
    m = gan.mode_metrics(everywhere, centres, std=0.05)
    assert m["modes_covered"] == 8 and m["high_quality_ratio"] == 1.0 and m["counts"].tolist() == [50] * 8

    one = centres[3] + rng.normal(0, 0.01, (400, 2))
    m = gan.mode_metrics(one, centres, std=0.05)
    assert m["modes_covered"] == 1 and m["high_quality_ratio"] == 1.0 and m["counts"][3] == 400

    # half the samples sit at the origin, 0.8 from every centre: not high quality, modes still covered
    half = np.concatenate([everywhere[::2], np.zeros((200, 2))])
    m = gan.mode_metrics(half, centres, std=0.05)
    assert m["high_quality_ratio"] == 0.5 and m["modes_covered"] == 8
    assert gan.mode_metrics(np.zeros((100, 2)), centres, std=0.05)["modes_covered"] == 0


def test_mode_metrics_on_the_grid_and_the_coverage_threshold():
    centres = gan.mode_centres("grid")
    assert centres.shape == (25, 2)
    # 8 of 1000 samples on mode 0 is exactly 20% of its fair share (0.2 * 1000 / 25): covered; 7 is not
    samples = np.concatenate([np.repeat(centres[:1], 8, 0), np.repeat(centres[1:2], 992, 0)])
    assert gan.mode_metrics(samples, centres, 0.05)["modes_covered"] == 2
    samples = np.concatenate([np.repeat(centres[:1], 7, 0), np.repeat(centres[1:2], 993, 0)])
    assert gan.mode_metrics(samples, centres, 0.05)["modes_covered"] == 1


def test_curve_reference_scores_real_moons_high_and_a_single_point_low():
    ref = gan.CurveReference("moons", noise=0.05, seed=0)
    real = gan.real_samples("moons", 1000, 0.05, seed=7)
    m = ref.metrics(real)
    assert m["modes_covered"] == 8 and 0.9 <= m["high_quality_ratio"] <= 1.0  # calibrated: real data ~0.95
    collapsed = np.repeat(real[:1], 500, axis=0)
    assert ref.metrics(collapsed)["modes_covered"] == 1
    assert ref.metrics(collapsed + 1.0)["high_quality_ratio"] < 0.05  # far off the data


def test_class_metrics_on_real_digits_and_on_copies_of_one_digit():
    from engine.core.data import digits

    images, labels = digits()
    m = gan.class_metrics(images.reshape(-1, 64)[:1000])
    assert m["class_coverage"] == 10 and m["mean_confidence"] > 0.9
    three = images[labels == 3].reshape(-1, 64)[:1]
    m = gan.class_metrics(np.repeat(three, 200, axis=0))
    assert m["class_coverage"] == 1 and m["counts"][3] == 200
    assert gan.digits_classifier()[1] > 0.9  # held-out accuracy of the engine's digits classifier


def test_mmd_matches_a_hand_computed_value():
    x, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    # one point each, squared distance 1, kernels at bandwidths 0.5, 1, 2: exp(-1 / (2 s^2))
    cross = math.exp(-2) + math.exp(-0.5) + math.exp(-1 / 8)
    assert gan.mmd(x, y, bandwidth=1.0) == pytest.approx(3 + 3 - 2 * cross, abs=1e-9)
    assert gan.mmd(x, x, bandwidth=1.0) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 2))
    assert gan.mmd(a, rng.normal(size=(300, 2)), 1.0) < 0.02 < gan.mmd(a, rng.normal(size=(300, 2)) + 1.5, 1.0)


def test_scaling_round_trips_for_both_output_activations():
    x = gan.real_samples("ring", 50, 0.05, 0)
    for out in ("tanh", "sigmoid"):
        assert np.allclose(gan.to_data(gan.to_model(x, "ring", out), "ring", out), x, atol=1e-6)
    assert gan.to_model(np.array([0.0, 1.0]), "digits", "tanh").tolist() == [-1.0, 1.0]
    assert gan.to_model(np.array([-1.0, 1.0]), "ring", "sigmoid").tolist() == [0.0, 1.0]


# --- training ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "wgan_gp"])
def test_each_loss_trains_a_few_steps_without_nan(loss):
    result = gan.run(validate(gan.Config, {**TINY, "loss": loss, "d_steps": 2}), lambda *_: False)
    h = result.history
    assert result.metrics["steps_run"] == 30 and h["step"].iloc[-1] == 30
    assert np.isfinite(h[["g_loss", "d_loss", "d_real", "d_fake"]].to_numpy()).all()
    assert all(math.isfinite(v) for v in result.metrics.values())
    if loss != "wgan_gp":  # probabilities
        assert h[["d_real", "d_fake"]].to_numpy().min() >= 0 and h[["d_real", "d_fake"]].to_numpy().max() <= 1


def test_ring_quick_preset_moves_the_samples_onto_the_ring(ring):
    result, _ = ring
    m = result.metrics
    assert m["mmd_end"] < 0.2 * m["mmd_start"]  # generated samples end much closer to the data
    assert m["modes_covered"] >= 6 and m["modes_total"] == 8  # most of the 8 modes
    assert m["high_quality_ratio"] > 0.3
    assert 0.3 < m["d_real_final"] < 0.7 and 0.3 < m["d_fake_final"] < 0.7  # near the 0.5 equilibrium
    json.dumps(m)  # plain numbers only
    assert list(result.history.columns)[:5] == ["step", "g_loss", "d_loss", "d_real", "d_fake"]
    assert len(result.history) <= 250
    mmd = result.history["mmd"].dropna()
    assert len(mmd) == gan.SNAPSHOTS and mmd.iloc[-1] < mmd.iloc[0]


def test_live_snapshots_come_every_tenth_of_training(ring):
    result, calls = ring
    live = [(s, m["live"]) for s, _, m in calls if "live" in m]
    assert [s for s, _ in live] == list(range(100, 1001, 100))
    payload = live[-1][1]
    json.dumps(payload)
    assert len(payload["real"]) == len(payload["fake"]) == 200 and np.shape(payload["surface"]) == (25, 25)
    fig = gan.live_figure(payload)
    assert [t.type for t in fig.data] == ["heatmap", "scatter", "scatter"]
    assert "discriminator" in fig.layout.meta["caption"]


def test_same_seed_same_metrics_and_another_seed_differs():
    config = validate(gan.Config, TINY)
    a, b = gan.run(config, lambda *_: False), gan.run(config, lambda *_: False)
    assert a.metrics == b.metrics
    c = gan.run(validate(gan.Config, {**TINY, "seed": 1}), lambda *_: False)
    assert c.metrics["mmd_end"] != a.metrics["mmd_end"]


def test_stop_returns_a_partial_result_that_still_draws_and_explains():
    config = validate(gan.Config, {**TINY, "steps": 400})
    result = gan.run(config, lambda *_: True)
    assert result.stopped and result.metrics["steps_run"] <= 5
    assert result.arrays["snapshot_steps"].tolist() == [0, result.metrics["steps_run"]]
    assert len(gan.figures(result)) == 6
    assert set(gan.explain(result)) == {"Real samples", "Generated samples"}
    assert "stopped it early" in gan.describe(result)


def test_sigmoid_output_keeps_samples_in_the_data_range():
    result = gan.run(validate(gan.Config, {**TINY, "output": "sigmoid", "dataset": "grid"}), lambda *_: False)
    assert np.abs(result.arrays["fake"]).max() <= 1.0 + 1e-6
    assert result.metrics["modes_total"] == 25


# --- figures, explain, text -------------------------------------------------------------------------------

def test_figures_have_captions_and_the_animation_has_a_frame_per_snapshot(ring):
    result, _ = ring
    figs = gan.figures(result)
    assert list(figs) == ["Training animation", "Latent interpolation", "Losses", "D(real) and D(fake)",
                          "MMD over training", "Coverage"]
    assert all(f.layout.meta["caption"] for f in figs.values())
    anim = figs["Training animation"]
    assert len(anim.frames) == len(anim.layout.sliders[0].steps) == gan.SNAPSHOTS + 1
    assert anim.frames[0].name == "0" and anim.frames[-1].name == "1000"
    assert anim.data[0].type == "heatmap" and np.shape(anim.frames[-1].data[0].z) == (gan.SURFACE_STEPS,) * 2
    assert sum(figs["Coverage"].data[0].y) == round(result.metrics["high_quality_ratio"] * gan.EVAL_SAMPLES)


def test_shap_explains_the_discriminator_on_real_and_generated_samples(ring):
    result, _ = ring
    exps = gan.explain(result)
    assert set(exps) == {"Real samples", "Generated samples"}
    for exp in exps.values():
        assert exp.values.shape == (40, 2) and exp.feature_names == ["x1", "x2"]
        assert exp.additivity_error < 1e-3  # base value + SHAP values = the discriminator's logit
    assert gan.explain_figures(result, exps) == {}


def test_describe_reads_the_run_and_warns_about_mode_collapse(ring):
    result, _ = ring
    text = gan.describe(result)
    assert f"**{result.metrics['modes_covered']} of 8**" in text and "Mode collapse" not in text
    collapsed = dataclasses.replace(result, metrics={**result.metrics, "modes_covered": 2})
    assert "**Mode collapse:** the generator covers only 2 of 8" in gan.describe(collapsed)


def test_digits_give_class_metrics_image_figures_and_pixel_shap(digits_run):
    m = digits_run.metrics
    assert 0 <= m["class_coverage"] <= 10 and 0.1 <= m["mean_confidence"] <= 1
    assert m["mmd_end"] < m["mmd_start"]
    figs = gan.figures(digits_run)
    assert {"Digits over training", "Latent interpolation"} <= set(figs)
    exps = gan.explain(digits_run)
    assert exps["Generated samples"].values.shape == (12, 64) and exps["Real samples"].feature_names is None
    extra = gan.explain_figures(digits_run, exps)
    assert len(extra) == 2 and all(len(f.frames) == 12 for f in extra.values())
    assert "digit classes" in gan.describe(digits_run)
    live = gan.live_figure({"kind": "images", "step": 5, "images": digits_run.arrays["snapshot_samples"][-1].tolist()})
    assert live.data[0].type == "heatmap"


def test_estimate_grows_with_the_work():
    quick = gan.estimate_seconds(gan.Config())
    assert 2 < quick < 15
    assert gan.estimate_seconds(validate(gan.Config, gan.PRESETS["better"])) > 2 * quick
    assert gan.estimate_seconds(validate(gan.Config, gan.PRESETS["wasserstein"])) > 2 * quick
