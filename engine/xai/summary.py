"""Explainable AI in words: the "What just happened" text, every sentence from the run's own numbers."""

from __future__ import annotations

from engine.core.contract import Result
from engine.core.export import markdown_text
from engine.core.wording import summary_text


def _verdict(model: float, baseline: float, tie: float) -> str:
    """How the network compares with the linear baseline (within ``tie`` counts as a tie)."""
    if model > baseline + tie:
        return "beat"
    return "matched" if model >= baseline - tie else "did not beat"


def _score_sentence(m: dict, task: str) -> tuple[str, bool]:
    """The test score in words, and whether the model learned anything useful."""
    if task == "classification":
        verdict = _verdict(m["test_accuracy"], m["baseline_test_accuracy"], 1 / max(m["n_test"], 1))
        text = (
            f"{m['test_accuracy']:.1%} of the {m['n_test']} held-out rows right, and {verdict} "
            f"logistic regression ({m['baseline_test_accuracy']:.1%})"
        )
        return text, m["test_accuracy"] > m.get("majority_accuracy", 0) + 1e-9
    verdict = _verdict(m["test_r2"], m["baseline_test_r2"], 0.01)
    text = (
        f"a test R² of {m['test_r2']:.2f} (1.0 is perfect, 0 is no better than always guessing the "
        f"average), and {verdict} linear regression ({m['baseline_test_r2']:.2f})"
    )
    return text, m["test_r2"] > 0.0


def _leans_on(result: Result) -> str:
    """Name only the inputs permutation importance clearly separates from the rest."""
    from engine.core.explain import clearly_ahead

    names = result.info["feature_names"]
    top = clearly_ahead(result.arrays["permutation_importance"], result.arrays["permutation_error"])
    if not top:
        return (
            " On these test rows, shuffling any one input changes the loss too little, or too similarly, "
            "to single out the inputs it leans on: see the Explain tab's SHAP ranking."
        )
    listed = " and ".join(f"**{markdown_text(names[j])}**" for j in top)
    them = "them" if len(top) > 1 else "it"
    return f" Shuffling {listed} hurts it clearly more than any other input: the model leans on {them}."


def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    score, learned = _score_sentence(m, info["task"])
    setup = (
        f"A {len(result.history)}-epoch network with {m['parameters']:,} weights learned from "
        f"{m['n_train']} rows of {markdown_text(info['title'])}."
    )
    support = [f"It got {score}.", *(["You stopped it early."] if result.stopped else [])]
    if not learned:
        return summary_text(
            "**The model learned nothing useful: it does no better than guessing.**",
            support,
            [setup, "Try a smaller learning rate, the Adam optimiser, or more epochs."],
        )
    classify = info["task"] == "classification"
    word = (
        _verdict(m["test_accuracy"], m["baseline_test_accuracy"], 1 / max(m["n_test"], 1))
        if classify
        else _verdict(m["test_r2"], m["baseline_test_r2"], 0.01)
    )
    model = "logistic" if classify else "linear"
    verdict = {
        "beat": f"**The network learned the task and beat {model} regression.**",
        "matched": f"**The network learned the task, about as well as {model} regression.**",
    }.get(word, f"**The network learned something, but did not beat {model} regression.**")
    return summary_text(verdict, support, [setup, _leans_on(result)])
