"""Transfer, worker side: SHAP of the trained classifiers (words or pixels; needs torch and the models)."""

from __future__ import annotations

import numpy as np

from engine.core.contract import Result
from engine.transfer.views import _trained, label


def chosen_sentence(result: Result) -> int:
    """A test sentence where the pretrained head is right and scratch is wrong (else the first test sentence)."""
    a = result.arrays
    good = np.flatnonzero((a["pred_feature_extraction"] == a["y_test"]) & (a["pred_scratch"] != a["y_test"]))
    return int(good[0]) if len(good) else 0


def explain_text(result: Result) -> dict:
    """Word-level SHAP for both classifiers on one test sentence: the probability of its true topic.

    A word is a player: the sentence is rebuilt without the removed words and passed through the encoder
    (or the bag of words) again, so the values are exact Shapley values of that set function, sampled.
    """
    import torch

    from engine.core.explain import make_explanation, shapley_permutation
    from engine.transfer.data import bag_of_words
    from engine.transfer.text import embed

    a, info = result.arrays, result.info
    row = chosen_sentence(result)
    sentence, true = str(a["texts"][a["test_idx"][row]]), int(a["y_test"][row])
    tokens = sentence.split()[:40]  # features: the sentence's words, in order
    topic = info["class_names"][true]

    def probability(name):
        def f(masks: np.ndarray) -> np.ndarray:  # masks (n, words) of 0/1 -> (n,) probability of the true topic
            texts = [" ".join(w for w, keep in zip(tokens, mk) if keep > 0.5) for mk in masks]
            X = (
                embed(texts, info["device"])
                if name == "feature_extraction"
                else bag_of_words(texts, info["vocabulary"])
            )  # (n, 384) or (n, V)
            with torch.no_grad():
                return torch.softmax(result.models[name](torch.as_tensor(X)), -1)[:, true].double().numpy()

        return f

    out = {}
    for name in ("feature_extraction", "scratch"):
        values, base, full = shapley_permutation(probability(name), len(tokens), seed=result.config.seed)
        exp = make_explanation(
            values,
            base,
            np.asarray(tokens),
            [f"{w} ({i + 1})" for i, w in enumerate(tokens)],
            None,
            abs(base + values.sum() - full),
            "Permutation (word presence, model-agnostic)",
        )
        out[f"{label(name, result)}: P({topic})"] = exp
    return out


def explained_images(result: Result) -> np.ndarray:
    """The six test images pixel SHAP explains (indices into the test set), the same for both models."""
    n = len(result.arrays["X_test"])
    return np.random.default_rng(result.config.seed).choice(n, min(6, n), replace=False)


def explain_images(result: Result) -> dict:
    """Pixel SHAP of the true digit's logit on six test images, pretrained (frozen) vs from scratch."""
    import torch

    from engine.core.explain import explain_torch, make_explanation

    a, classes = result.arrays, result.info["class_names"]
    rows = explained_images(result)
    true = a["y_test"][rows]
    out = {}
    for name in ("feature_extraction", "scratch"):
        full = explain_torch(
            result.models[name],
            torch.as_tensor(a["X_test"][rows]),  # values (6, 1, 8, 8, C)
            torch.as_tensor(a["background"]),
            output_names=classes,
        )
        k = np.arange(len(rows))
        exp = make_explanation(
            np.asarray(full.values)[k, 0, :, :, true],
            np.asarray(full.base_values)[k, true],
            a["X_test"][rows, 0],
            None,
            None,
            full.additivity_error,  # (6, 8, 8) true digit only
            f"{full.method}; the true digit's output",
        )
        out[label(name, result)] = exp
    return out


def explainable(result: Result) -> bool:
    """Whether there is something to explain: the strategies trained (a run stopped before they did has none)."""
    return bool(_trained(result)) and "pred_scratch" in result.arrays


def explain(result: Result):
    """Text: word-level SHAP of both classifiers on one sentence. Images: pixel SHAP, pretrained vs scratch."""
    if not explainable(result):
        return None
    return explain_text(result) if result.config.track == "text" else explain_images(result)


def measure(result: Result) -> dict:
    """What the SHAP charts show beside the values (a stored explanation keeps only values and names): the explained
    test sentence (``shap_sentence``, its index in the test set) or test images (``shap_images``)."""
    if not explainable(result):
        return {}
    if result.config.track == "text":
        return {"shap_sentence": chosen_sentence(result)}
    return {"shap_images": explained_images(result)}
