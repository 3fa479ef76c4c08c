"""The circuit lab: simulate a hand-written gate list and read out its state, probabilities and entanglement.

No training: the gates ("H 0; CNOT 0 1" is a Bell state) run once on PennyLane's state-vector simulator. The
exact state gives the amplitudes and probabilities; with ``shots`` the same circuit is also measured that many
times, so the sampled shares can be set beside the exact probabilities.
"""

from __future__ import annotations

import numpy as np
import pennylane as qml

from engine.core.contract import ProgressFn, Result, Tracker
from engine.quantum.config import Config, parse_gates

OPS = {
    "H": qml.Hadamard,
    "X": qml.PauliX,
    "Y": qml.PauliY,
    "Z": qml.PauliZ,
    "S": qml.S,
    "T": qml.T,
    "RX": qml.RX,
    "RY": qml.RY,
    "RZ": qml.RZ,
    "CNOT": qml.CNOT,
    "CZ": qml.CZ,
    "SWAP": qml.SWAP,
}


def basis_labels(n_qubits: int) -> list[str]:
    """'|00⟩', '|01⟩', ... (qubit 0 is the leftmost bit, PennyLane's order)."""
    return [f"|{i:0{n_qubits}b}⟩" for i in range(2**n_qubits)]


def entanglement_entropy(amplitudes: np.ndarray, n_qubits: int) -> float:
    """Von Neumann entropy (bits) of qubit 0's reduced state: 0 = not entangled with the rest, 1 = maximal."""
    if n_qubits < 2:
        return 0.0
    psi = amplitudes.reshape(2, -1)  # (qubit 0, rest)
    rho = psi @ psi.conj().T  # (2, 2) reduced density matrix
    ev = np.clip(np.linalg.eigvalsh(rho).real, 0, 1)
    ev = ev[ev > 1e-12]
    return float(abs(-(ev * np.log2(ev)).sum()))


def recorded_ops(qnode, *args) -> list[dict]:
    """The gates a QNode runs (as the device sees them), as JSON-friendly dicts for the circuit figure."""
    tape = qml.workflow.construct_tape(qnode, level="device")(*args)
    return [
        {
            "name": op.name,
            "wires": [int(w) for w in op.wires],
            "params": [
                round(float(np.asarray(p).reshape(-1)[0]), 4)
                for p in op.parameters
                if np.ndim(p) == 0 or np.size(p) == 1
            ],
        }
        for op in tape.operations
    ]


def run(config: Config, progress: ProgressFn) -> Result:
    """Simulate the gate list: final state, exact probabilities and (with shots) sampled ones."""
    gates = parse_gates(config.gates)
    n = max(w for _, wires, _ in gates for w in wires) + 1

    def apply():
        for name, wires, angle in gates:
            OPS[name](angle, wires=wires) if angle is not None else OPS[name](wires=wires)

    @qml.qnode(qml.device("default.qubit", wires=n, seed=config.seed))  # no "global" seed from NumPy's generator
    def state():
        apply()
        return qml.state()

    amplitudes = np.asarray(state(), dtype=np.complex128)  # (2**n,)
    probs = np.abs(amplitudes) ** 2  # (2**n,)
    arrays = {"amplitudes_real": amplitudes.real, "amplitudes_imag": amplitudes.imag, "probabilities": probs}
    metrics = {
        "n_qubits": n,
        "n_gates": len(gates),
        "entanglement_entropy": entanglement_entropy(amplitudes, n),
        "top_probability": float(probs.max()),
    }
    if config.shots:

        @qml.qnode(qml.device("default.qubit", wires=n, seed=config.seed), shots=config.shots)
        def measured():
            apply()
            return qml.probs(wires=range(n))

        arrays["sampled"] = np.asarray(measured(), dtype=np.float64)  # (2**n,) shares of the shots
        metrics["max_sampling_error"] = float(np.abs(arrays["sampled"] - probs).max())
    tracker = Tracker(progress, 1)
    tracker.step(1, entanglement_entropy=metrics["entanglement_entropy"])
    headline = ("top_probability", "entanglement_entropy") + (("max_sampling_error",) if config.shots else ())
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=headline,
        arrays=arrays,
        stopped=tracker.stopped,
        info={
            "basis": basis_labels(n),
            "circuit": recorded_ops(state),
            "simulator": "default.qubit",
            "simulator_reason": "the circuit lab is tiny, so the plain state-vector simulator is used",
        },
    )
