"""Quantum neural networks: circuit lab physics, circuit diagrams, TorchLayer gradients, the classifier on seeds
0-3 against its baseline and chance, class colours, failing runs, settings messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import quantum as Q
from engine.core import charts
from engine.core.config import ConfigError, validate
from engine.core.contract import Result, RunError
from engine.core.pipeline import execute
from engine.quantum import config as qconfig
from engine.quantum import qnn, summary, views
from tests.engine.helpers import read_back_same

torch.set_num_threads(1)
SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def quick_runs():
    """The quick preset exactly as a person gets it (moons, 4 qubits, 2 layers, 1000 shots), on seeds 0-3."""
    return {seed: Q.run(validate(Q.Config, {**Q.PRESETS["quick"], "seed": seed}), None) for seed in SEEDS}


@pytest.fixture(scope="module")
def quick(quick_runs):
    return quick_runs[0]


def lab(gates: str, shots: int = 0) -> Result:
    return Q.run(validate(Q.Config, {"mode": "circuit_lab", "gates": gates, "shots": shots}), None)


# --- circuit lab ---------------------------------------------------------------------------------------------


def test_bell_state_is_half_00_half_11_exactly_and_within_sampling_error():
    shots = 4000
    r = lab("H 0; CNOT 0 1", shots)
    np.testing.assert_allclose(r.arrays["probabilities"], [0.5, 0, 0, 0.5], atol=1e-12)
    np.testing.assert_allclose(r.arrays["amplitudes_real"], [2**-0.5, 0, 0, 2**-0.5], atol=1e-12)
    sampled = r.arrays["sampled"]
    assert sampled[1] == sampled[2] == 0  # |01> and |10> never occur
    assert abs(sampled[0] - 0.5) < 4 * math.sqrt(0.25 / shots)  # 4 standard errors: fails ~1 in 16,000
    assert r.metrics["entanglement_entropy"] == pytest.approx(1.0)
    assert r.metrics["top_probability"] == pytest.approx(0.5)
    assert r.headline == ("top_probability", "entanglement_entropy", "max_sampling_error")
    text = Q.describe(r)
    assert "50.0%" in text and "maximally entangled" in text
    assert set(Q.figures(r)) == {"Circuit diagram", "Amplitudes", "Probabilities"}
    assert Q.explain(r) is None and Q.explain_figures(r, None) == {}


def test_single_rotation_matches_hand_computed_probabilities():
    # RY(pi/3)|0> = cos(pi/6)|0> + sin(pi/6)|1>: probabilities 0.75 / 0.25, no entanglement (one qubit)
    r = lab("RY 0 pi/3")
    np.testing.assert_allclose(r.arrays["probabilities"], [0.75, 0.25], atol=1e-12)
    assert "sampled" not in r.arrays and "max_sampling_error" not in r.metrics
    # a product state (H on two separate qubits) is not entangled
    r = lab("H 0; H 1")
    np.testing.assert_allclose(r.arrays["probabilities"], [0.25] * 4, atol=1e-12)
    assert r.metrics["entanglement_entropy"] == pytest.approx(0.0, abs=1e-9)
    assert "not entangled" in Q.describe(r)


@pytest.mark.parametrize(
    "gates, message",
    [
        ("H 0; CNOT 0 0", "two different qubits"),
        ("FOO 1", "unknown gate 'FOO'"),
        ("RX 0", "must be written 'RX <qubit> <angle>'"),
        ("RZ 0 pi/q", "is not an angle"),
        ("H 9", "qubits must be from 0 to 7"),
        (" ; ", "at least one gate"),
    ],
)
def test_bad_gate_lists_get_plain_messages(gates, message):
    with pytest.raises(ConfigError, match=message):
        validate(Q.Config, {"mode": "circuit_lab", "gates": gates})


def test_angles_parse_like_a_person_writes_them():
    assert qconfig.parse_angle("pi/2") == pytest.approx(math.pi / 2)
    assert qconfig.parse_angle("-2pi/3") == pytest.approx(-2 * math.pi / 3)
    assert qconfig.parse_angle("0.25") == 0.25
    assert qconfig.parse_gates("cnot 1 0; rx 2 pi") == [("CNOT", (1, 0), None), ("RX", (2,), pytest.approx(math.pi))]


# --- circuit diagrams --------------------------------------------------------------------------------------


def shapes(fig, name):
    return [s for s in fig.layout.shapes if s.name == name]


def markers(fig, name) -> set[tuple[float, float]]:
    return {(x, y) for t in fig.data if t.name == name for x, y in zip(t.x, t.y)}


def test_lab_circuit_is_drawn_with_boxes_and_connected_cnots():
    # H, RY, T are boxes; two CNOTs, a CZ and a SWAP are vertical links between their two qubits' wires
    r = lab("H 0; CNOT 0 1; RY 1 pi/3; CZ 1 2; CNOT 2 0; SWAP 0 2; T 1")
    fig = Q.figures(r)["Circuit diagram"]
    assert len(shapes(fig, "wire")) == 3 and {s.y0 for s in shapes(fig, "wire")} == {0, -1, -2}
    assert len(shapes(fig, "gate")) == 3 and not shapes(fig, "measure")
    assert next(t for t in fig.data if t.name == "labels").text == ("H", "RY<br>1.05", "T")
    links = shapes(fig, "link")
    assert len(links) == 4
    # greedy columns: H 0, CNOT(0,1) 1, RY 2, CZ(1,2) 3, CNOT(2,0) 4 (spans all three wires), SWAP 5, T 6
    assert [link.x0 for link in links] == [1, 3, 4, 5]
    controls, targets, swaps = markers(fig, "control"), markers(fig, "target"), markers(fig, "swap")
    assert controls == {(1, 0), (3, -1), (3, -2), (4, -2)} and targets == {(1, -1), (4, 0)}
    assert swaps == {(5, 0), (5, -2)}
    for link in links:  # each link is vertical and ends exactly on its gate's two symbols
        assert link.x0 == link.x1
        assert {(link.x0, link.y0), (link.x0, link.y1)} <= controls | targets | swaps


def test_a_long_range_gate_pushes_later_gates_on_the_wires_it_crosses():
    ops = [
        {"name": "CNOT", "wires": [0, 2], "params": []},
        {"name": "RX", "wires": [1], "params": [0.5]},
        {"name": "Hadamard", "wires": [3], "params": []},
    ]
    assert views.circuit_columns(ops) == [0, 1, 0]  # the RX on wire 1 cannot sit on the CNOT's link
    fig = views.circuit_figure(ops, 4, title="t", caption="c", measure=True)
    assert len(shapes(fig, "gate")) == 2 and len(shapes(fig, "measure")) == 4
    assert {s.x0 + views.BOX for s in shapes(fig, "measure")} == {2}  # measurements after the last gate


def test_a_long_circuit_wraps_into_evenly_filled_rows():
    ops = [{"name": "Hadamard", "wires": [0], "params": []}] * 20
    fig = views.circuit_figure(ops, 2, title="t", caption="c")
    boxes = shapes(fig, "gate")
    assert len(boxes) == 20 and len(shapes(fig, "wire")) == 4  # two rows of two wires
    assert max(s.x1 for s in boxes) < 10  # 10 columns per row, not 16 + 4
    assert fig.layout.yaxis.ticktext == ("q0 |0⟩", "q1 |0⟩") * 2


def test_trained_circuit_is_drawn_with_its_gates_angles_and_measurements(quick):
    fig = Q.figures(quick)["Circuit diagram"]
    # 2 layers x 4 qubits of (RY embedding + Rot weights) boxes, 2 rings of 4 CNOTs, 4 <Z> measurements
    assert len(shapes(fig, "gate")) == 16 and len(shapes(fig, "measure")) == 4
    assert len(shapes(fig, "link")) == 8 and len(markers(fig, "control")) == len(markers(fig, "target")) == 8
    labels = next(t for t in fig.data if t.name == "labels")
    assert sum(str(s).startswith("RY<br>") for s in labels.text) == 8  # each embedding angle is shown
    assert any("Rot(" in h for h in labels.hovertext)  # trained angles on hover


# --- the quantum layer -------------------------------------------------------------------------------------


def test_torchlayer_gradients_match_finite_differences():
    import pennylane as qml

    config = Q.Config(n_qubits=2, n_layers=2, ansatz="strong")
    torch.manual_seed(0)
    layer = qml.qnn.TorchLayer(qnn.make_qnode(config, "default.qubit", "backprop"), qnn.weight_shapes(config)).double()
    x = torch.tensor([[0.3, -0.7], [1.1, 0.4]], dtype=torch.float64)
    coef = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)
    w = layer.weights
    out = layer(x)  # (2 examples, 2 qubits) of <Z>
    assert out.shape == (2, 2)
    (grad,) = torch.autograd.grad((out * coef).sum(), w)
    eps = 1e-6
    numeric = torch.zeros_like(w)
    with torch.no_grad():
        for i in range(w.numel()):
            flat = w.view(-1)
            flat[i] += eps
            up = (layer(x) * coef).sum()
            flat[i] -= 2 * eps
            down = (layer(x) * coef).sum()
            flat[i] += eps
            numeric.view(-1)[i] = (up - down) / (2 * eps)
    torch.testing.assert_close(grad, numeric, atol=1e-6, rtol=1e-5)
    assert grad.abs().max() > 1e-3  # the check is not vacuous


def test_lightning_simulator_gives_the_same_outputs_as_default_qubit():
    config = Q.Config(n_qubits=3, n_layers=1, ansatz="basic", dataset="iris", n_features=3)
    torch.manual_seed(1)
    a = qnn.build_model(config, qnn.make_qnode(config, "default.qubit", "backprop"))
    b = qnn.build_model(config, qnn.make_qnode(config, "lightning.qubit", "adjoint"))
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 3)
    torch.testing.assert_close(a(x), b(x), atol=1e-5, rtol=1e-5)


def test_simulator_choice_follows_the_measured_crossover():
    assert qnn.choose_simulator(4, "auto", gpu=False)[:2] == ("default.qubit", "backprop")
    assert qnn.choose_simulator(16, "auto", gpu=False)[:2] == ("lightning.qubit", "adjoint")
    assert qnn.choose_simulator(16, "auto", gpu=True)[:2] == ("lightning.gpu", "adjoint")
    assert qnn.choose_simulator(4, "lightning.qubit", gpu=False)[:2] == ("lightning.qubit", "adjoint")
    with pytest.raises(RunError, match="not available here"):
        qnn.choose_simulator(4, "lightning.gpu", gpu=False)


def test_baseline_width_matches_the_parameter_budget():
    h = qnn.baseline_hidden(42, 2, 2)
    assert abs(h * (2 + 1) + h * 2 + 2 - 42) <= 5  # within one hidden unit of the hybrid's 42 parameters


# --- the classifier ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_quick_preset_beats_chance_and_stays_level_with_its_baseline_on_every_seed(quick_runs, seed):
    r = quick_runs[seed]
    m = r.metrics
    assert m["chance_accuracy"] == 0.5 and m["n_test"] == 50
    assert m["test_accuracy"] >= 0.9  # seeds 0-3 reach 0.98-1.00
    assert m["test_accuracy_shots"] >= 0.85  # 1000 shots per example: noisy but still right
    assert r.history["loss"].iloc[-1] < 0.6 * r.history["loss"].iloc[0]
    # level with the parameter-matched MLP: at most 2 of 50 test examples apart, and the text says which way
    gap = round((m["test_accuracy"] - m["baseline_test_accuracy"]) * m["n_test"])
    assert abs(gap) <= 2
    text = Q.describe(r)
    word = "matched" if gap == 0 else "beat" if gap > 0 else "fell short of"
    assert f"right and {word} a classical MLP" in text
    assert ("within sampling noise" in text) == (gap != 0)
    assert "no better than guessing" not in text
    assert r.headline == ("test_accuracy", "baseline_test_accuracy", "test_accuracy_shots")


def test_quick_preset_model_and_figures(quick):
    m = quick.metrics
    assert m["quantum_parameters"] == 2 * 4 * 3 + 2 * 4  # Rot angles + input scales
    assert abs(m["baseline_parameters"] - m["parameters"]) <= 5
    assert quick.info["simulator"] == "default.qubit" and "small" in quick.info["simulator_reason"]
    figs = Q.figures(quick)
    assert list(figs) == ["Training", "Decision boundaries", "Circuit diagram", "Parameters"]
    training = figs["Training"]
    chance = next(t for t in training.data if t.name == "guessing the most common class")
    assert set(chance.y) == {0.5}


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1: identical lightness, 21: black on white)."""

    def luminance(h):
        c = np.array([int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_classes_keep_one_colour_that_stands_out_from_the_surface(quick):
    boundaries = Q.figures(quick)["Decision boundaries"]
    a = quick.arrays
    snapshot = {
        "x": a["grid_xx"][0].tolist(),
        "y": a["grid_yy"][:, 0].tolist(),
        "z": a["grid_qnn"].tolist(),
        "epoch": 3,
        "points": a["X_train"].tolist(),
        "labels": a["y_train"].tolist(),
    }
    live = Q.live_figure(snapshot)
    for fig, panels in ((boundaries, 2), (live, 1)):
        dots = [t for t in fig.data if t.type == "scatter"]
        assert len(dots) == 2 * panels
        for t in dots:
            label = 0 if t.name == "class 0" else 1
            assert t.marker.color == charts.CLASS_COLORS[label]
        surfaces = [t for t in fig.data if t.type == "contour" and t.colorscale]
        assert len(surfaces) == panels
        for s in surfaces:
            ends = [s.colorscale[0][1], s.colorscale[-1][1]]
            for dot in charts.CLASS_COLORS[:2]:  # dots of either class readable on either class's background
                assert min(contrast(dot, end) for end in ends) >= 3.5


def test_explanations_compare_both_models_and_add_up(quick):
    exps = Q.explain(quick)
    assert set(exps) == {"Quantum model", "Classical baseline"}
    for exp in exps.values():
        assert exp.values.shape == (40, 2, 2) and exp.feature_names == ["x1", "x2"]
        assert exp.additivity_error < 1e-5  # exact Shapley values add up to the model's output
    figs = Q.explain_figures(quick, exps)
    bars = figs["Quantum vs classical: input importance"].data
    assert [b.name for b in bars] == ["Quantum model", "Classical baseline"]
    from engine.core.explain import global_importance

    np.testing.assert_allclose(sorted(bars[0].x), sorted(global_importance(exps["Quantum model"])))
    text = Q.describe(quick)
    assert f"{quick.metrics['test_accuracy']:.1%}" in text and "default.qubit" in text


def test_stop_returns_a_partial_result_that_still_draws():
    config = validate(Q.Config, {"n_samples": 60, "epochs": 50, "shots": 0})
    calls = []
    r = Q.run(config, lambda step, total, metrics, live=None: calls.append(step) or True)
    assert r.stopped and calls == [1] and r.metrics["epochs_run"] == 1
    assert "stopped it early" in Q.describe(r)
    assert "Decision boundaries" in Q.figures(r)
    stopped_lab = Q.run(validate(Q.Config, {"mode": "circuit_lab"}), lambda *_: True)
    assert stopped_lab.stopped and Q.figures(stopped_lab)


def test_seeded_runs_repeat_and_live_snapshots_arrive():
    config = validate(Q.Config, {"n_samples": 60, "epochs": 4, "shots": 50, "explain_rows": 10})
    live = []
    a = Q.run(config, lambda step, total, metrics, snapshot=None: live.append(snapshot) and False)
    b = Q.run(config, None)
    assert a.metrics == b.metrics
    snaps = [p for p in live if p]
    assert [s["epoch"] for s in snaps] == [1, 2, 4]  # the first epoch, then every second one
    assert np.asarray(snaps[0]["z"]).shape == (qnn.LIVE_GRID, qnn.LIVE_GRID)
    assert len(snaps[0]["points"]) == len(snaps[0]["labels"]) == a.metrics["n_train"]
    fig = Q.live_figure(snaps[-1])
    assert fig.data[0].type == "contour" and "epoch 4" in fig.layout.title.text


def test_real_table_with_amplitude_embedding_trains_and_explains():
    config = validate(
        Q.Config,
        {
            "dataset": "iris",
            "n_features": 4,
            "embedding": "amplitude",
            "n_qubits": 3,
            "epochs": 3,
            "shots": 0,
            "explain_rows": 10,
            "learning_rate": 0.1,
        },
    )
    r = Q.run(config, None)
    assert r.metrics["chance_accuracy"] == pytest.approx(13 / 38)  # three balanced classes, 38 test flowers
    assert r.metrics["test_accuracy"] > 0.5
    figs = Q.figures(r)
    assert "Confusion matrix" in figs and "Decision boundaries" not in figs
    assert len(shapes(figs["Circuit diagram"], "gate")) >= 1  # the amplitude state preparation box
    exp = Q.explain(r)["Quantum model"]
    assert exp.values.shape == (10, 4, 3) and exp.additivity_error < 1e-5


# --- runs that learn nothing ---------------------------------------------------------------------------------


def test_a_run_at_chance_says_so_and_suggests_what_to_change():
    # a learning rate 800x too small for 2 epochs: seeds 0-3 end at 0.42-0.52 test accuracy, chance is 0.50
    r = Q.run(validate(Q.Config, {**Q.PRESETS["quick"], "learning_rate": 1e-4, "epochs": 2, "shots": 0}), None)
    m = r.metrics
    assert m["test_accuracy"] <= 0.6 and summary.at_chance(m["test_accuracy"], m["chance_accuracy"], m["n_test"])
    text = Q.describe(r)
    assert "no better than guessing the most common class (50.0%)" in text
    assert "Try: train longer or faster (learning rate 0.0001, 2 epochs" in text
    assert "turn on data re-uploading" not in text  # it is on: only settings this run got wrong are named


def test_failure_advice_names_the_settings_that_were_off(quick):
    config = quick.config.model_copy(
        update={"reupload": False, "input_scaling": False, "n_layers": 1, "learning_rate": 0.5, "noise": 0.4}
    )
    failed = Result(
        config=config,
        history=quick.history,
        info=quick.info,
        metrics={**quick.metrics, "test_accuracy": 0.52, "baseline_test_accuracy": 0.5, "test_accuracy_shots": 0.5},
    )
    text = Q.describe(failed)
    for tip in (
        "lower the learning rate (it is 0.5",
        "turn on data re-uploading",
        "turn on input scaling",
        "use 2 or more circuit layers",
        "at noise 0.4 the classes overlap",
    ):
        assert tip in text
    assert "beat a classical MLP" in text and "within sampling noise" in text  # 26 vs 25 of 50


def test_at_chance_uses_the_test_sets_sampling_noise():
    assert summary.at_chance(0.6, 0.5, 50)  # 0.5 + 2 * 0.0707 = 0.64
    assert not summary.at_chance(0.7, 0.5, 50)
    assert not summary.at_chance(0.6, 0.5, 1000)  # the same 60% is clearly above chance on 1000 examples


# --- settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, message",
    [
        ({"n_qubits": 0}, "`n_qubits` must be >= 2, but got 0."),
        ({"n_qubits": 30}, "`n_qubits` must be <= 12, but got 30."),
        (
            {"dataset": "wine", "n_features": 8, "embedding": "amplitude", "n_qubits": 2},
            "Amplitude embedding stores the 8 inputs plus one constant in the 2^2 = 4 amplitudes of 2 qubits: use at "
            "least 4 qubits",
        ),
        ({"dataset": "wine", "n_features": 6, "n_qubits": 4}, "6 inputs need at least 6 qubits"),
        ({"dataset": "iris", "n_features": 6}, "at most 4 for iris"),
        (
            {
                "dataset": "wine",
                "n_features": 3,
                "n_qubits": 3,
                "classical_after": False,
                "embedding": "amplitude",
                "n_layers": 1,
            },
            None,
        ),
        ({"dataset": "iris", "n_features": 2, "n_qubits": 2, "classical_after": False}, "at least 3"),
    ],
)
def test_settings_that_cannot_work_get_clear_messages(values, message):
    if message is None:
        validate(Q.Config, values)  # a valid corner: 3 features + constant fit in 8 amplitudes
        return
    with pytest.raises(ConfigError) as err:
        validate(Q.Config, values)
    assert message in str(err.value)


def test_presets_validate_and_estimates_are_sane():
    configs = {name: validate(Q.Config, preset) for name, preset in Q.PRESETS.items()}
    assert configs["bell_state"].mode == "circuit_lab" and configs["quick"].mode == "classifier"
    quick = Q.estimate_seconds(configs["quick"])
    assert 1 < quick < 10 < Q.estimate_seconds(configs["better"])
    assert Q.estimate_seconds(Q.Config(n_qubits=12)) > quick


def test_every_result_metric_and_headline_is_declared(quick):
    assert set(quick.metrics) <= set(Q.METRICS)
    assert set(lab("H 0; CNOT 0 1", 100).metrics) <= set(Q.METRICS)


@pytest.mark.parametrize(
    "values",
    [
        {"n_samples": 60, "epochs": 2, "shots": 50, "explain_rows": 10},
        {"mode": "circuit_lab", "gates": "H 0; CNOT 0 1", "shots": 100},
    ],
    ids=["classifier", "circuit_lab"],
)
def test_a_stored_run_draws_the_same_charts_and_words_from_its_data(values, tmp_path):
    """Read back from the store (arrays, no models), the run gives the same figures, SHAP views and text."""
    fresh = execute("quantum", values)
    read_back_same(fresh, tmp_path)


def test_the_training_curves_count_epochs(quick):
    from tests.engine.helpers import x_titles

    assert x_titles(Q.figures(quick)["Training"]) == {"epoch"}
    assert Q.Config(mode="circuit_lab").step_unit() == "step"  # the circuit lab trains nothing
