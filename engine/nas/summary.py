"""NAS words: the plain-language summary of the search ("What just happened"), each sentence from the run's own
numbers. Pure functions of a Result (no torch)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.core.wording import summary_text
from engine.nas.config import MIN_TRIALS_TO_EXPLAIN, SPACE, STRATEGIES
from engine.nas.views import DECISIONS, unique_trials

PROSE = {
    "random": "random search",
    "evolution": "regularised evolution",
    "rl": "the RL controller",
    "tpe": "Optuna's TPE",
}


def _pct(a: float) -> str:
    return f"{a:.1%}"


def _names(names) -> str:
    """'random search, the RL controller and Optuna's TPE'."""
    words = [PROSE[n] for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


CLEAR_GAIN = 0.01  # a mean gain of a point (about 3 validation images) before we call it learning or better


def _means(result: Result) -> dict[str, float]:
    """Each strategy's mean proposal: the average validation accuracy of everything it proposed (all searches,
    repeated proposals included), from the history, so older stored runs read the same."""
    h = result.history
    return {n: float(h[h.strategy == n].accuracy.mean()) for n in STRATEGIES if (h.strategy == n).any()}


def _searches(result: Result) -> tuple[int, int]:
    """(searches per strategy, candidates per search) as run (a stopped run: as far as it got)."""
    h = result.history
    searches = int(h["search"].max()) if "search" in h else 1
    return searches, int(h.candidate.max())


def _verdict(result: Result) -> str:
    """The headline claim, as the numbers have it: one plain sentence (in bold) on whether the guided strategies'
    mean proposal beat random search's at the same budget ("better" only by more than a point), then the numbers.
    Empty without random search or a guided strategy."""
    means = _means(result)
    guided = [n for n in means if n != "random"]
    if "random" not in means or not guided:
        return ""
    searches, budget = _searches(result)
    gap = {n: means[n] - means["random"] for n in guided}
    groups = [
        ([n for n in guided if gap[n] > CLEAR_GAIN], "proposed better architectures than random search"),
        ([n for n in guided if abs(gap[n]) <= CLEAR_GAIN], "did no better than random search (within a point)"),
        ([n for n in guided if gap[n] < -CLEAR_GAIN], "did worse than random search"),
    ]
    said: list[str] = []
    for names, words in [g for g in groups if g[0]]:
        if said:  # random search is named once, in the first clause
            words = words.replace(" than random search", "")
        who = "every guided strategy" if len(names) == len(guided) > 1 and not said else _names(names)
        said.append(f"{who} {words}")
    plural = "candidate" if budget == 1 else "candidates"
    size = f"{'up to ' if result.stopped else ''}{budget} {plural}"  # a stopped search ends unevenly
    over = f"{searches} searches of {size}" if searches > 1 else f"one search of {size}"
    parts = [f"{_pct(means[n])} for {PROSE[n]}" for n in guided]
    scored = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    advice = (
        ""
        if not (groups[1][0] or groups[2][0])
        else ("; a guided strategy needs candidates to learn from, so raise the budget")
    )
    return (
        f"**{_cap('; '.join(said))}.** The average proposal scored {scored}, against {_pct(means['random'])} for "
        f"random search, over {over} per strategy{advice}."
    )


def _best_versus_mean(result: Result) -> str:
    """When random search's single best beats a guided strategy's, say so plainly, and what the mean shows."""
    m, means = result.metrics, _means(result)
    if "random" not in means:
        return ""
    best = {n: float(result.history[result.history.strategy == n].accuracy.max()) for n in means}
    image = 1 / m["validation_images"]
    beaten = [n for n in means if n != "random" and best["random"] > best[n] + image / 2]
    if not beaten:
        return ""
    better_mean = [n for n in beaten if means[n] > means["random"] + CLEAR_GAIN]
    searches, budget = _searches(result)
    whose = f"{PROSE[beaten[0]]}'s best" if len(beaten) == 1 else f"the best of {_names(beaten)}"
    lead = f"Random search's best ({_pct(best['random'])}) beat {whose} on this seed"
    if better_mean:
        return (
            f"{lead}, yet the average proposal of {_names(better_mean)} was better "
            f"({' and '.join(_pct(means[n]) for n in better_mean)} vs {_pct(means['random'])}): the single best of "
            f"{budget * searches} candidates is largely the luck of the draw, which is why the mean proposal and "
            "the spread over searches are what compare strategies. "
        )
    their = "its" if len(beaten) == 1 else "their"
    return (
        f"{lead}, and {their} average proposal was not clearly better either: here the guided search did not beat "
        "chance. "
    )


def _comparison(result: Result) -> str:
    """Which strategy found the best candidate, and whether the gap is bigger than a few validation images."""
    m = result.metrics
    names = [n for n in STRATEGIES if f"best_accuracy_{n}" in m]
    if len(names) < 2:
        return ""
    bests = {n: m[f"best_accuracy_{n}"] for n in names}
    ranked = sorted(names, key=lambda n: -bests[n])
    top, second = ranked[0], ranked[1]
    gap, image = bests[top] - bests[second], 1 / m["validation_images"]
    if gap < image / 2:
        tied = [n for n in ranked if bests[n] > bests[top] - image / 2]
        return f"{_cap(_names(tied))} tied for the best candidate ({_pct(bests[top])}) at this budget. "
    images = round(gap / image)
    if images <= 3:
        return (
            f"{_cap(PROSE[top])} found the best candidate ({_pct(bests[top])}), only {images} validation "
            f"image{'s' if images > 1 else ''} ahead of {PROSE[second]} ({_pct(bests[second])}): "
            "too close to call on one seed, so try other seeds before naming a winner. "
        )
    return (
        f"{_cap(PROSE[top])} found the best candidate ({_pct(bests[top])}), {gap * 100:.1f} points ahead of "
        f"{PROSE[second]} ({_pct(bests[second])}); one seed is one draw, so check other seeds. "
    )


def _halves(result: Result, name: str) -> tuple[float, float] | None:
    """The mean accuracy of a strategy's first and second half of candidates within each search (all searches)."""
    mine = result.history[result.history.strategy == name]
    half = int(mine.candidate.max()) // 2 if len(mine) else 0
    if half < 2:
        return None
    return float(mine[mine.candidate <= half].accuracy.mean()), float(mine[mine.candidate > half].accuracy.mean())


def _learning(result: Result) -> str:
    """Did the learning strategies' candidates get better as they went? Said only when the numbers show it."""
    text = ""
    evo = _halves(result, "evolution")
    if evo:
        early, late = evo
        text += (
            f"Evolution's later candidates averaged {_pct(late)} against {_pct(early)} for its first half: "
            "selection and mutation were climbing. "
            if late > early + CLEAR_GAIN
            else f"Evolution's later candidates were no better on average ({_pct(late)} vs {_pct(early)}): at this "
            "budget it had little time to climb beyond its random founders. "
        )
    rl = _halves(result, "rl")
    if rl and "controller_probabilities" in result.arrays:
        early, late = rl
        probs = result.arrays["controller_probabilities"]
        labels = [f"{d} = {o}" for d in DECISIONS for o in SPACE[d]]
        j = int(np.argmax(probs[-1] - probs[0]))
        text += (
            f"The RL controller's later candidates averaged {_pct(late)} against {_pct(early)} at first"
            + (
                ", so its policy was learning"
                if late > early + CLEAR_GAIN
                else ", so its policy had not yet learned much (it needs more candidates than evolution to move)"
            )
            + f"; the option it grew most fond of{' in its first search' if _searches(result)[0] > 1 else ''} is "
            f"{labels[j]} ({probs[0, j]:.0%} -> {probs[-1, j]:.0%}). "
        )
    return text


def _decisive_choice(result: Result) -> str:
    """The decision whose options' mean accuracies differ most (options tried at least twice), model-free."""
    u = unique_trials(result.history)
    if len(u) < MIN_TRIALS_TO_EXPLAIN:
        return ""
    spreads = {}
    for d in DECISIONS:
        stats = u.groupby(d).accuracy.agg(["mean", "count"])
        stats = stats[stats["count"] >= 2]
        if len(stats) >= 2:
            spreads[d] = (stats["mean"].idxmax(), stats["mean"].max(), stats["mean"].idxmin(), stats["mean"].min())
    if not spreads:
        return ""
    d = max(spreads, key=lambda k: spreads[k][1] - spreads[k][3])
    hi, hi_acc, lo, lo_acc = spreads[d]
    return (
        f"Across all {len(u)} architectures, {d.replace('_', ' ')} mattered most on average ({hi}: "
        f"{_pct(hi_acc)}, {lo}: {_pct(lo_acc)}); the Explain tab weighs every choice with SHAP. "
    )


def describe(result: Result) -> str:
    h, m = result.history, result.metrics
    if not len(h):
        return "The search stopped before any candidate was proposed."
    per = h.groupby("strategy").size()
    titles = _names(dict.fromkeys(h.strategy))
    searches, budget = _searches(result)
    each = (
        f"{per.iloc[0]} candidate{'s' if per.iloc[0] != 1 else ''} each"
        if per.nunique() == 1
        else f"{per.min()}-{per.max()} candidates each"
    )
    if searches > 1:
        each += f" ({searches} searches of up to {budget} from fresh seeds)"
    best = unique_trials(h).iloc[0]
    start, diff = m["starting_model_accuracy"], m["best_accuracy"] - m["starting_model_accuracy"]
    versus = "beats" if diff > 0.5 / m["validation_images"] else "does not beat" if diff < 0 else "matches"
    size = m["best_parameters"] / m["starting_model_parameters"]
    past = {"beats": "beat", "does not beat": "did not beat", "matches": "matched"}[versus]
    found = (
        f"The best architecture found reached {_pct(m['best_accuracy'])} validation accuracy and {past} the "
        f"course's starting model ({_pct(start)})."
    )
    verdict = _verdict(result) or f"**{found}**"
    gap = m["best_test_accuracy"] - m["starting_model_test_accuracy"]
    support = [  # the lead: the verdict, then whether the winner holds up on the test images
        f"On the test images the winner scores {_pct(m['best_test_accuracy'])} against the starting model's "
        f"{_pct(m['starting_model_test_accuracy'])}"
        + (
            ", so the gain holds up beyond the images it was picked on."
            if gap > 0
            else ": picked on validation images, its edge does not carry over, a sign "
            "that the search mostly found luck at this budget."
        )
    ]
    if result.stopped:
        support.append("You stopped the search early, so every strategy had a smaller budget than set.")
    text = (
        f"{len(per)} strateg{'ies' if len(per) > 1 else 'y'} ({titles}) proposed {each} from a space of "
        f"{m['space_size']:,} architectures: {m['unique_architectures']:.0f} different ones, each trained for "
        f"{result.config.epochs_per_candidate} epoch{'s' if result.config.epochs_per_candidate > 1 else ''}, "
        + (
            f"while {m['repeats']:.0f} repeated proposal{'' if m['repeats'] == 1 else 's'} came free from the cache. "
            if m["repeats"]
            else "with no repeats. "
        )
        + f"The best, first proposed by {PROSE[best.strategy]}, reached **{_pct(m['best_accuracy'])}** "
        f"validation accuracy with {m['best_parameters']:,.0f} weights ({size:.2f}x the starting model's) and "
        f"{_pct(m['best_test_accuracy'])} on test images no search step saw. It {versus} the course's starting "
        f"model, trained the same way ({_pct(start)}). "
    )
    text += _comparison(result) + _best_versus_mean(result) + _learning(result) + _decisive_choice(result)
    if m["best_accuracy"] < 0.5:
        text += (
            f"Even the best candidate is weak: {result.config.epochs_per_candidate} epoch(s) is too little "
            "training to judge an architecture; raise the epochs per candidate. "
        )
    return summary_text(verdict, support, text)
