"""Quantum page: the classifier trains to results and SHAP, the circuit lab draws a Bell state, bad gates are refused."""

from tests.pages.helpers import button, every_chart, open_page, open_try_it, train_and_wait


def test_quantum_page_trains_the_classifier_and_shows_results():
    at = open_page("quantum")
    at.selectbox(key="quantum.embedding").set_value("angle_x").run()
    value = at.query_params["embedding"]
    assert (value if isinstance(value, str) else value[0]) == "angle_x"  # the link reproduces the setup
    at = train_and_wait(at)
    outcome = at.session_state["quantum._outcome"]
    assert outcome.metrics["test_accuracy"] >= 0.85 and outcome.config["n_qubits"] == 4
    assert outcome.info["simulator"] == "default.qubit"
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    from engine.core import tryit  # Try it: a point of your own, answered as the engine answers it

    bundle = tryit.load("quantum", outcome.config, outcome.weights, outcome.info)
    open_try_it(at, "quantum")
    at.slider(key="quantum.try.x0").set_value(1.5).run()
    at.slider(key="quantum.try.x1").set_value(-0.5).run()
    expected = tryit.answer("quantum", bundle, {"row": [1.5, -0.5]}).summary["Quantum model"]
    assert next(m.value for m in at.metric if m.label == "Quantum model") == expected
    assert not at.exception
    # training, decision boundaries, circuit, parameters + 4 SHAP views for each of the two models + comparison
    assert len(every_chart(at, "quantum")) >= 4 + 8 + 1
    assert list(outcome.figures)[2] == "Circuit diagram"
    assert any(s.name == "link" for s in outcome.figures["Circuit diagram"].layout.shapes)  # a drawn CNOT
    assert [m.label for m in at.metric][:2] == ["Quantum model: accuracy", "Classical MLP: accuracy"]
    assert "What just happened" in [s.value for s in at.subheader]
    assert any("default.qubit" in m.value for m in at.markdown)


def test_circuit_lab_shows_the_bell_state():
    at = open_page("quantum")
    at.selectbox(key="quantum.mode").set_value("circuit_lab").run()
    at.text_input(key="quantum.gates").set_value("H 0; CNOT 0 1").run()
    at = train_and_wait(at)
    outcome = at.session_state["quantum._outcome"]
    assert outcome.metrics["entanglement_entropy"] > 0.99
    open_try_it(at, "quantum")
    assert any("circuit lab trains no model" in i.value for i in at.info)  # its Try it tab says why it has none
    assert len(at.get("plotly_chart")) >= 3  # diagram, amplitudes, probabilities
    diagram = outcome.figures["Circuit diagram"]
    assert [s.name for s in diagram.layout.shapes].count("link") == 1  # the CNOT joins its two wires
    assert any("|00⟩ 50.0%" in m.value for m in at.markdown)


def test_a_bad_gate_list_is_explained_and_blocks_training():
    at = open_page("quantum")
    at.selectbox(key="quantum.mode").set_value("circuit_lab").run()
    at.text_input(key="quantum.gates").set_value("H 0; CNOT 0 0").run()
    assert any("two different qubits" in e.value for e in at.error)
    assert next(b for b in at.button if b.key == "quantum._train").disabled


def test_a_simulator_this_machine_cannot_run_is_not_offered_and_the_help_says_why(monkeypatch):
    """Issue 27: the lightning.gpu simulator was offered on a machine without a GPU; the error came only after Train,
    and a failed run was saved. Now the form offers what can run here and its help says why an option is missing;
    a link naming it falls back to auto with a note."""
    import engine.quantum.config

    why = "it needs an NVIDIA GPU and the pennylane-lightning-gpu package"
    monkeypatch.setattr(engine.quantum.config, "gpu_simulator_missing", lambda: why, raising=False)  # any machine
    at = open_page("quantum")
    box = at.selectbox(key="quantum.simulator")
    assert not any("lightning.gpu" in o for o in box.options) and any("lightning.qubit" in o for o in box.options)
    assert "lightning.gpu" in box.help and "NVIDIA GPU" in box.help
    at = open_page("quantum", {"simulator": "lightning.gpu"})
    assert at.selectbox(key="quantum.simulator").value == "auto"
    assert any("lightning.gpu" in w.value and "NVIDIA GPU" in w.value for w in at.warning)
    assert not at.error and not button(at, "quantum._train").disabled
    assert "simulator" not in at.query_params
