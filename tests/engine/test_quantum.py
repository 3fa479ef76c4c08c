"""Quantum neural networks: circuit lab physics, TorchLayer gradients, the classifier, settings messages."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import quantum as Q
from engine.core.config import ConfigError, validate
from engine.core.contract import RunError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def quick():
    """One quick-preset run (moons, 4 qubits, 2 layers) shared by the classifier tests."""
    config = validate(Q.Config, {**Q.PRESETS["quick"], "shots": 500})
    return Q.run(config, None)


# --- circuit lab ---------------------------------------------------------------------------------------------

def test_bell_state_is_half_00_half_11_exactly_and_within_sampling_error():
    shots = 4000
    r = Q.run(validate(Q.Config, {"mode": "circuit_lab", "gates": "H 0; CNOT 0 1", "shots": shots}), None)
    np.testing.assert_allclose(r.arrays["probabilities"], [0.5, 0, 0, 0.5], atol=1e-12)
    np.testing.assert_allclose(r.arrays["amplitudes_real"], [2 ** -0.5, 0, 0, 2 ** -0.5], atol=1e-12)
    sampled = r.arrays["sampled"]
    assert sampled[1] == sampled[2] == 0  # |01> and |10> never occur
    assert abs(sampled[0] - 0.5) < 4 * math.sqrt(0.25 / shots)  # 4 standard errors: fails ~1 in 16,000
    assert r.metrics["entanglement_entropy"] == pytest.approx(1.0)
    assert "50.0%" in Q.describe(r)
    assert set(Q.figures(r)) == {"Circuit diagram", "Amplitudes", "Probabilities"}
    assert Q.explain(r) is None


def test_single_rotation_matches_hand_computed_probabilities():
    # RY(pi/3)|0> = cos(pi/6)|0> + sin(pi/6)|1>: probabilities 0.75 / 0.25, no entanglement (one qubit)
    r = Q.run(validate(Q.Config, {"mode": "circuit_lab", "gates": "RY 0 pi/3", "shots": 0}), None)
    np.testing.assert_allclose(r.arrays["probabilities"], [0.75, 0.25], atol=1e-12)
    assert "sampled" not in r.arrays
    # a product state (H on two separate qubits) is not entangled
    r = Q.run(validate(Q.Config, {"mode": "circuit_lab", "gates": "H 0; H 1", "shots": 0}), None)
    np.testing.assert_allclose(r.arrays["probabilities"], [0.25] * 4, atol=1e-12)
    assert r.metrics["entanglement_entropy"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("gates, message", [
    ("H 0; CNOT 0 0", "two different qubits"),
    ("FOO 1", "unknown gate 'FOO'"),
    ("RX 0", "must be written 'RX <qubit> <angle>'"),
    ("RZ 0 pi/q", "is not an angle"),
    ("H 9", "qubits must be from 0 to 7"),
    (" ; ", "at least one gate"),
])
def test_bad_gate_lists_get_plain_messages(gates, message):
    with pytest.raises(ConfigError, match=message):
        validate(Q.Config, {"mode": "circuit_lab", "gates": gates})


def test_angles_parse_like_a_person_writes_them():
    assert Q.parse_angle("pi/2") == pytest.approx(math.pi / 2)
    assert Q.parse_angle("-2pi/3") == pytest.approx(-2 * math.pi / 3)
    assert Q.parse_angle("0.25") == 0.25
    assert Q.parse_gates("cnot 1 0; rx 2 pi") == [("CNOT", (1, 0), None), ("RX", (2,), pytest.approx(math.pi))]


# --- the quantum layer -------------------------------------------------------------------------------------

def test_torchlayer_gradients_match_finite_differences():
    import pennylane as qml

    config = Q.Config(n_qubits=2, n_layers=2, ansatz="strong")
    torch.manual_seed(0)
    layer = qml.qnn.TorchLayer(Q.make_qnode(config, "default.qubit", "backprop"), Q.weight_shapes(config)).double()
    x = torch.tensor([[0.3, -0.7], [1.1, 0.4]], dtype=torch.float64)
    w = layer.weights
    out = layer(x)  # (2 examples, 2 qubits) of <Z>
    assert out.shape == (2, 2)
    loss = (out * torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)).sum()
    grad, = torch.autograd.grad(loss, w)
    eps = 1e-6
    numeric = torch.zeros_like(w)
    with torch.no_grad():
        for i in range(w.numel()):
            flat = w.view(-1)
            flat[i] += eps
            up = (layer(x) * torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)).sum()
            flat[i] -= 2 * eps
            down = (layer(x) * torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)).sum()
            flat[i] += eps
            numeric.view(-1)[i] = (up - down) / (2 * eps)
    torch.testing.assert_close(grad, numeric, atol=1e-6, rtol=1e-5)
    assert grad.abs().max() > 1e-3  # the check is not vacuous


def test_lightning_simulator_gives_the_same_outputs_as_default_qubit():
    config = Q.Config(n_qubits=3, n_layers=1, ansatz="basic", dataset="iris", n_features=3)
    torch.manual_seed(1)
    a = Q.build_model(config, Q.make_qnode(config, "default.qubit", "backprop"))
    b = Q.build_model(config, Q.make_qnode(config, "lightning.qubit", "adjoint"))
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 3)
    torch.testing.assert_close(a(x), b(x), atol=1e-5, rtol=1e-5)


def test_simulator_choice_follows_the_measured_crossover():
    assert Q.choose_simulator(4, "auto", gpu=False)[:2] == ("default.qubit", "backprop")
    assert Q.choose_simulator(16, "auto", gpu=False)[:2] == ("lightning.qubit", "adjoint")
    assert Q.choose_simulator(16, "auto", gpu=True)[:2] == ("lightning.gpu", "adjoint")
    assert Q.choose_simulator(4, "lightning.qubit", gpu=False)[:2] == ("lightning.qubit", "adjoint")
    with pytest.raises(RunError, match="not available here"):
        Q.choose_simulator(4, "lightning.gpu", gpu=False)


def test_baseline_width_matches_the_parameter_budget():
    h = Q.baseline_hidden(42, 2, 2)
    assert abs(h * (2 + 1) + h * 2 + 2 - 42) <= 5  # within one hidden unit of the hybrid's 42 parameters


# --- the classifier ------------------------------------------------------------------------------------------

def test_quick_preset_learns_moons_well_above_chance(quick):
    m = quick.metrics
    assert m["test_accuracy"] >= 0.9  # chance is 0.5; seeds 0-2 all reach 0.98-1.0
    assert m["test_accuracy_shots"] >= 0.85  # 500 shots per example: noisy but still right
    assert quick.history["loss"].iloc[-1] < 0.6 * quick.history["loss"].iloc[0]
    assert m["n_qubits"] == 4 and m["quantum_parameters"] == 2 * 4 * 3 + 2 * 4  # Rot angles + input scales
    assert abs(m["baseline_parameters"] - m["parameters"]) <= 5
    assert m["baseline_test_accuracy"] > 0.8
    assert quick.info["simulator"] == "default.qubit" and "small" in quick.info["simulator_reason"]
    assert "RY" in quick.info["diagram"] and "<Z>" in quick.info["diagram"]


def test_quick_preset_figures_explanations_and_words(quick):
    figs = Q.figures(quick)
    assert {"Training", "Decision boundaries", "Circuit diagram", "Parameters"} <= set(figs)
    assert len(figs["Decision boundaries"].data) == 6  # two contours + two classes of dots per panel
    exps = Q.explain(quick)
    assert set(exps) == {"Quantum model", "Classical baseline"}
    for exp in exps.values():
        assert exp.values.shape == (40, 2, 2) and exp.feature_names == ["x1", "x2"]
        assert exp.additivity_error < 1e-5  # exact Shapley values add up to the model's output
    text = Q.describe(quick)
    assert f"{quick.metrics['test_accuracy']:.1%}" in text and "default.qubit" in text


def test_stop_returns_a_partial_result_that_still_draws():
    config = validate(Q.Config, {"n_samples": 60, "epochs": 50, "shots": 0})
    calls = []
    r = Q.run(config, lambda step, total, metrics: calls.append(step) or True)
    assert r.stopped and calls == [1] and r.metrics["epochs_run"] == 1
    assert "stopped it early" in Q.describe(r)
    assert "Decision boundaries" in Q.figures(r)
    lab = Q.run(validate(Q.Config, {"mode": "circuit_lab"}), lambda *_: True)
    assert lab.stopped and Q.figures(lab)


def test_seeded_runs_repeat_and_live_snapshots_arrive():
    config = validate(Q.Config, {"n_samples": 60, "epochs": 4, "shots": 50, "explain_rows": 10})
    live = []
    a = Q.run(config, lambda step, total, metrics: live.append(metrics.get("live")) and False)
    b = Q.run(config, None)
    assert a.metrics == b.metrics
    snaps = [p for p in live if p]
    assert snaps and np.asarray(snaps[0]["z"]).shape == (25, 25)
    fig = Q.live_figure(snaps[-1])
    assert fig.data[0].type == "contour" and "epoch" in fig.layout.title.text


def test_real_table_with_amplitude_embedding_trains_and_explains():
    config = validate(Q.Config, {"dataset": "iris", "n_features": 4, "embedding": "amplitude", "n_qubits": 3,
                                 "epochs": 3, "shots": 0, "explain_rows": 10, "learning_rate": 0.1})
    r = Q.run(config, None)
    assert r.metrics["test_accuracy"] > 0.5  # three classes: chance is about 0.33
    assert "Confusion matrix" in Q.figures(r)
    exp = Q.explain(r)["Quantum model"]
    assert exp.values.shape == (10, 4, 3) and exp.additivity_error < 1e-5


# --- settings ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    ({"n_qubits": 0}, "`n_qubits` must be >= 2, but got 0."),
    ({"n_qubits": 30}, "`n_qubits` must be <= 12, but got 30."),
    ({"dataset": "wine", "n_features": 8, "embedding": "amplitude", "n_qubits": 2},
     "Amplitude embedding stores the 8 inputs plus one constant in the 2^2 = 4 amplitudes of 2 qubits: use at "
     "least 4 qubits"),
    ({"dataset": "wine", "n_features": 6, "n_qubits": 4}, "6 inputs need at least 6 qubits"),
    ({"dataset": "iris", "n_features": 6}, "at most 4 for iris"),
    ({"dataset": "wine", "n_features": 3, "n_qubits": 3, "classical_after": False, "embedding": "amplitude",
      "n_layers": 1}, None),
    ({"dataset": "iris", "n_features": 2, "n_qubits": 2, "classical_after": False}, "at least 3"),
])
def test_settings_that_cannot_work_get_clear_messages(values, message):
    if message is None:
        validate(Q.Config, values)  # a valid corner: 3 features + constant fit in 8 amplitudes
        return
    with pytest.raises(ConfigError) as err:
        validate(Q.Config, values)
    assert message in str(err.value)


def test_presets_validate_and_estimates_are_sane():
    for preset in Q.PRESETS.values():
        validate(Q.Config, preset)
    quick = Q.estimate_seconds(validate(Q.Config, Q.PRESETS["quick"]))
    better = Q.estimate_seconds(validate(Q.Config, Q.PRESETS["better"]))
    assert 1 < quick < 10 < better
    assert Q.estimate_seconds(Q.Config(n_qubits=12)) > quick
