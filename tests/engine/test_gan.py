"""GANs: quality measures on hand-made sample sets (with exact values), real training for every loss, the quick and
Wasserstein presets on seeds 0-3 against noise, figures, SHAP, and the text on good, collapsed and failed runs."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

import engine.gan as gan
from engine.core import charts
from engine.core.config import ConfigError, validate
from engine.core.pipeline import execute
from engine.gan import data, quality, summary, training
from engine.gan.config import EVAL_SAMPLES, SNAPSHOTS, SURFACE_STEPS
from tests.engine.helpers import read_back_same

torch.set_num_threads(1)

TINY = {"steps": 30, "g_width": 16, "d_width": 16, "batch_size": 32}
SEEDS = (0, 1, 2, 3)


def train(values: dict):
    return gan.run(validate(gan.Config, values), lambda *_a, **_k: False)


@pytest.fixture(scope="module")
def ring():
    """One run of the ring quick preset, with every progress call recorded."""
    calls = []

    def progress(step, total, metrics, live=None):
        calls.append((step, total, metrics, live))
        return False

    config = validate(gan.Config, gan.PRESETS["quick"])
    assert config.dataset == "ring"
    return gan.run(config, progress), calls


@pytest.fixture(scope="module")
def digits_run():
    return train({**TINY, "dataset": "digits", "steps": 40})


@pytest.fixture(scope="module")
def presets_by_seed():
    """{preset: [metrics on seed 0..3]} for the quick and the Wasserstein presets, as the page runs them."""
    return {name: [train({**gan.PRESETS[name], "seed": s}).metrics for s in SEEDS] for name in ("quick", "wasserstein")}


# --- settings ---------------------------------------------------------------------------------------------


def test_defaults_and_presets_validate_and_quick_uses_the_ring():
    assert gan.Config().dataset == "ring" and gan.Config().loss == "non_saturating"
    for values in gan.PRESETS.values():
        validate(gan.Config, values)
    assert list(gan.PRESETS)[0] == "quick"


def test_the_wasserstein_preset_follows_gulrajani_et_al():
    c = validate(gan.Config, gan.PRESETS["wasserstein"])
    assert c.loss == "wgan_gp" and c.d_steps == 5 and c.label_smoothing == 0
    assert (c.g_beta1, c.g_beta2) in ((0.5, 0.9), (0.0, 0.9)) and (c.d_beta1, c.d_beta2) == (c.g_beta1, c.g_beta2)


def test_bad_settings_are_rejected_with_plain_messages():
    with pytest.raises(ConfigError, match="Label smoothing only applies"):
        validate(gan.Config, {"loss": "wgan_gp", "label_smoothing": 0.1})
    with pytest.raises(ConfigError, match=r"`steps` must be >= 10, but got 5"):
        validate(gan.Config, {"steps": 5})
    with pytest.raises(ConfigError, match="`dataset` must be one of"):
        validate(gan.Config, {"dataset": "cats"})
    with pytest.raises(ConfigError, match="`leaky_slope` must be <= 0.5"):
        validate(gan.Config, {"leaky_slope": 0.9})


# --- quality measures on hand-made samples ----------------------------------------------------------------


def test_precision_and_recall_match_a_hand_computed_example():
    real = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # each real ball (k=1) has radius 1
    fake = np.array([[0.5, 0.5], [3.0, 3.0]])  # inside the square's balls; 2.83 from the nearest corner
    assert quality.knn_radii(real, k=1).tolist() == [1.0] * 4
    # precision: 1 of 2 fakes inside a real ball. Recall: the fakes' balls (k=1) reach 3.54 from each fake, so
    # all 4 real points are inside: an outlying fake inflates recall (why recall is read beside precision)
    assert quality.precision_recall(real, fake, k=1) == (0.5, 1.0)
    assert quality.precision_recall(real, real, k=1) == (1.0, 1.0)


def test_precision_recall_separate_real_data_noise_and_collapse_on_the_ring():
    real, other = data.held_out("ring", 1000, 0.05, 0), data.real_samples("ring", 1000, 0.05, 10)
    p, r = quality.precision_recall(real, other)
    assert p > 0.9 and r > 0.9  # a second real sample: both high
    p, r = quality.precision_recall(real, data.uniform_noise("ring", 1000, 0))
    assert p < 0.25 < 0.9 < r  # noise lands on the data rarely but, spread out, reaches almost all of it
    one_mode = data.mode_centres("ring")[0] + np.random.default_rng(0).normal(0, 0.05, (1000, 2))
    p, r = quality.precision_recall(real, one_mode)
    assert p > 0.85 and r < 0.2  # collapse: every sample looks real, one mode in eight is reached


def test_uniform_noise_on_digits_scores_zero_precision_and_recall():
    real, noise = data.held_out("digits", 400, 0, 0), data.uniform_noise("digits", 360, 0)
    assert len(real) == 360  # the 20% of the digits the GAN never trains on
    assert quality.precision_recall(real, noise) == (0.0, 0.0)
    p, r = quality.precision_recall(real, data.real_samples("digits", 360, 0, 0))
    assert p > 0.85 and r > 0.8


def test_mode_metrics_count_all_modes_one_mode_and_none():
    centres = data.mode_centres("ring")  # (8, 2)
    rng = np.random.default_rng(0)
    everywhere = np.repeat(centres, 50, axis=0) + rng.normal(0, 0.01, (400, 2))
    m = quality.mode_metrics(everywhere, centres, std=0.05)
    assert m["modes_covered"] == 8 and m["high_quality_ratio"] == 1.0 and m["counts"].tolist() == [50] * 8
    one = centres[3] + rng.normal(0, 0.01, (400, 2))
    m = quality.mode_metrics(one, centres, std=0.05)
    assert m["modes_covered"] == 1 and m["high_quality_ratio"] == 1.0 and m["counts"][3] == 400
    # half the samples sit at the origin, 0.8 from every centre: not high quality, modes still covered
    m = quality.mode_metrics(np.concatenate([everywhere[::2], np.zeros((200, 2))]), centres, std=0.05)
    assert m["high_quality_ratio"] == 0.5 and m["modes_covered"] == 8
    assert quality.mode_metrics(np.zeros((100, 2)), centres, std=0.05)["modes_covered"] == 0


def test_mode_metrics_on_the_grid_and_the_coverage_threshold():
    centres = data.mode_centres("grid")
    assert centres.shape == (25, 2)
    # 8 of 1000 samples on mode 0 is exactly 20% of its fair share (0.2 * 1000 / 25): covered; 7 is not
    samples = np.concatenate([np.repeat(centres[:1], 8, 0), np.repeat(centres[1:2], 992, 0)])
    assert quality.mode_metrics(samples, centres, 0.05)["modes_covered"] == 2
    samples = np.concatenate([np.repeat(centres[:1], 7, 0), np.repeat(centres[1:2], 993, 0)])
    assert quality.mode_metrics(samples, centres, 0.05)["modes_covered"] == 1


def test_curve_reference_scores_real_moons_high_and_a_single_point_low():
    ref = quality.CurveReference("moons", noise=0.05, seed=0)
    real = data.real_samples("moons", 1000, 0.05, seed=7)
    m = ref.metrics(real)
    assert m["modes_covered"] == 8 and 0.9 <= m["high_quality_ratio"] <= 1.0  # calibrated: real data ~0.95
    collapsed = np.repeat(real[:1], 500, axis=0)
    assert ref.metrics(collapsed)["modes_covered"] == 1
    assert ref.metrics(collapsed + 1.0)["high_quality_ratio"] < 0.05  # far off the data


def test_class_metrics_on_real_digits_and_on_copies_of_one_digit():
    from engine.core.data import digits

    images, labels = digits()
    m = quality.class_metrics(images.reshape(-1, 64)[:1000])
    assert m["class_coverage"] == 10 and m["mean_confidence"] > 0.9
    m = quality.class_metrics(np.repeat(images[labels == 3].reshape(-1, 64)[:1], 200, axis=0))
    assert m["class_coverage"] == 1 and m["counts"][3] == 200
    assert quality.digits_classifier()[1] > 0.9  # held-out accuracy of the engine's digits classifier


def test_copying_is_the_median_distance_to_training_points_over_held_out_datas():
    train = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    held = np.array([[0.0, 0.5], [0.5, 0.0], [2.0, 0.0]])  # 0.5, 0.5, 1.0 from the training points: median 0.5
    fresh = np.array([[0.0, 0.25], [1.0, 0.25], [0.25, 1.0]])  # 0.25 from them: half as far as held-out data
    c = quality.copying(fresh, train, held)
    assert c["copy_ratio"] == pytest.approx(0.5) and c["held_distance"].tolist() == [0.5, 0.5, 1.0]
    assert quality.copying(train, train, held)["copy_ratio"] == 0.0  # a copy sits on its training points


def test_the_reference_is_held_out_never_a_training_sample():
    """Issue 28.3: the digits' "second real sample" was the training images themselves."""
    for dataset in ("ring", "moons", "digits"):
        judge = quality.Judge(dataset, 0.05, seed=1)
        train = {tuple(np.round(x, 6)) for x in judge.train}
        assert not any(tuple(np.round(x, 6)) in train for x in np.concatenate([judge.real, judge.second])), dataset
    judge = quality.Judge("digits", 0.05, seed=0)
    assert len(judge.real) == len(judge.second) == 180 and len(judge.train) == 1437  # the 20% held out, halved
    assert np.array_equal(judge.train, data.training_set("digits", 0.05, 0))


def test_mmd_matches_a_hand_computed_value():
    x, y = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    # one point each, squared distance 1, kernels at bandwidths 0.5, 1, 2: exp(-1 / (2 s^2))
    cross = math.exp(-2) + math.exp(-0.5) + math.exp(-1 / 8)
    assert quality.mmd(x, y, bandwidth=1.0) == pytest.approx(3 + 3 - 2 * cross, abs=1e-9)
    assert quality.mmd(x, x, bandwidth=1.0) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 2))
    assert quality.mmd(a, rng.normal(size=(300, 2)), 1.0) < 0.02 < quality.mmd(a, rng.normal(size=(300, 2)) + 1.5, 1.0)


def test_the_judge_puts_noise_far_above_real_data_in_mmd_on_the_ring():
    judge = quality.Judge("ring", 0.05, seed=0)
    refs = quality.baselines(judge, seed=0)
    assert refs["noise"]["mmd"] > 5 * refs["real"]["mmd"]  # the narrow kernel resolves the eight blobs
    assert refs["real"]["modes_covered"] == 8 and refs["noise"]["modes_covered"] <= 2


def test_scaling_round_trips_for_both_output_activations():
    x = data.real_samples("ring", 50, 0.05, 0)
    for out in ("tanh", "sigmoid"):
        assert np.allclose(data.to_data(data.to_model(x, "ring", out), "ring", out), x, atol=1e-6)
    assert data.to_model(np.array([0.0, 1.0]), "digits", "tanh").tolist() == [-1.0, 1.0]
    assert data.to_model(np.array([-1.0, 1.0]), "ring", "sigmoid").tolist() == [0.0, 1.0]


def test_gradient_penalty_is_zero_for_a_unit_slope_critic_and_one_for_a_flat_one():
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    unit = torch.nn.Linear(2, 1)
    with torch.no_grad():
        unit.weight.copy_(torch.tensor([[0.6, 0.8]]))  # |grad| = 1 everywhere
    assert training.gradient_penalty(unit, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx(0)
    flat = torch.nn.Linear(2, 1)
    with torch.no_grad():
        flat.weight.zero_()
    assert training.gradient_penalty(flat, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx(1)


def test_image_montage_tiles_images_with_gaps_and_labels_rows():
    images = np.arange(4 * 4, dtype=float).reshape(4, 2, 2)  # four 2x2 images
    tiled = charts.montage_array(images, cols=3)
    assert tiled.shape == (2 * 3 - 1, 3 * 3 - 1)
    assert tiled[0:2, 0:2].tolist() == [[0, 1], [2, 3]] and tiled[3:5, 0:2].tolist() == [[12, 13], [14, 15]]
    assert np.isnan(tiled[2]).all() and np.isnan(tiled[3:5, 3:]).all()  # gap row; empty tiles
    fig = charts.image_montage(images.reshape(4, 4), cols=2, shape=(2, 2), row_labels=["a", "b"], title="t")
    assert list(fig.layout.yaxis.ticktext) == ["a", "b"] and list(fig.layout.yaxis.tickvals) == [0.5, 3.5]


# --- training ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "wgan_gp"])
def test_each_loss_trains_a_few_steps_without_nan(loss):
    result = train({**TINY, "loss": loss, "d_steps": 2})
    h = result.history
    assert result.metrics["steps_run"] == 30 and h["step"].iloc[-1] == 30
    assert np.isfinite(h[["g_loss", "d_loss", "d_real", "d_fake"]].to_numpy()).all()
    assert all(math.isfinite(v) for v in result.metrics.values())
    if loss != "wgan_gp":  # probabilities
        assert h[["d_real", "d_fake"]].to_numpy().min() >= 0 and h[["d_real", "d_fake"]].to_numpy().max() <= 1


def test_ring_quick_preset_beats_noise_and_covers_the_ring(ring):
    result, _ = ring
    m = result.metrics
    assert result.headline == ("precision", "recall", "modes_covered")
    assert m["precision"] > m["noise_precision"] + 0.25 and m["real_precision"] > 0.9
    assert m["recall"] > 0.75 and m["modes_covered"] >= 7 and m["modes_total"] == 8
    assert m["noise_mmd"] > 2 * m["mmd"] and m["mmd"] < 0.1 * m["mmd_start"]
    assert 0.3 < m["d_real_final"] < 0.7 and 0.3 < m["d_fake_final"] < 0.7  # near the 0.5 equilibrium
    json.dumps(m)  # plain numbers only
    assert list(result.history.columns)[:5] == ["step", "g_loss", "d_loss", "d_real", "d_fake"]
    assert len(result.history) <= 250
    mmd = result.history["mmd"].dropna()
    assert len(mmd) == SNAPSHOTS and mmd.iloc[-1] < mmd.iloc[0]


def test_presets_on_seeds_0_to_3_beat_noise_and_wasserstein_covers_as_many_modes(presets_by_seed):
    """Issue 21.1: the Wasserstein preset covered 0-3 of 8 modes where the quick one covered 8."""
    for name, runs in presets_by_seed.items():
        for seed, m in zip(SEEDS, runs):
            assert summary.verdict(m) in ("close", "smeared"), (name, seed, m)
            # with a margin, so another machine's floating point cannot flip the verdict
            assert m["recall"] / m["real_recall"] >= summary.RECALL_COVERS + 0.03, (name, seed, m)
            assert m["precision"] > m["noise_precision"] + 0.25, (name, seed)
            assert m["recall"] > 0.7 and m["mmd"] < m["noise_mmd"] / 2, (name, seed)
            assert summary.passes(m) and m["copy_ratio"] > 0.8, (name, seed, m)  # new samples, not copies
    for seed, quick, wgan in zip(SEEDS, presets_by_seed["quick"], presets_by_seed["wasserstein"]):
        assert wgan["modes_covered"] >= quick["modes_covered"] >= 7, seed


def test_live_snapshots_come_every_tenth_of_training(ring):
    result, calls = ring
    live = [(s, payload) for s, _, _, payload in calls if payload is not None]
    assert [s for s, _ in live] == list(range(100, 1001, 100))
    payload = live[-1][1]
    json.dumps(payload)
    assert len(payload["real"]) == len(payload["fake"]) == 200 and np.shape(payload["surface"]) == (25, 25)
    fig = gan.live_figure(payload)
    assert [t.type for t in fig.data] == ["heatmap", "scatter", "scatter"]
    assert "discriminator" in fig.layout.meta["caption"]


def test_same_seed_same_metrics_and_another_seed_differs():
    a, b = train(TINY), train(TINY)
    assert a.metrics == b.metrics
    assert train({**TINY, "seed": 1}).metrics["mmd"] != a.metrics["mmd"]


def test_stop_returns_a_partial_result_that_still_draws_and_explains():
    result = gan.run(validate(gan.Config, {**TINY, "steps": 400}), lambda *_a, **_k: True)
    assert result.stopped and result.metrics["steps_run"] <= 5
    assert result.arrays["snapshot_steps"].tolist() == [0, result.metrics["steps_run"]]
    assert len(gan.figures(result)) == 8
    assert set(gan.explain(result)) == {"Real samples", "Generated samples"}
    assert "You stopped it early, after" in gan.describe(result)


def test_sigmoid_output_keeps_samples_in_the_data_range():
    result = train({**TINY, "output": "sigmoid", "dataset": "grid"})
    assert np.abs(result.arrays["fake"]).max() <= 1.0 + 1e-6
    assert result.metrics["modes_total"] == 25 and result.metrics["real_modes_covered"] == 25


# --- figures, explain, text -------------------------------------------------------------------------------


def test_figures_have_captions_and_the_animation_has_a_frame_per_snapshot(ring):
    result, _ = ring
    figs = gan.figures(result)
    assert list(figs) == [
        "Training animation",
        "Precision and recall",
        "Latent interpolation",
        "Losses",
        "D(real) and D(fake)",
        "MMD over training",
        "Coverage",
        "Copying check",
    ]
    assert all(f.layout.meta["caption"] for f in figs.values())
    anim = figs["Training animation"]
    assert len(anim.frames) == len(anim.layout.sliders[0].steps) == SNAPSHOTS + 1
    assert anim.frames[0].name == "0" and anim.frames[-1].name == "1000"
    assert anim.data[0].type == "heatmap" and np.shape(anim.frames[-1].data[0].z) == (SURFACE_STEPS,) * 2
    assert sum(figs["Coverage"].data[0].y) == round(result.metrics["high_quality_ratio"] * EVAL_SAMPLES)
    bars = {t.name: list(t.y) for t in figs["Precision and recall"].data}
    m = result.metrics
    assert bars == {
        "uniform noise": [m["noise_precision"], m["noise_recall"]],
        "generated": [m["precision"], m["recall"]],
        "real data": [m["real_precision"], m["real_recall"]],
    }
    assert {s.y0 for s in figs["MMD over training"].layout.shapes} == {m["noise_mmd"], m["real_mmd"]}
    copying = figs["Copying check"]  # drawn from the stored distances, titled with the stored ratio
    assert [t.name for t in copying.data] == ["held-out real data", "generated"]
    assert list(copying.data[1].x) == result.arrays["copy_train_distance"].tolist()
    assert np.median(copying.data[1].x) / np.median(copying.data[0].x) == pytest.approx(m["copy_ratio"])
    assert f"No (distance ratio {m['copy_ratio']:.2f})" in copying.layout.title.text


def test_shap_explains_the_discriminator_on_real_and_generated_samples(ring):
    result, _ = ring
    exps = gan.explain(result)
    assert set(exps) == {"Real samples", "Generated samples"}
    for exp in exps.values():
        assert exp.values.shape == (40, 2) and exp.feature_names == ["x1", "x2"]
        assert exp.additivity_error < 1e-3  # base value + SHAP values = the discriminator's logit
    assert gan.explain_figures(result, exps) == {}


def test_describe_reads_the_run_against_its_references(ring):
    result, _ = ring
    m, text = result.metrics, gan.describe(result)
    assert f"**Precision {m['precision']:.0%}**" in text and f"uniform noise: {m['noise_precision']:.0%}" in text
    assert f"**{m['modes_covered']} of 8**" in text
    assert "Mode collapse" not in text and "No better than noise" not in text


def test_collapse_is_diagnosed_only_from_high_precision_with_low_recall(ring):
    result, _ = ring
    m = result.metrics
    collapsed = dataclasses.replace(result, metrics={**m, "precision": 0.93, "recall": 0.15, "modes_covered": 1})
    assert "**Mode collapse:** high precision with low recall" in gan.describe(collapsed)
    # few modes counted but samples spread over the ring (high recall): smeared, not collapsed
    smeared = dataclasses.replace(result, metrics={**m, "precision": 0.35, "recall": 0.98, "modes_covered": 2})
    text = gan.describe(smeared)
    assert "Mode collapse" not in text and "**Spread out, not collapsed:**" in text


def test_a_run_that_learned_nothing_says_so_and_names_the_setting_to_change():
    """Issue 21.11: learning rate 0.1 finished as noise with no hint."""
    result = train({"steps": 300, "g_learning_rate": 0.1, "d_learning_rate": 0.1})
    m = result.metrics
    assert m["precision"] < m["noise_precision"] + 0.15 * (m["real_precision"] - m["noise_precision"])
    text = gan.describe(result)
    assert "**No better than noise:**" in text and "lower the learning rates (now 0.1 and 0.1" in text


def test_the_wasserstein_loss_without_its_companions_is_told_what_to_add(ring):
    result, _ = ring
    config = validate(gan.Config, {"loss": "wgan_gp"})  # 1 critic step, Adam beta2 0.999
    failed = dataclasses.replace(result, config=config, metrics={**result.metrics, "precision": 0.17})
    text = gan.describe(failed)
    assert "**No better than noise:**" in text and "5 critic steps per generator step (now 1)" in text


def test_digits_give_class_metrics_image_figures_and_pixel_shap(digits_run):
    m = digits_run.metrics
    assert digits_run.headline == ("precision", "recall", "class_coverage")
    assert m["noise_precision"] == m["noise_recall"] == 0.0 and m["real_precision"] > 0.85
    assert m["mmd"] < m["mmd_start"] and m["noise_mmd"] > 10 * m["real_mmd"]
    assert 0 <= m["class_coverage"] <= 10 and m["classes_total"] == 10
    figs = gan.figures(digits_run)
    assert {"Digits over training", "Latent interpolation", "Precision and recall"} <= set(figs)
    assert list(figs["Digits over training"].layout.yaxis.ticktext)[0] == "step 0"
    exps = gan.explain(digits_run)
    assert exps["Generated samples"].values.shape == (12, 64) and exps["Real samples"].feature_names is None
    extra = gan.explain_figures(digits_run, exps)
    assert len(extra) == 3 and all(
        len(extra[f"Pixel SHAP: {t}"].frames) == 12 for t in ("real samples", "generated samples")
    )
    assert extra["Where the discriminator looks"].data[0].z.shape == (8, 8)
    assert f"recognises **{m['class_coverage']} of 10** classes" in gan.describe(digits_run)
    live = gan.live_figure({"kind": "images", "step": 5, "images": digits_run.arrays["snapshot_samples"][-1].tolist()})
    assert live.data[0].type == "heatmap"


@pytest.mark.parametrize("dataset", ["ring", "digits"])
def test_a_stored_run_draws_the_same_charts_and_words_from_its_data(dataset, tmp_path):
    """A run read back from the store (arrays, no models) gives the same figures and text as the fresh one."""
    fresh = execute("gan", {**TINY, "dataset": dataset})
    read_back_same(fresh, tmp_path)


def test_estimate_grows_with_the_work():
    quick = gan.estimate_seconds(gan.Config())
    assert 2 < quick < 15
    assert gan.estimate_seconds(validate(gan.Config, gan.PRESETS["better"])) > 2 * quick
    assert gan.estimate_seconds(validate(gan.Config, gan.PRESETS["wasserstein"])) > 2 * quick


# --- the verdict: each branch's words follow from its numbers (issue 27.4) ----------------------------------------


def _metrics(precision, recall, real_precision=0.95, real_recall=0.9, covered=8, digits=False) -> dict:
    m = {
        "precision": precision,
        "recall": recall,
        "real_precision": real_precision,
        "real_recall": real_recall,
        "noise_precision": 0.05,
        "noise_recall": 0.3,
        "mmd": 0.01,
        "mmd_start": 0.5,
        "real_mmd": 0.005,
        "noise_mmd": 0.4,
        "steps_run": 1000,
    }
    if digits:
        m.update(class_coverage=covered, classes_total=10, noise_class_coverage=0, classifier_accuracy=0.95)
        m.update(noise_precision=0.0, noise_recall=0.0)
    else:
        m.update(modes_covered=covered, modes_total=8, noise_modes_covered=8)
    return m


def _describe(m: dict, stopped: bool = False, dataset: str = "ring") -> str:
    from types import SimpleNamespace

    config = validate(gan.Config, {"dataset": dataset})
    return gan.describe(SimpleNamespace(metrics=m, config=config, stopped=stopped))  # type: ignore[arg-type]


def _lead(text: str) -> str:
    from engine.core.wording import split_summary

    return split_summary(text)[0]


def test_verdict_noise():
    m = _metrics(0.1, 0.5)
    assert summary.verdict(m) == "noise"
    assert _lead(_describe(m)).startswith("**No better than noise:** its samples land on the data barely more often")


def test_verdict_close():
    m = _metrics(0.93, 0.8)
    assert summary.verdict(m) == "close"
    lead = _lead(_describe(m))  # the tiles' own numbers, not "98% of the way" beside a 93% precision tile
    assert lead.startswith("**Close to real data:** its samples land on the data nearly as often as real samples do")
    assert "(precision 93% vs 95%; uniform noise 5%)" in lead and "(recall 80% vs 90%)" in lead


def test_verdict_collapse_needs_near_real_precision_far_lower_recall_and_missing_modes():
    m = _metrics(0.93, 0.15, covered=1)
    assert summary.verdict(m) == "collapse"
    lead = _lead(_describe(m))
    assert lead.startswith("**Mode collapse:** high precision with low recall; its samples look real (precision 93%")
    assert "reach only 15% of the real data (real data 90%) and cover 1 of 8 modes" in lead


def test_verdict_narrow_when_every_mode_is_covered():
    m = _metrics(0.93, 0.4, covered=8)
    assert summary.verdict(m) == "narrow"
    text = _describe(m)
    assert "**Real-looking but narrow:**" in text and "touch all 8 modes" in text and "Mode collapse" not in text


def test_verdict_gaps_the_seed_6_moons_case():
    """Issue 27.4: precision 97.5% (real 96.3%), recall 64% read as 'both precision and recall well below'."""
    m = _metrics(0.975, 0.64, real_precision=0.963, real_recall=0.9)
    assert summary.verdict(m) == "gaps"
    text = _describe(m)
    assert "**Real-looking, with gaps:**" in text and "both precision" not in text


def test_verdict_smeared():
    m = _metrics(0.5, 0.85, covered=3)
    assert summary.verdict(m) == "smeared"
    assert _lead(_describe(m)).startswith("**Spread out, not collapsed:** its samples reach most of the real data")


def test_verdict_partial_only_when_both_are_below():
    """Issue 27.4: a stopped digits run at 57% precision (real 94%) covering 10 of 10 classes read as collapse."""
    m = _metrics(0.57, 0.3, real_precision=0.94, real_recall=0.9, covered=10, digits=True)
    assert summary.verdict(m) == "partial"
    text = _describe(m, stopped=True, dataset="digits")
    lead = _lead(text)
    assert lead.startswith("**Partly learned:** both precision (57% vs 94%) and recall (30% vs 90%) sit below")
    assert "You stopped it early, after 1,000 of" in lead and "Mode collapse" not in text
    assert "recognises **10 of 10** classes" in lead


_CLAIMS = {
    # phrase in the text -> what must hold for it: (precision share of the way, recall share, covered all)
    "**No better than noise:**": lambda p, r, full: p < 0.15,
    "**Mode collapse:**": lambda p, r, full: p >= 0.8 and r < 0.6 and not full,
    "**Real-looking but narrow:**": lambda p, r, full: p >= 0.8 and r < 0.6 and full,
    "**Real-looking, with gaps:**": lambda p, r, full: p >= 0.8 and 0.6 <= r < 0.75,
    "**Spread out, not collapsed:**": lambda p, r, full: 0.15 <= p < 0.8 and r >= 0.75,
    "**Partly learned:** both precision": lambda p, r, full: 0.15 <= p < 0.8 and r < 0.75,
    "**Close to real data:**": lambda p, r, full: p >= 0.8 and r >= 0.75,
}


@pytest.mark.parametrize("digits", [False, True])
def test_no_verdict_contradicts_its_numbers_over_a_grid(digits):
    total = 10 if digits else 8
    for precision in (0.02, 0.2, 0.5, 0.6, 0.8, 0.9, 0.97):
        for recall in (0.05, 0.3, 0.55, 0.62, 0.7, 0.8, 0.95):
            for real_p, real_r in ((0.94, 0.9), (0.963, 0.7), (0.99, 0.99)):
                for covered in (1, total - 1, total):
                    m = _metrics(precision, recall, real_p, real_r, covered, digits)
                    text = _describe(m, dataset="digits" if digits else "ring")
                    noise = m["noise_precision"]
                    p = (precision - noise) / (real_p - noise)
                    found = [phrase for phrase in _CLAIMS if phrase in text]
                    assert len(found) == 1, (m, found)
                    assert _CLAIMS[found[0]](p, recall / real_r, covered >= total), (m, found)
                    assert not ("Mode collapse" in text and covered >= total), m
                    assert not ("both precision" in text and (p >= 0.8 or recall >= 0.75 * real_r)), m


# --- trivial generators cannot pass (issue 28.3) -----------------------------------------------------------------


def _trivial(judge: quality.Judge, seed: int) -> dict[str, np.ndarray]:
    """Three generators that learned nothing worth having, and a second held-out real sample (which learned it all).

    Uniform noise; a point mass at the modes (2-D: every sample exactly on a mode centre or, for spiral and moons,
    on a region's centre; digits: the mean training image of each class); a copy of the training set."""
    n, rng = len(judge.real), np.random.default_rng(seed)
    if judge.dataset == "digits":
        from engine.core.data import digits, split

        images, labels = digits()
        train_idx, _ = split(len(labels), data.DIGITS_HELD_OUT, 0, labels)
        x, y = images.reshape(-1, 64)[train_idx], labels[train_idx]
        centres = np.stack([x[y == c].mean(0) for c in range(10)])
    else:
        centres = judge.centres
    return {
        "uniform noise": data.uniform_noise(judge.dataset, n, seed + 10),
        "point mass": centres[np.arange(n) % len(centres)],
        "copied training set": judge.train[rng.choice(len(judge.train), n, replace=False)],
        "second real sample": judge.second,
    }


@pytest.mark.parametrize("dataset", ["ring", "grid", "spiral", "moons", "digits"])
def test_uniform_noise_a_point_mass_and_a_copied_training_set_all_fail(dataset):
    """Issue 28.3: noise covered 25/25 grid modes, exact ring centres scored precision 1.0 and a better MMD than any
    trained GAN, and a memorised training set scored like real data. Each now fails, for the reason it should."""
    for seed in (0, 1):
        judge = quality.Judge(dataset, 0.05, seed=seed)
        config = validate(gan.Config, {"dataset": dataset, "seed": seed})
        total = {"classes_total": 10, "classifier_accuracy": 0.95} if dataset == "digits" else {"modes_total": 0}
        if dataset != "digits":
            total["modes_total"] = len(judge.centres)
        runs = {
            name: {**training.quality_metrics(config, judge, fake)[0], **total, "steps_run": 1000, "mmd_start": 1.0}
            for name, fake in _trivial(judge, seed).items()
        }
        real = runs.pop("second real sample")
        assert summary.passes(real) and summary.verdict(real) == "close", (dataset, seed, real)
        assert 0.8 < real["copy_ratio"] < 1.25  # fresh data: as far from the training points as held-out data
        noise, point, copy = runs["uniform noise"], runs["point mass"], runs["copied training set"]
        assert summary.verdict(noise) == "noise" and noise["copy_ratio"] > 2, (dataset, seed, noise)
        assert summary.verdict(point) in ("narrow", "collapse") and point["recall"] < 0.05, (dataset, seed, point)
        # the copy looks like real data to every other measure; only the copying check gives it away
        assert copy["precision"] > 0.8 and copy["recall"] > 0.8 and copy["mmd"] < 2 * real["mmd"]
        assert copy["copy_ratio"] == 0.0 and summary.verdict(copy) == "copies", (dataset, seed, copy)
        for name, m in runs.items():
            assert not summary.passes(m), (dataset, seed, name, m)
            text = _describe(m, dataset=dataset)
            assert "reaches the real data, copies nothing): **no**" in text, (dataset, name)
        assert "Copies its training points: **yes** (its samples lie 0.00x" in _describe(copy, dataset=dataset)
        assert _lead(_describe(copy, dataset=dataset)).startswith("**Copies its training data:**")


def test_digit_classes_are_not_counted_from_a_handful_of_blurry_samples():
    """Issue 28.3: recall 0.00-0.01 on every seed while 9-10 of 10 classes counted as covered."""
    judge = quality.Judge("digits", 0.05, seed=0)
    rng = np.random.default_rng(0)
    blurry = judge.second.reshape(-1, 8, 8)  # each held-out image smoothed over its 3x3 neighbourhood: a blur
    padded = np.pad(blurry, ((0, 0), (1, 1), (1, 1)), mode="edge")
    blurry = np.mean([padded[:, i : i + 8, j : j + 8] for i in range(3) for j in range(3)], 0).reshape(-1, 64)
    few = np.concatenate([judge.second[:4], rng.uniform(0, 1, (176, 64))])  # 4 real images, the rest noise
    assert judge.scores(judge.second)["class_coverage"] == 10
    assert judge.scores(few)["class_coverage"] == 0  # 4 confident images name no class (9 needed of 180)
    m = judge.scores(blurry)  # blurred digits: still often recognised, but they reach none of the real data
    assert m["class_coverage"] < 10 and m["recall"] < 0.05, m


def test_settings_that_do_not_learn_their_data_say_so_before_train_and_in_the_summary(ring):
    """Issue 28.3: on the grid every preset stayed at noise's level, on the digits the quick and Wasserstein presets
    reached only part of the data, and on the moons the quick settings missed a moon on half the seeds; the page says
    so before Train (Config.expectation) and the summary repeats it."""
    for preset in ("quick", "better", "wasserstein"):
        assert "no better than noise" in validate(gan.Config, {**gan.PRESETS[preset], "dataset": "grid"}).expectation()
        assert validate(gan.Config, {**gan.PRESETS[preset], "dataset": "ring"}).expectation() == ""
    for preset in ("quick", "wasserstein"):
        digits = validate(gan.Config, {**gan.PRESETS[preset], "dataset": "digits"})
        assert "Expect a partial result" in digits.expectation()
    better = validate(gan.Config, {**gan.PRESETS["better"], "dataset": "digits"}).expectation()
    assert "reached 50-64% of the held-out digits on seeds 0-7" in better  # benchmarks.faithfulness --effects
    moons = lambda **values: validate(gan.Config, {"dataset": "moons", **values}).expectation()
    assert "Expect one moon to be missed" in moons(**gan.PRESETS["quick"])  # learning rate 0.002, 1,000 steps
    assert moons(**gan.PRESETS["better"]) == moons(**gan.PRESETS["wasserstein"]) == ""
    result, _ = ring
    on_grid = dataclasses.replace(result, config=validate(gan.Config, {"dataset": "grid"}))
    assert gan.Config(dataset="grid").expectation() in gan.describe(on_grid)
    assert "Expect" not in gan.describe(result)


@pytest.mark.parametrize("dataset", ["ring", "moons", "digits"])
def test_trained_generators_draw_new_samples_rather_than_copies_on_four_seeds(dataset):
    """The copying check on real runs (small budgets): a trained generator lands about as far from its training points
    as held-out real data does or farther, and the stored distances give the stored ratio."""
    for seed in SEEDS:
        result = train({**TINY, "dataset": dataset, "seed": seed})
        m, a = result.metrics, result.arrays
        assert m["copy_ratio"] > 0.8 and not summary.copies(m), (dataset, seed, m["copy_ratio"])
        assert 0.8 < m["real_copy_ratio"] < 1.25 and m["noise_copy_ratio"] > 2
        ratio = np.median(a["copy_train_distance"]) / np.median(a["copy_held_distance"])
        assert ratio == pytest.approx(m["copy_ratio"])
        assert "Copies its training points: **no**" in gan.describe(result)


def test_keep_best_measures_and_keeps_the_snapshot_closest_to_the_training_data():
    """Issue 28: the better preset's 6,000 steps drifted away from a good state (spiral seed 7: held-out MMD 0.028 at
    step 1,800, 0.147 at the end, recall 58%). With keep_best the snapshot closest to the *training* data is the
    generator measured and kept; without it the last step is."""
    kept = train({**TINY, "steps": 200, "keep_best": True})
    a, m = kept.arrays, kept.metrics
    k = int(np.argmin(a["snapshot_train_mmd"]))
    assert len(a["snapshot_train_mmd"]) == SNAPSHOTS + 1 and m["kept_step"] == a["snapshot_steps"][k]
    assert m["mmd"] == pytest.approx(a["snapshot_mmd"][k], rel=1e-6)  # the numbers measure the kept generator
    chart = next(f for f in gan.figures(kept).values() if (f.layout.title.text or "").startswith("MMD"))
    star = next(t for t in chart.data if (t.name or "").startswith("kept"))
    assert list(star.x) == [m["kept_step"]] and "The star marks the snapshot that was kept" in charts.caption_of(chart)
    last = train({**TINY, "steps": 200})
    assert last.metrics["kept_step"] == last.metrics["steps_run"] == 200 and "snapshot_train_mmd" not in last.arrays


def test_the_summary_says_which_snapshot_was_kept():
    result = train({**TINY, "steps": 200, "keep_best": True})
    kept = dataclasses.replace(result, metrics={**result.metrics, "kept_step": 60})
    assert "It kept the generator from step 60 of 200, the snapshot closest to its training data" in gan.describe(kept)
    at_end = dataclasses.replace(result, metrics={**result.metrics, "kept_step": 200})
    assert "the last one (step 200) came closest to its training data" in gan.describe(at_end)
    assert "kept the generator" not in gan.describe(train({**TINY, "steps": 200}))


def test_gan_curves_count_generator_steps_and_the_mmd_axis_reads_plainly(ring):
    from tests.engine.helpers import readable_log_axes, x_titles

    figs = gan.figures(ring[0])
    assert x_titles(figs["Losses"]) == x_titles(figs["MMD over training"]) == {"generator step"}
    assert readable_log_axes(figs["MMD over training"]) == 1


def test_choosing_the_wasserstein_loss_brings_its_companions_and_says_so():
    """The sweep (issue 28) found the Wasserstein loss alone on the quick settings learning nothing (ring precision
    0-17% on seeds 0-7); the form now sets the companions that make it work, and puts the defaults back after."""
    quick = validate(gan.Config, gan.PRESETS["quick"]).model_dump()
    values, note = gan.Config.follow("loss", {**quick, "loss": "wgan_gp"})
    assert values["d_steps"] == 5 and values["gp_weight"] == 1.0 and values["g_beta2"] == 0.9 and "Gulrajani" in note
    wgan = validate(gan.Config, {**quick, "loss": "wgan_gp", **values})
    result = train({**wgan.model_dump(), "seed": 4})  # seed 4 of the sweep: precision 0% and no mode without them
    assert summary.passes(result.metrics), result.metrics
    back, note = gan.Config.follow("loss", {**wgan.model_dump(), "loss": "non_saturating"})
    assert back["d_steps"] == 1 and back["g_beta2"] == gan.Config().g_beta2 and note
    assert gan.Config.follow("steps", quick) == ({}, "")
