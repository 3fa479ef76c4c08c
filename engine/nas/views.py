"""NAS pictures: the search as it happened (best so far, every candidate, population, controller), the winners as
block diagrams, one clicked candidate, and the check of the surrogate whose SHAP values the Explain tab shows.
Pure functions of a Result's stored data (no torch, no models)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.core import charts
from engine.core.contract import Result
from engine.nas.config import DECISION_LABELS, SPACE, SPACE_HELP, STARTING_MODEL, STRATEGIES, blocks, space_size

DECISIONS = tuple(SPACE)
COLOURS = {"random": "#7f7f7f", "evolution": "#2ca02c", "rl": "#d62728", "tpe": "#1f77b4"}


def arch_text(row) -> str:
    """One line per architecture, e.g. '2x conv 32@3x3 max-pool · dense 1x64 · relu · dropout 0'."""
    pool = f"{row['pooling']}-pool"
    dense = f"dense {row['dense_layers']}x{row['dense_width']}" if row["dense_layers"] else "no hidden dense"
    return (
        f"{row['conv_blocks']}x conv {row['filters']}@{row['kernel_size']}x{row['kernel_size']} {pool} · {dense}"
        f" · {row['activation']} · dropout {row['dropout']:g}"
    )


def search_of(row) -> int:
    """The search a trial belongs to (1 for runs stored before there were several)."""
    return int(row["search"]) if "search" in row and pd.notna(row["search"]) else 1


def proposed(row, several: bool) -> str:
    """'Random search candidate 3', or 'Random search, search 2, candidate 3' when a run made several searches."""
    where = f", search {search_of(row)}," if several else ""
    return f"{STRATEGIES[row['strategy']]}{where} candidate {row['candidate']}"


def several_searches(history: pd.DataFrame) -> bool:
    return "search" in history and history["search"].nunique() > 1


def unique_trials(history: pd.DataFrame) -> pd.DataFrame:
    """Each architecture once (as first proposed), best first: highest accuracy, then fewest weights."""
    first = history.drop_duplicates(subset=list(DECISIONS), keep="first")
    return first.sort_values(["accuracy", "parameters", "step"], ascending=[False, True, True], kind="stable")


def pareto_front(params: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (fewer weights and higher accuracy), by size."""
    order = np.lexsort((-acc, params))  # by size, then most accurate first
    front, best = [], -np.inf
    for i in order:
        if acc[i] > best:
            front.append(i)
            best = acc[i]
    return np.array(front, dtype=int)


def best_so_far_figure(curves: dict[str, list], start: float | None, title: str = "Best accuracy so far") -> go.Figure:
    fig = go.Figure()
    for name, values in curves.items():
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(values) + 1),
                y=values,
                mode="lines+markers",
                name=STRATEGIES[name],
                line=dict(color=COLOURS[name], shape="hv"),
            )
        )
    if start is not None:
        fig.add_hline(
            y=start,
            line_dash="dash",
            line_color="black",
            annotation_text="starting model (from the course)",
            annotation_position="bottom right",
        )
    fig.update_layout(
        title=title,
        xaxis_title="candidates proposed by the strategy",
        yaxis_title="best validation accuracy",
        yaxis_tickformat=".0%",
        hovermode="x unified",
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "Each strategy's best candidate so far, at the same budget. Steps up are "
        "discoveries; the dashed line is the course's starting model trained the same way.",
    )


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def curve_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(candidates, median, low, high) of best-so-far curves (searches, budget) over the searches, per candidate
    number; a stopped run's unfinished candidates (NaN in every search) are left out."""
    curves = np.asarray(curves, dtype=float).reshape(-1, np.shape(curves)[-1])
    seen = ~np.isnan(curves).all(axis=0)
    x = np.flatnonzero(seen) + 1
    c = curves[:, seen]
    if not c.size:
        return x, *(np.empty(0),) * 3
    with np.errstate(all="ignore"):
        return x, np.nanmedian(c, axis=0), np.nanmin(c, axis=0), np.nanmax(c, axis=0)


def searches_run(curve: np.ndarray) -> int:
    """How many searches of a (searches, budget) best-so-far array actually ran: a stopped run keeps a row of NaN
    for each search it never started."""
    c = np.asarray(curve, dtype=float).reshape(-1, np.shape(curve)[-1])
    return int((~np.isnan(c)).any(axis=1).sum())


def searches_figure(curves: dict[str, np.ndarray], start: float | None = None) -> go.Figure:
    """The best-so-far curves of several searches per strategy: the median and the band from the lowest to the
    highest search, one panel per guided strategy against random search (grey, in every panel). ``curves``:
    {strategy: (searches, budget)} as ``search.run`` stores them in ``arrays["best_so_far"]``."""
    from plotly.subplots import make_subplots

    curves = {n: np.asarray(c, dtype=float).reshape(-1, np.shape(c)[-1]) for n, c in curves.items()}
    curves = {n: c for n, c in curves.items() if searches_run(c)} or curves  # a strategy a Stop never reached
    guided = [n for n in curves if n != "random"] or list(curves)
    searches = max(searches_run(c) for c in curves.values()) or 1
    fig = make_subplots(
        rows=1,
        cols=len(guided),
        shared_yaxes=True,
        subplot_titles=[f"{STRATEGIES[n]} vs random search" if n != "random" else STRATEGIES[n] for n in guided],
    )
    for col, name in enumerate(guided, start=1):
        for who in (["random"] if "random" in curves and name != "random" else []) + [name]:
            for trace in _median_and_band(who, curves[who], legend=col == 1 or who != "random"):
                fig.add_trace(trace, row=1, col=col)
        if start is not None:
            fig.add_hline(y=start, line_dash="dash", line_color="black", row=1, col=col)
        fig.update_xaxes(title_text="candidates proposed", row=1, col=col)
    fig.update_yaxes(title_text="best validation accuracy so far", tickformat=".0%", row=1, col=1)
    fig.update_layout(
        title=f"Best accuracy so far over {searches} search{'es' if searches > 1 else ''} per strategy",
        legend=dict(orientation="h", y=-0.25),
    )
    spread = (
        f"The line is the median of {searches} searches from fresh seeds; the band runs from the luckiest to the "
        "unluckiest, and "
        if searches > 1
        else "One search per strategy, so there is no spread to show: raise the searches per strategy to see how "
        "much of a gap is luck; "
    )
    return charts.captioned(
        fig,
        f"{spread}a guided strategy only beats random search where its line runs above the grey one. The dashed "
        "line is the course's starting model trained the same way.",
    )


def _median_and_band(who: str, curve: np.ndarray, legend: bool) -> list[go.Scatter]:
    """One strategy's best-so-far in :func:`searches_figure`: the band from its lowest to its highest search (with
    several searches run) and its median line."""
    x, median, low, high = curve_band(curve)
    searches = searches_run(curve)
    out = []
    if searches > 1:
        out.append(
            go.Scatter(
                x=np.concatenate([x, x[::-1]]),
                y=np.concatenate([high, low[::-1]]),
                fill="toself",
                fillcolor=_rgba(COLOURS[who], 0.18),
                line=dict(width=0),
                hoverinfo="skip",
                name=f"{STRATEGIES[who]}: lowest to highest search",
                legendgroup=f"{who}-band",
                showlegend=legend,
            )
        )
    out.append(
        go.Scatter(
            x=x,
            y=median,
            mode="lines+markers",
            name=f"{STRATEGIES[who]}: median of {searches} searches" if searches > 1 else STRATEGIES[who],
            legendgroup=who,
            showlegend=legend,
            line=dict(color=COLOURS[who], shape="hv"),
            hovertemplate=f"{STRATEGIES[who]}, candidate %{{x}}: %{{y:.1%}}<extra></extra>",
        )
    )
    return out


def proposals_figure(history: pd.DataFrame) -> go.Figure:
    """Every proposal's validation accuracy per strategy (all searches, repeats included), as a box with its
    points and the mean marked: the headline's mean proposal, and how it is spread."""
    fig = go.Figure()
    for name in dict.fromkeys(history.strategy):
        acc = history[history.strategy == name].accuracy.to_numpy(float)
        fig.add_trace(
            go.Box(
                y=acc,
                name=STRATEGIES[name],
                marker_color=COLOURS[name],
                boxmean=True,
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker=dict(size=4, opacity=0.5),
                hovertemplate="%{y:.1%}<extra></extra>",
            )
        )
    fig.update_layout(
        title="How good a typical proposal is: every candidate's validation accuracy",
        yaxis_title="validation accuracy",
        yaxis_tickformat=".0%",
        showlegend=False,
    )
    return charts.captioned(
        fig,
        "Each dot is one proposal (all searches, repeats included); the box spans the middle half, the solid line "
        "is the median and the dashed line the mean. A strategy that learns puts most of its budget on good "
        "architectures, so its box sits higher than random search's even when its single best is not.",
    )


def accuracy_vs_size(result: Result) -> go.Figure:
    h = result.history
    several = several_searches(h)
    fig = go.Figure()
    for name in dict.fromkeys(h.strategy):
        mine = h[h.strategy == name]
        fig.add_trace(
            go.Scatter(
                x=mine.parameters,
                y=mine.accuracy,
                mode="markers",
                name=STRATEGIES[name],
                marker=dict(color=COLOURS[name], size=8, opacity=0.7),
                text=[f"{proposed(r, several)}: {arch_text(r)}" for _, r in mine.iterrows()],
                customdata=mine[["step"]].to_numpy(),  # which trial a click picks (the page)
                hovertemplate="%{text}<br>%{x:,} weights, %{y:.1%}<extra></extra>",
            )
        )
    u = unique_trials(h)
    front = u.iloc[pareto_front(u.parameters.to_numpy(float), u.accuracy.to_numpy(float))]
    fig.add_trace(
        go.Scatter(
            x=front.parameters,
            y=front.accuracy,
            mode="lines",
            name="Pareto front",
            line=dict(color="black", shape="hv", width=1.5),
        )
    )
    m = result.metrics
    fig.add_trace(
        go.Scatter(
            x=[m["starting_model_parameters"]],
            y=[m["starting_model_accuracy"]],
            mode="markers",
            name="starting model (from the course)",
            marker=dict(symbol="star", size=16, color="gold", line=dict(color="black", width=1)),
        )
    )
    fig.update_layout(
        title="Every candidate: accuracy vs size",
        xaxis=charts.log_axis([*h.parameters, m["starting_model_parameters"]], title="weights (log scale)"),
        yaxis_title="validation accuracy",
        yaxis_tickformat=".0%",
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "Each dot is one proposed candidate (repeats overlap); click one to inspect it. "
        "The black line is the Pareto front: no other candidate is both smaller and more "
        "accurate.",
    )


KIND_COLOURS = {
    "Input": "#eeeeee",
    "Conv": "#9ecae1",
    "MaxPool": "#a1d99b",
    "AvgPool": "#a1d99b",
    "Flatten": "#eeeeee",
    "Dropout": "#d9d9d9",
    "Dense": "#fdae6b",
}


def block_diagrams(rows: list[tuple[str, list[tuple[str, str]]]]) -> go.Figure:
    """Each architecture as a row of boxes, left to right; each box shows a layer and its output shape."""
    fig = go.Figure()
    widest = max(len(b) for _, b in rows)
    for r, (title, layers) in enumerate(rows):
        y = -r * 2.0
        fig.add_annotation(
            x=-0.1, y=y + 0.8, text=f"<b>{title}</b>", showarrow=False, xanchor="left", font=dict(size=12)
        )
        for j, (name, shape) in enumerate(layers):
            x0 = j * 1.25
            colour = KIND_COLOURS.get(name.split()[0].rstrip(","), "#eeeeee")
            fig.add_shape(
                type="rect",
                x0=x0,
                x1=x0 + 1,
                y0=y - 0.45,
                y1=y + 0.45,
                fillcolor=colour,
                line=dict(color="#555555", width=1),
            )
            fig.add_annotation(
                x=x0 + 0.5,
                y=y,
                text=f"{name.replace(', ', '<br>')}<br><i>{shape}</i>",
                showarrow=False,
                font=dict(size=9),
            )
            if j:
                fig.add_annotation(
                    x=x0,
                    y=y,
                    ax=x0 - 0.25,
                    ay=y,
                    xref="x",
                    yref="y",
                    axref="x",
                    ayref="y",
                    showarrow=True,
                    arrowhead=2,
                    arrowsize=1,
                    arrowwidth=1,
                    text="",
                )
    fig.update_xaxes(visible=False, range=[-0.2, widest * 1.25])
    fig.update_yaxes(visible=False, range=[-(len(rows) - 1) * 2.0 - 0.6, 1.1])
    fig.update_layout(height=150 + 170 * len(rows), showlegend=False, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def best_architectures(result: Result, top: int = 3) -> go.Figure:
    u = unique_trials(result.history).head(top)
    several = several_searches(result.history)
    rows = [
        (
            f"#{i + 1} · {r.accuracy:.1%} validation accuracy · {r.parameters:,} weights · first proposed by "
            f"{STRATEGIES[r.strategy].lower()} ("
            + (f"search {search_of(r)}, " if several else "")
            + f"candidate {r.candidate})",
            blocks({d: r[d] for d in DECISIONS}),
        )
        for i, (_, r) in enumerate(u.iterrows())
    ]
    rows.append(
        (
            f"Course's starting model · {result.metrics['starting_model_accuracy']:.1%} · "
            f"{result.metrics['starting_model_parameters']:,} weights",
            blocks(STARTING_MODEL),
        )
    )
    fig = block_diagrams(rows)
    fig.update_layout(title="The best architectures found, and the starting model")
    return charts.captioned(
        fig,
        "Layers left to right with the shape of what each passes on (height x width x "
        "channels). Blue: convolution; green: pooling; orange: dense layers.",
    )


def picked_step(history: pd.DataFrame, points: list[dict]) -> int | None:
    """The trial (history ``step``) a click on "Accuracy vs size" picked: the first clicked point that carries a
    trial's step in its ``customdata`` (the Pareto line and the starting model carry none)."""
    steps = set(history.step.tolist())
    for p in points:
        data = p.get("customdata")
        value = data[0] if isinstance(data, (list, tuple)) and data else data
        if isinstance(value, (int, float)) and int(value) in steps:
            return int(value)
    return None


def candidate_diagram(row) -> go.Figure:
    """One trial's architecture as a row of blocks, titled with its numbers."""
    arch = {d: (row[d].item() if hasattr(row[d], "item") else row[d]) for d in DECISIONS}
    fig = block_diagrams(
        [
            (
                f"{proposed(row, search_of(row) > 1)} · {row['accuracy']:.1%} "
                f"validation accuracy · {int(row['parameters']):,} weights",
                blocks(arch),
            )
        ]
    )
    fig.update_layout(title="The picked candidate's architecture")
    return charts.captioned(
        fig, f"{arch_text(arch)}. Layers left to right with the shape each passes on (height x width x channels)."
    )


def candidate_curve(row) -> go.Figure:
    """One trial's training curve (loss and validation accuracy after each epoch), from its history columns."""
    epochs = sorted(int(c.rsplit("_", 1)[1]) for c in row.index if c.startswith("val_accuracy_") and pd.notna(row[c]))
    fig = go.Figure(
        [
            go.Scatter(
                x=epochs,
                y=[row[f"train_loss_{e}"] for e in epochs],
                mode="lines+markers",
                name="training loss",
                line=dict(color="#1f77b4"),
            ),
            go.Scatter(
                x=epochs,
                y=[row[f"val_accuracy_{e}"] for e in epochs],
                mode="lines+markers",
                yaxis="y2",
                name="validation accuracy",
                line=dict(color="#d62728"),
            ),
        ]
    )
    fig.update_layout(
        title="The picked candidate's training",
        xaxis=dict(title="epoch", dtick=1),
        yaxis=dict(title="training loss (cross-entropy)"),
        hovermode="x unified",
        yaxis2=charts.right_axis(title="validation accuracy", tickformat=".0%"),
        legend=dict(orientation="h", y=-0.25),
    )
    cached = (
        " It was a repeat, so this is the curve of its first training (served from the cache)."
        if bool(row.get("cached", False))
        else ""
    )
    return charts.captioned(
        fig,
        "How this candidate learned during its short training: the loss on the training "
        "images (falling is good) and its accuracy on the validation images after each "
        f"epoch; the search ranked it by the last point.{cached}",
    )


def population_figure(result: Result) -> go.Figure:
    h = result.history
    evo = h[h.strategy == "evolution"]
    evo = evo[[search_of(r) == 1 for _, r in evo.iterrows()]].reset_index(drop=True)  # the first search's
    members = result.arrays["population"]  # (evolution candidates, population size)
    acc = evo.accuracy.to_numpy()
    xs, ys, texts, means = [], [], [], []
    for t, alive in enumerate(members):
        alive = alive[alive >= 0]
        xs += [t + 1] * len(alive)
        ys += list(acc[alive])
        texts += [f"candidate {i + 1}: {arch_text(evo.iloc[i])}" for i in alive]
        means.append(acc[alive].mean())
    fig = go.Figure(
        [
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name="population members",
                text=texts,
                marker=dict(color=COLOURS["evolution"], opacity=0.45, size=7),
                hovertemplate="after candidate %{x}: %{y:.1%}<br>%{text}<extra></extra>",
            ),
            go.Scatter(
                x=np.arange(1, len(means) + 1), y=means, mode="lines", name="population mean", line=dict(color="black")
            ),
        ]
    )
    if len(means) > members.shape[1]:
        fig.add_vline(
            x=members.shape[1] + 0.5,
            line_dash="dot",
            line_color="grey",
            annotation_text="random founders | children",
            annotation_position="top",
        )
    fig.update_layout(
        title="Regularised evolution: the population over time"
        + (" (the first search)" if several_searches(h) else ""),
        xaxis_title="evolution candidates",
        yaxis_title="validation accuracy",
        yaxis_tickformat=".0%",
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        f"After each candidate, the accuracies of the {members.shape[1]} architectures "
        "alive. The first ones are random; then each child copies a tournament winner with "
        "one choice changed and the oldest member dies, so a rising mean means the "
        "population is improving.",
    )


def controller_figure(result: Result) -> go.Figure:
    probs = result.arrays["controller_probabilities"]  # (updates + 1, total options)
    labels = [f"{DECISION_LABELS[d]} = {o}" for d in DECISIONS for o in SPACE[d]]
    fig = go.Figure(
        go.Heatmap(
            z=probs.T,
            x=np.arange(probs.shape[0]),
            y=labels,
            colorscale="Reds",
            zmin=0,
            zmax=1,
            colorbar=dict(title="probability"),
            hovertemplate="after %{x} updates<br>%{y}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="RL controller: how likely it is to pick each option"
        + (" (the first search)" if several_searches(result.history) else ""),
        xaxis_title="controller updates (REINFORCE)",
        yaxis=dict(autorange="reversed"),
        height=max(420, 18 * len(labels) + 120),
    )
    return charts.captioned(
        fig,
        "One row per option, grouped by decision (each decision's rows add up to 1). "
        "It starts uniform; options that came with above-baseline accuracy get darker.",
    )


def trials_table(result: Result) -> go.Figure:
    u = unique_trials(result.history)
    cols = {
        "rank": list(range(1, len(u) + 1)),
        "accuracy": [f"{a:.1%}" for a in u.accuracy],
        "weights": [f"{p:,}" for p in u.parameters],
        "first by": [STRATEGIES[s] for s in u.strategy],
        **({"search": [search_of(r) for _, r in u.iterrows()]} if several_searches(result.history) else {}),
        "candidate": list(u.candidate),
        **{DECISION_LABELS[d]: [str(v) for v in u[d]] for d in DECISIONS},
    }
    fig = go.Figure(
        go.Table(
            header=dict(values=[c.replace("_", " ") for c in cols], align="left"),
            cells=dict(values=list(cols.values()), align="left"),
        )
    )
    fig.update_layout(title=f"All {len(u)} architectures trained, best first", height=min(900, 120 + 24 * len(u)))
    return charts.captioned(
        fig, "Every candidate, repeats included, is in Details -> History, where you can sort by any column."
    )


def space_table() -> go.Figure:
    names = list(SPACE)
    fig = go.Figure(
        go.Table(
            header=dict(values=["decision", "what it sets", "options", "count"], align="left"),
            cells=dict(
                values=[
                    [DECISION_LABELS[d] for d in names],
                    [SPACE_HELP[d] for d in names],
                    [", ".join(map(str, SPACE[d])) for d in names],
                    [len(SPACE[d]) for d in names],
                ],
                align="left",
            ),
        )
    )
    fig.update_layout(title=f"The search space: {space_size():,} architectures", height=380)
    return charts.captioned(
        fig,
        "Every combination of one option per decision is a valid network. The course's "
        "starting model is 1 block, 32 filters, 3x3, max pooling, 1 dense layer of 64, relu.",
    )


def stored_curves(result: Result) -> dict[str, np.ndarray]:
    """{strategy: (searches, budget)} best-so-far curves: as stored, or (runs stored before there were several
    searches) the one search's from the history."""
    stored = result.arrays.get("best_so_far")
    if isinstance(stored, dict) and stored:
        return {n: np.asarray(c, dtype=float) for n, c in stored.items()}
    h = result.history
    return {n: h[h.strategy == n].best_so_far.to_numpy(float)[None, :] for n in dict.fromkeys(h.strategy)}


def figures(result: Result) -> dict:
    h = result.history
    if not len(h):
        return {"Search space": space_table()}
    figs = {
        "Best so far": searches_figure(stored_curves(result), result.metrics["starting_model_accuracy"]),
        "Every proposal": proposals_figure(h),
        "Accuracy vs size": accuracy_vs_size(result),
        "Best architectures": best_architectures(result),
    }
    if len(result.arrays.get("population", [])):
        figs["Evolution population"] = population_figure(result)
    if len(result.arrays.get("controller_probabilities", [])) > 1:
        figs["Controller probabilities"] = controller_figure(result)
    figs["All trials"] = trials_table(result)
    figs["Search space"] = space_table()
    return figs


# --- the surrogate behind SHAP ------------------------------------------------------------------------------


def surrogate_check(result: Result) -> go.Figure:
    """How well the surrogate predicts architectures it was not fitted to, from the cross-validated predictions
    ``analysis.measure`` stored (``surrogate_accuracy``, ``surrogate_prediction``, ``surrogate_r2``)."""
    a = result.arrays
    y, pred, r2 = np.asarray(a["surrogate_accuracy"]), np.asarray(a["surrogate_prediction"]), a["surrogate_r2"]
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    fig = go.Figure(go.Scatter(x=y, y=pred, mode="markers", marker=dict(size=8)))
    fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line=dict(dash="dash", color="grey"))
    fig.update_layout(
        title=f"How well a simple model predicts accuracy from the choices (cross-validated R² = {r2:.2f})",
        xaxis_title="measured accuracy",
        yaxis_title="simple model's prediction (held-out fold)",
        xaxis_tickformat=".0%",
        yaxis_tickformat=".0%",
    )
    trust = (
        "It predicts held-out architectures fairly well, so its SHAP ranking is worth reading."
        if r2 >= 0.3
        else "It predicts held-out architectures poorly (few trials, noisy accuracies): treat "
        "its SHAP values as a rough hint and run a bigger budget for a firmer answer."
    )
    return charts.captioned(
        fig,
        f"SHAP explains the surrogate, not the networks; this is how well the surrogate "
        f"knows the search results. {trust}",
    )


def choice_means(result: Result) -> go.Figure:
    from plotly.subplots import make_subplots

    u = unique_trials(result.history)
    fig = make_subplots(rows=2, cols=4, subplot_titles=[DECISION_LABELS[d] for d in DECISIONS], shared_yaxes=True)
    for i, d in enumerate(DECISIONS):
        stats = u.groupby(d, sort=False).accuracy.agg(["mean", "count"]).reindex(list(SPACE[d])).dropna()
        fig.add_trace(
            go.Bar(
                x=[str(o) for o in stats.index],
                y=stats["mean"],
                text=[f"n={c}" for c in stats["count"]],
                textposition="auto",
                marker_color="#1f77b4",
                showlegend=False,
            ),
            row=i // 4 + 1,
            col=i % 4 + 1,
        )
    fig.update_yaxes(tickformat=".0%")
    fig.update_layout(title="Mean accuracy of the architectures with each option", height=520)
    return charts.captioned(
        fig,
        "A model-free check on SHAP: the average accuracy of every trained architecture "
        "that used each option (n = how many). Few trials per bar means a rough average.",
    )


def explain_figures(result: Result, explanation) -> dict:
    if explanation is None:
        return {}
    return {"Surrogate check": surrogate_check(result), "Accuracy by option": choice_means(result)}


def live_figure(snapshot):
    if not snapshot:
        return None
    searches = snapshot.get("searches", 1)
    title = "Live: best accuracy so far" + (
        f" (search {snapshot.get('search', 1)} of {searches})" if searches > 1 else ""
    )
    return best_so_far_figure(snapshot["best"], snapshot.get("start"), title=title)
