"""GAN words: the plain-language reading of the run ("What just happened"), every sentence from the run's own
numbers. Pure functions of a Result (no torch)."""

from __future__ import annotations

from engine.core.contract import Result
from engine.core.wording import summary_text
from engine.gan.config import COPY_LINE, DATASET_TITLES, LOSS_TITLES


def _between(m: dict, name: str) -> float:
    """Where a measure sits between uniform noise (0) and a second real sample (1); NaN without a scale."""
    span = m[f"real_{name}"] - m[f"noise_{name}"]
    return (m[name] - m[f"noise_{name}"]) / span if span > 1e-9 else float("nan")


RECALL_COVERS = 0.75  # recall (as a share of real held-out data's) from which the samples cover the data
RECALL_FAR_BELOW = 0.6  # recall under 60% of real data's is far below it (what a collapse looks like)
PRECISION_NEAR = 0.8  # precision 80% of the way from noise to real data or more: the samples look real
NOISE_LINE = 0.15  # precision under 15% of the way from noise to real data: no better than noise
PASS_PRECISION = 0.3  # to pass, precision at least 30% of the way from noise to real data (twice the noise line):
# the ring's quick preset, smeared between its blobs, lands at 44-64% on seeds 0-7, uniform noise at 0%
PASSING = ("close", "gaps", "smeared")  # the readings that can pass (see ``passes``)


def copies(m: dict) -> bool:
    """Whether its samples sit on the training points: nearer to them than COPY_LINE of held-out data's distance
    (runs stored before the copying check have no ``copy_ratio``: False)."""
    return m.get("copy_ratio", float("nan")) < COPY_LINE


def _recall_share(m: dict) -> float:
    return m["recall"] / m["real_recall"] if m["real_recall"] > 0 else 0.0


def _coverage(m: dict) -> tuple[float, float]:
    """(modes or classes its samples cover, how many there are)."""
    if "class_coverage" in m:
        return m["class_coverage"], m.get("classes_total", 10)
    return m["modes_covered"], m["modes_total"]


def verdict(m: dict) -> str:
    """Which reading the numbers support, each with the conditions its words claim:

    - "copies": its samples sit on its training points (``copies``), whatever precision and recall say (a copy
      of the training set scores like real data on both);
    - "noise": precision under 15% of the way from uniform noise to real data;
    - "close": precision near real data's (80% of the way or more) and recall at 75% of real data's or more;
    - "collapse": precision near real data's, recall far below (under 60% of real data's) and some modes or
      classes never produced;
    - "narrow": precision near real data's and recall far below, yet every mode or class is produced;
    - "gaps": precision near real data's, recall a little below (60-75% of real data's);
    - "smeared": precision below real data's (short of 80% of the way), recall at 75% of real data's or more;
    - "partial": both below: precision short of 80% of the way and recall under 75% of real data's.
    """
    precision, recall = _between(m, "precision"), _recall_share(m)
    if copies(m):
        return "copies"
    if not precision >= NOISE_LINE:
        return "noise"
    # Recall at 75% of real data's or more reads as covering the data: the quick preset lands at 80-91% on seeds
    # 0-7 (8 of 8 modes), so a line at 80% split its seeds by estimator noise (seed 2: 79.9%).
    if precision < PRECISION_NEAR:
        return "smeared" if recall >= RECALL_COVERS else "partial"
    if recall >= RECALL_COVERS:
        return "close"
    if recall >= RECALL_FAR_BELOW:
        return "gaps"
    covered, total = _coverage(m)
    return "narrow" if covered >= total else "collapse"


def passes(m: dict) -> bool:
    """Whether the generator learned the data: a reading in PASSING ("close", "gaps" or "smeared": recall at 60% of
    real data's or more, no copying), precision at least PASS_PRECISION of the way from uniform noise to real data
    and an MMD below uniform noise's. Uniform noise ("noise"), a point mass at the modes ("narrow" or "collapse":
    recall near 0) and a copy of the training set ("copies") all fail."""
    return verdict(m) in PASSING and _between(m, "precision") >= PASS_PRECISION and m["mmd"] < m["noise_mmd"]


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
    if kind == "copies":
        tips.append("train for fewer steps or with a smaller generator, so it cannot store its training points")
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
    return text


def _coverage_text(m: dict, digits: bool) -> str:
    if digits:
        return (
            f"A digits classifier ({m['classifier_accuracy']:.0%} accurate on held-out digits) "
            f"recognises **{m['class_coverage']:.0f} of 10** classes among its samples (uniform noise: "
            f"{m['noise_class_coverage']:.0f})."
        )
    return (
        f"It covers **{m['modes_covered']:.0f} of {m['modes_total']:.0f}** modes (uniform noise: "
        f"{m['noise_modes_covered']:.0f})."
    )


def _copy_text(m: dict) -> str:
    if "copy_ratio" not in m:  # stored before the copying check
        return ""
    return (
        f"Copies its training points: **{'yes' if copies(m) else 'no'}** (its samples lie {m['copy_ratio']:.2f}x as "
        f"far from their nearest training sample as held-out real data does; a second real sample: "
        f"{m['real_copy_ratio']:.2f}x, an exact copy: 0)."
    )


def _pass_text(m: dict) -> str:
    if "copy_ratio" not in m:
        return ""
    return (
        f"Learned the data (beats uniform noise on precision and MMD, reaches the real data, copies nothing): "
        f"**{'yes' if passes(m) else 'no'}**."
    )


def _kept_text(m: dict, config) -> str:
    """Which generator the numbers measure when the run kept its best snapshot (runs before it: none)."""
    kept, ran = m.get("kept_step"), m["steps_run"]
    if not getattr(config, "keep_best", False) or kept is None:
        return ""
    if kept >= ran:
        return f"Of its snapshots, the last one (step {ran:,.0f}) came closest to its training data, so it was kept."
    return (
        f"It kept the generator from step {kept:,.0f} of {ran:,.0f}, the snapshot closest to its training data "
        "(later ones drifted away): every number here measures that generator."
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


def _reading(m: dict, kind: str, unit: str) -> str:
    """The verdict sentence: its words claim only what ``verdict`` checked for ``kind``."""
    p, rp, r, rr = m["precision"], m["real_precision"], m["recall"], m["real_recall"]
    covered, total = _coverage(m)
    return {
        "copies": f"**Copies its training data:** its samples sit {m.get('copy_ratio', 0):.2f}x as far from their "
        f"nearest training sample as held-out real data does (fresh samples: about 1): it reproduces the points it "
        f"trained on instead of drawing new ones, so its precision ({p:.0%}) and recall ({r:.0%}) show the training "
        f"set, not what it learned.",
        "noise": f"**No better than noise:** its samples land on the data "
        f"{'less' if p <= m['noise_precision'] else 'barely more'} often than random points spread over the range "
        f"(precision {p:.0%} vs {m['noise_precision']:.0%} for noise): the generator has not learned the data.",
        "collapse": f"**Mode collapse:** high precision with low recall; its samples look real (precision {p:.0%}, "
        f"real data {rp:.0%}) but reach only {r:.0%} of the real data (real data {rr:.0%}) and cover "
        f"{covered:.0f} of {total:.0f} {unit}: it found a few outputs that fool the discriminator and stopped "
        f"exploring the rest.",
        "narrow": f"**Real-looking but narrow:** its samples look real (precision {p:.0%}, real data {rp:.0%}) and "
        f"touch all {total:.0f} {unit}, yet reach only {r:.0%} of the real data (real data {rr:.0%}): they "
        f"crowd into part of each.",
        "gaps": f"**Real-looking, with gaps:** its samples look real (precision {p:.0%}, real data {rp:.0%}) and "
        f"reach {r:.0%} of the real data, a little short of real data's {rr:.0%}.",
        "smeared": f"**Spread out, not collapsed:** its samples reach most of the real data (recall {r:.0%} vs "
        f"{rr:.0%}) but many fall between the {unit} (precision {p:.0%} vs {rp:.0%} for real data).",
        "partial": f"**Partly learned:** both precision ({p:.0%} vs {rp:.0%}) and recall ({r:.0%} vs {rr:.0%}) "
        f"sit below real data's.",
        "close": f"**Close to real data:** its samples land on the data nearly as often as real samples do "
        f"(precision {p:.0%} vs {rp:.0%}; uniform noise {m['noise_precision']:.0%}) and reach most of it (recall "
        f"{r:.0%} vs {rr:.0%}).",
    }[kind]


def describe(result: Result) -> str:
    m, c = result.metrics, result.config
    digits = c.dataset == "digits"
    steps = f"{m['steps_run']:,.0f}"
    head = (
        f"The generator trained for {steps} steps against the "
        f"{'critic' if c.loss == 'wgan_gp' else 'discriminator'} on the {DATASET_TITLES[c.dataset]} with the "
        f"{LOSS_TITLES[c.loss]} loss."
    )
    kind = verdict(m)
    stopped = (
        [
            f"You stopped it early, after {steps} of {c.steps:,} steps: these numbers come from a partly trained "
            "generator."
        ]
        if result.stopped
        else []
    )
    expected = c.expectation()  # said before Train too: these settings are not expected to learn this data
    more = [
        _pass_text(m),
        _copy_text(m),
        *([expected] if expected else []),
        *([] if kind == "close" else [suggestion(c, kind)]),
        head,
        _quality_text(m, digits),
        _mmd_text(m),
    ]
    kept = _kept_text(m, c)
    support = [
        _coverage_text(m, digits),
        *stopped,
        *([kept] if kept else []),
    ]  # the lead: the verdict and one number behind it
    return summary_text(_reading(m, kind, "classes" if digits else "modes"), support, more)
