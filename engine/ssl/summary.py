"""Self-supervised learning in words: the "What just happened" text, every sentence from the run's own numbers."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.core.wording import summary_text

METHOD_NAMES = {"simclr": "SimCLR", "masked": "Masked-pixel prediction"}


def _points(x: float) -> str:
    return f"{x * 100:+.1f} percentage points"


def _verdict(m: dict) -> str:
    """One sentence, from the same thresholds as the probe sentence's reading."""
    probe, gain = m["linear_probe_accuracy"], m["linear_probe_accuracy"] - m["random_init_probe_accuracy"]
    if not m["epochs_run"]:
        return "**The run stopped before the first pretraining epoch finished, so there is nothing to judge yet.**"
    if probe < 0.2:
        return "**The pretrained encoder is no use: a linear probe on it is close to guessing.**"
    if gain > 0.02:
        return f"**Pretraining without labels paid off: {_points(gain)} for the linear probe over random features.**"
    if gain >= -0.02:
        return "**Pretraining made no real difference: the probe scores about the same on random features.**"
    return f"**Pretraining made the features worse for the linear probe ({_points(gain)} against random ones).**"


def describe(result: Result) -> str:
    m, a, config = result.metrics, result.arrays, result.config
    method = METHOD_NAMES[config.method]
    n_lab, probe, rand = int(m["n_labelled"]), m["linear_probe_accuracy"], m["random_init_probe_accuracy"]
    gain = probe - rand
    support = (
        f"With **{n_lab} labelled digits** ({n_lab / m['n_unlabelled']:.0%} of the training pool), a linear "
        f"probe on the frozen pretrained encoder got **{probe:.1%}** of {int(m['n_test'])} test digits right; "
        f"the same probe on the same encoder at its random start got **{rand:.1%}**"
    )
    support += (
        f", and the network trained end to end on those labels {m['supervised_accuracy']:.1%}."
        if "supervised_accuracy" in m
        else "."
    )
    more = []
    if gain > 0.02:
        more.append(f"Pretraining without labels paid here: {_points(gain)} over random features.")
    elif gain >= -0.02:
        more.append(
            f"That is about the same ({_points(gain)}): with this many labels a random convolutional encoder's "
            "features are already good for a linear probe."
        )
    else:
        more.append(f"Pretraining made the features *worse* for the probe ({_points(gain)}).")
    if config.method == "masked" and m["epochs_run"] and probe >= 0.2:  # trained, and not collapsed
        more.append(_masked_sentence(gain))
    if probe < 0.2:
        more.append(
            "The probe is close to guessing (10%): the encoder collapsed or diverged. Try a lower learning "
            "rate, more epochs or "
            + ("different augmentations." if config.method == "simclr" else "a different share of hidden patches.")
        )
    more += [
        _pretraining_sentence(result, method),
        _efficiency_sentence(a["efficiency"]),
        _robustness_sentence(m, config.method),
    ]
    stopped = ["You stopped it early, so the baselines were only partly computed."] if result.stopped else []
    return summary_text(_verdict(m), [support, *stopped], more)


def _masked_sentence(gain: float) -> str:
    """Why masked-pixel prediction rarely beats random features here (said before Train too), read against this
    run's own gain."""
    if gain > 0.02:
        return (
            "That is better than usual for masked-pixel prediction on these digits: it beat the random encoder "
            "on at most half of eight seeds with 1-2% of the labels and gained at most 2 points with 10% (the note "
            "before Train says why), so try another seed before reading much into it."
        )
    return (
        "That is the usual result for masked-pixel prediction on these 8x8 digits: filling in hidden pixels "
        "teaches the encoder where the ink is and how thick it is, detail a random convolutional encoder already "
        "keeps, rather than which digit it is. Contrastive SimCLR, which learns what the variations of a digit "
        "share, beats the random encoder here."
    )


def _pretraining_sentence(result: Result, method: str) -> str:
    m, h, config = result.metrics, result.history, result.config
    if not m["epochs_run"]:
        return "You stopped the run before the first pretraining epoch finished, so the encoder is still random."
    losses = h["loss"].dropna().to_numpy()
    fell = "fell" if losses[-1] < losses[0] else "did not fall"
    text = (
        f"{method} pretrained the encoder for {int(m['epochs_run'])} epoch(s) on {int(m['n_unlabelled'])} "
        f"unlabelled digits; its loss {fell} ({losses[0]:.3g} → {losses[-1]:.3g})."
    )
    if config.method == "simclr":
        if not any(getattr(config, k) for k in ("crop", "shift", "rotation", "contrast", "blur", "noise", "erasing")):
            text += (
                " Every augmentation was off, so the two views of a digit were identical and the contrastive "
                "task was trivial: switch some on."
            )
        pos, neg = m["positive_similarity"], m["negative_similarity"]
        verdict = "well above" if pos > neg + 0.3 else "above" if pos > neg else "not above"
        text += (
            f" Two views of one digit now have a mean cosine similarity of {pos:.2f}, {verdict} that of two "
            f"different digits ({neg:.2f})."
        )
    knn, rknn = m["knn_accuracy"], m["random_init_knn_accuracy"]
    text += (
        f" Nearest-neighbour (k-NN) accuracy in its feature space is {knn:.1%}, against {rknn:.1%} for the "
        f"random encoder."
    )
    return text


def _efficiency_sentence(rows: list[dict]) -> str:
    rows = sorted((r for r in rows if "supervised" in r), key=lambda r: r["n_labelled"])
    if len(rows) < 2:
        return ""
    gains = [r["probe"] - r["random_init"] for r in rows]
    best = int(np.argmax(gains))
    text = (
        f"Across label budgets the gain over random features ranged from {_points(min(gains))} to "
        f"{_points(max(gains))}, largest with {rows[best]['n_labelled']} labels"
    )
    text += f", and {_points(gains[-1])} with all {rows[-1]['n_labelled']}." if best != len(rows) - 1 else "."
    beats_sup = [r for r in rows if r["probe"] > r["supervised"]]
    if beats_sup:
        text += (
            " The probe also beat end-to-end supervised training with "
            + ", ".join(str(r["n_labelled"]) for r in beats_sup)
            + " labels."
        )
    else:
        text += " End-to-end supervised training matched or beat the probe at every budget."
    return text


def _robustness_sentence(m: dict, method: str) -> str:
    rp, rr = m["robust_probe_accuracy"], m["robust_random_init_accuracy"]
    text = (
        f"On the perturbed copy of the test digits the self-supervised probe kept **{rp:.1%}**, the random-encoder "
        f"probe {rr:.1%}"
    )
    text += (
        f" and the supervised network {m['robust_supervised_accuracy']:.1%}"
        if "robust_supervised_accuracy" in m
        else ""
    )
    others = [rr] + ([m["robust_supervised_accuracy"]] if "robust_supervised_accuracy" in m else [])
    if rp > max(others) + 0.02:
        text += (
            ": features trained to ignore augmentations hold up better when the test digits are disturbed."
            if method == "simclr"
            else ": the pretrained features held up best when the test digits were disturbed."
        )
    elif rp < min(others) - 0.02:
        text += ": the pretrained features were the least robust here."
    else:
        text += ": no clear robustness advantage this time."
    return text
