"""GAN words: the plain-language reading of the run ("What just happened"), every sentence from the run's own
numbers. Pure functions of a Result (no torch)."""

from __future__ import annotations

from engine.core.contract import Result
from engine.gan.config import DATASET_TITLES, LOSS_TITLES


def _between(m: dict, name: str) -> float:
    """Where a measure sits between uniform noise (0) and a second real sample (1); NaN without a scale."""
    span = m[f"real_{name}"] - m[f"noise_{name}"]
    return (m[name] - m[f"noise_{name}"]) / span if span > 1e-9 else float("nan")


RECALL_COVERS = 0.75  # recall (as a share of real held-out data's) from which the samples cover the data


def verdict(m: dict) -> str:
    """ "noise" (precision no better than random points), "collapse" (high precision, low recall), "smeared"
    (low precision, high recall), "close" (both near real data) or "partial"."""
    precision = _between(m, "precision")
    recall = m["recall"] / m["real_recall"] if m["real_recall"] > 0 else 0.0
    if not precision >= 0.15:
        return "noise"
    if precision >= 0.5 and recall < 0.6:
        return "collapse"
    # Recall at 75% of real data's or more reads as covering the data: the quick preset lands at 80-91% on seeds
    # 0-7 (8 of 8 modes), so a line at 80% split its seeds by estimator noise (seed 2: 79.9%).
    if precision < 0.5:
        return "smeared" if recall >= RECALL_COVERS else "partial"
    return "close" if recall >= RECALL_COVERS else "partial"


def suggestion(config, kind: str) -> str:
    """The setting to change, read from the run's own config."""
    c, tips = config, []
    if max(c.g_learning_rate, c.d_learning_rate) > 0.01:
        tips.append(
            f"lower the learning rates (now {c.g_learning_rate:g} and {c.d_learning_rate:g}; the default is 0.002)"
        )
    if c.loss == "wgan_gp":
        companions = [
            f"{want} (now {now})"
            for want, now, wrong in (
                ("5 critic steps per generator step", c.d_steps, c.d_steps < 5),
                ("Adam β2 0.9", f"{c.g_beta2:g} / {c.d_beta2:g}", max(c.g_beta2, c.d_beta2) > 0.95),
                (
                    "gradient penalty weight 1 on 2-D data",
                    f"{c.gp_weight:g}",
                    c.dataset != "digits" and c.gp_weight > 3,
                ),
            )
            if wrong
        ]
        if companions:
            tips.append(
                "give the Wasserstein critic its companions, as the Wasserstein preset does: " + ", ".join(companions)
            )
    if kind == "collapse":
        tips.append("try a lower learning rate, a wider generator, the Wasserstein preset or another seed")
    if not tips:
        tips.append(f"train for more steps (now {c.steps:,})")
    return "Try: " + "; ".join(tips) + "."


def _quality_text(m: dict, digits: bool) -> str:
    text = (
        f" **Precision {m['precision']:.0%}**: share of its samples that land where real data lives (a second "
        f"real sample: {m['real_precision']:.0%}; uniform noise: {m['noise_precision']:.0%}). **Recall "
        f"{m['recall']:.0%}**: share of held-out real data its samples reach (real: {m['real_recall']:.0%}; "
        f"noise: {m['noise_recall']:.0%})."
    )
    if m["noise_recall"] >= 0.8 * m["real_recall"]:
        text += " Spread-out noise reaches most real points too, so recall only counts next to precision."
    if digits:
        return text + (
            f" A digits classifier ({m['classifier_accuracy']:.0%} accurate on held-out digits) "
            f"recognises **{m['class_coverage']:.0f} of 10** classes among its samples (uniform noise: "
            f"{m['noise_class_coverage']:.0f})."
        )
    return text + (
        f" It covers **{m['modes_covered']:.0f} of {m['modes_total']:.0f}** modes (uniform noise: "
        f"{m['noise_modes_covered']:.0f})."
    )


def _mmd_text(m: dict) -> str:
    trend = "fell" if m["mmd"] < m["mmd_start"] else "rose" if m["mmd"] > m["mmd_start"] else "stayed"
    text = (
        f" Its MMD to held-out data {trend} from {m['mmd_start']:.3g} to {m['mmd']:.3g} (a second real sample: "
        f"{m['real_mmd']:.3g}; uniform noise: {m['noise_mmd']:.3g})."
    )
    if m["noise_mmd"] < 1.5 * m["real_mmd"]:
        text += " On this data MMD barely tells noise from real samples: trust precision and recall here."
    return text


def describe(result: Result) -> str:
    m, c = result.metrics, result.config
    digits = c.dataset == "digits"
    head = (
        f"The generator trained for {m['steps_run']:,.0f} steps against the "
        f"{'critic' if c.loss == 'wgan_gp' else 'discriminator'} on the {DATASET_TITLES[c.dataset]} with the "
        f"{LOSS_TITLES[c.loss]} loss{' (you stopped it early)' if result.stopped else ''}."
    )
    kind = verdict(m)
    unit = "classes" if digits else "modes"
    reading = {
        "noise": f"**No better than noise:** its samples land on the data "
        f"{'less' if m['precision'] <= m['noise_precision'] else 'barely more'} often than random points "
        f"spread over the range (precision {m['precision']:.0%} vs {m['noise_precision']:.0%} for noise): "
        f"the generator has not learned the data. {suggestion(c, kind)}",
        "collapse": f"**Mode collapse:** high precision with low recall. Its samples look real but reach only "
        f"{m['recall']:.0%} of the real data ({m['real_recall']:.0%} for real samples): it found a few "
        f"outputs that fool the discriminator and stopped exploring the other {unit}. "
        f"{suggestion(c, kind)}",
        "smeared": f"**Spread out, not collapsed:** its samples reach most of the real data but many fall between "
        f"the {unit} (precision {m['precision']:.0%} vs {m['real_precision']:.0%} for real data). "
        f"{suggestion(c, kind)}",
        "partial": f"**Partly learned:** both precision and recall sit well below real data's. {suggestion(c, kind)}",
        "close": f"Precision has come {_between(m, 'precision'):.0%} of the way from noise to real data and recall is "
        f"{m['recall'] / m['real_recall']:.0%} of real data's: the samples lie mostly on the data and reach "
        f"most of it.",
    }[kind]
    return head + _quality_text(m, digits) + _mmd_text(m) + "\n\n" + reading
