"""Quantum words: the "What just happened" text for the circuit lab and the classifier, each sentence from the
run's own numbers. Pure functions of a Result (no torch)."""

from __future__ import annotations

import math

import numpy as np

from engine.core.contract import Result
from engine.core.wording import summary_text


def _describe_lab(result: Result) -> str:
    m, p, config = result.metrics, result.arrays["probabilities"], result.config
    basis = np.asarray(result.info["basis"])
    top = np.argsort(p)[::-1][: min(4, int((p > 1e-9).sum()))]
    outcomes = ", ".join(f"{basis[i]} {p[i]:.1%}" for i in top)
    verdict = (
        f"**Your {m['n_gates']}-gate circuit on {m['n_qubits']} qubits ends in a state whose most likely "
        f"outcomes are {outcomes}.**"
    )
    more = ""
    if "max_sampling_error" in m:
        more = (
            f"Measured {config.shots:,} times, no outcome's share strayed more than "
            f"{m['max_sampling_error']:.1%} from its exact probability: that is sampling noise."
        )
    ent = m["entanglement_entropy"]
    kind = (
        "not entangled with the others"
        if ent < 0.01
        else "maximally entangled with the others, as in a Bell state"
        if ent > 0.99
        else "partly entangled with the others"
    )
    support = f"Qubit 0's entanglement entropy is {ent:.2f} bit (0: independent, 1: maximal), so qubit 0 is {kind}."
    return summary_text(verdict, support, more)


def at_chance(accuracy: float, chance: float, n_test: float) -> bool:
    """No better than guessing the most common class, within two standard errors of sampling on the test set."""
    return accuracy <= chance + 2 * math.sqrt(chance * (1 - chance) / max(n_test, 1))


def _advice(result: Result) -> str:
    """What to change when the quantum model ended at chance, from the settings this run used."""
    c, tips = result.config, []
    if c.learning_rate >= 0.3:
        tips.append(f"lower the learning rate (it is {c.learning_rate:g}; 0.08 works on the quick preset)")
    if c.learning_rate <= 0.005 or c.epochs < 8:
        tips.append(
            f"train longer or faster (learning rate {c.learning_rate:g}, {c.epochs} epochs; the quick "
            "preset uses 0.08 and 12)"
        )
    if not c.reupload and c.embedding != "amplitude":
        tips.append("turn on data re-uploading")
    if not c.input_scaling:
        tips.append("turn on input scaling")
    if c.n_layers < 2:
        tips.append("use 2 or more circuit layers")
    if not tips:
        tips.append("start from the quick preset and change one setting at a time")
    return "Try: " + "; ".join(tips) + "."


def _baseline_also_failed(c) -> str:
    if c.dataset in ("moons", "circles", "xor", "spiral") and c.noise >= 0.3:
        return f"The classical MLP did no better either: at noise {c.noise:g} the classes overlap; lower the noise."
    return (
        "The classical MLP, trained with the same learning rate and batch size, did no better either, which "
        "points at those settings rather than at the circuit."
    )


def _verdict(m: dict) -> str:
    diff = round((m["test_accuracy"] - m["baseline_test_accuracy"]) * m["n_test"])  # in test examples
    word = "matched" if diff == 0 else "beat" if diff > 0 else "fell short of"
    p = (m["test_accuracy"] + m["baseline_test_accuracy"]) / 2
    noise = 2 * math.sqrt(max(p * (1 - p), 1 / m["n_test"]) * m["n_test"])  # two standard errors, in examples
    size = (
        f" by {abs(diff)} test example{'s' if abs(diff) != 1 else ''}, a gap within sampling noise"
        if 0 < abs(diff) <= noise
        else f" by {abs(diff)} test examples"
        if diff
        else ""
    )
    return (
        f"{word} a classical MLP with {m['baseline_parameters']} parameters trained for {m['baseline_epochs']} "
        f"epochs ({m['baseline_test_accuracy']:.1%}){size}"
    )


def _describe_classifier(result: Result) -> str:
    m, info, c = result.metrics, result.info, result.config
    setup = (
        f"A {c.n_qubits}-qubit, {c.n_layers}-layer circuit ({c.embedding} embedding, {c.ansatz} layers"
        f"{', data re-uploading' if c.reupload else ''}) with {m['quantum_parameters']} quantum and "
        f"{m['classical_parameters']} classical parameters trained for {m['epochs_run']} epochs on "
        f"{info['title']}."
    )
    support = [
        f"It got **{m['test_accuracy']:.1%}** of {m['n_test']} test examples right and {_verdict(m)}.",
        *(["You stopped it early."] if result.stopped else []),
    ]
    more = [setup]
    if at_chance(m["test_accuracy"], m["chance_accuracy"], m["n_test"]):
        verdict = (
            "**The circuit learned nothing useful: it is no better than guessing the most common class "
            f"({m['chance_accuracy']:.1%}).**"
        )
        more.append(_advice(result))
        if at_chance(m["baseline_test_accuracy"], m["chance_accuracy"], m["n_test"]):
            more.append(_baseline_also_failed(c))
    else:
        verdict = (
            "**The quantum circuit learned: it does clearly better than guessing the most common class "
            f"({m['chance_accuracy']:.1%}).**"
        )
    if "test_accuracy_shots" in m:
        more.append(
            f"Measured with {c.shots:,} shots per example instead of exact values, it scored "
            f"{m['test_accuracy_shots']:.1%}."
        )
    more.append(
        f"Simulator: **{info['simulator']}** ({info['diff_method']} gradients), because {info['simulator_reason']}."
    )
    return summary_text(verdict, support, more)


def describe(result: Result) -> str:
    return _describe_lab(result) if result.config.mode == "circuit_lab" else _describe_classifier(result)
