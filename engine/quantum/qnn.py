"""The quantum classifier: a variational circuit as one layer of an ordinary PyTorch model, beside a classical MLP.

Inputs are embedded as qubit rotations (or amplitudes), trainable entangling layers follow, and one Pauli-Z
expectation value per qubit comes out; ``qml.qnn.TorchLayer`` turns that circuit into an ``nn.Module`` inside
:class:`HybridQNN`, trained by the shared loop ``engine.core.train.fit``. Data re-uploading (the inputs enter
again before every layer; Pérez-Salinas et al. 2020) and trainable input scaling make it learn reliably. A
classical MLP with about as many trainable parameters learns the same split for a fair comparison.

The simulator is chosen for speed (:func:`choose_simulator`): ``default.qubit`` with backpropagation over the
whole batch is fastest for small circuits, ``lightning.qubit``/``lightning.gpu`` with adjoint gradients for large.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pennylane as qml
import torch
from torch import nn

from engine.core.contract import ProgressFn, Result, RunError, Tracker
from engine.core.data import grid_2d, sklearn_table, split, toy_2d
from engine.core.device import seeded
from engine.core.train import accuracy, count_parameters, fit, mlp, predict
from engine.quantum.circuit_lab import recorded_ops
from engine.quantum.config import TOY_SETS, Config, data_shape

BASELINE_EPOCHS = 100  # the cheap classical baseline trains at least this long, so it is not under-trained
LARGE_CIRCUIT_QUBITS = 14  # ENVIRONMENT.md: default.qubit+backprop wins below ~14-16 qubits, adjoint above
LIVE_GRID = 25  # the live decision surface is LIVE_GRID x LIVE_GRID points


# --- simulator choice ----------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def lightning_gpu_available() -> bool:
    """True when the lightning.gpu plugin (NVIDIA GPU + pennylane-lightning-gpu) can be created."""
    try:
        qml.device("lightning.gpu", wires=1, seed=0)  # a seed: "global" would draw from NumPy's global generator
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
            raise RunError(
                "The lightning.gpu simulator is not available here (it needs an NVIDIA GPU and the "
                "pennylane-lightning-gpu package). Choose simulator 'auto'."
            )
        return "lightning.gpu", "adjoint", "you chose it: GPU simulator, adjoint gradients"
    if n_qubits < LARGE_CIRCUIT_QUBITS:
        return (
            "default.qubit",
            "backprop",
            f"{n_qubits} qubits is small: default.qubit simulates the whole batch at once and backpropagates "
            f"through it, which measured fastest below about {LARGE_CIRCUIT_QUBITS} qubits",
        )
    if gpu:
        return "lightning.gpu", "adjoint", f"{n_qubits} qubits is large and a GPU simulator is present"
    return (
        "lightning.qubit",
        "adjoint",
        f"{n_qubits} qubits is large: the compiled lightning.qubit simulator with adjoint gradients is faster there",
    )


# --- the circuit and the hybrid model ------------------------------------------------------------------------


def circuit_inputs(config: Config) -> int:
    """How many numbers enter the circuit per example (per-qubit angles, or amplitudes incl. a constant)."""
    n_in, _ = data_shape(config)
    if config.embedding == "amplitude":
        return 2**config.n_qubits if config.classical_before else n_in + 1
    return config.n_qubits


def reuploads(config: Config) -> bool:
    return config.reupload and config.embedding != "amplitude"  # amplitude state prep must come first


def make_qnode(config: Config, device_name: str, diff_method: str | None, shots: int = 0):
    """The variational circuit: [embed(inputs * scaling[l]) -> trainable layer l] for each layer, then <Z> per qubit."""
    nq, wires = config.n_qubits, range(config.n_qubits)
    dev = qml.device(device_name, wires=nq, seed=config.seed)  # without it PennyLane draws from NumPy's global RNG
    reupload = reuploads(config)

    def embed(x):  # x: (B, circuit_inputs) or (circuit_inputs,)
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

    def layer(weights):  # weights: (1, n_qubits, 3) strong or (1, n_qubits) basic
        if config.ansatz == "strong":  # nearest-neighbour CNOT ring in every layer: it trained best on seeds 0-3
            qml.StronglyEntanglingLayers(weights, wires=wires, ranges=[1])
        else:
            qml.BasicEntanglerLayers(weights, wires=wires)

    def circuit(inputs, weights, scaling):
        for index in range(config.n_layers):
            if index == 0 or reupload:
                embed(inputs * scaling[index if reupload else 0])
            layer(weights[index : index + 1])
        return [qml.expval(qml.PauliZ(w)) for w in wires]

    return qml.QNode(circuit, dev, interface="torch", diff_method=diff_method, **({"shots": shots} if shots else {}))


def weight_shapes(config: Config) -> dict[str, tuple[int, ...]]:
    per_qubit = (3,) if config.ansatz == "strong" else ()
    return {
        "weights": (config.n_layers, config.n_qubits, *per_qubit),
        "scaling": (config.n_layers if reuploads(config) else 1, circuit_inputs(config)),
    }


class HybridQNN(nn.Module):
    """[Linear ->] input tiling -> quantum layer (TorchLayer) -> [Linear] -> class scores."""

    def __init__(self, config: Config, qnode):
        super().__init__()
        n_in, n_classes = data_shape(config)
        self.n_classes, self.amplitude = n_classes, config.embedding == "amplitude"
        self.n_circuit = circuit_inputs(config)
        self.before = nn.Linear(n_in, self.n_circuit - self.amplitude) if config.classical_before else None
        self.quantum = qml.qnn.TorchLayer(
            qnode,
            weight_shapes(config),
            init_method={"weights": lambda t: nn.init.uniform_(t, 0, 2 * math.pi), "scaling": nn.init.ones_},
        )
        self.quantum.scaling.requires_grad_(config.input_scaling)
        self.after = nn.Linear(config.n_qubits, n_classes) if config.classical_after else None
        self.gain = 3.0  # without a classical head each class reads one qubit's <Z> in [-1, 1]: sharpen it

    def circuit_input(self, x: torch.Tensor) -> torch.Tensor:  # (B, n_in) -> (B, n_circuit)
        h = self.before(x) if self.before is not None else x
        if self.amplitude:
            return torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype)], 1)  # a constant keeps the norm non-zero
        return h[:, [q % h.shape[1] for q in range(self.n_circuit)]]  # tile the inputs over the qubits

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, n_in) -> (B, n_classes)
        z = self.quantum(self.circuit_input(x))  # (B, n_qubits) expectation values in [-1, 1]
        return self.after(z) if self.after is not None else self.gain * z[:, : self.n_classes]


def build_model(config: Config, qnode) -> HybridQNN:
    return HybridQNN(config, qnode)


def baseline_hidden(n_params: int, n_in: int, n_classes: int) -> int:
    """Hidden width of a one-hidden-layer MLP with about ``n_params`` trainable parameters."""
    return max(1, round((n_params - n_classes) / (n_in + 1 + n_classes)))


# --- data ----------------------------------------------------------------------------------------------------


@dataclass
class Data:
    X_train: np.ndarray  # (n_train, n_in) float32, roughly standardised
    y_train: np.ndarray  # (n_train,) int64
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    title: str


def load_data(config: Config) -> Data:
    """A 2-D toy set as generated, or a real table standardised and squeezed to n_features principal components."""
    if config.dataset in TOY_SETS:
        X, y = toy_2d(config.dataset, config.n_samples, config.noise, config.seed)
        tr, te = split(len(y), config.test_fraction, config.seed, y)
        return Data(
            X[tr],
            y[tr],
            X[te],
            y[te],
            ["x1", "x2"],
            ["class 0", "class 1"],
            f"{config.dataset} ({config.n_samples} points, noise {config.noise:g})",
        )
    from sklearn.decomposition import PCA

    table = sklearn_table(config.dataset)
    tr, te = split(len(table.y), config.test_fraction, config.seed, table.y)
    mean, std = table.X[tr].mean(0), table.X[tr].std(0) + 1e-8
    pca = PCA(config.n_features, random_state=config.seed).fit((table.X[tr] - mean) / std)
    Z = pca.transform((table.X - mean) / std)
    Z = (Z / (Z[tr].std(0) + 1e-8)).astype(np.float32)  # (n, n_features): unit spread, a good rotation range
    return Data(
        Z[tr],
        table.y[tr].astype(np.int64),
        Z[te],
        table.y[te].astype(np.int64),
        [f"PC{i + 1}" for i in range(config.n_features)],
        list(table.classes()),
        f"{table.title}, reduced to {config.n_features} principal components",
    )


# --- training ------------------------------------------------------------------------------------------------


def live_snapshot(data: Data, every: int):
    """``snapshot(model, epoch)`` for fit: the class-1 probability on a coarse grid, plus the training points."""
    xx, yy, points = grid_2d(data.X_train, steps=LIVE_GRID)
    grid = torch.as_tensor(points)  # (LIVE_GRID**2, 2)
    dots = {"points": data.X_train.round(3).tolist(), "labels": data.y_train.tolist()}

    def snapshot(model: nn.Module, epoch: int):
        if epoch != 1 and epoch % every:
            return None
        p1 = torch.softmax(model(grid), 1)[:, 1].reshape(xx.shape)  # (LIVE_GRID, LIVE_GRID)
        return {
            "x": xx[0].round(3).tolist(),
            "y": yy[:, 0].round(3).tolist(),
            "z": p1.numpy().round(3).tolist(),
            "epoch": epoch,
            **dots,
        }

    return snapshot


def train_qnn(config: Config, model: nn.Module, data: Data, progress: ProgressFn) -> Tracker:
    """Adam on cross-entropy with per-epoch test metrics and (2-D data) a live decision surface."""
    Xtr, ytr, Xte, yte = (torch.as_tensor(a) for a in (data.X_train, data.y_train, data.X_test, data.y_test))
    X_all = torch.cat([Xtr, Xte])  # one circuit call per evaluation: each call has a fixed overhead
    loss_fn = nn.CrossEntropyLoss()

    def evaluate(m):
        out = m(X_all)  # (n_train + n_test, n_classes)
        out_tr, out_te = out[: len(Xtr)], out[len(Xtr) :]
        return {
            "test_loss": loss_fn(out_te, yte).item(),
            "train_accuracy": accuracy(out_tr, ytr),
            "test_accuracy": accuracy(out_te, yte),
        }

    snapshot = live_snapshot(data, max(2, math.ceil(config.epochs / 6))) if Xtr.shape[1] == 2 else None
    tracker = Tracker(progress, config.epochs)
    fit(
        model,
        Xtr,
        ytr,
        loss_fn=loss_fn,
        epochs=config.epochs,
        lr=config.learning_rate,
        batch_size=config.batch_size,
        tracker=tracker,
        evaluate=evaluate,
        seed=config.seed,
        snapshot=snapshot,
    )
    return tracker


def train_baseline(config: Config, baseline: nn.Module, data: Data) -> int:
    """The classical MLP on the same split, optimiser and learning rate, until it settles; returns its epochs."""
    epochs = max(config.epochs, BASELINE_EPOCHS)
    fit(
        baseline,
        torch.as_tensor(data.X_train),
        torch.as_tensor(data.y_train),
        loss_fn=nn.CrossEntropyLoss(),
        epochs=epochs,
        lr=config.learning_rate,
        batch_size=config.batch_size,
        tracker=Tracker(None, epochs),
        seed=config.seed,
    )
    return epochs


# --- results -------------------------------------------------------------------------------------------------


def score_on_test(config: Config, model: nn.Module, baseline: nn.Module, data: Data, sim: str) -> dict:
    """Both models on the test set (the QNN exactly, and measured with shots), and the chance level."""
    Xtr, Xte = torch.as_tensor(data.X_train), torch.as_tensor(data.X_test)
    pred = predict(model, Xte).argmax(1).numpy()
    metrics = {
        "test_accuracy": float((pred == data.y_test).mean()),
        "baseline_test_accuracy": float((predict(baseline, Xte).argmax(1).numpy() == data.y_test).mean()),
        "chance_accuracy": float(np.bincount(data.y_test).max() / len(data.y_test)),
        "train_accuracy": accuracy(predict(model, Xtr), torch.as_tensor(data.y_train)),
    }
    if config.shots:  # the trained weights in a circuit measured `shots` times per example: sampling noise
        with seeded(config.seed):  # its initial weights are replaced at once, but drawn from the seed all the same
            shot_model = build_model(config, make_qnode(config, sim, None, shots=config.shots))
        shot_model.load_state_dict(model.state_dict())
        metrics["test_accuracy_shots"] = float((predict(shot_model, Xte).argmax(1).numpy() == data.y_test).mean())
    return metrics


def result_arrays(model: nn.Module, baseline: nn.Module, data: Data) -> dict:
    """Data, test predictions and (2-D data) both models' class-1 probability on a fine grid."""
    Xte = torch.as_tensor(data.X_test)
    arrays = {
        "X_train": data.X_train,
        "y_train": data.y_train,
        "X_test": data.X_test,
        "y_test": data.y_test,
        "pred_test": predict(model, Xte).argmax(1).numpy(),
        "baseline_pred_test": predict(baseline, Xte).argmax(1).numpy(),
    }
    if data.X_train.shape[1] == 2:
        xx, yy, points = grid_2d(np.concatenate([data.X_train, data.X_test]), steps=60)
        grid = torch.as_tensor(points)  # (3600, 2)
        arrays.update(
            grid_xx=xx,
            grid_yy=yy,
            grid_qnn=torch.softmax(predict(model, grid), 1)[:, 1].numpy().reshape(xx.shape),
            grid_baseline=torch.softmax(predict(baseline, grid), 1)[:, 1].numpy().reshape(xx.shape),
        )
    return arrays


def trained_circuit(model: HybridQNN, qnode, data: Data) -> list[dict]:
    """The gates with their trained angles for the first test example (unbatched, so each angle is a number)."""
    with torch.no_grad():
        x0 = model.circuit_input(torch.as_tensor(data.X_test[:1]))[0]  # (n_circuit,)
        return recorded_ops(qnode, x0, model.quantum.weights.detach(), model.quantum.scaling.detach())


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the QNN live, then a parameter-matched classical MLP on the same split; test both."""
    data = load_data(config)
    n_in, n_classes = len(data.feature_names), len(data.class_names)
    sim, diff, reason = choose_simulator(config.n_qubits, config.simulator)
    qnode = make_qnode(config, sim, diff)
    with seeded(config.seed):  # seeded initial weights without touching the caller's RNG
        model = build_model(config, qnode)
        params, quantum_params = count_parameters(model, trainable=True), count_parameters(model.quantum, True)
        hidden = baseline_hidden(params, n_in, n_classes)
        baseline = mlp(n_in, n_classes, [hidden], activation="tanh")

    tracker = train_qnn(config, model, data, progress)
    baseline_epochs = train_baseline(config, baseline, data)
    metrics = score_on_test(config, model, baseline, data, sim)
    metrics.update(
        quantum_parameters=quantum_params,
        classical_parameters=params - quantum_params,
        parameters=params,
        baseline_parameters=count_parameters(baseline),
        baseline_hidden=hidden,
        epochs_run=len(tracker.rows),
        baseline_epochs=baseline_epochs,
        n_train=len(data.y_train),
        n_test=len(data.y_test),
    )
    headline = ("test_accuracy", "baseline_test_accuracy") + (("test_accuracy_shots",) if config.shots else ())
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=headline,
        models={"qnn": model, "baseline": baseline},
        arrays=result_arrays(model, baseline, data),
        stopped=tracker.stopped,
        info={
            "feature_names": data.feature_names,
            "class_names": data.class_names,
            "title": data.title,
            "simulator": sim,
            "diff_method": diff,
            "simulator_reason": reason,
            "circuit": trained_circuit(model, qnode, data),
            "input_shapes": {"qnn": [data.X_train.shape[1]], "baseline": [data.X_train.shape[1]]},
        },
    )
