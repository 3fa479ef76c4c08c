"""Federated learning words: the "What just happened" text (who held what, what federation cost and bought), each
sentence from the run's own numbers. Pure functions of a Result (no torch)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.core.wording import summary_text


def _partition_sentence(result: Result) -> str:
    c, counts, m = result.config, result.arrays["counts"], result.metrics
    top = float(np.mean(counts.max(1) / counts.sum(1)))  # share of a client's data in its largest class
    seen = float(np.mean((counts > 0).sum(1)))
    what = "digit images" if c.dataset == "digits" else "tumour records"
    text = f"{c.n_clients} clients each kept their own share of {result.info['n_train']:,} {what}"
    if c.partition == "iid":
        text += ", every share with the same mix of classes"
    elif c.partition == "shards":
        text += f", each holding only {c.classes_per_client} of the {counts.shape[1]} classes"
    else:
        text += (
            f", skewed by Dirichlet(α = {c.alpha:g}): on average a client's biggest class made up {top:.0%} of "
            f"its data and it held {seen:.1f} of {counts.shape[1]} classes"
        )
    sizes = counts.sum(1)
    if c.unequal_sizes or sizes.max() > 2 * sizes.min():
        text += f" (from {sizes.min():,} to {sizes.max():,} samples per client)"
    algo = "FedAvg" if c.algorithm == "fedavg" else f"FedProx (μ = {c.mu:g})"
    slow = (
        f" Each answering phone was slow with chance {c.stragglers:.0%} and then got through only part of its "
        f"{c.local_epochs} passes."
        if c.stragglers
        else ""
    )
    return text + f". Over {m['rounds']:.0f} rounds of {algo} only model weights travelled, never the data." + slow


def _quality_sentences(result: Result) -> list[str]:
    m, c = result.metrics, result.config
    g, cen, loc, own = (
        m["global_accuracy"],
        m["centralized_accuracy"],
        m["local_only_accuracy_mean"],
        m["local_only_own_accuracy_mean"],
    )
    chance = 1 / result.arrays["counts"].shape[1]
    out = [
        f"The global model got **{g:.1%}** of held-out samples right; the same network trained on all the data "
        f"pooled in one place got {cen:.1%}."
    ]
    if g < chance + 0.1:
        hint = (
            "lower the noise multiplier or raise the clipping norm"
            if c.dp
            else "try a smaller learning rate, more rounds or more local epochs"
        )
        out.append(f"That is close to guessing ({chance:.0%}): the federation did not learn; {hint}.")
        return out
    gap = cen - g
    fixes = (["partition = iid"] if c.partition != "iid" else []) + (["DP off"] if c.dp else [])
    out.append(
        "Federation matched pooling the data."
        if gap <= 0.01
        else f"Federation cost {gap * 100:.1f} points against pooling the data"
        + (
            f"; rerun with {' and '.join(fixes)} at the same rounds to see how much of that gap is theirs."
            if fixes
            else "; more rounds usually close the gap."
        )
    )
    if g > loc + 0.05:
        alone = (
            f" (alone they score {own:.1%} on the classes they hold, but cannot recognise the rest)"
            if own > loc + 0.1
            else ""
        )
        out.append(
            f"Each client training alone reached only {loc:.1%} on average on all classes, so clients gain "
            f"from joining{alone}."
        )
    else:
        out.append(
            f"Clients training alone did as well on average ({loc:.1%}): with this much data per client "
            "the federation adds little accuracy."
        )
    acc = result.arrays["client_accuracy"][-1]
    if acc.max() - acc.min() > 0.05:
        out.append(
            f"The global model serves client {int(acc.argmin())} worst ({acc.min():.1%} on the classes it "
            f"holds) and client {int(acc.argmax())} best ({acc.max():.1%})."
        )
    return out


def _cost_sentences(result: Result) -> list[str]:
    m, c, a = result.metrics, result.config, result.arrays
    asked = int((a["status"] > 0).sum())
    mb = m["bytes_communicated"] / 1e6
    raw = result.info["n_train"] * len(result.info["feature_names"]) * 4 / 1e6
    out = [
        f"Clients and server exchanged {mb:.2f} MB ({m['updates_received']:.0f} updates received of {asked} "
        f"requested); "
        + (
            f"that is more than the {raw:.2f} MB of raw data itself (as 32-bit numbers), so here "
            "federation buys privacy, not bandwidth."
            if mb > raw
            else f"less than the {raw:.2f} MB the raw data would take."
        )
    ]
    if m["client_drift"] > 0:
        out.append(
            f"In the last round the clients' updates strayed from their average by {m['client_drift']:.2f} "
            "times its length"
            + (f", with FedProx pulling each client back (μ = {c.mu:g})." if c.algorithm == "fedprox" else ".")
        )
    if c.dp:
        noise = m["dp_noise_std"] * m["parameters"] ** 0.5  # expected length of the noise vector
        update = float(a["update_norm"][-1])
        out.append(
            f"Differential privacy clipped every update to length {c.clip_norm:g} and added Gaussian noise "
            f"(multiplier {c.noise_multiplier:g}, std {m['dp_noise_std']:.3g} per weight) to each average: "
            f"a noise vector of length about {noise:.2f} against an averaged update of length {update:.2f} "
            "in the last round"
            + ("; the noise outweighs the signal (more clients per round would dilute it)." if noise > update else ".")
        )
    return out


def _fedprox_sentences(result: Result) -> list[str]:
    """With FedProx beside plain FedAvg: what FedProx bought or cost on the same clients, and what it trades."""
    m, c = result.metrics, result.config
    if "fedavg_global_accuracy" not in m:
        return []
    g, avg = m["global_accuracy"], m["fedavg_global_accuracy"]
    worst, avg_worst = m["worst_client_accuracy"], m["fedavg_worst_client_accuracy"]
    kept = int((result.arrays["status"] == 3).sum())  # slow clients' partial updates FedProx used
    slow = (
        f" FedProx used {kept} partial updates from slow phones that FedAvg dropped (FedAvg waits for full work), "
        "so more clients were heard each round."
        if kept
        else ""
    )
    scores = f"{g:.1%} against {avg:.1%}, and {worst:.1%} against {avg_worst:.1%} for the worst-served client"
    if g >= avg + 0.01:
        head = f"FedProx beat plain FedAvg on the same clients by {100 * (g - avg):.1f} points ({scores})."
        trade = (
            f" What it trades: its pull (μ = {c.mu:g}) keeps each client near the shared model, less drift for "
            "slower progress, and here that paid off."
        )
    elif g <= avg - 0.01:
        head = f"FedProx trailed plain FedAvg on the same clients by {100 * (avg - g):.1f} points ({scores})."
        trade = (
            f" What it trades: its pull (μ = {c.mu:g}) keeps each client near the shared model, less drift for "
            "slower progress, and here the slower progress cost more than the drift it saved"
            + (": FedProx pays off when phones do uneven amounts of work (stragglers)." if not kept else ".")
        )
    else:
        head = f"FedProx and plain FedAvg on the same clients ended within a point of each other ({scores})."
        trade = f" Its pull (μ = {c.mu:g}) neither bought nor cost accuracy here."
    return [head + slow + trade]


def _verdict(result: Result) -> str:
    """One sentence, from the same thresholds as the quality sentences."""
    m = result.metrics
    g, cen = m["global_accuracy"], m["centralized_accuracy"]
    chance = 1 / result.arrays["counts"].shape[1]
    if g < chance + 0.1:
        return f"**The federation did not learn: its global model is close to guessing ({chance:.0%}).**"
    if cen - g <= 0.01:
        return "**Federated training matched training on the pooled data, without the data leaving the clients.**"
    return (
        f"**Federated training learned the task, at a cost of {(cen - g) * 100:.1f} points against training on the "
        "pooled data.**"
    )


def describe(result: Result) -> str:
    stopped = ["You stopped it early: these numbers come from the rounds that ran."] if result.stopped else []
    quality = _quality_sentences(result)
    return summary_text(
        _verdict(result),
        [quality[0], *stopped],
        [_partition_sentence(result), *quality[1:], *_fedprox_sentences(result), *_cost_sentences(result)],
    )
