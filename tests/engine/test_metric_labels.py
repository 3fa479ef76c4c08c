"""A headline metric's label is a tile's title on the Results tab: it must show whole, not cut with "..."."""

import pytest

import engine
from engine.core.contract import Metric, metric_spec

# Every metric a technique's run can put in its headline (the Result's ``headline``, read from each run function:
# the names vary with the settings, e.g. the NAS strategies switched on or RL's comparison agent).
HEADLINES = {
    "xai": ["test_accuracy", "baseline_test_accuracy", "test_r2", "baseline_test_r2"],
    "transfer": ["epochs_run", "accuracy_feature_extraction", "accuracy_finetune", "accuracy_scratch"],
    "attention": ["test_accuracy", "test_accuracy_no_positional_encoding", "baseline_test_accuracy"],
    "ssl": [
        "linear_probe_accuracy",
        "random_init_probe_accuracy",
        "robust_probe_accuracy",
        "robust_random_init_accuracy",
    ],
    "rl": [
        "greedy_return_mean",
        "success_rate",
        *(f"{a}_{m}" for a in ("q_learning", "sarsa") for m in ("greedy_return_mean", "success_rate")),
        "balanced_steps_mean",
        "balanced_steps_min",
    ],
    "gan": ["precision", "recall", "class_coverage", "modes_covered"],
    "nas": [*(f"mean_accuracy_{s}" for s in ("random", "evolution", "rl", "tpe")), "best_test_accuracy"],
    "federated": [
        "global_accuracy",
        "fedavg_global_accuracy",
        "worst_client_accuracy",
        "centralized_accuracy",
        "local_only_accuracy_mean",
    ],
    "quantum": [
        "test_accuracy",
        "baseline_test_accuracy",
        "test_accuracy_shots",
        "top_probability",
        "entanglement_entropy",
        "max_sampling_error",
    ],
    "edge": ["original_accuracy", "chosen_accuracy", "size_reduction", "speedup"],
}


def test_every_technique_is_listed():
    assert set(HEADLINES) == set(engine.TECHNIQUES)


@pytest.mark.parametrize("name", list(HEADLINES))
def test_headline_labels_fit_a_metric_tile(name):
    specs = engine.load(name).METRICS
    missing = [key for key in HEADLINES[name] if key not in specs]
    assert not missing, f"{name}: {missing} are not declared in METRICS"
    too_long = {
        key: metric_spec(specs, key).label
        for key in HEADLINES[name]
        if len(metric_spec(specs, key).label) > Metric.TILE_LABEL_MAX
    }
    assert not too_long, f"{name}: labels over {Metric.TILE_LABEL_MAX} characters: {too_long}"
