"""Quantum neural networks: simulated quantum circuits as layers of ordinary PyTorch models.

Two modes share one Config:

* **classifier**: a variational circuit (inputs embedded as qubit rotations, then trainable entangling
  layers, then one Pauli-Z expectation value per qubit) wrapped by ``qml.qnn.TorchLayer`` inside an
  ``nn.Module`` and trained with the shared loop ``engine.core.train.fit``. Data re-uploading (the inputs
  enter again before every layer) and trainable input scaling make it learn reliably; a classical MLP with
  about as many trainable parameters is trained on the same split for comparison, and SHAP explains both.
* **circuit_lab**: no training; a short gate list ("H 0; CNOT 0 1" is the Bell state) is simulated and the
  diagram, the state's amplitudes and the measurement probabilities (exact and sampled) are drawn.

The simulator is chosen for speed (see ``choose_simulator``): ``default.qubit`` with backpropagation and
batched inputs is fastest for small circuits, ``lightning.qubit``/``lightning.gpu`` with adjoint
differentiation for large ones.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from engine.core import charts
from engine.core.config import TechniqueConfig
from engine.core.contract import ProgressFn, Result, RunError, Tracker

TITLE = "Quantum neural networks"
SUMMARY = ("Build quantum circuits and train a classifier whose middle layer is a simulated quantum circuit.")

TOY_SETS = ("moons", "circles", "xor", "spiral")
TABLE_SETS = {"iris": (4, 3), "breast_cancer": (30, 2), "wine": (13, 3)}  # name -> (columns, classes)
BASELINE_EPOCHS = 100
LAB_MAX_QUBITS = 8
LAB_MAX_GATES = 40
LARGE_CIRCUIT_QUBITS = 14  # ENVIRONMENT.md: default.qubit+backprop wins below ~14-16 qubits, adjoint above
GATE_WIRES = {"H": 1, "X": 1, "Y": 1, "Z": 1, "S": 1, "T": 1, "RX": 1, "RY": 1, "RZ": 1, "CNOT": 2, "CZ": 2,
              "SWAP": 2}
ROTATIONS = ("RX", "RY", "RZ")
_ANGLE = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)?\*?(pi)?(?:/(\d+\.?\d*))?$")


class Config(TechniqueConfig):
    mode: Literal["classifier", "circuit_lab"] = Field(
        "classifier", description="Train a quantum classifier, or build a small circuit by hand in the circuit "
                                  "lab and look at its quantum state (no training).")
    dataset: Literal["moons", "circles", "xor", "spiral", "iris", "breast_cancer", "wine"] = Field(
        "moons", description="What to classify: a 2-D toy set (moons, circles, XOR, spiral) or a small real "
                             "table (iris flowers, breast tumours, wines) squeezed to a few inputs.")
    noise: float = Field(0.15, ge=0.0, le=0.5, description="How much the points of a 2-D toy set are jittered "
                         "(more noise: harder to separate).", json_schema_extra={"widget": "slider"})
    n_samples: int = Field(200, ge=60, le=1000, description="How many points the 2-D toy set has.", title="Points")
    n_features: int = Field(4, ge=2, le=8, description="Real tables are squeezed to this many inputs with PCA "
                            "(their main directions of variation); 2-D toy sets always have 2 inputs.",
                            title="Inputs (features)")
    n_qubits: int = Field(4, ge=2, le=12, description="Qubits in the circuit. Each extra qubit doubles the "
                          "simulation cost.", title="Qubits")
    n_layers: int = Field(2, ge=1, le=8, description="Trainable layers of rotations and entangling gates. "
                          "More layers: a more flexible (and slower) model.", title="Circuit layers")
    embedding: Literal["angle_x", "angle_y", "angle_z", "amplitude", "iqp"] = Field(
        "angle_y", description="How inputs enter the circuit: as X, Y or Z rotation angles (one input per qubit; "
                               "Z uses Hadamards first), as the amplitudes of the whole state (many inputs on "
                               "few qubits), or IQP (rotations plus products of input pairs).")
    ansatz: Literal["basic", "strong"] = Field(
        "strong", description="The trainable layer: basic (one rotation per qubit and a ring of CNOTs) or "
                              "strongly entangling (three rotations per qubit and longer-range CNOTs).")
    reupload: bool = Field(True, description="Data re-uploading: feed the inputs in again before every layer, "
                           "so the circuit can build more complex decision shapes.", title="Data re-uploading")
    input_scaling: bool = Field(True, description="Learn how strongly each input is turned into a rotation "
                                "(a trainable multiplier per qubit and layer).")
    classical_before: bool = Field(False, description="Hybrid: a classical linear layer turns the inputs into "
                                   "the circuit's inputs (lets few qubits take many inputs).",
                                   title="Classical layer before")
    classical_after: bool = Field(True, description="Hybrid: a classical linear layer turns the qubit "
                                  "measurements into class scores. Off: each class reads one qubit directly.",
                                  title="Classical layer after")
    simulator: Literal["auto", "default.qubit", "lightning.qubit", "lightning.gpu"] = Field(
        "auto", description="Which simulator computes the circuit. Auto picks the fastest for the qubit count.")
    shots: int = Field(1000, ge=0, le=100_000, description="Measurements taken to estimate each result "
                       "(0: exact values only). Training always uses exact values (training with shots is far "
                       "too slow here); shots are used to test the trained classifier and in the circuit lab.")
    epochs: int = Field(12, ge=1, le=300, description="Passes over the training data.")
    learning_rate: float = Field(0.08, ge=1e-4, le=1.0, description="Step size of the Adam optimiser (for the "
                                 "quantum model and the classical baseline).", json_schema_extra={"log": True})
    batch_size: int = Field(50, ge=8, le=256, description="Examples per optimisation step.")
    test_fraction: float = Field(0.25, ge=0.1, le=0.5, description="Share of examples held out to test both "
                                 "models.", json_schema_extra={"widget": "slider"})
    explain_rows: int = Field(40, ge=10, le=200, description="How many test examples SHAP explains (more is "
                              "slower).")
    gates: str = Field("H 0; CNOT 0 1", max_length=400, description="Circuit lab: gates separated by ';', e.g. "
                       "'H 0; CNOT 0 1' (a Bell state) or 'RY 0 pi/3; CZ 0 1'. Gates: H, X, Y, Z, S, T, "
                       "RX/RY/RZ <qubit> <angle>, CNOT/CZ/SWAP <qubit> <qubit>; qubits 0 to 7.")

    # The form shows a setting only where it applies (hidden settings keep their values).
    SHOW_IF: ClassVar[dict] = {
        "gates": {"mode": ["circuit_lab"]},
        **dict.fromkeys(("dataset", "n_qubits", "n_layers", "embedding", "ansatz", "reupload", "input_scaling",
                         "classical_before", "classical_after", "simulator", "epochs", "learning_rate", "batch_size",
                         "test_fraction", "explain_rows"), {"mode": ["classifier"]}),
        **dict.fromkeys(("noise", "n_samples"), {"mode": ["classifier"], "dataset": list(TOY_SETS)}),
        "n_features": {"mode": ["classifier"], "dataset": list(TABLE_SETS)},
    }

    @model_validator(mode="after")
    def _fits_the_circuit(self):
        if self.mode == "circuit_lab":
            parse_gates(self.gates)  # raises ValueError with a plain sentence
            return self
        n_in, n_classes = data_shape(self)
        if self.dataset in TABLE_SETS and self.n_features > TABLE_SETS[self.dataset][0]:
            raise ValueError(f"`n_features` must be at most {TABLE_SETS[self.dataset][0]} for {self.dataset}, "
                             f"which has only that many columns, but got {self.n_features}.")
        if not self.classical_before:
            if self.embedding == "amplitude" and n_in + 1 > 2 ** self.n_qubits:
                need = math.ceil(math.log2(n_in + 1))
                raise ValueError(
                    f"Amplitude embedding stores the {n_in} inputs plus one constant in the "
                    f"2^{self.n_qubits} = {2 ** self.n_qubits} amplitudes of {self.n_qubits} qubits: use at "
                    f"least {need} qubits, fewer features, or turn on the classical layer before the circuit.")
            if self.embedding != "amplitude" and n_in > self.n_qubits:
                raise ValueError(
                    f"{self.embedding} embedding puts one input on each qubit, so {n_in} inputs need at least "
                    f"{n_in} qubits, but `n_qubits` is {self.n_qubits}. Use more qubits, fewer features, "
                    "amplitude embedding, or turn on the classical layer before the circuit.")
        if not self.classical_after and n_classes > self.n_qubits:
            raise ValueError(f"Without the classical layer after the circuit each of the {n_classes} classes "
                             f"reads one qubit, so `n_qubits` must be at least {n_classes}, but got "
                             f"{self.n_qubits}.")
        return self


PRESETS = {
    "quick": {"dataset": "moons", "n_qubits": 4, "n_layers": 2, "epochs": 12, "explain_rows": 40},
    "better": {"dataset": "moons", "n_qubits": 4, "n_layers": 4, "epochs": 60, "n_samples": 400,
               "learning_rate": 0.03, "explain_rows": 100},
}


def data_shape(config: Config) -> tuple[int, int]:
    """(inputs the model sees, classes) for the chosen dataset."""
    if config.dataset in TOY_SETS:
        return 2, 2
    return config.n_features, TABLE_SETS[config.dataset][1]


# --- circuit lab: parsing a gate list ---------------------------------------------------------------------

def parse_angle(text: str) -> float:
    """'0.5', '-pi/2', '2pi', 'pi/3' -> radians; raises ValueError with a plain sentence."""
    m = _ANGLE.match(text.strip().lower().replace(" ", ""))
    if not m or not (m.group(2) or m.group(3)):
        raise ValueError(f"{text!r} is not an angle: write radians like 0.5, pi, -pi/2 or 2pi/3.")
    sign, number, pi, divisor = m.groups()
    value = float(number) if number else 1.0
    value *= math.pi if pi else 1.0
    if divisor:
        if float(divisor) == 0:
            raise ValueError(f"{text!r} divides by zero.")
        value /= float(divisor)
    return -value if sign == "-" else value


def parse_gates(text: str) -> list[tuple[str, tuple[int, ...], float | None]]:
    """'H 0; CNOT 0 1; RY 1 pi/4' -> [(name, wires, angle or None)]; raises ValueError saying what is wrong."""
    gates = []
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    if not parts:
        raise ValueError("The circuit lab needs at least one gate, e.g. 'H 0; CNOT 0 1'.")
    if len(parts) > LAB_MAX_GATES:
        raise ValueError(f"The circuit lab takes at most {LAB_MAX_GATES} gates, but got {len(parts)}.")
    for i, part in enumerate(parts, 1):
        name, *args = part.replace(",", " ").split()
        name = name.upper()
        if name not in GATE_WIRES:
            raise ValueError(f"Gate {i} ({part!r}): unknown gate {name!r}; known gates: {', '.join(GATE_WIRES)}.")
        n_wires, n_args = GATE_WIRES[name], GATE_WIRES[name] + (name in ROTATIONS)
        if len(args) != n_args:
            shape = f"{name} <qubit> <angle>" if name in ROTATIONS else f"{name} " + " ".join(["<qubit>"] * n_wires)
            raise ValueError(f"Gate {i} ({part!r}) must be written '{shape}'.")
        try:
            wires = tuple(int(a) for a in args[:n_wires])
        except ValueError:
            raise ValueError(f"Gate {i} ({part!r}): qubits are whole numbers from 0 to {LAB_MAX_QUBITS - 1}.") from None
        if any(not 0 <= w < LAB_MAX_QUBITS for w in wires):
            raise ValueError(f"Gate {i} ({part!r}): qubits must be from 0 to {LAB_MAX_QUBITS - 1}.")
        if len(set(wires)) != len(wires):
            raise ValueError(f"Gate {i} ({part!r}) must act on two different qubits.")
        angle = None
        if name in ROTATIONS:
            try:
                angle = parse_angle(args[-1])
            except ValueError as e:
                raise ValueError(f"Gate {i} ({part!r}): {e}") from None
        gates.append((name, wires, angle))
    return gates


def basis_labels(n_qubits: int) -> list[str]:
    """'|00>', '|01>', ... (qubit 0 is the leftmost bit, PennyLane's order)."""
    return [f"|{i:0{n_qubits}b}⟩" for i in range(2 ** n_qubits)]


def run_circuit_lab(config: Config, progress: ProgressFn) -> Result:
    """Simulate the gate list: final state, exact probabilities and (with shots) sampled ones."""
    import pennylane as qml

    gates = parse_gates(config.gates)
    n = max(w for _, wires, _ in gates for w in wires) + 1
    ops = {"H": qml.Hadamard, "X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ, "S": qml.S, "T": qml.T,
           "RX": qml.RX, "RY": qml.RY, "RZ": qml.RZ, "CNOT": qml.CNOT, "CZ": qml.CZ, "SWAP": qml.SWAP}

    def apply():
        for name, wires, angle in gates:
            ops[name](angle, wires=wires) if angle is not None else ops[name](wires=wires)

    @qml.qnode(qml.device("default.qubit", wires=n))
    def state():
        apply()
        return qml.state()

    amplitudes = np.asarray(state(), dtype=np.complex128)  # (2**n,)
    probs = np.abs(amplitudes) ** 2
    sampled = None
    if config.shots:
        @qml.qnode(qml.device("default.qubit", wires=n, seed=config.seed), shots=config.shots)
        def measured():
            apply()
            return qml.probs(wires=range(n))
        sampled = np.asarray(measured(), dtype=np.float64)
    entropy = entanglement_entropy(amplitudes, n)
    metrics = {"n_qubits": n, "n_gates": len(gates), "shots": config.shots, "entanglement_entropy": entropy,
               "max_sampling_error": float(np.abs(sampled - probs).max()) if sampled is not None else 0.0}
    tracker = Tracker(progress, 1)
    tracker.step(1, entanglement_entropy=entropy)
    arrays = {"amplitudes_real": amplitudes.real, "amplitudes_imag": amplitudes.imag, "probabilities": probs}
    if sampled is not None:
        arrays["sampled"] = sampled
    return Result(history=tracker.history(), metrics=metrics, arrays=arrays, stopped=tracker.stopped,
                  info={"mode": "circuit_lab", "diagram": qml.draw(state)(), "gates": config.gates,
                        "basis": basis_labels(n), "simulator": "default.qubit",
                        "simulator_reason": "the circuit lab is tiny, so the plain state-vector simulator is used"})


def entanglement_entropy(amplitudes: np.ndarray, n_qubits: int) -> float:
    """Von Neumann entropy (bits) of qubit 0's reduced state: 0 = not entangled with the rest, 1 = maximal."""
    if n_qubits < 2:
        return 0.0
    psi = amplitudes.reshape(2, -1)  # (qubit 0, rest)
    rho = psi @ psi.conj().T  # (2, 2) reduced density matrix
    ev = np.clip(np.linalg.eigvalsh(rho).real, 0, 1)
    ev = ev[ev > 1e-12]
    return float(abs(-(ev * np.log2(ev)).sum()))


# --- classifier: simulator choice, circuit and hybrid model ------------------------------------------------

@lru_cache(maxsize=1)
def lightning_gpu_available() -> bool:
    """True when the lightning.gpu plugin (NVIDIA GPU + pennylane-lightning-gpu) can be created."""
    try:
        import pennylane as qml
        qml.device("lightning.gpu", wires=1)
        return True
    except Exception:
        return False


def choose_simulator(n_qubits: int, wanted: str = "auto", gpu: bool | None = None) -> tuple[str, str, str]:
    """(device name, diff method, plain reason). Auto: default.qubit + backprop below LARGE_CIRCUIT_QUBITS,
    else lightning.gpu when present, else lightning.qubit (both with adjoint differentiation)."""
    gpu = lightning_gpu_available() if gpu is None else gpu
    if wanted == "default.qubit":
        return "default.qubit", "backprop", "you chose it: exact state vector, gradients by backpropagation"
    if wanted == "lightning.qubit":
        return "lightning.qubit", "adjoint", "you chose it: compiled C++ simulator, adjoint gradients"
    if wanted == "lightning.gpu":
        if not gpu:
            raise RunError("The lightning.gpu simulator is not available here (it needs an NVIDIA GPU and the "
                           "pennylane-lightning-gpu package). Choose simulator 'auto'.")
        return "lightning.gpu", "adjoint", "you chose it: GPU simulator, adjoint gradients"
    if n_qubits < LARGE_CIRCUIT_QUBITS:
        return ("default.qubit", "backprop",
                f"{n_qubits} qubits is small: default.qubit simulates the whole batch at once and backpropagates "
                f"through it, which measured fastest below about {LARGE_CIRCUIT_QUBITS} qubits")
    if gpu:
        return "lightning.gpu", "adjoint", f"{n_qubits} qubits is large and a GPU simulator is present"
    return ("lightning.qubit", "adjoint", f"{n_qubits} qubits is large: the compiled lightning.qubit simulator "
            "with adjoint gradients is faster there")


def circuit_inputs(config: Config) -> int:
    """How many numbers enter the circuit per example (per-qubit angles, or amplitudes incl. a constant)."""
    n_in, _ = data_shape(config)
    if config.embedding == "amplitude":
        return 2 ** config.n_qubits if config.classical_before else n_in + 1
    return config.n_qubits


def make_qnode(config: Config, device_name: str, diff_method: str | None, shots: int = 0):
    """The variational circuit: [embed(inputs * scaling[l]) -> trainable layer l] for each layer, then <Z> per qubit."""
    import pennylane as qml

    nq, wires = config.n_qubits, range(config.n_qubits)
    kwargs = {"seed": config.seed} if shots else {}
    dev = qml.device(device_name, wires=nq, **kwargs)
    layer_op = qml.StronglyEntanglingLayers if config.ansatz == "strong" else qml.BasicEntanglerLayers
    reupload = config.reupload and config.embedding != "amplitude"  # amplitude prep must come first

    def embed(x):  # x: (B, circuit_inputs)
        if config.embedding == "amplitude":
            qml.AmplitudeEmbedding(x, wires=wires, pad_with=0.0, normalize=True)
        elif config.embedding == "iqp":
            qml.IQPEmbedding(x, wires=wires)
        elif config.embedding == "angle_z":
            for w in wires:
                qml.Hadamard(w)
            qml.AngleEmbedding(x, wires=wires, rotation="Z")
        else:
            qml.AngleEmbedding(x, wires=wires, rotation=config.embedding[-1].upper())

    def circuit(inputs, weights, scaling):
        for layer in range(config.n_layers):
            if layer == 0 or reupload:
                embed(inputs * scaling[layer if reupload else 0])
            layer_op(weights[layer:layer + 1], wires=wires)
        return [qml.expval(qml.PauliZ(w)) for w in wires]

    return qml.QNode(circuit, dev, interface="torch", diff_method=diff_method,
                     **({"shots": shots} if shots else {}))


def weight_shapes(config: Config) -> dict[str, tuple[int, ...]]:
    reupload = config.reupload and config.embedding != "amplitude"
    per_qubit = (3,) if config.ansatz == "strong" else ()
    return {"weights": (config.n_layers, config.n_qubits, *per_qubit),
            "scaling": (config.n_layers if reupload else 1, circuit_inputs(config))}


def build_model(config: Config, qnode):
    """Hybrid model: [Linear ->] input tiling -> quantum layer (TorchLayer) -> [Linear] -> class scores."""
    import torch
    from torch import nn
    import pennylane as qml

    n_in, n_classes = data_shape(config)
    n_circuit = circuit_inputs(config)
    scaling_grad = config.input_scaling

    class HybridQNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.before = nn.Linear(n_in, n_circuit - (config.embedding == "amplitude")) \
                if config.classical_before else None
            self.quantum = qml.qnn.TorchLayer(qnode, weight_shapes(config), init_method={
                "weights": lambda t: nn.init.uniform_(t, 0, 2 * math.pi), "scaling": nn.init.ones_})
            self.quantum.scaling.requires_grad_(scaling_grad)
            self.after = nn.Linear(config.n_qubits, n_classes) if config.classical_after else None
            # without a classical head, each class reads one qubit's <Z> in [-1, 1]; a fixed gain sharpens it
            self.gain = 3.0

        def circuit_input(self, x):  # x: (B, n_in) -> (B, n_circuit)
            h = self.before(x) if self.before is not None else x
            if config.embedding == "amplitude":
                return torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype)], 1)  # constant keeps the norm non-zero
            return h[:, [q % h.shape[1] for q in range(n_circuit)]]  # tile inputs over the qubits

        def forward(self, x):  # (B, n_in) -> (B, n_classes)
            z = self.quantum(self.circuit_input(x))  # (B, n_qubits) expectation values
            return self.after(z) if self.after is not None else self.gain * z[:, :n_classes]

    return HybridQNN()


def baseline_hidden(n_params: int, n_in: int, n_classes: int) -> int:
    """Hidden width of a one-hidden-layer MLP with about ``n_params`` trainable parameters."""
    return max(1, round((n_params - n_classes) / (n_in + 1 + n_classes)))


def load_data(config: Config):
    """(X_train, y_train, X_test, y_test, feature names, class names, title); inputs roughly standardised."""
    from engine.core.data import sklearn_table, split, toy_2d

    if config.dataset in TOY_SETS:
        X, y = toy_2d(config.dataset, config.n_samples, config.noise, config.seed)
        tr, te = split(len(y), config.test_fraction, config.seed, y)
        return (X[tr], y[tr], X[te], y[te], ["x1", "x2"], ["class 0", "class 1"],
                f"{config.dataset} ({config.n_samples} points, noise {config.noise:g})")
    from sklearn.decomposition import PCA

    table = sklearn_table(config.dataset)
    tr, te = split(len(table.y), config.test_fraction, config.seed, table.y)
    mean, std = table.X[tr].mean(0), table.X[tr].std(0) + 1e-8
    pca = PCA(config.n_features, random_state=config.seed).fit((table.X[tr] - mean) / std)
    Z = pca.transform((table.X - mean) / std)
    Z = (Z / (Z[tr].std(0) + 1e-8)).astype(np.float32)
    return (Z[tr], table.y[tr].astype(np.int64), Z[te], table.y[te].astype(np.int64),
            [f"PC{i + 1}" for i in range(config.n_features)], table.class_names,
            f"{table.title}, reduced to {config.n_features} principal components")


def run(config: Config, progress: ProgressFn) -> Result:
    """Circuit lab: simulate the gates. Classifier: train the QNN live, then a parameter-matched MLP baseline."""
    if config.mode == "circuit_lab":
        return run_circuit_lab(config, progress)
    import torch
    from torch import nn
    import pennylane as qml

    from engine.core.data import grid_2d
    from engine.core.train import accuracy, count_parameters, fit, mlp, predict

    X_tr, y_tr, X_te, y_te, feature_names, class_names, title = load_data(config)
    n_in, n_classes = len(feature_names), len(class_names)
    sim, diff, reason = choose_simulator(config.n_qubits, config.simulator)
    qnode = make_qnode(config, sim, diff)
    with torch.random.fork_rng():  # seeded initial weights without touching the caller's RNG
        torch.manual_seed(config.seed)
        model = build_model(config, qnode)
        total_params = count_parameters(model, trainable=True)
        quantum_params = count_parameters(model.quantum, trainable=True)
        hidden = baseline_hidden(total_params, n_in, n_classes)
        baseline = mlp(n_in, n_classes, [hidden], activation="tanh")

    # the QNN runs on the CPU: a few-qubit simulation is too small to gain from a GPU (lightning.gpu aside)
    Xtr, ytr, Xte, yte = (torch.as_tensor(a) for a in (X_tr, y_tr, X_te, y_te))
    loss_fn = nn.CrossEntropyLoss()
    live_every = max(2, math.ceil(config.epochs / 6))  # a handful of live snapshots per run
    coarse = grid_2d(X_tr, steps=25) if n_in == 2 else None
    epoch = [0]

    X_all = torch.cat([Xtr, Xte])  # one circuit call per evaluation: each call has a fixed overhead

    def evaluate(m):
        out = m(X_all)
        out_tr, out_te = out[:len(Xtr)], out[len(Xtr):]
        metrics = {"test_loss": loss_fn(out_te, yte).item(), "train_accuracy": accuracy(out_tr, ytr),
                   "test_accuracy": accuracy(out_te, yte)}
        epoch[0] += 1
        if coarse is not None and (epoch[0] % live_every == 0 or epoch[0] == 1):
            # fit() forwards every key to tracker.step, so "live" becomes the live-figure snapshot
            p1 = torch.softmax(m(torch.as_tensor(coarse[2])), 1)[:, 1].reshape(coarse[0].shape)
            metrics["live"] = {"x": coarse[0][0].round(3).tolist(), "y": coarse[1][:, 0].round(3).tolist(),
                               "z": p1.numpy().round(3).tolist(), "epoch": epoch[0]}
        return metrics

    tracker = Tracker(progress, config.epochs)
    fit(model, Xtr, ytr, loss_fn=loss_fn, epochs=config.epochs, lr=config.learning_rate,
        batch_size=config.batch_size, tracker=tracker, evaluate=evaluate, seed=config.seed)

    # the classical baseline: same split, optimiser and learning rate; it is cheap, so it trains until it
    # settles (at least BASELINE_EPOCHS) and the comparison is not won by under-training it
    base_epochs = max(config.epochs, BASELINE_EPOCHS)
    fit(baseline, Xtr, ytr, loss_fn=loss_fn, epochs=base_epochs, lr=config.learning_rate,
        batch_size=config.batch_size, tracker=Tracker(None, base_epochs), seed=config.seed)

    pred = predict(model, Xte).argmax(1).numpy()
    base_pred = predict(baseline, Xte).argmax(1).numpy()
    metrics = {"test_accuracy": float((pred == y_te).mean()),
               "baseline_test_accuracy": float((base_pred == y_te).mean()),
               "quantum_parameters": quantum_params, "n_qubits": config.n_qubits,
               "train_accuracy": accuracy(predict(model, Xtr), ytr), "n_layers": config.n_layers,
               "classical_parameters": total_params - quantum_params, "parameters": total_params,
               "baseline_parameters": count_parameters(baseline), "baseline_hidden": hidden,
               "epochs_run": len(tracker.rows), "baseline_epochs": base_epochs, "n_train": len(y_tr), "n_test": len(y_te)}
    if config.shots:
        # the trained weights in a circuit that is measured `shots` times per example (sampling noise)
        shot_model = build_model(config, make_qnode(config, sim, None,
                                                    shots=config.shots))
        shot_model.load_state_dict(model.state_dict())
        metrics["test_accuracy_shots"] = float((predict(shot_model, Xte).argmax(1).numpy() == y_te).mean())

    arrays = {"X_train": X_tr, "y_train": y_tr, "X_test": X_te, "y_test": y_te, "pred_test": pred,
              "baseline_pred_test": base_pred}
    if n_in == 2:
        xx, yy, points = grid_2d(np.concatenate([X_tr, X_te]), steps=60)
        grid = torch.as_tensor(points)
        arrays.update(grid_xx=xx, grid_yy=yy,
                      grid_qnn=torch.softmax(predict(model, grid), 1)[:, 1].numpy().reshape(xx.shape),
                      grid_baseline=torch.softmax(predict(baseline, grid), 1)[:, 1].numpy().reshape(xx.shape))
    with torch.no_grad():
        x0 = model.circuit_input(Xte[:1])[0]  # one test example, unbatched, so the diagram shows its angles
        diagram = qml.draw(qnode, level="device", decimals=2, max_length=110, show_matrices=False)(
            x0, model.quantum.weights, model.quantum.scaling)
    return Result(
        history=tracker.history(), metrics=metrics, models={"qnn": model, "baseline": baseline}, arrays=arrays,
        stopped=tracker.stopped,
        info={"mode": "classifier", "feature_names": feature_names, "class_names": class_names, "title": title,
              "simulator": sim, "diff_method": diff, "simulator_reason": reason, "diagram": diagram,
              "embedding": config.embedding, "ansatz": config.ansatz, "reupload": config.reupload,
              "input_scaling": config.input_scaling, "explain_rows": config.explain_rows, "seed": config.seed,
              "shots": config.shots, "n_qubits": config.n_qubits})


# --- figures --------------------------------------------------------------------------------------------

def text_figure(text: str, *, title: str, caption: str):
    """Monospace text (a circuit diagram) as a figure: one text line per row, spaces kept."""
    import plotly.graph_objects as go

    lines = text.rstrip("\n").split("\n")
    fig = go.Figure(go.Scatter(
        x=[0] * len(lines), y=list(range(len(lines)))[::-1], mode="text", textposition="middle right",
        text=[line.replace(" ", "\u00a0") for line in lines], hoverinfo="skip", cliponaxis=False,
        textfont=dict(family="DejaVu Sans Mono, Courier New, monospace", size=11)))
    fig.update_layout(title=title, height=max(200, 18 * len(lines) + 100), showlegend=False,
                      xaxis=dict(visible=False, range=[0, 1]), yaxis=dict(visible=False), plot_bgcolor="white")
    return charts.captioned(fig, caption)


def _lab_figures(result: Result) -> dict:
    import plotly.graph_objects as go

    a, info, m = result.arrays, result.info, result.metrics
    basis = info["basis"]
    figs = {"Circuit diagram": text_figure(
        info["diagram"], title="Your circuit",
        caption="Time runs left to right; each line is a qubit, starting in |0⟩. ●─X is a CNOT (flip the "
                "target when the control is 1).")}
    amp = go.Figure([go.Bar(x=basis, y=a["amplitudes_real"], name="real part"),
                     go.Bar(x=basis, y=a["amplitudes_imag"], name="imaginary part")])
    amp.update_layout(title="State amplitudes", barmode="group", yaxis_title="amplitude", yaxis_range=[-1, 1])
    figs["Amplitudes"] = charts.captioned(
        amp, "The quantum state is one complex number per basis state; its squared size is the chance of "
             "measuring that outcome. Qubit 0 is the leftmost bit.")
    probs = go.Figure(go.Bar(x=basis, y=a["probabilities"], name="exact"))
    if "sampled" in a:
        shots = m["shots"]
        noise = 2 * np.sqrt(a["probabilities"] * (1 - a["probabilities"]) / shots)
        probs.add_trace(go.Bar(x=basis, y=a["sampled"], name=f"measured {shots:,} times",
                               error_y=dict(type="data", array=noise, visible=True)))
    probs.update_layout(title="Measurement probabilities", barmode="group", yaxis_title="probability")
    figs["Probabilities"] = charts.captioned(
        probs, "Exact probabilities next to the share of outcomes in simulated measurements. Error bars: "
               "±2 standard errors expected from sampling alone; more shots shrink them.")
    return figs


def figures(result: Result) -> dict:
    """Circuit lab: diagram, amplitudes, probabilities. Classifier: curves, boundaries, diagram, parameters."""
    if result.info["mode"] == "circuit_lab":
        return _lab_figures(result)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    h, a, info, m = result.history, result.arrays, result.info, result.metrics
    figs = {}
    if len(h):
        curves = charts.learning_curves(h, ["loss", "test_loss", "train_accuracy", "test_accuracy"],
                                        title="Quantum model: loss and accuracy per epoch")
        curves.add_trace(go.Scatter(x=[h["step"].min(), h["step"].max()], y=[m["baseline_test_accuracy"]] * 2,
                                    mode="lines", yaxis="y2", name="classical baseline, final test accuracy",
                                    line=dict(dash="dot", color="grey")))
        figs["Training"] = charts.captioned(
            curves, "The loss should fall and the accuracies rise. The dotted line is the test accuracy the "
                    f"classical baseline reached after {m['baseline_epochs']} epochs.")
    if "grid_qnn" in a:
        X = np.concatenate([a["X_train"], a["X_test"]])
        y = np.concatenate([a["y_train"], a["y_test"]])
        fig = make_subplots(1, 2, subplot_titles=(
            f"Quantum model ({m['parameters']} parameters): {m['test_accuracy']:.0%} test",
            f"Classical MLP ({m['baseline_parameters']} parameters): {m['baseline_test_accuracy']:.0%} test"),
            horizontal_spacing=0.06)
        for col, key in ((1, "grid_qnn"), (2, "grid_baseline")):
            panel = charts.decision_boundary(a["grid_xx"], a["grid_yy"], a[key], X, y, title="")
            for trace in panel.data:
                trace.showlegend = col == 1 and trace.type == "scatter"
                fig.add_trace(trace, 1, col)
        fig.update_layout(title="Decision boundaries, side by side", height=460)
        figs["Decision boundaries"] = charts.captioned(
            fig, "Background: each model's probability of class 1 at every point (red high, blue low); dots: "
                 "the data. Compare the shapes the quantum circuit and the classical network draw.")
    else:
        figs["Confusion matrix"] = charts.confusion_matrix(a["y_test"], a["pred_test"], info["class_names"],
                                                           title="Quantum model: confusion matrix (test set)")
    figs["Circuit diagram"] = text_figure(
        info["diagram"], title=f"The trained circuit ({info['n_qubits']} qubits, one test example)",
        caption="Every gate with its trained angle, for one test example: the embedding rotations carry the "
                "inputs, Rot gates hold trained weights, CNOTs entangle the qubits, and <Z> is the measurement "
                "fed to the classical layer.")
    names = ["quantum (circuit angles + input scales)", "classical layers of the hybrid", "classical baseline MLP"]
    values = [m["quantum_parameters"], m["classical_parameters"], m["baseline_parameters"]]
    figs["Parameters"] = charts.bar(names, values, title="Trainable parameters",
                                    caption="The baseline MLP gets about as many trainable numbers as the "
                                            "whole hybrid quantum model, so the comparison is fair.")
    return figs


def live_figure(payload: dict):
    """The quantum model's current decision surface (2-D data), redrawn while it trains."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Contour(x=payload["x"], y=payload["y"], z=payload["z"], colorscale=charts.DIVERGING,
                               zmin=0, zmax=1, contours=dict(start=0, end=1, size=0.1), showscale=False))
    fig.update_layout(title=f"Quantum model's decision surface, epoch {payload['epoch']}", xaxis_title="x1",
                      yaxis_title="x2")
    return charts.captioned(fig, "The probability of class 1 the circuit gives each point, as it learns.")


# --- SHAP ---------------------------------------------------------------------------------------------------

def explain(result: Result):
    """SHAP values of both models' class probabilities on the same test rows, side by side (exact Shapley)."""
    if result.info["mode"] == "circuit_lab":
        return None
    import torch

    from engine.core.explain import explain_function

    a, info, m = result.arrays, result.info, result.metrics
    rng = np.random.default_rng(info["seed"])
    X = a["X_test"][rng.choice(len(a["X_test"]), min(info["explain_rows"], len(a["X_test"])), replace=False)]
    d = X.shape[1]
    # keep n * 2^d * background rows within what the simulator does in about a second
    budget = max(400, int(4e5 / 2 ** max(0, info["n_qubits"] - 4)))
    n_bg = int(min(20, max(1, budget // (len(X) * 2 ** d))))
    background = (a["X_train"][rng.choice(len(a["X_train"]), n_bg, replace=False)] if n_bg > 1
                  else a["X_train"].mean(0, keepdims=True))
    X = X[:max(5, budget // (2 ** d * n_bg))]
    out = {}
    for title, name in (("Quantum model", "qnn"), ("Classical baseline", "baseline")):
        model = result.models[name]

        def f(Z, model=model):
            with torch.no_grad():
                return np.concatenate([torch.softmax(model(torch.as_tensor(Z[i:i + 4096])), 1).numpy()
                                       for i in range(0, len(Z), 4096)])

        out[title] = explain_function(f, X, background, feature_names=list(info["feature_names"]),
                                      output_names=[f"P({c})" for c in info["class_names"]])
    return out


# --- words --------------------------------------------------------------------------------------------------

def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    if info["mode"] == "circuit_lab":
        p = result.arrays["probabilities"]
        basis = np.asarray(info["basis"])
        top = np.argsort(p)[::-1][: min(4, int((p > 1e-9).sum()))]
        outcomes = ", ".join(f"{basis[i]} {p[i]:.1%}" for i in top)
        text = (f"Your {m['n_gates']}-gate circuit on {m['n_qubits']} qubits ends in a state whose most likely "
                f"outcomes are {outcomes}. ")
        if "sampled" in result.arrays:
            text += (f"Measured {m['shots']:,} times, no outcome's share strayed more than "
                     f"{m['max_sampling_error']:.1%} from its exact probability: that is sampling noise. ")
        ent = m["entanglement_entropy"]
        text += (f"Qubit 0's entanglement entropy with the rest is {ent:.2f} bit (0: independent, 1: maximally "
                 "entangled, as in a Bell state).")
        return text
    verdict = ("beat" if m["test_accuracy"] > m["baseline_test_accuracy"]
               else "matched" if m["test_accuracy"] == m["baseline_test_accuracy"] else "fell short of")
    shots = (f" Measured with {info['shots']:,} shots per example instead of exact values, it scored "
             f"{m['test_accuracy_shots']:.1%}." if "test_accuracy_shots" in m else "")
    stopped = " You stopped it early." if result.stopped else ""
    return (f"A {m['n_qubits']}-qubit, {m['n_layers']}-layer circuit ({info['embedding']} embedding, "
            f"{info['ansatz']} layers{', data re-uploading' if info['reupload'] else ''}) with "
            f"{m['quantum_parameters']} quantum and {m['classical_parameters']} classical parameters trained for "
            f"{m['epochs_run']} epochs on {info['title']}. It got **{m['test_accuracy']:.1%}** of {m['n_test']} "
            f"test examples right and {verdict} a classical MLP with {m['baseline_parameters']} parameters "
            f"trained for {m['baseline_epochs']} epochs ({m['baseline_test_accuracy']:.1%}).{shots}{stopped} Simulator: **{info['simulator']}** "
            f"({info['diff_method']} gradients), because {info['simulator_reason']}.")


def estimate_seconds(config: Config) -> float:
    """Rough wall time on one CPU thread, calibrated on default.qubit timings of a busy 2-core machine
    (a 2-layer training step on 50 rows: ~50 ms at 4 qubits, ~150 ms at 8, ~850 ms at 12)."""
    if config.mode == "circuit_lab":
        return 1.0
    n_in, _ = data_shape(config)
    rows = config.n_samples if config.dataset in TOY_SETS else {"iris": 150, "breast_cancer": 569,
                                                                "wine": 178}[config.dataset]
    size = 2 ** config.n_qubits  # state-vector length: the work per example doubles with each qubit
    depth = config.n_layers / 2 * (1.0 if config.ansatz == "strong" else 0.6)
    batches = math.ceil(rows * (1 - config.test_fraction) / config.batch_size)
    step = 0.05 + 3.9e-6 * config.batch_size * size  # forward + backward of one batch
    evaluation = 0.02 + 1.3e-6 * rows * size  # forward pass over all rows, once per epoch
    shap_rows = min(config.explain_rows * 2 ** n_in * 20, max(400, 4e5 / 2 ** max(0, config.n_qubits - 4)))
    busy = 1.3  # other runs share the cores: measured runs took about this much longer than the sum of steps
    return 2.5 + busy * depth * (config.epochs * (batches * step + evaluation) + 1.3e-6 * shap_rows * size)
