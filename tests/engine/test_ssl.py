"""Self-supervised learning: NT-Xent by hand, augmentations, a frozen probe, and SimCLR beating random features."""

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from engine.core.contract import check_result
from engine.core.pipeline import execute
from engine.ssl import METRICS, PRESETS, Config
from engine.ssl.augment import Augmentations, augment, perturb
from engine.ssl.common import encoder, labelled_subset, load_digits
from engine.ssl.evaluate import encode_all, linear_probe
from engine.ssl.experiment import run
from engine.ssl.masked import patch_mask
from engine.ssl.simclr import nt_xent_loss

torch.set_num_threads(1)


# --- NT-Xent -----------------------------------------------------------------------------------------------


def test_nt_xent_equals_the_hand_computed_value():
    # views (1,0), (0,1) and their positives (1,0), (0,1); temperature 1. For every view the positive has
    # similarity 1 and the two negatives 0: l = -log(e / (e + 1 + 1)) = log(1 + 2/e) = 0.5514
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert nt_xent_loss(z, z.clone(), 1.0).item() == pytest.approx(math.log(1 + 2 / math.e), abs=1e-6)
    assert nt_xent_loss(z, z.clone(), 1.0).item() == pytest.approx(0.551444, abs=1e-5)
    # positives swapped: each positive is orthogonal (similarity 0) and one negative coincides (1):
    # l = -log(1 / (1 + 1 + e)) = log(2 + e) = 1.5514
    assert nt_xent_loss(z, z.flip(0), 1.0).item() == pytest.approx(math.log(2 + math.e), abs=1e-6)
    # temperature 0.5 divides every similarity by 0.5 first: log(1 + 2 / e^2)
    assert nt_xent_loss(z, z.clone(), 0.5).item() == pytest.approx(math.log(1 + 2 / math.e**2), abs=1e-6)


def _paper_loss(z1: np.ndarray, z2: np.ndarray, t: float) -> float:
    """The paper's definition in plain loops: views 2k-1, 2k are a positive pair (here row k of z1 and of z2)."""
    views = [v / np.linalg.norm(v) for pair in zip(z1, z2) for v in pair]
    s = lambda i, j: float(views[i] @ views[j])
    n2 = len(views)

    def l(i, j):
        return -math.log(math.exp(s(i, j) / t) / sum(math.exp(s(i, k) / t) for k in range(n2) if k != i))

    return sum(l(2 * k, 2 * k + 1) + l(2 * k + 1, 2 * k) for k in range(n2 // 2)) / n2


def test_nt_xent_matches_the_papers_formula_on_random_vectors():
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    for t in (0.1, 0.5, 2.0):
        assert nt_xent_loss(z1, z2, t).item() == pytest.approx(_paper_loss(z1.numpy(), z2.numpy(), t), rel=1e-5)


def test_nt_xent_is_lowest_when_positives_coincide():
    gen = torch.Generator().manual_seed(1)
    z1 = torch.randn(8, 16, generator=gen)
    same = nt_xent_loss(z1, z1.clone(), 0.5).item()
    assert same < nt_xent_loss(z1, z1 + 0.5 * torch.randn(8, 16, generator=gen), 0.5).item()
    assert same < nt_xent_loss(z1, z1[torch.randperm(8, generator=gen)], 0.5).item()
    assert same < nt_xent_loss(z1, torch.randn(8, 16, generator=gen), 0.5).item()
    # gradient descent on z2 alone moves it towards z1: the loss pulls positives together
    z2 = torch.randn(8, 16, generator=gen, requires_grad=True)
    start = torch.nn.functional.cosine_similarity(z1, z2).mean().item()
    opt = torch.optim.Adam([z2], lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        nt_xent_loss(z1, z2, 0.5).backward()
        opt.step()
    assert torch.nn.functional.cosine_similarity(z1, z2).mean().item() > max(0.9, start + 0.5)


# --- augmentations -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_batch():
    return load_digits(0).X_train[:64]  # (64, 1, 8, 8) in [0, 1]


STRONGEST = {"crop": 0.9, "shift": 3, "rotation": 60.0, "contrast": 0.9, "blur": 1.0, "noise": 0.5, "erasing": 1.0}


@pytest.mark.parametrize("name", [*STRONGEST, "all"])
def test_augmentations_keep_shape_and_value_range_and_change_the_images(digits_batch, name):
    aug = Augmentations(**(STRONGEST if name == "all" else {name: STRONGEST[name]}))
    out = augment(digits_batch, aug, torch.Generator().manual_seed(0))
    assert out.shape == digits_batch.shape and out.dtype == digits_batch.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert (out - digits_batch).abs().amax(dim=(1, 2, 3)).gt(1e-3).float().mean() > 0.3  # most images changed
    again = augment(digits_batch, aug, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the generator alone decides the randomness


def test_augmentations_at_zero_strength_leave_images_alone(digits_batch):
    assert torch.equal(augment(digits_batch, Augmentations(), torch.Generator().manual_seed(0)), digits_batch)


def test_a_whole_pixel_shift_moves_the_digit_exactly(digits_batch):
    from engine.ssl.augment import affine

    out = affine(digits_batch, 0.0, 1, 0.0, torch.Generator().manual_seed(3))
    # every output is the input moved by (dy, dx) in {-1, 0, 1}^2 with zeros coming in: find it exactly
    for x, y in zip(digits_batch[:, 0], out[:, 0]):
        padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
        assert any(
            torch.allclose(padded[1 + dy : 9 + dy, 1 + dx : 9 + dx], y, atol=1e-5)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )


def test_the_perturbed_test_copy_is_fixed_per_seed_and_in_range(digits_batch):
    a, b = perturb(digits_batch, 0), perturb(digits_batch, 0)
    assert torch.equal(a, b) and not torch.equal(a, perturb(digits_batch, 1))
    assert a.shape == digits_batch.shape and a.min() >= 0 and a.max() <= 1


def test_patch_mask_hides_the_asked_share_of_2x2_patches():
    mask = patch_mask(32, 0.5, torch.Generator().manual_seed(0))  # (32, 1, 8, 8)
    assert mask.shape == (32, 1, 8, 8)
    assert torch.all(mask.sum(dim=(1, 2, 3)) == 8 * 4)  # 8 of 16 patches, 4 pixels each
    blocks = mask[:, 0].reshape(32, 4, 2, 4, 2)
    assert torch.all(blocks.amin(dim=(2, 4)) == blocks.amax(dim=(2, 4)))  # whole patches, never half


# --- the probe ---------------------------------------------------------------------------------------------


def test_labelled_subsets_are_stratified_and_nested():
    y = load_digits(0).y_train
    small, large = labelled_subset(y, 0.01, 0), labelled_subset(y, 0.1, 0)
    assert np.all(np.bincount(y[small]) >= 1) and set(small) <= set(large)
    assert len(labelled_subset(y, 1.0, 0)) == len(y)


def test_the_probe_freezes_the_encoder_and_is_logistic_regression_on_standardised_features():
    data = load_digits(0)
    torch.manual_seed(0)
    f = encoder()
    before = {k: v.clone() for k, v in f.state_dict().items()}
    enc = encode_all(f, data, perturb(data.X_test, 0))
    labelled = labelled_subset(data.y_train, 0.1, 0)
    probe = linear_probe(enc.train, data.y_train, labelled)
    assert all(not p.requires_grad for p in f.parameters())  # no gradient can reach the encoder
    assert all(torch.equal(before[k], v) for k, v in f.state_dict().items())
    # the folded nn.Linear reproduces scikit-learn's logistic regression on standardised features
    h = enc.train.numpy().astype(np.float64)
    mean, std = h.mean(0), h.std(0) + 1e-6
    clf = LogisticRegression(max_iter=3000).fit((h[labelled] - mean) / std, data.y_train[labelled])
    expected = clf.decision_function((enc.test.numpy() - mean) / std)
    with torch.no_grad():
        got = torch.nn.Sequential(f, probe)(data.X_test).numpy()
    assert np.allclose(got, expected, atol=1e-3)


# --- whole runs --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_runs():
    return {seed: run(Config(**PRESETS["quick"], seed=seed), None) for seed in range(4)}


def test_quick_simclr_probe_beats_the_random_encoder_clearly_on_every_seed(quick_runs):
    for seed, result in quick_runs.items():
        m = result.metrics
        assert m["linear_probe_accuracy"] > m["random_init_probe_accuracy"] + 0.03, (seed, m)
        assert m["robust_probe_accuracy"] > m["robust_random_init_accuracy"] + 0.03, (seed, m)
        assert m["knn_accuracy"] > m["random_init_knn_accuracy"], (seed, m)
        assert m["positive_similarity"] > m["negative_similarity"] + 0.5, (seed, m)
        loss = result.history["loss"].dropna().to_numpy()
        assert len(loss) == m["epochs_run"] == PRESETS["quick"]["epochs"] and loss[-1] < loss[0] - 0.5
        assert m["n_labelled"] == 30 and m["n_unlabelled"] == 1347 and m["n_test"] == 450
        assert check_result(result, METRICS) == []


def test_label_efficiency_covers_one_ten_and_all_percent_with_both_baselines(quick_runs):
    rows = sorted(quick_runs[0].arrays["efficiency"], key=lambda r: r["n_labelled"])
    assert [r["n_labelled"] for r in rows] == [10, 30, 136, 1347]
    assert all({"probe", "random_init", "supervised", "robust_supervised"} <= set(r) for r in rows)
    assert rows[-1]["supervised"] > 0.93 and rows[-1]["probe"] > 0.95  # with every label all three do well
    assert all(r["probe"] > 0.1 and r["supervised"] > 0.1 for r in rows)


def test_supervised_training_never_touches_the_random_encoder_the_baseline_probe_reads(quick_runs):
    result = quick_runs[1]
    torch.manual_seed(1)
    fresh = encoder().state_dict()
    kept = result.models["random_init_encoder"].state_dict()
    assert all(torch.equal(fresh[k], kept[k]) for k in fresh)
    trained = result.models["supervised"][0].state_dict()
    assert not all(torch.equal(fresh[k], trained[k]) for k in fresh)  # the supervised copy did learn


def test_describe_reads_the_runs_own_numbers(quick_runs):
    result = quick_runs[0]
    text = __import__("engine.ssl", fromlist=["describe"]).describe(result)
    m = result.metrics
    assert f"{m['linear_probe_accuracy']:.1%}" in text and f"{m['random_init_probe_accuracy']:.1%}" in text
    assert "Pretraining without labels paid here" in text and "hold up better" in text


def test_full_pipeline_explains_both_models_and_draws_every_figure():
    out = execute("ssl", {**PRESETS["quick"], "epochs": 3, "seed": 5})
    assert set(out.explanation) == {"Self-supervised encoder + linear probe", "Supervised on the same labels"}
    for exp in out.explanation.values():
        assert np.asarray(exp.values).shape == (4, 1, 8, 8, 10)
    assert out.metrics["shap_additivity_error"] < 1e-2
    assert {
        "Training",
        "Embedding over training",
        "Label efficiency",
        "Robustness",
        "Augmented pairs",
        "Batch similarity",
        "Similarity to one digit",
        "Nearest neighbours",
    } <= set(out.figures)
    assert len(out.figures["Embedding over training"].frames) == 4  # the random encoder + 3 epochs
    assert len(out.explain_figures) == 2


def test_stopping_early_returns_a_partial_result_that_still_draws():
    from engine.ssl import describe, figures

    calls = []
    result = run(Config(**PRESETS["quick"]), lambda step, total, metrics, live=None: calls.append(live) or step >= 2)
    assert result.stopped and result.metrics["epochs_run"] == 2
    assert "supervised_accuracy" not in result.metrics and "linear_probe_accuracy" in result.metrics
    assert calls[0]["epoch"] == 1 and len(calls[0]["xy"]) == len(calls[0]["labels"]) == 200
    assert "stopped it early" in describe(result) and "Training" in figures(result)


@pytest.fixture(scope="module")
def masked_run():
    return run(Config(**{**PRESETS["quick"], "method": "masked", "epochs": 8}), None)


def test_masked_prediction_learns_to_fill_in_and_is_judged_by_the_same_probe(masked_run):
    result = masked_run
    loss = result.history["loss"].dropna().to_numpy()
    assert loss[-1] < 0.7 * loss[0]  # reconstruction of the hidden patches improved
    assert "decoder" in result.models and "projection_head" not in result.models
    assert 0.3 < result.metrics["linear_probe_accuracy"] <= 1.0
    assert "Masked-pixel prediction pretrained" in __import__("engine.ssl", fromlist=["describe"]).describe(result)


def test_a_stored_run_draws_the_same_charts_and_words_from_its_data(tmp_path):
    """Issue 25 item 2: a run read back from the store (data only: no models, no torch) draws what a fresh one does."""
    from tests.engine.helpers import read_back_same

    fresh = execute("ssl", {**PRESETS["quick"], "epochs": 1, "seed": 2})
    stored = read_back_same(fresh, tmp_path)
    assert "shap_digits" in stored.arrays and isinstance(stored.arrays["efficiency"], list)


def test_each_method_s_charts_describe_that_method(quick_runs, masked_run):
    """Issue 27: with method "masked" the pictures still said "the two random views SimCLR compares ... the settings on
    the left", though the masked method compares no views, its augmentation settings are hidden, and the settings sit
    above the results, not left of them."""
    from engine.core.charts import caption_of
    from engine.ssl import figures

    def words(result) -> str:
        return " ".join(f"{f.layout.title.text} {caption_of(f)}" for f in figures(result).values())

    masked, simclr = words(masked_run), words(quick_runs[0])
    assert "SimCLR" not in masked and "Contrastive learning makes" not in masked
    assert "fill" in masked  # what the masked method does instead
    assert "on the left" not in masked and "on the left" not in simclr
    assert "SimCLR compares" in simclr
    import dataclasses

    from engine.ssl import describe

    collapsed = dataclasses.replace(masked_run, metrics={**masked_run.metrics, "linear_probe_accuracy": 0.1})
    assert "augmentations" not in describe(collapsed).split("close to guessing")[1]  # hidden for this method


# --- issue 28: masked-pixel prediction against the random encoder -----------------------------------------


@pytest.fixture(scope="module")
def masked_quick_runs():
    """The quick preset with the masked method at the default 2% of the labels, on four seeds (small budget)."""
    return {seed: run(Config(**{**PRESETS["quick"], "method": "masked", "seed": seed}), None) for seed in range(4)}


def test_masked_prediction_does_not_beat_the_random_encoder_as_the_page_warns(masked_quick_runs):
    """Issue 28 item 2: masked pretraining lost to a random-init encoder in 6 of 10 runs. Pretraining variants
    (mask ratio 0.25-0.75, 1x1 and 2x2 patches, a linear or bottlenecked decoder, more steps, lower learning rate,
    weight decay, noise fill, feature targets) did not make it win on every seed, so the page says so before Train
    and this checks the warning: with 10% of the labels it gains at most 2 points over random features on every
    seed, and at the default 2% it is below them on average."""
    from engine.ssl import describe

    gains = []
    for seed, result in masked_quick_runs.items():
        rows = {r["label_fraction"]: r for r in result.arrays["efficiency"]}
        assert rows[0.1]["probe"] <= rows[0.1]["random_init"] + 0.02, (seed, rows[0.1])
        m = result.metrics
        assert m["linear_probe_accuracy"] > 0.5, (seed, m)  # it still learned something useful: far above 10%
        gains.append(m["linear_probe_accuracy"] - m["random_init_probe_accuracy"])
        if gains[-1] <= 0.02:
            assert "usual result for masked-pixel prediction" in describe(result), seed
        else:
            assert "better than usual for masked-pixel prediction" in describe(result), seed
    assert np.mean(gains) < 0, gains


def test_the_masked_method_says_before_train_why_it_does_not_beat_random_features():
    from engine.core.config import validate

    assert "which random convolutional features already keep" in validate(Config, {"method": "masked"}).expectation()
    for preset in PRESETS.values():
        assert validate(Config, preset).expectation() == ""  # SimCLR shows the effect
        assert validate(Config, {**preset, "method": "masked"}).expectation() != ""


def test_the_pretraining_curves_count_epochs(masked_run):
    from engine.ssl import figures
    from tests.engine.helpers import x_titles

    assert x_titles(figures(masked_run)["Training"]) == {"epoch"}


def test_the_label_efficiency_axis_reads_at_its_own_label_counts(quick_runs):
    from engine.ssl import figures
    from tests.engine.helpers import readable_log_axes

    fig = figures(quick_runs[0])["Label efficiency"]
    assert readable_log_axes(fig) == 1
    assert set(fig.layout.xaxis.tickvals) <= set(fig.data[0].x)  # a tick under each point, none between
