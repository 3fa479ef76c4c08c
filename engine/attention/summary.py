"""Attention in words: the "What just happened" text, every sentence from the run's own numbers."""

from __future__ import annotations

from engine.core.contract import Result
from engine.core.wording import summary_text

CHANCE_MARGIN = 0.05  # within 5 points of always giving the commonest answer counts as not learned
CLEAR_GAP = 0.05  # a gap between two models of at least 5 points is named; smaller ones are called close
ORDER_FREE = ("contains_x",)  # the control task: only which tokens occur decides, never where


def _setup_sentence(result: Result) -> str:
    c, m = result.config, result.metrics
    heads, epochs = c.n_heads, int(m["epochs_run"])
    return (
        f"A {c.n_layers}-block transformer with {heads} attention head{'s' if heads > 1 else ''} per block "
        f"({m['parameters']:,.0f} weights, {c.positional_encoding} positional encoding) trained for {epochs} "
        f"epoch{'s' if epochs != 1 else ''} on *{result.info['task_title']}*."
    )


def _failure_advice(result: Result) -> str:
    """What to change when the transformer did not learn: built from the settings and the loss curve."""
    c, h = result.config, result.history
    if c.learning_rate >= 0.03:
        return f" Its learning rate ({c.learning_rate:g}) is high: try 0.003."
    losses = h.get("transformer_loss")
    if losses is not None and len(losses) > 1 and losses.iloc[-1] > 0.9 * losses.iloc[0]:
        return " Its training loss barely fell: try more epochs, more training examples or a learning rate of 0.003."
    return " Try more epochs or more training examples."


def _pe_sentence(m: dict, task: str) -> str:
    """The comparison with the same transformer without positional encoding, from the measured gap, in the words
    of the task: where order decides the answer, where it does not (the control task), or digits."""
    acc, no_pe = m["test_accuracy"], m["test_accuracy_no_positional_encoding"]
    order_matters, order_free = task not in ("digits", *ORDER_FREE), task in ORDER_FREE
    text = f" The same transformer without positional encoding got {no_pe:.1%}"
    if acc >= no_pe + CLEAR_GAP:
        return text + (
            f", {100 * (acc - no_pe):.0f} percentage points less: without position information attention sees "
            "only a bag of tokens"
            + (
                ", and on this task the order decides the answer."
                if order_matters
                else ", which should be enough on this task (only which tokens occur decides), so the gap is more "
                "likely training luck: try more epochs or another seed."
                if order_free
                else "."
            )
        )
    if no_pe >= acc + CLEAR_GAP:
        return text + (
            f", {100 * (no_pe - acc):.0f} percentage points more than with it: here the positional encoding did "
            + (
                "not help, which on an order task means the model with it has not learned yet (try more epochs or "
                "another seed)."
                if order_matters
                else "not help: position information was only one more thing to learn."
            )
        )
    if order_free:
        return text + (
            ": within a few points, as it should be: only which tokens occur decides this task, never where, so a "
            "model blind to order does as well. On *Which marked token comes first*, with the same letters, it "
            "cannot."
        )
    return text + (
        ": within a few points, so in this run position information made little difference"
        + (", although on this task the answer depends on where tokens sit: try more epochs." if order_matters else ".")
    )


def describe(result: Result) -> str:
    m, c = result.metrics, result.config
    acc, base, chance = m["test_accuracy"], m["baseline_test_accuracy"], m["chance_accuracy"]
    support = (
        f"It got **{acc:.1%}** of the {m['n_test']:.0f} held-out examples right; the model without attention, "
        f"which cannot see order, got {base:.1%} (always giving the commonest answer gets {chance:.1%})."
    )
    order_free = c.task in ORDER_FREE  # a bag of tokens suffices: the averaged embeddings may do as well
    learned = acc > chance + CHANCE_MARGIN and (order_free or acc > base + CLEAR_GAP)
    if acc <= chance + CHANCE_MARGIN:
        verdict = (
            "**The transformer did no better than always giving the commonest answer: it has not learned the task.**"
        )
    elif order_free and acc <= base + CLEAR_GAP:
        verdict = (
            f"**The transformer learned the task ({acc:.1%}), and so did the model without attention ({base:.1%}): "
            "only which tokens occur decides here, so seeing order buys nothing.**"
        )
    elif acc <= base + CLEAR_GAP:
        verdict = (
            "**The transformer did not clearly beat the model without attention**, "
            "so this run shows no gain from attention."
        )
    else:
        verdict = (
            f"**The transformer learned the task and beat the model without attention by {100 * (acc - base):.1f} "
            "percentage points.**"
        )
    more = [_setup_sentence(result)]
    if "test_accuracy_no_positional_encoding" in m and learned:
        more.append(_pe_sentence(m, c.task))
    elif "test_accuracy_no_positional_encoding" in m:  # nothing learned: no lesson to draw from the gap
        more.append(
            f"The same transformer without positional encoding got {m['test_accuracy_no_positional_encoding']:.1%}."
        )
    if not learned:
        more.append(_failure_advice(result))
    stopped = ["You stopped it early, so these numbers are from a partly trained model."] if result.stopped else []
    more.append("Open the attention maps to see which tokens each head looks at.")
    return summary_text(verdict, [support, *stopped], more)
