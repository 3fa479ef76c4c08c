"""The compression techniques, each a function from a float model to a smaller or faster one.

- ``quantize_dynamic``: int8 weights; activations quantized on the fly (PyTorch's ``quantize_dynamic``).
- ``quantize_static``: int8 weights and activations; activation ranges measured on calibration rows first.
- ``prune``: global magnitude pruning of single weights, or structured pruning of whole neurons / filters, on an
  iterative schedule with fine-tuning between rounds (``torch.nn.utils.prune`` keeps the masks applied).
- ``distill``: a small student trained on the original's softened outputs (Hinton et al. 2015) beside the same
  student trained alone, both given the labels of the same few training rows.
- ``export_onnx`` / ``onnx_int8``: an ONNX file, and ONNX Runtime's own int8 quantization of it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune as torch_prune

from engine.core.device import seeded
from engine.core.train import accuracy, fit, mlp, predict
from engine.edge.source import Phase

ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.GELU, nn.LeakyReLU, nn.ELU, nn.Dropout, nn.Identity)  # f(0) = 0: dead stays 0


@contextlib.contextmanager
def quiet():
    """PyTorch's eager quantization and TorchScript exporter warn they are deprecated, and ONNX Runtime's quantizer
    advises pre-processing large models: keep a run's output clean (log levels are restored after)."""
    loggers = [logging.getLogger(name) for name in ("", "torch.onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


# --- quantization -------------------------------------------------------------------------------------------


def quantize_dynamic(model: nn.Module) -> nn.Module:
    """Every Linear layer's weights as int8 (per tensor); inputs are quantized at each call from their range."""
    with quiet():
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def quantize_static(model: nn.Module, calibration: np.ndarray) -> nn.Module:
    """int8 weights and activations: observers record each layer's output range on ``calibration`` (c, d) rows."""
    engine = torch.backends.quantized.engine
    with quiet():
        wrapped = torch.ao.quantization.QuantWrapper(copy.deepcopy(model)).eval()  # quantize in, dequantize out
        wrapped.qconfig = torch.ao.quantization.get_default_qconfig(engine)
        prepared = torch.ao.quantization.prepare(wrapped)
        with torch.no_grad():
            prepared(torch.as_tensor(calibration))
        return torch.ao.quantization.convert(prepared)


# --- pruning ------------------------------------------------------------------------------------------------


def prunable(model: nn.Module) -> list[tuple[str, nn.Linear | nn.Conv2d]]:
    """The Linear and Conv2d layers, in order: the weights magnitude pruning may remove."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def unstructured_masks(weights: list[torch.Tensor], old: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Global magnitude masks: exactly round(sparsity * N) of all N weights, the smallest |w|, become 0.

    Weights an earlier round removed (``old`` mask 0) are removed first, so a schedule never revives one.
    """
    scores = torch.cat([torch.where(m > 0, w.abs(), -1.0).flatten() for w, m in zip(weights, old)])  # (N,)
    k = round(sparsity * scores.numel())
    flat = torch.ones_like(scores)
    flat[torch.topk(scores, k, largest=False).indices] = 0.0
    return [part.view_as(w) for part, w in zip(torch.split(flat, [w.numel() for w in weights]), weights)]


def structured_masks(weights: list[torch.Tensor], old: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Whole neurons (rows) or filters of each hidden layer by L2 norm: round(sparsity * rows) per layer.

    The output layer keeps all its rows (one per class), and every layer keeps at least one neuron.
    """
    masks = []
    for i, (w, m) in enumerate(zip(weights, old)):
        if i == len(weights) - 1:
            masks.append(torch.ones_like(w))
            continue
        rows = w.shape[0]
        norms = torch.where(m.flatten(1).amax(1) > 0, w.flatten(1).norm(dim=1), -1.0)  # (rows,)
        k = min(round(sparsity * rows), rows - 1)
        keep = torch.ones(rows)
        keep[torch.topk(norms, k, largest=False).indices] = 0.0
        masks.append(keep.view(-1, *[1] * (w.dim() - 1)).expand_as(w).clone())
    return masks


def apply_masks(layers: list[nn.Linear | nn.Conv2d], masks: list[torch.Tensor], structured: bool) -> None:
    """Attach masks with ``torch.nn.utils.prune`` (forward uses weight_orig * mask, so zeros stay zero in training)."""
    for layer, mask in zip(layers, masks):
        for name in ("weight", "bias"):
            if torch_prune.is_pruned(layer) and hasattr(layer, f"{name}_mask"):
                torch_prune.remove(layer, name)  # bake the previous round in; the new mask contains it
        torch_prune.custom_from_mask(layer, "weight", mask)
        if structured and layer.bias is not None:  # a removed neuron also loses its bias, so it outputs f(0) = 0
            torch_prune.custom_from_mask(layer, "bias", mask.flatten(1).amax(1))


def schedule(sparsity: float, steps: int) -> list[float]:
    """Sparsity after each round of an iterative schedule (cubic, Zhu & Gupta 2017): fast first, gentle last."""
    return [sparsity * (1 - (1 - r / steps) ** 3) for r in range(1, steps + 1)]


def prune(
    model: nn.Module, config, data, tracker, offset: int, name: str = "finetune"
) -> tuple[nn.Module, list[torch.Tensor]]:
    """Prune a copy of ``model`` round by round, fine-tuning between rounds; returns it with its final masks.

    The fine-tuning epochs are reported to ``tracker`` as steps after ``offset``, their metrics prefixed ``name``.
    """
    pruned = copy.deepcopy(model)
    layers = [m for _, m in prunable(pruned)]
    masks = [torch.ones_like(layer.weight) for layer in layers]
    make = structured_masks if config.prune_kind == "structured" else unstructured_masks
    X, y = torch.as_tensor(data.X_train), torch.as_tensor(data.y_train)
    X_val, y_val = torch.as_tensor(data.X_val), torch.as_tensor(data.y_val)
    done = 0
    for r, target in enumerate(schedule(config.sparsity, config.prune_steps)):
        with torch.no_grad():
            current = [
                getattr(layer, "weight_orig", layer.weight) * getattr(layer, "weight_mask", 1.0) for layer in layers
            ]  # the weights as the network uses them now
            masks = make(current, masks, target)
        apply_masks(layers, masks, config.prune_kind == "structured")
        epochs = config.finetune_epochs // config.prune_steps + (r < config.finetune_epochs % config.prune_steps)
        if epochs and fit(
            pruned,
            X,
            y,
            loss_fn=nn.CrossEntropyLoss(),
            epochs=epochs,
            lr=1e-3,
            batch_size=64,
            tracker=Phase(tracker, offset + done, name),
            seed=config.seed + r,
            evaluate=lambda m: {"val_accuracy": accuracy(m(X_val), y_val)},
        ):
            break
        done += epochs
    for layer in layers:  # make the zeros permanent: plain weights again, ready to save and export
        for name in ("weight", "bias"):
            if hasattr(layer, f"{name}_mask"):
                torch_prune.remove(layer, name)
    return pruned.eval(), masks


def compact(model: nn.Module) -> nn.Module | None:
    """A physically smaller copy without the removed neurons, for a plain chain of Linear layers (else None)."""
    if not isinstance(model, nn.Sequential) or not all(isinstance(m, (nn.Linear, *ELEMENTWISE)) for m in model):
        return None
    small = copy.deepcopy(model)
    linears = [m for m in small if isinstance(m, nn.Linear)]
    keep_in = None
    for i, layer in enumerate(linears):
        W, b = layer.weight.data, layer.bias.data  # (out, in), (out,)
        if keep_in is not None:
            W = W[:, keep_in]
        keep_out = (W.abs().sum(1) + b.abs() > 0) if i < len(linears) - 1 else torch.ones(len(b), dtype=torch.bool)
        layer.weight = nn.Parameter(W[keep_out].clone())
        layer.bias = nn.Parameter(b[keep_out].clone())
        layer.in_features, layer.out_features = W.shape[1], int(keep_out.sum())
        keep_in = keep_out
    return small.eval()


# --- distillation -------------------------------------------------------------------------------------------


def distillation_loss(temperature: float, soft_weight: float):
    """Hinton et al.'s loss: soft_weight * T² * KL(teacher_T || student_T) + (1 - soft_weight) * CE(labels).

    The target packs each row's label (-1 for a row without one) and the teacher's logits, (B, 1 + k), so the
    shared loop can feed it.
    """
    T = temperature

    def loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # out (B, k), target (B, 1 + k)
        labels, teacher = target[:, 0].long(), target[:, 1:]
        soft = (
            F.kl_div(F.log_softmax(out / T, 1), F.log_softmax(teacher / T, 1), log_target=True, reduction="batchmean")
            * T
            * T
        )  # T² keeps the soft gradients' scale independent of T
        labelled = labels >= 0
        hard = F.cross_entropy(out[labelled], labels[labelled]) if labelled.any() else out.sum() * 0.0
        return soft_weight * soft + (1 - soft_weight) * hard

    return loss


def labelled_subset(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of at most ``per_class`` training rows of each class, picked by the seed (sorted): the few rows the
    students get labels for."""
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(picked))


def transfer_set(X: torch.Tensor, copies: int, seed: int) -> torch.Tensor:
    """The training rows plus ``copies`` blends of random pairs of them (mixup): rows only the teacher can label.

    Matching the teacher between examples, not only on them, is what makes distillation pay off on small data
    (Beyer et al. 2022, "a good teacher is patient and consistent").
    """
    g = torch.Generator().manual_seed(seed)
    parts = [X]
    for _ in range(copies):
        mix = torch.rand(len(X), 1, generator=g)  # (n, 1)
        parts.append(mix * X + (1 - mix) * X[torch.randperm(len(X), generator=g)])
    return torch.cat(parts)  # (n * (1 + copies), d)


def distill(teacher: nn.Module, config, data, tracker, offset: int) -> tuple[nn.Module | None, nn.Module]:
    """The same student (same initial weights, same optimizer, same number of gradient steps) trained alone and
    distilled.

    Both students get labels for the same few training rows (``config.student_labels`` per class). Alone, the
    student learns those labelled rows; distilled, it also learns the teacher's softened outputs on the transfer
    set: every training row, without its label, and mixed-up blends of them.
    """
    X, y = torch.as_tensor(data.X_train), torch.as_tensor(data.y_train)
    X_val, y_val = torch.as_tensor(data.X_val), torch.as_tensor(data.y_val)
    labelled = torch.as_tensor(labelled_subset(data.y_train, config.student_labels, config.seed))  # (L,)
    with seeded(config.seed):  # the student's initial weights, from the seed alone
        alone = mlp(X.shape[1], len(data.class_names), [config.student_width], "relu")
    distilled = copy.deepcopy(alone)
    common = dict(
        lr=3e-3,
        batch_size=64,
        epochs=config.distill_epochs,
        seed=config.seed,
        evaluate=lambda m: {"val_accuracy": accuracy(m(X_val), y_val)},
    )
    X_transfer = transfer_set(X, config.mixup_copies, config.seed)  # (m, d)
    repeat = torch.arange(len(X_transfer)) % len(labelled)  # the labelled rows, repeated to the transfer set's size
    if fit(
        alone,
        X[labelled][repeat],
        y[labelled][repeat],
        loss_fn=nn.CrossEntropyLoss(),
        tracker=Phase(tracker, offset, "alone"),
        **common,
    ):
        return None, alone.eval()
    labels = torch.full((len(X_transfer),), -1.0)  # -1: a row whose label the students do not get
    labels[labelled] = y[labelled].float()
    target = torch.cat([labels[:, None], predict(teacher, X_transfer)], 1)  # (m, 1 + k)
    fit(
        distilled,
        X_transfer,
        target,
        loss_fn=distillation_loss(config.temperature, config.soft_weight),
        tracker=Phase(tracker, offset + config.distill_epochs, "distilled"),
        **common,
    )
    return distilled.eval(), alone.eval()


# --- ONNX ---------------------------------------------------------------------------------------------------


def export_onnx(model: nn.Module, n_features: int, exporter: str = "torchscript") -> bytes:
    """The model as an ONNX file (input "rows" (batch, d) -> output "logits" (batch, k)), any batch size."""
    example = (torch.zeros(1, n_features),)
    with tempfile.TemporaryDirectory() as folder, quiet():
        path = Path(folder) / "model.onnx"
        if exporter == "dynamo":
            torch.onnx.export(
                model.eval(),
                example,
                path,
                dynamo=True,
                input_names=["rows"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
                external_data=False,
            )  # one self-contained file, weights inside
        else:
            torch.onnx.export(
                model.eval(),
                example,
                path,
                dynamo=False,
                input_names=["rows"],
                output_names=["logits"],
                dynamic_axes={"rows": {0: "batch"}, "logits": {0: "batch"}},
            )
        return path.read_bytes()


def onnx_int8(data: bytes) -> bytes:
    """ONNX Runtime's own dynamic int8 quantization of an ONNX file (int8 weights, per tensor)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder, quiet():
        src, dst = Path(folder) / "model.onnx", Path(folder) / "model_int8.onnx"
        src.write_bytes(data)
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        return dst.read_bytes()
