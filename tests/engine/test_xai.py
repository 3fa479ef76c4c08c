"""Explainable AI: real accuracy, exact SHAP, clean failures on bad data and diverging training."""

import numpy as np
import pytest
import torch

from engine.core.config import ConfigError, validate
from engine.core.contract import Diverged
from engine.core.data import DataError, read_csv, save_upload, table_from_csv
from engine.core.pipeline import execute
from engine.xai import PRESETS, Config, describe
from engine.xai.mlp import run

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cancer():
    return execute("xai", {**PRESETS["quick"], "dataset": "breast_cancer"})


def test_mlp_beats_chance_and_loss_falls(cancer):
    assert cancer.metrics["test_accuracy"] > 0.9  # majority class is 63%
    assert cancer.metrics["baseline_test_accuracy"] > 0.9
    loss = cancer.history["loss"].to_numpy()
    assert loss[-1] < 0.5 * loss[0]


def test_shap_explains_the_logits_exactly(cancer):
    exp = cancer.explanation
    assert exp.values.shape == (50, 30, 2) and exp.output_names == ["malignant", "benign"]
    assert cancer.metrics["shap_additivity_error"] < 1e-3 and exp.method.startswith("DeepExplainer")


def test_shap_and_permutation_importance_agree_on_what_matters():
    from engine.core.explain import global_importance
    from engine.xai import explain, run

    result = run(Config(**PRESETS["quick"], dataset="wine"), lambda *_: False)
    shap_rank = np.argsort(global_importance(explain(result)))[::-1]
    perm_best = int(np.argmax(result.arrays["permutation_importance"]))
    assert perm_best in shap_rank[:4]


def test_regression_reports_r2():
    out = execute("xai", {**PRESETS["quick"], "dataset": "diabetes", "epochs": 60})
    assert out.metrics["test_r2"] > 0.2 and "test_accuracy" not in out.metrics
    assert out.metrics["shap_additivity_error"] < 1e-3


def test_diverging_training_gets_a_plain_message():
    with pytest.raises(Diverged, match="Training diverged"):
        execute(
            "xai",
            {
                "dataset": "diabetes",
                "optimizer": "sgd",
                "learning_rate": 1.0,
                "epochs": 20,
                "activation": "relu",
                "width": 256,
                "batch_size": 64,
            },
        )


def test_upload_needs_a_file_and_target():
    with pytest.raises(ConfigError, match="Upload a CSV"):
        validate(Config, {"dataset": "upload"})


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary"),
        (b"a,b\n", "no data rows"),
        (b"x" * (6 * 1024 * 1024), "limit"),
    ],
)
def test_broken_uploads_are_refused(raw, message):
    with pytest.raises(DataError, match=message):
        read_csv(raw)


def _frame(rows=40):
    rng = np.random.default_rng(0)
    lines = ["f1,f2,name,label"] + [
        f"{rng.normal():.3f},{rng.normal():.3f},n{i},{'yes' if i % 2 else 'no'}" for i in range(rows)
    ]
    return "\n".join(lines).encode()


def _separable(rows, columns=("f1", "f2")):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(rows, len(columns)))
    lines = [",".join([*columns, "label"])] + [
        ",".join(f"{v:.3f}" for v in x) + ("," + ("yes" if x.sum() > 0 else "no")) for x in X
    ]
    return "\n".join(lines).encode()


def test_csv_tables_are_checked():
    df = read_csv(_frame())
    table = table_from_csv(df, "label")
    assert table.X.shape == (40, 2) and table.class_names == ["no", "yes"]
    with pytest.raises(DataError, match="only one class"):
        table_from_csv(df.assign(label="same"), "label")
    with pytest.raises(DataError, match="no numeric feature"):
        table_from_csv(df[["name", "label"]], "label")
    with pytest.raises(DataError, match="missing values"):
        table_from_csv(df.assign(f1=df.f1.where(df.index != 3)), "label")


def test_an_uploaded_csv_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("FRONTIER_DATA_DIR", str(tmp_path))
    token = save_upload(_separable(200))
    out = execute("xai", {**PRESETS["quick"], "dataset": "upload", "upload": token, "target": "label"})
    # the label is f1 + f2 > 0: the network must clearly beat always guessing one class
    assert out.metrics["test_accuracy"] > out.metrics["majority_accuracy"] + 0.2
    assert out.explanation.feature_names == ["f1", "f2"]
    with pytest.raises(DataError, match="not valid"):
        execute("xai", {**PRESETS["quick"], "dataset": "upload", "upload": "../../etc/passwd", "target": "x"})


@pytest.mark.parametrize("dataset", ["breast_cancer", "wine", "iris"])
def test_quick_network_ties_or_beats_logistic_regression_on_every_bundled_table(dataset):
    """Within one test row is what the page calls "matched" (summary._verdict)."""
    for seed in range(4):
        result = run(validate(Config, {**PRESETS["quick"], "dataset": dataset, "seed": seed}), None)
        m = result.metrics
        assert m["test_accuracy"] >= m["baseline_test_accuracy"] - 1 / m["n_test"] - 1e-9, (dataset, seed, m)
        assert "did not beat" not in describe(result)


def test_on_diabetes_the_network_stays_near_linear_regression_and_the_page_says_when_it_trails():
    """Diabetes is close to linear (331 training rows): the network trails by up to 0.04 R^2 on some seeds, and the
    text then says it did not beat linear regression instead of claiming a win."""
    for seed in range(4):
        result = run(validate(Config, {**PRESETS["quick"], "dataset": "diabetes", "seed": seed}), None)
        m = result.metrics
        assert m["test_r2"] >= m["baseline_test_r2"] - 0.04 and m["test_r2"] > 0.3, (seed, m)
        text = describe(result)
        assert ("did not beat" in text) == (m["test_r2"] < m["baseline_test_r2"] - 0.01), text


def test_a_seed_alone_decides_the_run_whatever_ran_before():
    config = validate(Config, {**PRESETS["quick"], "dataset": "diabetes", "epochs": 20})
    first = run(config, None).metrics["test_r2"]
    torch.manual_seed(12345)  # another run (or test) moved the global generator
    torch.rand(1000)
    assert run(config, None).metrics["test_r2"] == first


def test_a_one_feature_upload_trains_and_is_described(tmp_path, monkeypatch):
    monkeypatch.setenv("FRONTIER_DATA_DIR", str(tmp_path))
    out = execute(
        "xai",
        {**PRESETS["quick"], "dataset": "upload", "upload": save_upload(_separable(200, ("f1",))), "target": "label"},
    )
    assert out.explanation.feature_names == ["f1"] and "network" in out.text


@pytest.mark.parametrize("dataset", ["wine", "diabetes"])
def test_a_stored_run_draws_the_same_charts_and_words_from_its_data(tmp_path, dataset):
    """Issue 25 item 2: a run read back from the store (data only: no models, no torch) draws what a fresh one does."""
    from tests.engine.helpers import read_back_same

    fresh = execute("xai", {**PRESETS["quick"], "dataset": dataset, "epochs": 20})
    read_back_same(fresh, tmp_path)


def test_the_learning_curves_count_epochs(cancer):
    from tests.engine.helpers import x_titles

    assert x_titles(cancer.figures["Loss"]) == x_titles(cancer.figures["Accuracy"]) == {"epoch"}
