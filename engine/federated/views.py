"""Federated learning pictures: accuracy per round, who holds what, who is served badly, drift, bytes, and the
global and local-only models' SHAP side by side. Pure functions of a Result's stored data (no torch, no models)."""

from __future__ import annotations

import numpy as np

from engine.core import charts
from engine.core.contract import Result

STATUS = {
    0: ("not asked", "#cccccc"),
    1: ("trained, update received", "#1f77b4"),
    2: ("asked, dropped out", "#d62728"),
    3: ("straggler, partial work kept", "#9467bd"),
}
CURVES = {
    "global_accuracy": "federated (global) model",
    "centralized_accuracy": "centralised (data pooled)",
    "local_only_accuracy_mean": "local-only models (mean)",
    "worst_client_accuracy": "worst-served client",
    "fedavg_global_accuracy": "plain FedAvg, same clients (beside FedProx)",
}

CURVE_NAMES = {  # the live chart's and Runs' words for the per-round columns whose METRICS label is a summary's
    "loss": "Clients' training loss (mean)",
    "client_drift": "Client drift",
}


def _client_names(n: int) -> list[str]:
    return [f"client {k}" for k in range(n)]


def accuracy_figure(result: Result):
    h = result.history.rename(columns=CURVES)
    fig = charts.learning_curves(
        h, list(CURVES.values()), title="Test accuracy per round", unit=result.config.step_unit()
    )
    fig.update_layout(yaxis_title="test accuracy", yaxis_range=[0, 1.02])
    return charts.captioned(
        fig,
        "All models are scored on the same held-out samples after each round. Every "
        "baseline trains for the same epochs per round as a client, from the same starting "
        "weights; the worst-served client is scored on the mix of classes it holds.",
    )


def partition_figure(result: Result):
    import plotly.graph_objects as go

    counts, classes = result.arrays["counts"], result.info["class_names"]
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=[str(c) for c in classes],
            y=_client_names(len(counts)),
            colorscale="Blues",
            text=counts,
            texttemplate="%{text}" if counts.size <= 400 else None,
            hovertemplate="%{y} holds %{z} samples of class %{x}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Who holds what: samples per client and class",
        xaxis_title="class",
        yaxis_autorange="reversed",
        height=min(900, 180 + 22 * len(counts)),
    )
    return charts.captioned(
        fig,
        "Each row is one client's private data. Even colour along a row: that client sees "
        "every class; a few dark cells: it sees only those classes (non-IID).",
    )


def client_figure(result: Result):
    """The global model's accuracy on each client's classes, replayable round by round, beside local-only."""
    import plotly.graph_objects as go

    a = result.arrays
    acc, status, names = a["client_accuracy"], a["status"], _client_names(a["client_accuracy"].shape[1])

    def bars(r):
        return go.Bar(
            x=names,
            y=acc[r],
            name="global model",
            marker_color=[STATUS[s][1] for s in status[r]],
            hovertemplate="%{x}: %{y:.1%}<extra>global model</extra>",
        )

    own = go.Scatter(
        x=names,
        y=a["local_own_accuracy"],
        mode="markers",
        name="own model (local-only)",
        marker=dict(symbol="diamond", size=10, color="#ff7f0e"),
    )
    fig = go.Figure([bars(len(acc) - 1), own])
    ticks = list(range(1, len(acc) + 1))
    fig.frames = [go.Frame(data=[bars(r), own], name=str(r + 1)) for r in range(len(acc))]  # both: none vanish
    fig.update_layout(
        title="Each client's accuracy on the classes it holds",
        yaxis=dict(title="accuracy", range=[0, 1.05]),
        **charts.play_controls(ticks, 300, y=-0.25, active=len(acc) - 1, prefix="round ", from_start=True),
    )
    return charts.captioned(
        fig,
        "Bars: the global model after the chosen round (press Play to replay the rounds); "
        "blue clients trained that round, red ones dropped out (with FedAvg, also the too slow), purple ones were "
        "slow and FedProx kept their partial work, grey ones were not asked. "
        "Diamonds: each client's own local-only model on the same classes. A short bar "
        "marks a client the federation serves badly.",
    )


def drift_figure(result: Result):
    import plotly.graph_objects as go

    drift = result.arrays["drift"]  # (rounds, n_clients), NaN where a client sent nothing
    rounds = np.arange(1, len(drift) + 1)
    fig = go.Figure()
    for k in range(drift.shape[1]):
        fig.add_trace(
            go.Scatter(
                x=rounds,
                y=drift[:, k],
                mode="markers",
                name=f"client {k}",
                showlegend=False,
                marker=dict(size=4, color="rgba(120,120,120,0.45)"),
                hovertemplate=f"client {k}, round %{{x}}: %{{y:.2f}}<extra></extra>",
            )
        )
    mean = np.array([np.nanmean(d) if np.isfinite(d).any() else np.nan for d in drift])
    fig.add_trace(go.Scatter(x=rounds, y=mean, mode="lines", name="mean over clients", line=dict(width=3)))
    fig.update_layout(
        title="Client drift: how far each update strays from the average",
        xaxis_title="round",
        yaxis_title="distance from the average update / its length",
    )
    return charts.captioned(
        fig,
        "0 means every client proposed the same change. Larger values mean clients pull "
        "the model in different directions; non-IID data raises it, FedProx's pull towards "
        "the global model lowers it.",
    )


def bytes_figure(result: Result):
    import plotly.graph_objects as go

    mb = result.arrays["bytes"] / 1e6
    rounds = np.arange(1, len(mb) + 1)
    fig = go.Figure(
        [
            go.Bar(x=rounds, y=mb, name="this round (MB)"),
            go.Scatter(x=rounds, y=np.cumsum(mb), name="total so far (MB)", yaxis="y2", mode="lines"),
        ]
    )
    fig.update_layout(
        title="Bytes communicated",
        xaxis_title="round",
        yaxis_title="MB per round",
        yaxis2=charts.right_axis(title="MB in total", rangemode="tozero"),
        legend=dict(orientation="h"),
    )
    return charts.captioned(
        fig,
        "Each round the server sends the model (4 bytes per weight) to every asked client, "
        "and each client that finishes sends an update of the same size back.",
    )


def figures(result: Result) -> dict:
    return {
        "Accuracy per round": accuracy_figure(result),
        "Who holds what": partition_figure(result),
        "Per-client accuracy": client_figure(result),
        "Client drift": drift_figure(result),
        "Communication": bytes_figure(result),
    }


def local_title(result: Result) -> str:
    """The explained client's local-only model, as its explanation is titled."""
    return f"Client {result.config.explain_client}'s local-only model"


def true_class_values(exp, y: np.ndarray) -> np.ndarray:
    """Each row's SHAP values for its own true class (n, features)."""
    return np.asarray(exp.values)[np.arange(len(y)), :, y]


def explain_figures(result: Result, explanation) -> dict:
    from engine.core.explain import global_importance

    a, info, local = result.arrays, result.info, local_title(result)
    glob, own = explanation["Global model"], explanation[local]
    names = info["feature_names"]
    fig = charts.compare_importance(
        {"global model": (names, global_importance(glob)), local.lower(): (names, global_importance(own))}
    )
    vg, vl = true_class_values(glob, a["y_explain"]), true_class_values(own, a["y_explain"])
    r = float(np.corrcoef(vg.ravel(), vl.ravel())[0, 1])
    fig.update_layout(title="Which inputs each model relies on (mean |SHAP|)")
    figs = {
        "SHAP: global vs local-only": charts.captioned(
            fig,
            f"Both models explained on the same {len(vg)} held-out samples. Their SHAP values for the true class "
            f"correlate at r = {r:.2f} (1 would mean they weigh every input alike).",
        )
    }
    if info["image_shape"]:
        figs["SHAP pixel maps"] = pixel_maps(result, vg, vl)
    return figs


def pixel_maps(result: Result, vg: np.ndarray, vl: np.ndarray):
    """Per-pixel SHAP for the true digit: the global model (top row) over the local-only model (bottom row)."""
    a, k = result.arrays, result.config.explain_client
    held = result.arrays["counts"][k] > 0
    y = a["y_explain"]
    pick = list(np.flatnonzero(held[y])[:3]) + list(np.flatnonzero(~held[y])[:3])  # classes it holds, then lacks
    pick = pick or list(range(min(6, len(y))))
    shape, cls = tuple(result.info["image_shape"]), result.info["class_names"]
    maps = np.concatenate([vg[pick], vl[pick]]).reshape(-1, *shape)
    lim = float(np.abs(maps).max()) or 1.0
    titles = [f"global · {cls[y[i]]}" for i in pick] + [f"client {k} · {cls[y[i]]}" for i in pick]
    fig = charts.image_grid(
        maps,
        len(pick),
        titles=titles,
        zmin=-lim,
        zmax=lim,
        colorscale=charts.DIVERGING,
        title=f"Pixel SHAP for the true digit: global model (top) vs client {k} alone (bottom)",
    )
    return charts.captioned(
        fig,
        f"Red pixels push the score of the true digit up, blue ones down. Digits client {k} "
        "holds come first, then digits it never saw: there its own model has little to go on.",
    )


def live_figure(snapshot):
    """This round's global model on each client's classes, coloured by whether the client took part."""
    if not snapshot:
        return None
    import plotly.graph_objects as go

    acc, status = snapshot["client_accuracy"], snapshot["status"]
    fig = go.Figure(
        go.Bar(
            x=_client_names(len(acc)),
            y=acc,
            marker_color=[STATUS[s][1] for s in status],
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Round {snapshot['round']}: global model on each client's classes · "
        f"{snapshot['megabytes']:.1f} MB sent so far",
        yaxis=dict(range=[0, 1.05]),
    )
    return charts.captioned(
        fig, "Blue: trained this round; red: dropped out; purple: slow, partial work kept (FedProx); grey: not asked."
    )
