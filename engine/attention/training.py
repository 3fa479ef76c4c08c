"""Train the transformer, the no-attention baseline and the no-positional-encoding transformer side by side.

All models see the same mini-batches in the same order through the shared loop (:func:`engine.core.train.fit`):
they sit in one :class:`~engine.core.train.SideBySide` module whose loss is the sum of their cross-entropies
(:class:`~engine.core.train.SummedLoss`), which trains each exactly as its own Adam optimiser would.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.attention.config import Config
from engine.attention.models import AveragedEmbeddingBaseline, TransformerClassifier
from engine.attention.tasks import SequenceTask, make_task
from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.device import pick, seeded
from engine.core.train import SideBySide, SummedLoss, count_parameters, fit, predict

EXAMPLES = 4  # test sequences shown in the attention maps and explained one by one
PREFIX = {"transformer": "", "baseline": "baseline_", "transformer_no_pe": "no_pe_"}  # history column prefixes
LOSS = {"transformer": "transformer_loss", "baseline": "baseline_loss", "transformer_no_pe": "no_pe_loss"}


def build_models(config: Config, task: SequenceTask) -> dict[str, nn.Module]:
    """The transformer, the averaged-embedding baseline and (when asked) the transformer without PE."""

    def transformer(positional_encoding: str):
        return TransformerClassifier(
            len(task.class_names),
            task.X.shape[1],
            config.embedding_size,
            config.n_heads,
            config.n_layers,
            config.ffn_size,
            config.dropout,
            positional_encoding,
            config.layer_norm,
            vocab_size=len(task.vocab),
            row_width=task.row_width,
        )

    models = {
        "transformer": transformer(config.positional_encoding),
        "baseline": AveragedEmbeddingBaseline(
            len(task.class_names), config.embedding_size, config.ffn_size, len(task.vocab), task.row_width
        ),
    }
    if config.compare_without_pe and config.positional_encoding != "none":
        models["transformer_no_pe"] = transformer("none")
    return models


def live_attention(model: TransformerClassifier, x, tokens: list[str]) -> dict:
    """The last block's first head on one test sequence x (1, T), small enough to send every few epochs."""
    _, maps = model(x, return_attention=True)  # per block: (1, heads, T+1, T+1)
    n = 1 + len(tokens)
    return {"tokens": ["[CLS]", *tokens], "weights": np.round(maps[-1][0, 0, :n, :n].cpu().numpy(), 3).tolist()}


def train(config: Config, task: SequenceTask, split, progress: ProgressFn, dev) -> tuple[SideBySide, Tracker]:
    """All models trained together with live validation accuracy and, every few epochs, a live attention map."""
    train_idx, val_idx, test_idx = split
    dtype = torch.float32 if task.row_width else torch.long
    t = lambda idx: torch.as_tensor(task.X[idx], dtype=dtype, device=dev)
    X_tr, X_val, x_live = t(train_idx), t(val_idx), t(test_idx[:1])  # (n, T) ids or (n, T, 8) pixel rows
    y_tr, y_val = torch.as_tensor(task.y[train_idx], device=dev), torch.as_tensor(task.y[val_idx], device=dev)
    models = build_models(config, task)
    side = SideBySide(models).to(dev)
    loss_fn = SummedLoss(list(models))

    def evaluate(m: SideBySide) -> dict:
        correct = (m(X_val).argmax(-1) == y_val).float().mean(1)  # (M,) validation accuracy per model
        return {
            **{LOSS[n]: v for n, v in loss_fn.epoch_means().items()},
            **{f"{PREFIX[n]}val_accuracy": c.item() for n, c in zip(models, correct)},
        }

    live_every = max(1, config.epochs // 12)
    tokens = task.tokens(int(test_idx[0]))
    tracker = Tracker(progress, config.epochs)
    fit(
        side,
        X_tr,
        y_tr,
        loss_fn=loss_fn,
        epochs=config.epochs,
        lr=config.learning_rate,
        batch_size=config.batch_size,
        tracker=tracker,
        evaluate=evaluate,
        seed=config.seed,
        params=[{"params": list(m.parameters())} for m in models.values()],
        clip_grad_norm=1.0,
        snapshot=lambda m, epoch: (
            live_attention(transformer_of(m), x_live, tokens)
            if epoch % live_every == 0 or epoch == config.epochs
            else None
        ),
    )
    return side.cpu().eval(), tracker


def pick_examples(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` test indices, cycling through the classes so different answers appear."""
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(y == c)).tolist() for c in np.unique(y)]
    picked: list[int] = []
    while len(picked) < min(k, len(y)):
        for members in by_class:
            if members and len(picked) < k:
                picked.append(members.pop())
    return np.array(picked)


def score_on_test(side: SideBySide, X_test, y_test: np.ndarray) -> tuple[dict, dict]:
    """Test accuracy of every model (and chance); also each model's predicted classes."""
    preds = {name: predict(m, X_test).argmax(1).numpy() for name, m in side.models.items()}
    metrics = {
        "test_accuracy": float((preds["transformer"] == y_test).mean()),
        "baseline_test_accuracy": float((preds["baseline"] == y_test).mean()),
    }
    if "transformer_no_pe" in preds:
        metrics["test_accuracy_no_positional_encoding"] = float((preds["transformer_no_pe"] == y_test).mean())
    metrics["chance_accuracy"] = float(np.bincount(y_test).max() / len(y_test))
    return metrics, preds


def transformer_of(side: SideBySide) -> TransformerClassifier:
    """The main transformer among the side-by-side models (:func:`build_models` puts it under "transformer")."""
    model = side.models["transformer"]
    if not isinstance(model, TransformerClassifier):
        raise TypeError(f"the 'transformer' model is a {type(model).__name__}, not a TransformerClassifier")
    return model


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the transformer beside its two comparisons, then look inside it on a few test sequences."""
    task, *split = make_task(config.task, config.seq_len, config.train_examples, config.seed)
    test_idx = split[2]
    dev = pick()
    with seeded(config.seed, dev):  # the seed fixes weights and dropout
        side, tracker = train(config, task, split, progress, dev)
    X_test = torch.as_tensor(task.X[test_idx], dtype=torch.float32 if task.row_width else torch.long)
    y_test = task.y[test_idx]
    metrics, preds = score_on_test(side, X_test, y_test)
    transformer = transformer_of(side)
    metrics.update(
        epochs_run=len(tracker.rows),
        parameters=count_parameters(transformer),
        baseline_parameters=count_parameters(side.models["baseline"]),
        n_train=len(split[0]),
        n_test=len(test_idx),
        sequence_length=int(task.X.shape[1]),
    )
    examples = pick_examples(y_test, EXAMPLES, config.seed)  # alternating classes, so both answers show
    with torch.no_grad():
        _, maps = transformer(X_test[examples], return_attention=True)
    headline = (
        ("test_accuracy", "test_accuracy_no_positional_encoding", "baseline_test_accuracy")
        if "test_accuracy_no_positional_encoding" in metrics
        else ("test_accuracy", "baseline_test_accuracy")
    )
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=headline,
        stopped=tracker.stopped,
        models=dict(side.models.items()),
        arrays={
            "X_test": task.X[test_idx],
            "y_test": y_test,
            "pred_test": preds["transformer"],
            "baseline_pred_test": preds["baseline"],
            "examples": examples,
            "attention": torch.stack(maps, 1).numpy(),  # (examples, blocks, heads, T+1, T+1)
            "positional_encoding": transformer.positional.table.detach().numpy(),
        },  # (T+1, d)
        info={
            "task_title": task.title,
            "class_names": task.class_names,
            "vocab": task.vocab,
            "row_width": task.row_width,
            "tokens": [["[CLS]", *task.tokens(test_idx[i])] for i in examples],
        },
    )
