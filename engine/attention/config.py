"""Attention settings: the task, the transformer's shape, the positional encoding and the training budget."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from engine.attention.tasks import BRACKETS_MIN_LENGTH, SENTIMENT_LENGTH, brackets_length
from engine.core.config import TechniqueConfig
from engine.core.contract import Metric

TASK_LABELS = {
    "first_marked": "Which marked token comes first",
    "contains_x": "Whether an X is there at all (order does not matter)",
    "brackets": "Balanced brackets",
    "sentiment": "Sentiment with negation",
    "digits": "Handwritten digits, row by row",
}


class Config(TechniqueConfig):
    STEP_UNIT: ClassVar[str] = "epoch"  # a history step: one pass over the training sequences
    PRIMARY: ClassVar[tuple[str, ...]] = (
        'task',
        'seq_len',
        'positional_encoding',
        'n_heads',
        'n_layers',
        'epochs',
    )  # the settings that change the lesson: shown first
    task: Literal["first_marked", "contains_x", "brackets", "sentiment", "digits"] = Field(
        "first_marked",
        description="What the transformer learns. Which marked token comes first: which of two marked tokens "
        "comes first; Whether an X is there at all: the same letters, but only whether an X occurs decides, not "
        "where (the control: here a model blind to order should do as well); Balanced brackets: does every "
        "opening bracket get closed; Sentiment: short reviews where 'not' flips the meaning; Handwritten digits: "
        "digits read one pixel row at a time.",
        json_schema_extra={"labels": dict(TASK_LABELS)},
    )
    seq_len: int = Field(
        12,
        ge=4,
        le=32,
        description="Tokens (words or symbols) per generated sequence. Bracket strings are never shorter than "
        f"{BRACKETS_MIN_LENGTH} and always even (shorter ones have too few different orders to learn from), so "
        f"with brackets the length moves to an even one of at least {BRACKETS_MIN_LENGTH}. Hidden for sentiment and "
        "digits, whose length is fixed (sentences as they are, 8 pixel rows).",
        title="Sequence length (tokens)",
    )
    train_examples: int = Field(
        1000,
        title='Example sequences to learn from',
        ge=200,
        le=20000,
        description="How many sequences to learn from (digits use scikit-learn's 1,797 images instead).",
    )
    embedding_size: int = Field(
        32,
        title='Numbers per token (embedding size)',
        ge=8,
        le=128,
        description="How many numbers represent each token (its embedding). Must be divisible by the number of heads.",
    )
    n_heads: int = Field(
        2,
        ge=1,
        le=8,
        description="Attention heads per block: each head can look at a different part of the sequence.",
        title="Attention heads",
    )
    n_layers: int = Field(
        2, ge=1, le=4, description="Transformer blocks stacked on top of each other.", title="Transformer blocks"
    )
    ffn_size: int = Field(
        64,
        ge=8,
        le=512,
        description="Neurons in the small network inside each block that processes every token on its own "
        "(feed-forward).",
        title="Inner network width (feed-forward size)",
    )
    dropout: float = Field(
        0.0,
        ge=0.0,
        le=0.5,
        description="Share of attention weights and activations "
        "switched off at random while training, to reduce over-fitting.",
        json_schema_extra={"widget": "slider"},
    )
    positional_encoding: Literal["sinusoidal", "learned", "none"] = Field(
        "sinusoidal",
        title='Position information (positional encoding)',
        json_schema_extra={
            'labels': {
                'sinusoidal': 'Fixed sine waves (sinusoidal)',
                'learned': 'Learned per position',
                'none': 'None (order unseen)',
            }
        },
        description="How the model is told where each token sits (positional encoding): fixed sine waves, a learned "
        "vector per position, or nothing (then the model sees only which tokens occur, not their order).",
    )
    layer_norm: Literal["post", "pre"] = Field(
        "post",
        title='Where numbers are rescaled (layer norm)',
        json_schema_extra={
            'labels': {'post': 'After each step (original, post-norm)', 'pre': 'Before each step (pre-norm)'}
        },
        description="Where each block rescales its numbers (layer normalisation): after adding the block's result "
        "back (as in the original transformer) or before attention and the inner network (steadier for deep stacks).",
    )
    compare_without_pe: bool = Field(
        True,
        description="Also train the same transformer with positional "
        "encoding switched off, to see how much order matters (skipped when "
        "positional encoding is already 'none').",
        title="Also fit a model without positional encoding",
    )
    epochs: int = Field(
        6, title='Passes over the data (epochs)', ge=1, le=300, description="Passes over the training sequences."
    )
    learning_rate: float = Field(
        0.003,
        ge=1e-5,
        le=0.1,
        description="How big a training step is (Adam optimiser). Too high and training falls apart.",
        json_schema_extra={"log": True},
    )
    batch_size: int = Field(
        32, title='Sequences per step (batch size)', ge=8, le=512, description="Sequences per optimisation step."
    )

    SHOW_IF: ClassVar[dict[str, dict[str, list]]] = {"seq_len": {"task": ["first_marked", "contains_x", "brackets"]}}

    @classmethod
    def follow(cls, changed: str, values: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The form never shows a length the task cannot use: bracket strings are even and at least
        BRACKETS_MIN_LENGTH long, so with brackets the slider moves to the next length they use."""
        length = values.get("seq_len")
        if changed not in ("task", "seq_len") or values.get("task") != "brackets" or not isinstance(length, int):
            return {}, ""
        usable = max(BRACKETS_MIN_LENGTH, length + length % 2)  # up: the slider was moved towards it
        if usable == length:
            return {}, ""
        return {"seq_len": usable}, (
            f"Bracket strings are an even number of tokens, at least {BRACKETS_MIN_LENGTH}, so the sequence length "
            f"is now {usable}."
        )

    @model_validator(mode="before")
    @classmethod
    def _length_the_task_uses(cls, data: Any) -> Any:
        """A link, the CLI or a stored run may name a length brackets cannot use: it reads as the length the task
        has always used for it (the even length below, at least BRACKETS_MIN_LENGTH), so settings show what ran."""
        length = data.get("seq_len", cls.model_fields["seq_len"].default) if isinstance(data, dict) else None
        if isinstance(data, dict) and data.get("task") == "brackets" and isinstance(length, int):
            data = {**data, "seq_len": brackets_length(length)}
        return data

    @model_validator(mode="after")
    def _heads_divide_embedding(self):
        if self.embedding_size % self.n_heads:
            fits = [h for h in range(1, 9) if self.embedding_size % h == 0]
            raise ValueError(
                f"`embedding_size` must be divisible by `n_heads` so every head gets an equal slice, but got "
                f"embedding_size={self.embedding_size} and n_heads={self.n_heads}. With this embedding size "
                f"use {', '.join(map(str, fits))} heads, or pick an embedding size that is a multiple of "
                f"{self.n_heads}."
            )
        return self


PRESETS = {
    # batch 32: twice the steps of batch 64 in the same epochs, which sentiment needed on seeds 1 and 3 (issue 21)
    "quick": {
        "epochs": 6,
        "train_examples": 1000,
        "embedding_size": 32,
        "n_heads": 2,
        "n_layers": 2,
        "ffn_size": 64,
        "dropout": 0.0,
        "learning_rate": 0.003,
        "batch_size": 32,
        "compare_without_pe": True,
    },
    "better": {
        "epochs": 20,
        "train_examples": 3000,
        "embedding_size": 64,
        "n_heads": 4,
        "n_layers": 2,
        "ffn_size": 128,
        "dropout": 0.1,
        "learning_rate": 0.002,
        "compare_without_pe": True,
    },
}
PRESET_LABELS = {"quick": "Quick look", "better": "Better result"}

METRICS = {
    "test_accuracy": Metric(
        "Transformer: accuracy", "percent", help="Test accuracy: share of held-out sequences the transformer got right."
    ),
    "test_accuracy_no_positional_encoding": Metric(
        "No positions: accuracy",
        "percent",
        help="The same transformer without positional encoding, its test accuracy: it sees which tokens occur but "
        "not where (a bag of tokens).",
    ),
    "baseline_test_accuracy": Metric(
        "No attention: accuracy",
        "percent",
        help="No attention (averaged embeddings), its test accuracy: token embeddings averaged, then a small "
        "network; no order, no attention.",
    ),
    "chance_accuracy": Metric("Always giving the commonest answer", "percent"),
    "epochs_run": Metric("Epochs trained", "integer"),
    "parameters": Metric("Weights in the transformer", "integer"),
    "baseline_parameters": Metric("Weights in the baseline", "integer"),
    "n_train": Metric("Training sequences", "integer"),
    "n_test": Metric("Test sequences", "integer"),
    "sequence_length": Metric("Tokens per sequence", "integer"),
}


def sequence_length(config: Config) -> int:
    """Tokens per sequence the task really generates (some tasks fix or round the length)."""
    return {
        "digits": 8,
        "sentiment": SENTIMENT_LENGTH,
        "brackets": brackets_length(config.seq_len),
    }.get(config.task, config.seq_len)


def estimate_seconds(config: Config) -> float:
    """Rough wall time on one free CPU thread, fitted to measured runs: the quick preset trains in about 2.5 s,
    and importing SHAP, drawing and explaining add about 4 s."""
    n = 1079 if config.task == "digits" else config.train_examples
    transformers = 2 if config.compare_without_pe and config.positional_encoding != "none" else 1
    per_token = 1e-6 * config.n_layers * (6 + config.embedding_size / 16)  # seconds per token, forward + backward
    per_step = (1 + 16 / config.batch_size) / 1.25  # small batches pay more overhead per sequence (1 at batch 64)
    return 4.0 + config.epochs * n * (sequence_length(config) + 1) * transformers * per_token * per_step
