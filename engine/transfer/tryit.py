"""Try it on the transfer page: your sentence (text track) or your drawn digit (images track) through every trained
strategy side by side, with per-word or per-pixel SHAP for the pretrained and the from-scratch model.

Text: the stored heads are rebuilt on top of the same pretrained encoder (it ships in a package, loaded offline);
the from-scratch model's vocabulary comes from the run's info or, for older stored runs, from its settings.
Images: every strategy's CNN is rebuilt from the stored weights (8x8 digits, 0 = blank, 1 = full ink).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from engine.core.data import DataError
from engine.core.explain import make_explanation, shapley_permutation
from engine.core.tryit import Answer, TryItUnavailable, bars, explain_output, heatmap, restore, token_bars
from engine.transfer.config import Config

if TYPE_CHECKING:
    from engine.transfer.text import StrategyInput

MAX_WORDS = 30  # words credited one by one (longer sentences keep their first 30 as players)
PERMUTATIONS = {"scratch": 10, "feature_extraction": 2}  # the encoder is the slow part: fewer samples there


@dataclass
class Bundle:
    track: str
    models: dict[str, nn.Module]  # strategy -> trained model
    labels: dict[str, str]  # strategy -> its name for people
    class_names: list[str]
    vocabulary: list[str] = field(default_factory=list)  # text: the words the from-scratch model knows
    examples: list[str] = field(default_factory=list)  # text: test sentences to start from
    X_test: np.ndarray | None = None  # images: (n, 1, 8, 8) test digits to start from
    y_test: np.ndarray | None = None  # images: each test digit's class (an index into class_names)
    background: torch.Tensor | None = None  # images: SHAP's reference digits


def _labels(config: Config, names) -> dict[str, str]:
    from engine.transfer.views import config_label

    return {n: config_label(n, config) for n in names}


def load(config: Config, weights: bytes, info: dict):
    return load_text(config, weights, info) if config.track == "text" else load_images(config, weights, info)


def load_text(config: Config, weights: bytes, info: dict) -> Bundle:
    from engine.transfer.data import labelled_split, load_texts, words
    from engine.transfer.text import WIDTH, TopLayerClassifier, encoder

    try:
        texts, y, classes, _title = load_texts(config)
    except DataError as err:
        raise TryItUnavailable(f"The sentences this run learned from are no longer here ({err}).") from err
    train_idx, test_idx = labelled_split(y, config.labels_per_class, config.seed)
    vocabulary = info.get("vocabulary") or sorted({w for i in train_idx for w in words(texts[i])})
    models: dict[str, nn.Module] = {
        "scratch": nn.Linear(len(vocabulary), len(classes)),
        "feature_extraction": nn.Linear(WIDTH, len(classes)),
    }
    if config.finetune_top:
        models["finetune"] = TopLayerClassifier(encoder("cpu")[0].auto_model.encoder.layer[-1], len(classes))
    for name, model in models.items():
        restore(model, weights, name)
    examples = [texts[i] for i in test_idx[:: max(1, len(test_idx) // 12)]][:12]
    bundle = Bundle("text", models, _labels(config, models), list(classes), list(vocabulary), examples)
    answer(bundle, {"sentence": examples[0]})  # warm-up: the encoder loads here, once per process
    return bundle


def load_images(config: Config, weights: bytes, info: dict) -> Bundle:
    from engine.transfer.data import digit_tasks, labelled_split
    from engine.transfer.images import STRATEGIES, small_cnn

    _X_src, _y_src, X_tgt, y_tgt, classes = digit_tasks(config.source)
    train_idx, test_idx = labelled_split(y_tgt, config.labels_per_class, config.seed)
    models = {name: restore(small_cnn(len(classes)), weights, name) for name in STRATEGIES}
    rng = np.random.default_rng(config.seed)
    pool = train_idx if len(train_idx) >= 50 else np.arange(len(X_tgt))
    background = torch.as_tensor(X_tgt[rng.choice(pool, min(50, len(pool)), replace=False)], dtype=torch.float32)
    X_test = X_tgt[test_idx]
    bundle = Bundle(
        "images",
        models,
        _labels(config, models),
        list(classes),
        X_test=X_test,
        y_test=np.asarray(y_tgt)[test_idx],
        background=background,
    )
    answer(bundle, {"image": X_test[0, 0]})  # warm-up: SHAP's first call
    return bundle


def answer(bundle: Bundle, inputs: dict) -> Answer:
    """Text: ``inputs["sentence"]``. Images: ``inputs["image"]``, an (8, 8) array in [0, 1]."""
    return (
        _answer_text(bundle, inputs["sentence"])
        if bundle.track == "text"
        else _answer_image(bundle, np.asarray(inputs["image"], dtype=np.float32))
    )


def examples(bundle: Bundle) -> list[dict]:
    """A few inputs (test sentences or digits) for benchmarks and tests."""
    if bundle.track == "text":
        return [{"sentence": s} for s in bundle.examples[:5]]
    if bundle.X_test is None:
        raise ValueError("This images bundle was built without its test digits.")
    return [{"image": im[0]} for im in bundle.X_test[:5]]


def _probabilities_text(bundle: Bundle, name: str, texts: list[str]) -> np.ndarray:
    """(n, C) class probabilities of one strategy for sentences."""
    from engine.transfer.data import bag_of_words
    from engine.transfer.text import embed, top_layer_inputs

    x: StrategyInput
    if name == "scratch":
        x = torch.as_tensor(bag_of_words(texts, bundle.vocabulary))
    elif name == "feature_extraction":
        x = torch.as_tensor(embed(texts, "cpu"))
    else:
        x = top_layer_inputs(texts, torch.device("cpu"))
    with torch.no_grad():
        return bundle.models[name](x).softmax(-1).double().numpy()


def _comparison(bundle: Bundle, probs: dict[str, np.ndarray], title: str):
    return bars(
        bundle.class_names,
        {bundle.labels[n]: p for n, p in probs.items()},
        title,
        "Each trained strategy's probability for every class, for your input.",
        x_title="class",
    )


def _answer_text(bundle: Bundle, sentence: str) -> Answer:
    sentence = " ".join(str(sentence).split())[:1000]
    if not sentence:
        raise TryItUnavailable("Type a sentence first.")
    probs = {n: _probabilities_text(bundle, n, [sentence])[0] for n in bundle.models}
    summary = {bundle.labels[n]: f"{bundle.class_names[int(p.argmax())]} ({p.max():.0%})" for n, p in probs.items()}
    tokens = sentence.split()[:MAX_WORDS]
    figs, exps = {"Class probabilities": _comparison(bundle, probs, "Every strategy's answer")}, {}
    for name in ("feature_extraction", "scratch"):
        k = int(probs[name].argmax())
        exp = word_shap(bundle, name, tokens, k)
        exps[name] = exp
        figs[f"Words: {bundle.labels[name]}"] = token_bars(
            exp, f"{bundle.labels[name]}: which words made it say {bundle.class_names[k]}"
        )
    return Answer(
        summary=summary,
        prediction={n: dict(zip(bundle.class_names, p.tolist())) for n, p in probs.items()},
        explanation=exps,
        figures=figs,
    )


def word_shap(bundle: Bundle, name: str, tokens: list[str], k: int):
    """Shapley values of each word for P(class k): a word is present or left out of the sentence."""

    def f(masks: np.ndarray) -> np.ndarray:  # (n, words) 0/1 -> (n,) probability of class k
        texts = [" ".join(w for w, keep in zip(tokens, mk) if keep > 0.5) for mk in masks]
        return _probabilities_text(bundle, name, texts)[:, k]

    values, base, full = shapley_permutation(f, len(tokens), permutations=PERMUTATIONS[name], seed=0)
    names = [f"{w} ({i + 1})" for i, w in enumerate(tokens)]
    return make_explanation(
        values,
        base,
        np.asarray(tokens),
        names,
        None,
        abs(base + values.sum() - full),
        f"Permutation sampling ({PERMUTATIONS[name]} antithetic pairs), word presence",
    )


def _answer_image(bundle: Bundle, image: np.ndarray) -> Answer:
    x = torch.as_tensor(np.clip(image, 0, 1).reshape(1, 1, 8, 8))
    probs = {}
    with torch.no_grad():
        for name, model in bundle.models.items():
            probs[name] = model(x).softmax(-1)[0].double().numpy()
    summary = {bundle.labels[n]: f"{bundle.class_names[int(p.argmax())]} ({p.max():.0%})" for n, p in probs.items()}
    figs = {
        "Your digit": heatmap(x.numpy()[0, 0], "Your digit", "The 8x8 image every strategy reads (ink 0-1)."),
        "Class probabilities": _comparison(bundle, probs, "Every strategy's answer"),
    }
    exps = {}
    for name in ("feature_extraction", "scratch"):
        k = int(probs[name].argmax())
        full = explain_output(bundle.models[name], x, bundle.background, k)
        values = np.asarray(full.values).reshape(8, 8)  # the predicted digit's output
        exps[name] = make_explanation(
            values[None],
            np.asarray(full.base_values),
            x.numpy()[:, 0],
            None,
            None,
            full.additivity_error,
            f"{full.method}; the predicted digit's output",
        )
        figs[f"Pixels: {bundle.labels[name]}"] = heatmap(
            values,
            f"{bundle.labels[name]}: pixels behind '{bundle.class_names[k]}'",
            "Red pixels push the predicted digit's score up, blue pixels push it down.",
            diverging=True,
        )
    return Answer(
        summary=summary,
        prediction={n: dict(zip(bundle.class_names, p.tolist())) for n, p in probs.items()},
        explanation=exps,
        figures=figs,
    )
