"""Quantum settings: the mode (classifier or circuit lab), the data, the circuit, training and the gate list.

Light on purpose (no torch, no PennyLane): forms, links and the CLI validate settings here, including the
circuit lab's gate list, which is parsed into ``(name, wires, angle)`` tuples by :func:`parse_gates`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from engine.core.config import TechniqueConfig
from engine.core.contract import Metric
from engine.core.data import SKLEARN_TABLES

TOY_SETS = ("moons", "circles", "xor", "spiral")
TABLE_SETS = {"iris": (4, 3), "breast_cancer": (30, 2), "wine": (13, 3)}  # name -> (columns, classes)
LAB_MAX_QUBITS = 8
LAB_MAX_GATES = 40
GATE_WIRES = {"H": 1, "X": 1, "Y": 1, "Z": 1, "S": 1, "T": 1, "RX": 1, "RY": 1, "RZ": 1, "CNOT": 2, "CZ": 2, "SWAP": 2}
ROTATIONS = ("RX", "RY", "RZ")
_ANGLE = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)?\*?(pi)?(?:/(\d+\.?\d*))?$")


class Config(TechniqueConfig):
    STEP_UNIT: ClassVar[str] = "epoch"  # a history step: one pass over the training samples
    PRIMARY: ClassVar[tuple[str, ...]] = (
        'mode',
        'dataset',
        'n_qubits',
        'n_layers',
        'epochs',
        'gates',
    )  # the settings that change the lesson: shown first
    mode: Literal["classifier", "circuit_lab"] = Field(
        "classifier",
        title='Mode',
        json_schema_extra={
            'labels': {
                'classifier': 'Train a quantum classifier',
                'circuit_lab': 'Build a circuit by hand (circuit lab)',
            }
        },
        description="Train a quantum classifier, or build a small circuit by hand in the circuit "
        "lab and look at its quantum state (no training).",
    )
    dataset: Literal["moons", "circles", "xor", "spiral", "iris", "breast_cancer", "wine"] = Field(
        "moons",
        title='Data',
        json_schema_extra={
            'labels': {
                'moons': 'Two moons',
                'circles': 'Circles',
                'xor': 'Four corners (XOR)',
                'spiral': 'Spiral',
                'iris': 'Iris flowers',
                'breast_cancer': 'Breast tumours',
                'wine': 'Wines',
            }
        },
        description="What to classify: a 2-D toy set (moons, circles, XOR, spiral) or a small real "
        "table (iris flowers, breast tumours, wines) squeezed to a few inputs.",
    )
    noise: float = Field(
        0.15,
        ge=0.0,
        le=0.5,
        description="How much the points of a 2-D toy set are jittered (more noise: harder to separate).",
        json_schema_extra={"widget": "slider"},
    )
    n_samples: int = Field(200, ge=60, le=1000, description="How many points the 2-D toy set has.", title="Points")
    n_features: int = Field(
        4,
        ge=2,
        le=8,
        description="Real tables are squeezed to this many inputs with PCA "
        "(their main directions of variation); 2-D toy sets always have 2 inputs.",
        title="Inputs (features)",
    )
    n_qubits: int = Field(
        4,
        ge=2,
        le=12,
        description="Qubits in the circuit. Each extra qubit doubles the simulation cost.",
        title="Qubits",
    )
    n_layers: int = Field(
        2,
        ge=1,
        le=8,
        description="Trainable layers of rotations and entangling gates. "
        "More layers: a more flexible (and slower) model.",
        title="Circuit layers",
    )
    embedding: Literal["angle_x", "angle_y", "angle_z", "amplitude", "iqp"] = Field(
        "angle_y",
        title='How inputs enter the circuit (embedding)',
        json_schema_extra={
            'labels': {
                'angle_x': 'Rotation about X (angle)',
                'angle_y': 'Rotation about Y (angle)',
                'angle_z': 'Rotation about Z (angle)',
                'amplitude': 'Amplitudes of the state',
                'iqp': 'Rotations plus input pairs (IQP)',
            }
        },
        description="How inputs enter the circuit: as X, Y or Z rotation angles (one input per qubit; "
        "Z uses Hadamards first), as the amplitudes of the whole state (many inputs on "
        "few qubits), or IQP (rotations plus products of input pairs).",
    )
    ansatz: Literal["basic", "strong"] = Field(
        "strong",
        title='Layer with learned angles (ansatz)',
        json_schema_extra={
            'labels': {'basic': 'Basic: one angle per qubit', 'strong': 'Strongly entangling: three angles per qubit'}
        },
        description="The trainable layer: basic (one rotation angle per qubit, then a ring of CNOTs) "
        "or strongly entangling (a general rotation with three angles per qubit, then a "
        "ring of CNOTs).",
    )
    reupload: bool = Field(
        True,
        description="Data re-uploading: feed the inputs in again before every layer, "
        "so the circuit can build more complex decision shapes.",
        title="Data re-uploading",
    )
    input_scaling: bool = Field(
        True,
        description="Learn how strongly each input is turned into a rotation "
        "(a trainable multiplier per qubit and layer).",
    )
    classical_before: bool = Field(
        False,
        description="Hybrid: a classical linear layer turns the inputs into "
        "the circuit's inputs (lets few qubits take many inputs).",
        title="Classical layer before",
    )
    classical_after: bool = Field(
        True,
        description="Hybrid: a classical linear layer turns the qubit "
        "measurements into class scores. Off: each class reads one qubit directly.",
        title="Classical layer after",
    )
    simulator: Literal["auto", "default.qubit", "lightning.qubit", "lightning.gpu"] = Field(
        "auto",
        title='Simulator',
        json_schema_extra={
            'labels': {
                'auto': 'Automatic (fastest)',
                'default.qubit': 'Standard (default.qubit)',
                'lightning.qubit': 'Fast, on the CPU (lightning.qubit)',
                'lightning.gpu': 'On an NVIDIA GPU (lightning.gpu)',
            }
        },
        description="Which simulator computes the circuit. Auto picks the fastest for the qubit count.",
    )
    shots: int = Field(
        1000,
        title='Measurements per result (shots)',
        ge=0,
        le=100_000,
        description="Measurements taken to estimate each result "
        "(0: exact values only). Training always uses exact values (training with shots is far "
        "too slow here); shots are used to test the trained classifier and in the circuit lab.",
    )
    epochs: int = Field(
        12, title='Passes over the data (epochs)', ge=1, le=300, description="Passes over the training data."
    )
    learning_rate: float = Field(
        0.08,
        ge=1e-4,
        le=1.0,
        description="Step size of the Adam optimiser (for the quantum model and the classical baseline).",
        json_schema_extra={"log": True},
    )
    batch_size: int = Field(
        50, title='Examples per step (batch size)', ge=8, le=256, description="Examples per optimisation step."
    )
    test_fraction: float = Field(
        0.25,
        title='Share held out for testing',
        ge=0.1,
        le=0.5,
        description="Share of examples held out to test both models.",
        json_schema_extra={"widget": "slider"},
    )
    explain_rows: int = Field(
        40,
        title='Examples to explain',
        ge=10,
        le=200,
        description="How many test examples SHAP explains (more is slower).",
    )
    gates: str = Field(
        "H 0; CNOT 0 1",
        title='Gates (circuit lab)',
        max_length=400,
        description="Circuit lab: gates separated by ';', e.g. "
        "'H 0; CNOT 0 1' (a Bell state) or 'RY 0 pi/3; CZ 0 1'. Gates: H, X, Y, Z, S, T, "
        "RX/RY/RZ <qubit> <angle>, CNOT/CZ/SWAP <qubit> <qubit>; qubits 0 to 7.",
    )

    # The form shows a setting only where it applies (hidden settings keep their values).
    SHOW_IF: ClassVar[dict] = {
        "gates": {"mode": ["circuit_lab"]},
        **dict.fromkeys(
            (
                "dataset",
                "n_qubits",
                "n_layers",
                "embedding",
                "ansatz",
                "reupload",
                "input_scaling",
                "classical_before",
                "classical_after",
                "simulator",
                "epochs",
                "learning_rate",
                "batch_size",
                "test_fraction",
                "explain_rows",
            ),
            {"mode": ["classifier"]},
        ),
        **dict.fromkeys(("noise", "n_samples"), {"mode": ["classifier"], "dataset": list(TOY_SETS)}),
        "n_features": {"mode": ["classifier"], "dataset": list(TABLE_SETS)},
    }

    def step_unit(self) -> str:
        """The circuit lab trains nothing: its one history step is the circuit run once."""
        return self.STEP_UNIT if self.mode == "classifier" else "step"

    @classmethod
    def unavailable_here(cls) -> dict[str, dict[Any, str]]:
        why = gpu_simulator_missing()
        return {"simulator": {"lightning.gpu": why}} if why else {}

    @model_validator(mode="after")
    def _fits_the_circuit(self):
        if self.mode == "circuit_lab":
            parse_gates(self.gates)  # raises ValueError with a plain sentence
            return self
        if self.dataset in TABLE_SETS and self.n_features > TABLE_SETS[self.dataset][0]:
            raise ValueError(
                f"`n_features` must be at most {TABLE_SETS[self.dataset][0]} for {self.dataset}, "
                f"which has only that many columns, but got {self.n_features}."
            )
        n_in, n_classes = data_shape(self)
        if not self.classical_before:
            _check_embedding(self, n_in)
        if not self.classical_after and n_classes > self.n_qubits:
            raise ValueError(
                f"Without the classical layer after the circuit each of the {n_classes} classes "
                f"reads one qubit, so `n_qubits` must be at least {n_classes}, but got "
                f"{self.n_qubits}."
            )
        return self


@functools.cache
def gpu_simulator_missing() -> str:
    """Why the lightning.gpu simulator cannot run on this machine, or "" when it can. Without its package (the
    usual case) this costs nothing; with it, PennyLane tries to open the device once."""
    try:
        importlib.metadata.distribution("pennylane-lightning-gpu")
    except importlib.metadata.PackageNotFoundError:
        return "it needs an NVIDIA GPU and the pennylane-lightning-gpu package, which this server does not have"
    from engine.quantum.qnn import lightning_gpu_available

    return "" if lightning_gpu_available() else "it needs an NVIDIA GPU, which this server does not have"


def _check_embedding(config: Config, n_in: int) -> None:
    """The inputs must fit the embedding: one per qubit (angles, IQP) or n_in + 1 <= 2^n_qubits (amplitudes)."""
    if config.embedding == "amplitude" and n_in + 1 > 2**config.n_qubits:
        need = math.ceil(math.log2(n_in + 1))
        raise ValueError(
            f"Amplitude embedding stores the {n_in} inputs plus one constant in the "
            f"2^{config.n_qubits} = {2**config.n_qubits} amplitudes of {config.n_qubits} qubits: use at "
            f"least {need} qubits, fewer features, or turn on the classical layer before the circuit."
        )
    if config.embedding != "amplitude" and n_in > config.n_qubits:
        raise ValueError(
            f"{config.embedding} embedding puts one input on each qubit, so {n_in} inputs need at least "
            f"{n_in} qubits, but `n_qubits` is {config.n_qubits}. Use more qubits, fewer features, "
            "amplitude embedding, or turn on the classical layer before the circuit."
        )


PRESETS = {
    "quick": {"mode": "classifier", "dataset": "moons", "n_qubits": 4, "n_layers": 2, "epochs": 12, "explain_rows": 40},
    "better": {
        "mode": "classifier",
        "dataset": "moons",
        "n_qubits": 4,
        "n_layers": 4,
        "epochs": 60,
        "n_samples": 400,
        "learning_rate": 0.03,
        "explain_rows": 100,
    },
    "bell_state": {"mode": "circuit_lab", "gates": "H 0; CNOT 0 1", "shots": 1000},
}
PRESET_LABELS = {"quick": "Quick look", "better": "Better result", "bell_state": "Circuit lab: a Bell state"}

METRICS = {
    # classifier
    "test_accuracy": Metric(
        "Quantum model: accuracy",
        "percent",
        help="Test accuracy: share of held-out examples the hybrid quantum model classified right.",
    ),
    "baseline_test_accuracy": Metric(
        "Classical MLP: accuracy",
        "percent",
        help="Test accuracy of a classical network (MLP) with about as many trainable numbers, on the same split.",
    ),
    "test_accuracy_shots": Metric(
        "Measured with shots",
        "percent",
        help="The quantum model's test accuracy when each <Z> is estimated from a finite number of "
        "measurements instead of computed exactly.",
    ),
    "chance_accuracy": Metric(
        "Guessing the most common class",
        "percent",
        help="What a model that learned nothing would score on this test set.",
    ),
    "train_accuracy": Metric("Quantum model: training accuracy", "percent"),
    "quantum_parameters": Metric("Trainable numbers in the circuit", "integer"),
    "classical_parameters": Metric("Trainable numbers in the classical layers", "integer"),
    "parameters": Metric("Trainable numbers in the hybrid model", "integer"),
    "baseline_parameters": Metric("Trainable numbers in the classical MLP", "integer"),
    "baseline_hidden": Metric("Hidden units of the classical MLP", "integer"),
    "epochs_run": Metric("Epochs trained", "integer"),
    "baseline_epochs": Metric("Epochs the classical MLP trained", "integer"),
    "n_train": Metric("Training examples", "integer"),
    "n_test": Metric("Test examples", "integer"),
    # circuit lab
    "entanglement_entropy": Metric(
        "Qubit 0 entanglement",
        help="Entanglement of qubit 0, in bits: the von Neumann entropy of qubit 0's "
        "state: 0 when it is independent of the others, 1 when maximally entangled.",
    ),
    "top_probability": Metric("Most likely outcome", "percent", help="The most likely outcome's probability."),
    "max_sampling_error": Metric(
        "Largest sampling error",
        "percent",
        help="The largest gap between an outcome's measured share and its exact probability.",
    ),
    "n_qubits": Metric("Qubits used", "integer"),
    "n_gates": Metric("Gates", "integer"),
}


def data_shape(config: Config) -> tuple[int, int]:
    """(inputs the model sees, classes) for the chosen dataset."""
    if config.dataset in TOY_SETS:
        return 2, 2
    return config.n_features, TABLE_SETS[config.dataset][1]


def table_rows(config: Config) -> int:
    return config.n_samples if config.dataset in TOY_SETS else SKLEARN_TABLES[config.dataset][3]


def estimate_seconds(config: Config) -> float:
    """Rough wall time on one CPU thread, calibrated on default.qubit timings of a busy 2-core machine
    (a 2-layer training step on 50 rows: ~50 ms at 4 qubits, ~150 ms at 8, ~850 ms at 12)."""
    if config.mode == "circuit_lab":
        return 1.0
    n_in, _ = data_shape(config)
    rows = table_rows(config)
    size = 2**config.n_qubits  # state-vector length: the work per example doubles with each qubit
    depth = config.n_layers / 2 * (1.0 if config.ansatz == "strong" else 0.6)
    batches = math.ceil(rows * (1 - config.test_fraction) / config.batch_size)
    step = 0.05 + 3.9e-6 * config.batch_size * size  # forward + backward of one batch
    evaluation = 0.02 + 1.3e-6 * rows * size  # forward pass over all rows, once per epoch
    shap_rows = min(config.explain_rows * 2**n_in * 20, max(400, 4e5 / 2 ** max(0, config.n_qubits - 4)))
    busy = 1.3  # other runs share the cores: measured runs took about this much longer than the sum of steps
    return 2.5 + busy * depth * (config.epochs * (batches * step + evaluation) + 1.3e-6 * shap_rows * size)


# --- the circuit lab's gate list --------------------------------------------------------------------------


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


def parse_gate(i: int, part: str) -> tuple[str, tuple[int, ...], float | None]:
    """One gate, e.g. 'RY 1 pi/4' -> ('RY', (1,), 0.785...); ``i`` numbers it in messages."""
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
    return name, wires, angle


def parse_gates(text: str) -> list[tuple[str, tuple[int, ...], float | None]]:
    """'H 0; CNOT 0 1; RY 1 pi/4' -> [(name, wires, angle or None)]; raises ValueError saying what is wrong."""
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    if not parts:
        raise ValueError("The circuit lab needs at least one gate, e.g. 'H 0; CNOT 0 1'.")
    if len(parts) > LAB_MAX_GATES:
        raise ValueError(f"The circuit lab takes at most {LAB_MAX_GATES} gates, but got {len(parts)}.")
    return [parse_gate(i, part) for i, part in enumerate(parts, 1)]
