"""Self-supervised learning pictures: training curves, the embedding moving from a blur to clusters, label
efficiency, robustness, what augmentation does, similarities and neighbours, SHAP.

Pure functions of a stored run (no torch, no models); SHAP is computed in ``analysis``, the words are in
``summary``."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from engine.core import charts
from engine.core.contract import Result

DIGIT_COLORS = qualitative.D3  # ten distinguishable colours, one per digit
AXIS = 2.6  # projections are scaled to unit spread: this window holds nearly every point in every frame


def figures(result: Result) -> dict:
    a, m, h = result.arrays, result.metrics, result.history
    figs = {}
    training = h[h["loss"].notna()] if "loss" in h else h.iloc[0:0]
    if len(training):
        figs["Training"] = charts.learning_curves(
            training,
            ["loss", "knn_accuracy"],
            names={"loss": "pretraining loss", "knn_accuracy": "nearest-neighbour (k-NN) accuracy"},
            title="Pretraining loss and k-NN accuracy",
            unit=result.config.step_unit(),
            caption=f"The loss is the self-supervised objective (no labels). k-NN accuracy (right axis): each of "
            f"{len(a['monitor_labels'])} test digits takes the label of its {result.info['knn_k']} nearest "
            f"labelled digit(s) in the encoder's feature space; it rises when digits of a kind cluster.",
        )
    figs["Embedding over training"] = embedding_animation(a["frames"], a["monitor_labels"])
    figs["Before and after"] = before_after(a["frames"], a["monitor_labels"])
    if any("supervised" in r for r in a["efficiency"]):
        figs["Label efficiency"] = label_efficiency(a["efficiency"], result.config.label_fraction)
    figs["Robustness"] = robustness(m)
    title, caption = augmented_pairs_words(result.config.method)
    figs["Augmented pairs"] = charts.image_montage(
        a["gallery"].transpose(1, 0, 2, 3).reshape(-1, 8, 8),
        8,
        row_labels=["original", "view 1", "view 2"],
        title=title,
        caption=caption,
    )
    figs["Batch similarity"] = batch_similarity(a["batch_similarity"], result.config.method)
    figs["Similarity to one digit"] = similarity_to_one(a)
    figs["Nearest neighbours"] = nearest_neighbours(a)
    figs["Perturbed test digits"] = charts.image_montage(
        np.concatenate([a["X_test"][:10, 0], a["X_robust"][:10, 0]]),
        10,
        row_labels=["test digit", "perturbed"],
        title="The robustness check's perturbed test copy",
        caption="Every test digit is shifted by up to a pixel, made fainter, given noise and, half the time, a "
        "blanked hole. The same recipe in every run, so the robust accuracies compare across settings.",
    )
    figs["Probe confusion matrix"] = charts.confusion_matrix(
        a["y_test"],
        a["pred_probe"],
        result.info["class_names"],
        title="Linear probe on the pretrained encoder: confusion matrix on the test digits",
    )
    return figs


def _digit_traces(xy: np.ndarray, labels: np.ndarray, show_legend: bool = True) -> list[go.Scatter]:
    return [
        go.Scatter(
            x=xy[labels == d, 0],
            y=xy[labels == d, 1],
            mode="markers",
            name=str(d),
            legendgroup=str(d),
            showlegend=show_legend,
            marker=dict(size=6, color=DIGIT_COLORS[d], line=dict(width=0.5, color="white")),
        )
        for d in range(10)
    ]


def _square(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(range=[-AXIS, AXIS], zeroline=False, title="PCA 1", constrain="domain")
    fig.update_yaxes(range=[-AXIS, AXIS], zeroline=False, title="PCA 2", scaleanchor="x")
    return fig


def embedding_animation(frames: np.ndarray, labels: np.ndarray) -> go.Figure:
    """Frame 0 is the random encoder; frame e the encoder after epoch e."""
    ticks = list(range(len(frames)))
    fig = go.Figure(_digit_traces(frames[0], labels))
    fig.frames = [go.Frame(data=_digit_traces(xy, labels), name=str(t)) for t, xy in zip(ticks, frames)]
    fig.update_layout(
        title="Test digits in the encoder's feature space, epoch by epoch",
        height=560,
        legend=dict(title="digit"),
        **charts.play_controls(ticks, 300, y=-0.12, prefix="epoch ", from_start=True),
    )
    return charts.captioned(
        _square(fig),
        "Each dot is a test digit (never seen in pretraining), placed by a 2-D PCA "
        "of its features and coloured by its true label, which the encoder never saw. Press "
        "Play: epoch 0 is the random encoder; as pretraining runs, digits of a kind gather into "
        "clusters. Each frame is rotated to match the one before, so only learning moves the dots.",
    )


def before_after(frames: np.ndarray, labels: np.ndarray) -> go.Figure:
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Random encoder (before)", "Pretrained encoder (after)"),
        horizontal_spacing=0.06,
    )
    for col, (xy, legend) in enumerate(((frames[0], False), (frames[-1], True)), start=1):
        for trace in _digit_traces(xy, labels, legend):
            fig.add_trace(trace, 1, col)
    fig.update_layout(
        title="Feature space before and after pretraining (PCA, coloured by true digit)",
        height=460,
        legend=dict(title="digit"),
    )
    fig.update_xaxes(range=[-AXIS, AXIS], zeroline=False, constrain="domain")
    fig.update_yaxes(range=[-AXIS, AXIS], zeroline=False)
    fig.update_yaxes(scaleanchor="x", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    return charts.captioned(
        fig,
        "The same test digits through the encoder at its random start and after "
        "pretraining, with no labels involved. Separate colour clusters mean a simple "
        "classifier will need few labels to tell the digits apart.",
    )


def label_efficiency(rows: list[dict], chosen: float) -> go.Figure:
    rows = sorted((r for r in rows if "supervised" in r), key=lambda r: r["n_labelled"])
    n = [r["n_labelled"] for r in rows]
    fig = go.Figure()
    for key, name, dash in (
        ("probe", "self-supervised + linear probe", "solid"),
        ("random_init", "random encoder + linear probe", "dot"),
        ("supervised", "supervised on the labels only", "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=n,
                y=[r[key] for r in rows],
                mode="lines+markers",
                name=name,
                line=dict(dash=dash),
                hovertemplate="%{x} labels: %{y:.1%}<extra>" + name + "</extra>",
            )
        )
    chosen_n = next(r["n_labelled"] for r in rows if np.isclose(r["label_fraction"], chosen))
    fig.add_vline(x=chosen_n, line_dash="dot", line_color="grey")
    fig.update_layout(
        title="Label efficiency: test accuracy against labelled digits used",
        xaxis=charts.log_axis(n, at_data=True, title="labelled training digits (log scale)"),
        yaxis=dict(title="test accuracy", tickformat=".0%"),
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "The same test digits, the same labelled digits for all three at each point. Where "
        "the solid line sits above the dotted one, pretraining without labels made the "
        "features more useful; the gap usually shrinks as labels grow. The grey line marks "
        "this run's label share.",
    )


def robustness(m: dict) -> go.Figure:
    names = ["self-supervised probe", "random-encoder probe"]
    clean = [m["linear_probe_accuracy"], m["random_init_probe_accuracy"]]
    robust = [m["robust_probe_accuracy"], m["robust_random_init_accuracy"]]
    if "supervised_accuracy" in m:
        names.append("supervised")
        clean.append(m["supervised_accuracy"])
        robust.append(m["robust_supervised_accuracy"])
    fig = go.Figure(
        [
            go.Bar(name="clean test digits", x=names, y=clean, text=[f"{v:.0%}" for v in clean]),
            go.Bar(name="perturbed copy", x=names, y=robust, text=[f"{v:.0%}" for v in robust]),
        ]
    )
    fig.update_layout(
        title="Robustness: accuracy on clean and perturbed test digits",
        barmode="group",
        yaxis=dict(title="test accuracy", tickformat=".0%", range=[0, 1]),
        legend=dict(orientation="h", y=-0.15),
    )
    fig.add_hline(y=0.1, line_dash="dash", line_color="grey")
    return charts.captioned(
        fig,
        "The same classifiers on the test digits and on a shifted, fainter, noisy, partly "
        "erased copy of them. The dashed line is guessing (10%). The supervised network saw "
        "no augmentations, only the labelled digits themselves.",
    )


def augmented_pairs_words(method: str) -> tuple[str, str]:
    """The gallery's title and caption: what the two views are for depends on the method."""
    if method == "simclr":
        return (
            "Augmented pairs: two random views of each digit",
            "Each column is one training digit and the two random views SimCLR compares. The augmentation "
            "settings decide how different the views are: too alike and the task is trivial, too different and "
            "nothing links them.",
        )
    return (
        "Two random views of each digit (for the similarity checks, not for training)",
        "Masked-pixel prediction never compares views: it learns by filling in hidden 2x2 patches of each "
        "digit. These random views come from the augmentation settings (hidden while this method is chosen) and "
        "only test its features below: do two views of one digit still look alike to the encoder?",
    )


def batch_similarity(sim: np.ndarray, method: str) -> go.Figure:
    n = len(sim) // 2
    labels = [f"{i + 1}a" for i in range(n)] + [f"{i + 1}b" for i in range(n)]
    fig = go.Figure(charts.cosine_heatmap(sim, labels, "%{y} vs %{x}"))
    pos = list(range(n)) + list(range(n, 2 * n))
    partner = list(range(n, 2 * n)) + list(range(n))
    fig.add_trace(
        go.Scatter(
            x=[labels[j] for j in partner],
            y=[labels[i] for i in pos],
            mode="markers",
            name="positive pair",
            marker=dict(symbol="square-open", size=14, color="black"),
        )
    )
    space = (
        "projections z that the NT-Xent loss compares"
        if method == "simclr"
        else "features h (centred), the masked method has no projection head"
    )
    fig.update_layout(
        title="Similarity within one batch: two views of each of 12 digits",
        height=560,
        yaxis=dict(autorange="reversed", scaleanchor="x"),
        legend=dict(orientation="h", y=-0.1),
    )
    return charts.captioned(
        fig,
        f"Cosine similarity between every pair of the 24 views ({space}). Views 'a' and "
        f"'b' with the same number come from the same digit (black squares: the positive "
        f"pairs); every other cell is a negative pair. "
        + (
            "Contrastive learning makes the squares red and the rest pale or blue."
            if method == "simclr"
            else "The masked method never trained on pairs: red squares here mean that filling in hidden patches "
            "taught it features that two views of a digit share anyway."
        ),
    )


def similarity_to_one(a: dict) -> go.Figure:
    """For one test digit of each class (slider): cosine similarity to its augmented views, to the other test digits
    of its class and to the other digits, before and after pretraining."""
    y, queries = a["y_test"], a["queries"]
    groups = ("its augmented views", "same digit", "other digits")

    def traces(q: int) -> list[go.Box]:
        same = (y == y[queries[q]]) & (np.arange(len(y)) != queries[q])
        out = []
        for s, (when, color) in enumerate((("before (random encoder)", "#999999"), ("after pretraining", "#1f77b4"))):
            values = [a["sim_views"][s, q], a["sim_test"][s, q][same], a["sim_test"][s, q][y != y[queries[q]]]]
            out.append(
                go.Box(
                    x=np.repeat(groups, [len(v) for v in values]),
                    y=np.concatenate(values),
                    name=when,
                    boxpoints="all",
                    jitter=0.5,
                    pointpos=0,
                    marker=dict(size=3, color=color),
                    line=dict(color=color),
                    offsetgroup=str(s),
                )
            )
        return out

    fig = go.Figure(traces(0))
    names = [f"digit {y[q]}" for q in queries]
    fig.frames = [go.Frame(data=traces(q), name=n) for q, n in enumerate(names)]
    fig.update_layout(
        title="Cosine similarity of one test digit to its augmentations and to other digits",
        boxmode="group",
        yaxis=dict(title="cosine similarity", range=[-1, 1.05]),
        height=520,
        legend=dict(orientation="h", y=1.08),
        **charts.play_controls(names, 1200, y=-0.15, prefix=""),
    )
    return charts.captioned(
        fig,
        "Pick a digit with the slider. Each dot is the cosine similarity of its features "
        "(centred on the training digits' mean) to another image. After good pretraining its "
        "own augmented views and the other examples of its digit sit high, other digits low.",
    )


def nearest_neighbours(a: dict) -> go.Figure:
    """Each query digit with its 8 nearest training digits, before (top row) and after (bottom row)."""
    X, y_train, queries = a["X_train"][:, 0], a["y_train"], a["queries"]

    def tiles(q: int) -> tuple[np.ndarray, str]:
        query = a["X_test"][queries[q], 0]
        rows = [np.concatenate([query[None], X[a["neighbours"][s, q]]]) for s in (0, 1)]  # 2 x (9, 8, 8)
        digit = a["y_test"][queries[q]]
        same = [int((y_train[a["neighbours"][s, q]] == digit).sum()) for s in (0, 1)]
        title = (
            f"Digit {digit}: nearest training digits share its label {same[0]}/8 before, {same[1]}/8 after pretraining"
        )
        return charts.montage_array(np.concatenate(rows), 9), title

    first, title = tiles(0)
    fig = charts.image_montage(
        np.concatenate(
            [
                a["X_test"][queries[0], 0][None],
                X[a["neighbours"][0, 0]],
                a["X_test"][queries[0], 0][None],
                X[a["neighbours"][1, 0]],
            ]
        ),
        9,
        row_labels=["before", "after"],
        title=title,
    )
    names = [f"digit {a['y_test'][q]}" for q in queries]
    frames = []
    for q, name in enumerate(names):
        z, frame_title = tiles(q)
        frames.append(go.Frame(data=[go.Heatmap(z=z)], name=name, layout=dict(title_text=frame_title)))
    fig.frames = frames
    fig.update_layout(**charts.play_controls(names, 1200, y=-0.1, prefix=""))
    return charts.captioned(
        fig,
        "Left: a test digit; then its 8 nearest training digits by cosine similarity of "
        "the features (no labels used), with the random encoder (top) and the pretrained "
        "one (bottom). Pick another digit with the slider.",
    )


# --- SHAP ------------------------------------------------------------------------------------------------


def explain_figures(result: Result, explanation) -> dict:
    if not explanation:
        return {}
    a, figs = result.arrays, {}
    rows = a["shap_digits"]  # the test digits both models' SHAP explains (analysis.measure)
    for title, exp in explanation.items():
        y = a["y_test"][rows]
        values = np.asarray(exp.values)[np.arange(len(rows)), 0, :, :, y]  # (4, 8, 8) for each digit's true class
        figs[f"Pixel SHAP: {title.lower()}"] = charts.image_attribution_slider(
            values,
            a["X_test"][rows, 0],
            labels=[f"{k + 1}: digit {d}" for k, d in enumerate(y)],
            title=f"Pixel attributions for the true digit: {title.lower()}",
            caption=f"Which pixels pushed {title.lower()} toward the right digit (red) or away from it (blue); the "
            f"contours are the digit. The other model's figure shows the same test digits. "
            f"({exp.method}; additivity gap {exp.additivity_error:.1e}.)",
        )
    return figs


def live_figure(snapshot: dict):
    xy, labels = np.asarray(snapshot["xy"]), np.asarray(snapshot["labels"])
    fig = go.Figure(_digit_traces(xy, labels))
    fig.update_layout(
        title=f"Test digits in feature space after epoch {snapshot['epoch']}", height=480, legend=dict(title="digit")
    )
    return charts.captioned(
        _square(fig),
        "Each dot is a test digit, coloured by its true label (never used in "
        "training). Watch digits of a kind gather as the encoder learns.",
    )
