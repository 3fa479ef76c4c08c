"""Transfer pictures: accuracy per strategy, curves, label efficiency, mistakes, SHAP (words or pixels).

Pure functions of a stored run (no torch, no models); SHAP is computed in ``analysis``, the words are in ``summary``.
"""

from __future__ import annotations

import numpy as np

from engine.core import charts
from engine.core.contract import Result
from engine.transfer.config import STRATEGY_LABELS, Config


def label(name: str, result: Result) -> str:
    """A strategy's name as a person reads it, for this run's track and settings."""
    return config_label(name, result.config)


def config_label(name: str, c: Config) -> str:
    """A strategy's name as a person reads it, for a track and settings (:func:`label` of a run with ``c``)."""
    if name == "finetune":
        return "Fine-tune top layer" if c.track == "text" else "Fine-tune all, pretrained layers learning slower"
    if name == "finetune_last":
        return f"Fine-tune last {c.finetune_blocks} block(s)"
    if name == "scratch" and c.track == "text":
        return "From scratch (bag of words)"
    return STRATEGY_LABELS[name]


def _trained(result: Result) -> list[str]:
    return [s for s in result.info["strategies"] if f"accuracy_{s}" in result.metrics]


# --- results -----------------------------------------------------------------------------------------------


def accuracy_figure(result: Result, names: list[str]):
    m, chance = result.metrics, 1 / len(result.info["class_names"])
    fig = charts.bar(
        [label(s, result) for s in names],
        [m[f"accuracy_{s}"] for s in names],
        title=f"Test accuracy with {result.config.labels_per_class} labelled example(s) per class",
        x_title="accuracy",
        caption=f"Each bar is one strategy trained on the same labelled examples and tested on the same "
        f"{m['n_test']:.0f} held-out examples. The dashed line is guessing ({chance:.0%}).",
    )
    fig.add_hline(y=chance, line_dash="dash", line_color="grey")
    return fig


def curves(result: Result, names: list[str]) -> dict:
    h, m = result.history, result.metrics
    if not len(h):
        return {}
    sample = (
        f" (a fixed sample of {min(250, int(m['n_test']))} of them, to keep training fast)"
        if result.config.track == "images"
        else ""
    )
    return {
        "Learning curves": charts.learning_curves(
            h,
            [f"accuracy_{s}" for s in names if f"accuracy_{s}" in h],
            title="Test accuracy while training",
            unit=result.config.step_unit(),
            names={f"accuracy_{s}": label(s, result) for s in names},
            caption=f"Accuracy on the held-out examples{sample} after each pass over the labelled ones, per strategy.",
        ),
        "Training loss": charts.learning_curves(
            h,
            [f"loss_{s}" for s in names if f"loss_{s}" in h],
            title="Training loss",
            unit=result.config.step_unit(),
            names={f"loss_{s}": label(s, result) for s in names},
            caption="Loss on the labelled examples. A loss near zero with low test accuracy means the model "
            "memorised its few examples instead of learning the classes.",
        ),
    }


def sweep_figure(result: Result):
    import plotly.graph_objects as go

    sweep, info = result.arrays["sweep"], result.info
    fig = go.Figure()
    for s in info["sweep_strategies"]:
        if sweep.get(s):
            fig.add_trace(
                go.Scatter(
                    x=sweep["labels_per_class"][: len(sweep[s])],
                    y=sweep[s],
                    mode="lines+markers",
                    name=label(s, result),
                )
            )
    fig.add_hline(y=1 / len(info["class_names"]), line_dash="dash", line_color="grey")
    fig.add_vline(x=result.config.labels_per_class, line_dash="dot", line_color="black")
    fig.update_layout(
        title="Label efficiency: accuracy vs labelled examples per class",
        xaxis=charts.log_axis(
            [x for t in fig.data for x in t.x], at_data=True, title="labelled examples per class (log scale)"
        ),
        yaxis_title="test accuracy",
    )
    note = (
        " Text: fine-tuning is left out here to keep the sweep fast; each point averages 3 random splits."
        if result.config.track == "text"
        else ""
    )
    return charts.captioned(
        fig,
        "The picture that explains transfer learning: where one line sits above "
        "another with few labels, that strategy needs fewer labels for the same "
        "accuracy. The dotted line marks this run's labels per class." + note,
    )


def parameters_figure(result: Result, names: list[str]):
    import plotly.graph_objects as go

    counts, labels, text = (
        result.info["parameter_counts"],
        [label(s, result) for s in names],
        result.config.track == "text",
    )
    fig = go.Figure(
        [
            go.Bar(name="trainable", x=labels, y=[counts[s]["trainable"] for s in names]),
            go.Bar(name="frozen", x=labels, y=[counts[s]["frozen"] for s in names]),
        ]
    )
    fig.update_layout(
        barmode="stack",
        title="Trainable vs frozen parameters",
        yaxis=charts.log_axis(
            [n for s in names for n in (*counts[s].values(), sum(counts[s].values()))], title="parameters"
        )
        if text
        else dict(title="parameters"),
    )
    return charts.captioned(
        fig,
        "Frozen parameters keep what pretraining learned; only the trainable ones learn "
        "from your few labels." + (" Log scale: the encoder has millions of weights." if text else ""),
    )


def confusion_figure(result: Result, names: list[str]):
    """One confusion matrix per strategy, picked from a dropdown inside the figure."""
    a, labels = result.arrays, [label(s, result) for s in names]
    figs = [charts.confusion_matrix(a["y_test"], a[f"pred_{s}"], result.info["class_names"]) for s in names]
    fig = figs[0]
    for extra in figs[1:]:
        fig.add_trace(extra.data[0].update(visible=False))
    fig.update_layout(
        title=f"Confusion matrix: {labels[0]}",
        updatemenus=[
            dict(
                x=1.0,
                y=1.15,
                xanchor="right",
                buttons=[
                    dict(
                        label=lab,
                        method="update",
                        args=[{"visible": [j == i for j in range(len(names))]}, {"title": f"Confusion matrix: {lab}"}],
                    )
                    for i, lab in enumerate(labels)
                ],
            )
        ],
    )
    return charts.captioned(
        fig,
        "Rows are the true classes, columns the model's guesses: the diagonal is what "
        "it got right. Pick a strategy from the menu.",
    )


def misclassified_text_figure(result: Result, names: list[str]):
    import plotly.graph_objects as go

    a, classes = result.arrays, np.asarray(result.info["class_names"])
    wrong_all = np.flatnonzero(a["pred_feature_extraction"] != a["y_test"])
    wrong = wrong_all[:15]
    columns = {
        "sentence": a["texts"][a["test_idx"]][wrong],
        "true": classes[a["y_test"][wrong]],
        **{label(s, result): classes[a[f"pred_{s}"][wrong]] for s in names},
    }
    fig = go.Figure(go.Table(header=dict(values=list(columns)), cells=dict(values=[list(v) for v in columns.values()])))
    fig.update_layout(
        title=f"Test sentences the pretrained encoder got wrong ({len(wrong_all)} of {len(a['y_test'])}; first 15)"
    )
    return charts.captioned(
        fig,
        "Each row is a held-out sentence the frozen encoder + head misclassified, "
        "with every strategy's guess next to the true topic.",
    )


def embedding_figure(result: Result):
    import plotly.graph_objects as go

    a, classes = result.arrays, result.info["class_names"]
    P, y = a["embedding_2d"], a["y"]
    labelled = np.zeros(len(y), bool)
    labelled[a["train_idx"]] = True
    fig = go.Figure()
    for c, name in enumerate(classes):
        for is_lab in (False, True):
            sel = (y == c) & (labelled == is_lab)
            if sel.any():
                fig.add_trace(
                    go.Scatter(
                        x=P[sel, 0],
                        y=P[sel, 1],
                        mode="markers",
                        name=f"{name} (labelled)" if is_lab else name,
                        legendgroup=name,
                        text=a["texts"][sel],
                        hovertemplate="%{text}<extra>" + name + "</extra>",
                        marker=dict(
                            size=14 if is_lab else 7,
                            symbol="star" if is_lab else "circle",
                            color=charts.class_color(c),
                            line=dict(width=1, color="black") if is_lab else None,
                            opacity=1.0 if is_lab else 0.6,
                        ),
                    )
                )
    fig.update_layout(
        title="The pretrained encoder's sentence embeddings, projected to 2-D (PCA)",
        xaxis_title="component 1",
        yaxis_title="component 2",
    )
    return charts.captioned(
        fig,
        "Every sentence is a point; colour is its true topic and stars are the few "
        "labelled ones. The encoder was never told these topics, yet sentences on the "
        "same topic already sit together: that is why a small head needs so few labels.",
    )


def best_pretrained(result: Result) -> str:
    """The pretrained strategy with the highest test accuracy."""
    return max((s for s in _trained(result) if s != "scratch"), key=lambda s: result.metrics[f"accuracy_{s}"])


def misclassified_images_figure(result: Result):
    """The test images the best pretrained strategy got wrong, each titled "true → said" above its own tile."""
    a, classes, best = result.arrays, result.info["class_names"], best_pretrained(result)
    wrong = np.flatnonzero(a[f"pred_{best}"] != a["y_test"])[:24]
    titles = [f"{classes[a['y_test'][i]]} → {classes[a[f'pred_{best}'][i]]}" for i in wrong]
    return charts.image_grid(
        a["X_test"][wrong, 0],
        cols=8,
        titles=titles,
        title=f"Test images {label(best, result).lower()} got wrong "
        f"({int((a[f'pred_{best}'] != a['y_test']).sum())} of {len(a['y_test'])}; "
        f"first {len(wrong)})",
        caption="Above each image: true digit → the digit the model said. Many are genuinely ambiguous at 8x8 pixels.",
    )


def figures(result: Result) -> dict:
    names = _trained(result)
    if not names:
        return {}
    figs = {"Accuracy per strategy": accuracy_figure(result, names), **curves(result, names)}
    if "sweep" in result.arrays:
        figs["Label efficiency"] = sweep_figure(result)
    figs["Parameters"] = parameters_figure(result, names)
    figs["Confusion matrix"] = confusion_figure(result, names)
    if result.config.track == "text":
        figs["Misclassified sentences"] = misclassified_text_figure(result, names)
        figs["Encoder embeddings (2-D)"] = embedding_figure(result)
    else:
        figs["Misclassified images"] = misclassified_images_figure(result)
        figs["Augmented samples"] = charts.image_montage(
            result.arrays["augmented"].reshape(-1, 8, 8),
            cols=8,
            title="Augmented source images",
            row_labels=[f"image {i + 1}" for i in range(len(result.arrays["augmented"]))],
            caption="Each row: one pretraining image (left) and seven random rotations/shifts of it. Augmentation "
            "shows the network more variety than the raw images hold.",
        )
    return figs


# --- explain -----------------------------------------------------------------------------------------------


def words_figure(result: Result, explanation: dict) -> dict:
    """Both models' word SHAP on the explained sentence (``arrays["shap_sentence"]``, its index in the test set)."""
    import plotly.graph_objects as go

    a, titles = result.arrays, list(explanation)
    first, row = explanation[titles[0]], int(a["shap_sentence"])
    sentence, topic = str(a["texts"][a["test_idx"][row]]), result.info["class_names"][int(a["y_test"][row])]
    words_ = [n.rsplit(" (", 1)[0] for n in first.feature_names]
    z = np.stack([np.asarray(explanation[t].values) for t in titles])  # (2, words)
    lim = float(np.abs(z).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(len(words_))),
            y=[t.split(":")[0] for t in titles],
            colorscale=charts.DIVERGING,
            zmin=-lim,
            zmax=lim,
            text=[words_] * len(titles),
            texttemplate="%{text}",
            colorbar=dict(title="SHAP"),
            hovertemplate="%{text}: %{z:+.3f}<extra>%{y}</extra>",
        )
    )
    fig.update_layout(title=f"Which words pushed each model toward '{topic}'", xaxis=dict(visible=False), height=260)
    return {
        "Words that mattered": charts.captioned(
            fig,
            f"“{sentence}” (true topic: {topic}). Red words raised the model's probability of "
            "the true topic, blue words lowered it; a word the bag-of-words model never saw in its few "
            "labelled sentences cannot move it at all.",
        )
    }


def pixels_figures(result: Result, explanation: dict) -> dict:
    """Per model: each explained image's pixel SHAP (a slider picks the image; ``arrays["shap_images"]`` are the
    explained test images); then where each looks on average."""
    from engine.core.explain import global_importance

    classes, figs, rows = result.info["class_names"], {}, result.arrays["shap_images"]
    # one symmetric colour range for both models (and every image): the same red means the same push in each
    limit = max(float(np.abs(np.asarray(exp.values)).max()) for exp in explanation.values()) or 1.0
    for title, exp in explanation.items():
        digits = [f"{k + 1} (a {classes[result.arrays['y_test'][r]]})" for k, r in enumerate(rows)]
        figs[f"Pixel SHAP: {title}"] = charts.image_attribution_slider(
            np.asarray(exp.values),
            np.asarray(exp.data),
            labels=digits,
            title=f"{title}: which pixels made it say the true digit",
            caption="Red pixels pushed the model toward the true digit, blue pixels away; black lines outline "
            "the digit's strokes. The slider picks the same test images for both models, and both use one "
            "colour scale.",
            limit=limit,
        )
    maps = np.stack([global_importance(exp) for exp in explanation.values()])  # (2, 8, 8) mean |SHAP| per pixel
    figs["Where each model looks"] = charts.image_grid(  # each model's name as the heading of its own panel
        maps,
        cols=len(maps),
        titles=list(explanation),
        zmin=0,
        zmax=float(maps.max()) or 1.0,
        colorscale="Reds",
        title="Mean |SHAP| per pixel",
        caption="Darker pixels moved the true digit's score more, on average over the explained images: the "
        "strokes each model reads. Both maps share one colour scale.",
    )
    return figs


def explain_figures(result: Result, explanation) -> dict:
    if not explanation:
        return {}
    return words_figure(result, explanation) if result.config.track == "text" else pixels_figures(result, explanation)


def live_figure(snapshot):
    return None  # the live per-strategy accuracy curves say it all
