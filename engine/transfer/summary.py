"""Transfer in words: the "What just happened" text, every sentence from the run's own numbers."""

from __future__ import annotations

from engine.core.contract import Result
from engine.core.wording import summary_text
from engine.transfer.data import SOURCES
from engine.transfer.views import _trained, best_pretrained, label

CLEAR_GAP = 0.02  # accuracy differences up to 2 points are called "no real difference"
CHANCE_MARGIN = 0.05  # within 5 points of guessing counts as not learned
WEAK_PRETRAINING = 0.8  # images: below this accuracy on its own source task, pretraining had little to give


def _setup_sentence(result: Result) -> str:
    m, c = result.metrics, result.config
    k = c.labels_per_class
    if c.track == "text":
        return (
            f"With {k} labelled sentence(s) per topic ({m['n_labelled']:.0f} in all, from {result.info['title']}), "
            f"every strategy was tested on {m['n_test']:.0f} held-out sentences."
        )
    cache, (source, target) = result.info["cache"], SOURCES[c.source]
    how = (
        "reused from the cache"
        if cache["from_cache"]
        else f"pretrained now in {cache['pretrain_seconds']:.1f} s "
        "and cached" + (" (the old cache file was damaged, so it was rebuilt)" if cache["rebuilt"] else "")
    )
    return (
        f"The network was pretrained on {source} ({how}; {m['source_accuracy']:.0%} right on held-out source "
        f"images), then learned {target} from {k} labelled image(s) per digit; {m['n_test']:.0f} images tested it."
    )


def _scores_sentence(result: Result) -> str:
    m, names = result.metrics, _trained(result)
    parts = [f"{label(s, result).lower()} **{m[f'accuracy_{s}']:.0%}**" for s in names]
    return f" Test accuracy: {', '.join(parts)} (guessing: {1 / m['n_classes']:.0%})."


def _verdict_sentence(result: Result) -> str:
    """Transfer helped, made no difference, or hurt: from the best pretrained strategy against scratch."""
    m, c = result.metrics, result.config
    scratch, best_name = m["accuracy_scratch"], best_pretrained(result)
    best = m[f"accuracy_{best_name}"]
    if best > scratch + CLEAR_GAP:
        return (
            f" **Transfer helped:** {label(best_name, result).lower()} beat training from scratch by "
            f"{(best - scratch) * 100:.0f} percentage points with the same few labels."
        )
    weak = c.track == "images" and m["source_accuracy"] < WEAK_PRETRAINING
    hint = (
        f" Pretraining reached only {m['source_accuracy']:.0%} on its own task, so there was little to transfer: "
        "more pretraining epochs give the network better features."
        if weak
        else ""
    )
    if best >= scratch - CLEAR_GAP:
        return " **Transfer made no real difference here** (within 2 points of scratch)." + hint
    why = hint or (
        " The network learned to tell digits 0-4 apart; the strokes that separate those are not the ones "
        "that separate 5-9, so its features fit the new digits badly and a fresh network does better."
        if c.track == "images" and c.source == "digits_0_4"
        else " What the model learned before does not fit this task well, and a fresh model learns it better."
    )
    return (
        f" **Negative transfer:** every pretrained strategy did worse than training from scratch (best "
        f"{best:.0%} vs {scratch:.0%}).{why}"
    )


def _failure_sentence(result: Result) -> str:
    m, c = result.metrics, result.config
    chance = 1 / m["n_classes"]
    if max(m[f"accuracy_{s}"] for s in _trained(result)) > chance + CHANCE_MARGIN:
        return ""
    hint = (
        f"its learning rate ({c.learning_rate:g}) is high: try 0.01"
        if c.learning_rate > 0.05
        else "try more epochs or more labels per class"
    )
    return f" **No strategy did better than guessing**, so this run shows nothing about transfer: {hint}."


def _split_first(sentence: str) -> tuple[str, str]:
    """(the verdict sentence, which opens in bold, and whatever explanation follows it)."""
    sentence = sentence.strip()
    end = sentence.find(". ", sentence.index("**", 2) + 2)
    return (sentence, "") if end < 0 else (sentence[: end + 1], sentence[end + 2 :])


def describe(result: Result) -> str:
    if not _trained(result):
        return "You stopped the run before training started, so there is nothing to compare yet."
    verdict, why = _split_first(_failure_sentence(result) or _verdict_sentence(result))
    stopped = [f"You stopped it after {result.metrics['epochs_run']:.0f} passes."] if result.stopped else []
    return summary_text(verdict, [_scores_sentence(result), *stopped], [why, _setup_sentence(result)])
