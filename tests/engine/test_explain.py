"""SHAP helpers: local accuracy (base + sum of SHAP = output) measured and kept where the model allows."""

import numpy as np
import pytest
import torch
from torch import nn

from engine.core.explain import (
    EXACT_TOLERANCE,
    additivity_note,
    clearly_ahead,
    exact_shapley,
    explain_function,
    explain_torch,
    make_explanation,
    permutation_importance,
    shapley_permutation,
)

torch.set_num_threads(1)


def _out(model, X):
    with torch.no_grad():
        return model(X).numpy()


def test_deep_explainer_is_exact_on_an_mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    X, bg = torch.randn(20, 5), torch.randn(40, 5)
    exp = explain_torch(model, X, bg, feature_names=list("abcde"), output_names=["x", "y", "z"])
    total = exp.values.sum(1) + exp.base_values  # (20, 3)
    assert np.abs(total - _out(model, X)).max() < 1e-4
    assert exp.additivity_error < 1e-4 and exp.method.startswith("DeepExplainer")


class FunctionalRelu(nn.Module):
    """F.relu inside forward: DeepExplainer has no rule for it, so the helper must fall back."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 8), nn.Linear(8, 1)

    def forward(self, x):
        return self.b(torch.nn.functional.relu(self.a(x)) * torch.sigmoid(self.a(x)))


def test_falls_back_to_gradient_explainer_and_reports_its_error():
    torch.manual_seed(0)
    model = FunctionalRelu()
    X, bg = torch.randn(10, 4), torch.randn(30, 4)
    deep = explain_torch(model, X, bg, feature_names=list("abcd"), method="deep")
    assert deep.additivity_error > 100 * EXACT_TOLERANCE  # DeepExplainer really is wrong on this model ...
    exp = explain_torch(model, X, bg, feature_names=list("abcd"))  # ... so "auto" must notice and fall back
    assert exp.values.shape == (10, 4) and exp.method.startswith("GradientExplainer")
    measured = np.abs(exp.values.sum(1) + exp.base_values - _out(model, X)[:, 0]).max()
    assert np.isclose(exp.additivity_error, measured) and exp.additivity_error < deep.additivity_error


def test_model_agnostic_explainer_is_additive_for_any_function():
    rng = np.random.default_rng(0)
    f = lambda a: a @ np.array([1.0, -2.0, 0.0]) + np.sin(a[:, 0]) * a[:, 1]
    X = rng.normal(size=(8, 3))
    exp = explain_function(f, X, rng.normal(size=(20, 3)), feature_names=["a", "b", "c"])
    assert exp.values.shape == (8, 3) and exp.method.startswith("Exact Shapley")
    assert exp.additivity_error < 1e-4  # f sees float32 rows
    assert np.abs(exp.values[:, 2]).max() < 1e-9  # an unused feature gets zero credit


def test_many_features_fall_back_to_permutation_sampling_and_stay_additive():
    rng = np.random.default_rng(1)
    w = rng.normal(size=12)
    X, bg = rng.normal(size=(3, 12)), rng.normal(size=(15, 12))
    exp = explain_function(lambda a: a @ w, X, bg, permutations=4)
    assert exp.method.startswith("Permutation sampling") and exp.additivity_error < 1e-4
    np.testing.assert_allclose(exp.values, (X - bg.mean(0)) * w, atol=1e-4)  # linear: exact even when sampled


def test_exact_shapley_of_a_linear_function_is_weight_times_offset():
    rng = np.random.default_rng(0)
    X, bg = rng.normal(size=(6, 3)), rng.normal(size=(10, 3))
    w = np.array([2.0, -1.0, 0.5])
    values, base = exact_shapley(lambda Z: (Z @ w)[:, None], X, bg)
    np.testing.assert_allclose(values[..., 0], (X - bg.mean(0)) * w, atol=1e-5)
    np.testing.assert_allclose(base, [bg.mean(0) @ w], atol=1e-5)


def test_shapley_permutation_matches_hand_computed_values():
    weights = np.array([0.5, -0.25, 2.0])
    values, empty, full = shapley_permutation(lambda m: m @ weights + 1.0, 3, seed=0)
    assert np.allclose(values, weights) and empty == 1.0 and full == pytest.approx(3.25)
    # a pure interaction of players 0 and 1 is split equally between them; player 2 gets nothing
    values, _, _ = shapley_permutation(lambda m: m[:, 0] * m[:, 1], 3, seed=0, permutations=200)
    assert np.allclose(values, [0.5, 0.5, 0.0], atol=0.08)


def test_permutation_importance_finds_the_only_useful_feature():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X[:, 1] > 0
    rise, err = permutation_importance(lambda A: float(((A[:, 1] > 0) != y).mean()), X)  # error rate rises
    assert np.argmax(rise) == 1 and rise[1] > 0.3 and abs(rise[0]) < 1e-9 and err[0] == 0 and err[1] > 0
    assert clearly_ahead(rise, err) == [1]
    assert clearly_ahead(np.array([0.1, 0.1]), np.array([0.2, 0.2])) == []  # noise cannot single one out


def test_additivity_of_exact_shapley_values_is_not_presented_as_a_check():
    rng = np.random.default_rng(0)
    exp = explain_function(lambda a: a @ np.array([1.0, 2.0]), rng.normal(size=(4, 2)), rng.normal(size=(5, 2)))
    level, text = additivity_note(exp)
    assert level == "caption" and "by construction" in text and "check" not in text


def test_sampled_shapley_values_report_their_spread_and_it_shrinks_with_more_orders():
    rng = np.random.default_rng(2)
    X, bg = rng.normal(size=(2, 12)), rng.normal(size=(10, 12))
    f = lambda a: np.tanh(a[:, :6].sum(1)) * a[:, 6:].sum(1)
    few, many = (explain_function(f, X, bg, permutations=p) for p in (4, 64))
    assert 0 < many.spread < few.spread
    level, text = additivity_note(few)
    assert level == "caption" and f"±{few.spread:.2g}" in text


def test_a_real_additivity_gap_warns_only_when_it_is_large_against_the_outputs():
    values, base = np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 0.5]]), np.zeros(3)  # outputs range over 1.0
    small = make_explanation(values, base, values, ["a", "b"], None, 0.01, "GradientExplainer (approximate)")
    assert (
        additivity_note(small)[0] == "caption"
        and "within 0.01 (1.0% of the outputs' range)" in additivity_note(small)[1]
    )
    large = make_explanation(values, base, values, ["a", "b"], None, 1.1e4, "GradientExplainer (approximate)")
    level, text = additivity_note(large)
    assert level == "warning" and "1.1e+04" in text and "rough ranking" in text


def test_gradient_fallback_with_a_diverged_model_is_flagged():
    """The page said "matches to within 1.1e+04" with no warning for XAI trained with Adam at learning rate 1."""
    torch.manual_seed(0)
    model = FunctionalRelu()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(300.0)  # weights blown up as by a far too large step
    X, bg = torch.randn(8, 4), torch.randn(20, 4)
    exp = explain_torch(model, X, bg, feature_names=list("abcd"), method="gradient", gradient_samples=20)
    level, _ = additivity_note(exp)
    assert level == "warning", (exp.additivity_error, level)
