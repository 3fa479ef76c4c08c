"""Edge AI settings: the model to start from, which compression techniques to apply, and how to judge them."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from engine.core.config import TechniqueConfig
from engine.core.contract import Metric
from engine.core.data import DIGITS_ROWS, SKLEARN_TABLES

TECHNIQUES = ("dynamic_int8", "static_int8", "prune", "distill", "onnx")  # the order a chain applies them in
TRAINED_HERE = ["digits", "breast_cancer", "wine"]
FEW_LABELS = 20  # labelled rows per class up to which distillation beat the student alone on every seed measured
RUN_ID = re.compile(r"\A[0-9a-f]{32}\Z")  # \Z: "$" would accept a trailing newline


class Config(TechniqueConfig):
    STEP_UNIT: ClassVar[str] = "epoch"  # a history step: epochs, counted on through training and fine-tuning
    PRIMARY: ClassVar[tuple[str, ...]] = (
        'start_from',
        'dynamic_int8',
        'prune',
        'sparsity',
        'distill',
        'onnx',
    )  # the settings that change the lesson: shown first
    SHOW_IF = {
        "hidden_width": {"start_from": TRAINED_HERE},
        "epochs": {"start_from": TRAINED_HERE},
        "calibration_rows": {"static_int8": [True]},
        "prune_kind": {"prune": [True]},
        "sparsity": {"prune": [True]},
        "prune_steps": {"prune": [True]},
        "finetune_epochs": {"prune": [True]},
        "student_width": {"distill": [True]},
        "student_labels": {"distill": [True]},
        "temperature": {"distill": [True]},
        "soft_weight": {"distill": [True]},
        "distill_epochs": {"distill": [True]},
        "mixup_copies": {"distill": [True]},
        "onnx_exporter": {"onnx": [True]},
    }

    start_from: Literal["digits", "breast_cancer", "wine", "finished_run"] = Field(
        "digits",
        title='Model to compress',
        json_schema_extra={
            'labels': {
                'digits': 'New network on handwritten digits',
                'breast_cancer': 'New network on breast tumours',
                'wine': 'New network on wines',
                'finished_run': 'A finished run of another page',
            }
        },
        description="The trained model to compress: a network trained here first (on 8x8 handwritten "
        "digits or a bundled table), or a finished run of the Explainable AI or NAS page.",
    )
    source_run: str = Field(
        "",
        max_length=32,
        description="The id of the finished run to start from (set by the run picker).",
        json_schema_extra={"form": False},
    )
    hidden_width: int = Field(
        64,
        title='Neurons per hidden layer',
        ge=8,
        le=256,
        description="Neurons in each of the two hidden layers of the network trained here before compressing it.",
    )
    epochs: int = Field(
        20,
        title='Passes over the data (epochs)',
        ge=1,
        le=200,
        description="Passes over the training data for that network.",
    )
    dynamic_int8: bool = Field(
        True,
        title="Dynamic int8 quantization",
        description="Store the weights as 8-bit integers; activations are quantized on "
        "the fly at each call. No data needed.",
    )
    static_int8: bool = Field(
        False,
        title="Static int8 quantization",
        description="Weights and activations in 8-bit integers, with activation ranges "
        "measured beforehand on a calibration set.",
    )
    calibration_rows: int = Field(
        128,
        title='Rows to measure ranges on (calibration)',
        ge=8,
        le=1000,
        description="Training rows shown to the model to measure its activation ranges before static quantization.",
    )
    prune: bool = Field(
        True,
        title="Magnitude pruning",
        description="Set the smallest weights to zero, then optionally fine-tune the rest.",
    )
    prune_kind: Literal["unstructured", "structured"] = Field(
        "unstructured",
        title='What pruning removes',
        json_schema_extra={
            'labels': {
                'unstructured': 'Single weights anywhere (unstructured)',
                'structured': 'Whole neurons (structured)',
            }
        },
        description="Unstructured removes single weights anywhere (zeros in place); structured "
        "removes whole neurons or filters, so the network really gets smaller.",
    )
    sparsity: float = Field(
        0.5,
        title='Share to remove (sparsity)',
        ge=0.0,
        le=0.95,
        description="Share to remove: of all weights (unstructured) or "
        "of the neurons in each hidden layer (structured).",
        json_schema_extra={"widget": "slider"},
    )
    prune_steps: int = Field(
        1,
        title='Pruning rounds',
        ge=1,
        le=10,
        description="Iterative schedule: reach the sparsity in this many "
        "prune-then-fine-tune rounds (1 prunes all at once).",
    )
    finetune_epochs: int = Field(
        2,
        title='Fine-tuning passes after pruning',
        ge=0,
        le=50,
        description="Training passes after pruning, shared among the rounds (0 keeps the pruned weights as they are).",
    )
    distill: bool = Field(
        False,
        title="Knowledge distillation",
        description="Train a much smaller student network to copy the original's softened "
        "outputs (Hinton et al. 2015), beside the same student trained alone on the same few labelled rows.",
    )
    student_width: int = Field(
        16, title='Neurons in the student', ge=2, le=128, description="Neurons in the student's single hidden layer."
    )
    student_labels: int = Field(
        5,
        title="Labelled rows per class for the students",
        ge=1,
        le=1000,
        description="Both students get the true labels of only this many training rows of each class. Alone, a "
        "student learns from those rows only; distilled, it also copies the original's answers on every training "
        "row, without its label. Few labels is where a teacher helps most; a large number gives both every label.",
    )
    temperature: float = Field(
        4.0,
        ge=1.0,
        le=20.0,
        description="Softens both networks' outputs so the student "
        "also learns which wrong classes the original finds plausible.",
        json_schema_extra={"widget": "slider"},
    )
    soft_weight: float = Field(
        0.9,
        title="Share of copying in the student's loss",
        ge=0.0,
        le=1.0,
        description="Share of the student's loss that copies the "
        "original (the rest is the usual loss on the true labels).",
        json_schema_extra={"widget": "slider"},
    )
    distill_epochs: int = Field(
        40,
        title="Student's passes over the data",
        ge=1,
        le=300,
        description="Passes of the distilled student over its transfer set (every training row and its "
        "blends); the student alone takes the same number of steps over its labelled rows, repeated.",
    )
    mixup_copies: int = Field(
        4,
        title='Blended rows per real row (mixup)',
        ge=0,
        le=8,
        description="Blends of two training rows the original labels for the "
        "student, per training row (0: the training rows only, as in Hinton et al.).",
    )
    onnx: bool = Field(
        True,
        title="ONNX export",
        description="Export to an ONNX file, run it with ONNX Runtime (the usual way onto phones), "
        "and also quantize that file to int8 with ONNX Runtime's own tool.",
    )
    onnx_exporter: Literal["torchscript", "dynamo"] = Field(
        "torchscript",
        title='ONNX exporter',
        json_schema_extra={
            'labels': {'torchscript': 'TorchScript (older, fast)', 'dynamo': 'Dynamo (newer, slower first export)'}
        },
        description="TorchScript is PyTorch's older exporter (under a second); dynamo is the newer "
        "default (several seconds for the first export in a process).",
    )
    accuracy_tolerance: float = Field(
        0.01,
        title='Accuracy a variant may lose',
        ge=0.0,
        le=0.2,
        description="How much test accuracy a variant may lose and still be worth shipping.",
        json_schema_extra={"widget": "slider"},
    )
    explain_rows: int = Field(
        12,
        title='Rows to explain',
        ge=4,
        le=64,
        description="Test rows whose SHAP values are compared between the "
        "original and the shipped model (more is slower).",
    )

    @model_validator(mode="after")
    def _check(self):
        if not self.techniques:
            raise ValueError("Switch on at least one technique (int8 quantization, pruning, distillation or ONNX).")
        if self.start_from == "finished_run" and not RUN_ID.match(self.source_run):
            raise ValueError("Pick a finished Explainable AI or NAS run to start from (or paste its result link).")
        return self

    def expectation(self) -> str:
        """Said before Train when distillation is not expected to beat the student trained alone (measured on
        seeds 0-7, see ``benchmarks/effects.py``)."""
        if not self.distill or self.student_labels <= FEW_LABELS:
            return ""
        return (
            f"With labels for {self.student_labels} rows per class the student alone learns nearly everything the "
            "original could teach it, so distillation is not expected to beat it: on digits it still won on all 8 "
            f"seeds at {FEW_LABELS} per class, by as little as 0.2 points, and lost on all 8 with every label (the "
            "student alone then outdoes a teacher trained for 20 passes). Few labels (5 per class) show the effect."
        )

    def source_run_id(self) -> str:
        """The finished run to compress, when the person picked one ("" when the model is trained here)."""
        return self.source_run if self.start_from == "finished_run" else ""

    @property
    def techniques(self) -> tuple[str, ...]:
        """The switched-on techniques, in the order a chain applies them: quantize, prune, distil, export."""
        return tuple(name for name in TECHNIQUES if getattr(self, name))


PRESETS = {
    "quick": {
        "start_from": "digits",
        "hidden_width": 64,
        "epochs": 20,
        "dynamic_int8": True,
        "static_int8": False,
        "prune": True,
        "prune_kind": "unstructured",
        "sparsity": 0.5,
        "prune_steps": 1,
        "finetune_epochs": 2,
        "distill": False,
        "onnx": True,
        "onnx_exporter": "torchscript",
        "explain_rows": 12,
    },
    "better": {
        "start_from": "digits",
        "hidden_width": 128,
        "epochs": 40,
        "dynamic_int8": True,
        "static_int8": True,
        "prune": True,
        "prune_kind": "unstructured",
        "sparsity": 0.8,
        "prune_steps": 4,
        "finetune_epochs": 8,
        "distill": True,
        "student_width": 16,
        "distill_epochs": 40,
        "onnx": True,
        "onnx_exporter": "torchscript",
        "explain_rows": 24,
    },
}
PRESET_LABELS = {"quick": "Quick look", "better": "Better result"}


def _variant_metrics(key: str, title: str) -> dict[str, Metric]:
    return {
        f"{key}_accuracy": Metric(f"{title}: test accuracy", "percent"),
        f"{key}_size_kb": Metric(f"{title}: file size", "kb", help="Bytes of the file this variant ships as."),
        f"{key}_agreement": Metric(
            f"{title}: agreement with the original",
            "percent",
            help="Share of test rows where it predicts the same class as the original.",
        ),
    }


METRICS = {
    "original_accuracy": Metric("Original: test accuracy", "percent"),
    "original_size_kb": Metric("Original: file size", "kb", help="float32 weights as safetensors."),
    "original_zipped_kb": Metric("Original: zipped file size", "kb"),
    "original_parameters": Metric("Original: weights", "integer"),
    "original_latency_ms": Metric(
        "Original: latency per sample",
        "ms",
        measured=True,
        help="Median over repeated single-sample calls, after warm-up.",
    ),
    "original_throughput": Metric("Original: samples per second (batch)", "number", measured=True),
    **_variant_metrics("int8", "Dynamic int8"),
    **_variant_metrics("static_int8", "Static int8"),
    **_variant_metrics("pruned", "Pruned"),
    "pruned_sparsity": Metric("Pruned: share of weights that are zero", "percent"),
    "pruned_zipped_kb": Metric("Pruned: zipped file size", "kb", help="Zeros compress well: pruning shows here."),
    "pruned_parameters": Metric("Pruned: weights kept in the file", "integer"),
    "pruned_nonzeros": Metric("Pruned: non-zero weights", "integer"),
    **_variant_metrics("student", "Distilled student"),
    "student_alone_accuracy": Metric("Student trained alone: test accuracy", "percent"),
    "student_labelled_rows": Metric(
        "Students: labelled training rows",
        "integer",
        help="Rows whose true label both students get; the distilled one also copies the original on every row.",
    ),
    "distill_gain": Metric(
        "Distillation gain (accuracy points)", "percent", help="Distilled student minus the same student trained alone."
    ),
    "onnx_max_abs_diff": Metric(
        "ONNX Runtime vs PyTorch: largest output difference",
        "number",
        help="Over every test row and output; float rounding is about 1e-6.",
    ),
    "onnx_agreement": Metric("ONNX file: agreement with PyTorch", "percent"),
    **_variant_metrics("onnx_int8", "ONNX int8"),
    **_variant_metrics("chosen", "Shipped variant"),
    # headline labels fit a metric tile (Metric.TILE_LABEL_MAX characters); the full wording is the help
    "chosen_accuracy": Metric("Shipped: test accuracy", "percent", help="Shipped variant: test accuracy."),
    "size_reduction": Metric("Shipped: times smaller", "ratio", help="Shipped file: times smaller than the original."),
    "chosen_latency_ms": Metric("Shipped variant: latency per sample", "ms", measured=True),
    "speedup": Metric(
        "Shipped: times faster", "ratio", measured=True, help="Shipped variant: times faster per sample."
    ),
    "shap_correlation": Metric(
        "SHAP agreement (correlation)",
        "number",
        help="Correlation of the original's and the shipped model's SHAP values on the "
        "same rows: 1 means the explanation did not drift.",
    ),
    "variants": Metric("Variants measured", "integer"),
}


def estimate_seconds(config: Config) -> float:
    rows = DIGITS_ROWS if config.start_from in ("digits", "finished_run") else SKLEARN_TABLES[config.start_from][3]
    epoch = rows * 6e-6 * (1 + (config.hidden_width if config.start_from != "finished_run" else 64) / 64)
    seconds = 2.0 + (config.epochs if config.start_from != "finished_run" else 0) * epoch
    seconds += config.prune * (config.finetune_epochs * epoch + 0.3 * config.prune_steps)
    seconds += config.distill * config.distill_epochs * 2 * (1 + config.mixup_copies) * epoch * 0.5
    seconds += config.onnx * (1.0 if config.onnx_exporter == "torchscript" else 12.0)
    seconds += config.static_int8 * 0.5 + len(config.techniques) * 0.5 + config.explain_rows * 0.1
    return seconds
