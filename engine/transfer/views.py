"""Figure builders for :func:`engine.transfer.figures`: pure functions, arrays and info in, ``go.Figure`` out."""
from __future__ import annotations

import math

import numpy as np

from engine.core import charts
from engine.transfer.common import _label


def _sweep_figure(sweep: dict, info: dict, chance: float):
    import plotly.graph_objects as go

    fig = go.Figure()
    for s in info["sweep_strategies"]:
        if sweep.get(s):
            fig.add_trace(go.Scatter(x=sweep["labels_per_class"][: len(sweep[s])], y=sweep[s], mode="lines+markers",
                                     name=_label(s, info)))
    fig.add_hline(y=chance, line_dash="dash", line_color="grey")
    fig.add_vline(x=info["labels_per_class"], line_dash="dot", line_color="black")
    fig.update_layout(title="Label efficiency: accuracy vs labelled examples per class",
                      xaxis=dict(title="labelled examples per class", type="log"), yaxis_title="test accuracy")
    note = (" Text: fine-tuning is left out here to keep the sweep fast; each point averages 3 random splits."
            if info["track"] == "text" else "")
    return charts.captioned(fig, "The picture that explains transfer learning: where one line sits above "
                                 "another with few labels, that strategy needs fewer labels for the same "
                                 "accuracy. The dotted line marks this run's labels per class." + note)


def _confusion_dropdown(a, info, names, labels):
    """One confusion matrix per strategy, picked from a dropdown inside the figure."""
    figs = [charts.confusion_matrix(a["y_test"], a[f"pred_{s}"], info["class_names"]) for s in names]
    fig = figs[0]
    for extra in figs[1:]:
        fig.add_trace(extra.data[0].update(visible=False))
    n = len(names)
    fig.update_layout(
        title=f"Confusion matrix: {labels[0]}",
        updatemenus=[dict(x=1.0, y=1.15, xanchor="right", buttons=[
            dict(label=lab, method="update", args=[{"visible": [j == i for j in range(n)]},
                                                   {"title": f"Confusion matrix: {lab}"}])
            for i, lab in enumerate(labels)])])
    return charts.captioned(fig, "Rows are the true classes, columns the model's guesses: the diagonal is what "
                                 "it got right. Pick a strategy from the menu.")


def _misclassified_text(a, info, names):
    import plotly.graph_objects as go

    classes = np.asarray(info["class_names"])
    pick = "feature_extraction"
    wrong = np.flatnonzero(a[f"pred_{pick}"] != a["y_test"])[:15]
    texts = a["texts"][a["test_idx"]]
    columns = {"sentence": texts[wrong], "true": classes[a["y_test"][wrong]]}
    for s in names:
        columns[_label(s, info)] = classes[a[f"pred_{s}"][wrong]]
    fig = go.Figure(go.Table(header=dict(values=list(columns)), cells=dict(values=[list(v) for v in columns.values()])))
    n_wrong = int((a[f"pred_{pick}"] != a["y_test"]).sum())
    fig.update_layout(title=f"Test sentences the pretrained encoder got wrong ({n_wrong} of {len(a['y_test'])}; "
                            "first 15)")
    return charts.captioned(fig, "Each row is a held-out sentence the frozen encoder + head misclassified, "
                                 "with every strategy's guess next to the true topic.")


def _embedding_figure(a, info):
    import plotly.graph_objects as go

    P, y, classes = a["embedding_2d"], a["y"], info["class_names"]
    labelled = np.zeros(len(y), bool)
    labelled[a["train_idx"]] = True
    fig = go.Figure()
    for c, name in enumerate(classes):
        for is_lab in (False, True):
            sel = (y == c) & (labelled == is_lab)
            if not sel.any():
                continue
            fig.add_trace(go.Scatter(
                x=P[sel, 0], y=P[sel, 1], mode="markers", name=f"{name} (labelled)" if is_lab else name,
                legendgroup=name, text=a["texts"][sel], hovertemplate="%{text}<extra>" + name + "</extra>",
                marker=dict(size=14 if is_lab else 7, symbol="star" if is_lab else "circle",
                            color=charts_colour(c), line=dict(width=1, color="black") if is_lab else None,
                            opacity=1.0 if is_lab else 0.6)))
    fig.update_layout(title="The pretrained encoder's sentence embeddings, projected to 2-D (PCA)",
                      xaxis_title="component 1", yaxis_title="component 2")
    return charts.captioned(fig, "Every sentence is a point; colour is its true topic and stars are the few "
                                 "labelled ones. The encoder was never told these topics, yet sentences on the "
                                 "same topic already sit together: that is why a small head needs so few labels.")


def charts_colour(i: int) -> str:
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly
    return palette[i % len(palette)]


def _mosaic(images: np.ndarray, ncols: int, title: str, labels: list[str] | None = None):
    """Tile (n, 8, 8) images into one heatmap with 1-pixel gaps; optional text under each tile."""
    import plotly.graph_objects as go

    n = len(images)
    nrows = max(1, math.ceil(n / ncols))
    canvas = np.full((nrows * 9 + 1, ncols * 9 + 1), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[1 + r * 9: 1 + r * 9 + 8, 1 + c * 9: 1 + c * 9 + 8] = img
    fig = go.Figure(go.Heatmap(z=canvas, colorscale="Greys", showscale=False, hoverinfo="skip"))
    for i, lab in enumerate(labels or []):
        r, c = divmod(i, ncols)
        fig.add_annotation(x=1 + c * 9 + 3.5, y=1 + r * 9 + 8.3, text=lab, showarrow=False, font=dict(size=10),
                           yanchor="top")
    fig.update_layout(title=title, height=120 + 90 * nrows, xaxis=dict(visible=False, constrain="domain"),
                      yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"))
    return fig


def _misclassified_images(a, info, names, m):
    best = max((s for s in names if s != "scratch"), key=lambda s: m[f"accuracy_{s}"])
    wrong = np.flatnonzero(a[f"pred_{best}"] != a["y_test"])[:24]
    classes = info["class_names"]
    labels = [f"{classes[a['y_test'][i]]}→{classes[a[f'pred_{best}'][i]]}" for i in wrong]
    fig = _mosaic(a["X_test"][wrong, 0] if len(wrong) else np.zeros((0, 8, 8)), ncols=8, labels=labels,
                  title=f"Test images the best transfer strategy ({_label(best, info)}) got wrong")
    return charts.captioned(fig, "Under each image: true digit → predicted digit. Many are genuinely ambiguous "
                                 "at 8x8 pixels.")
