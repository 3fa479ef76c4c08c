"""Edge AI pictures: the variants compared, the trade-off and its Pareto front, sparsity, int8 weights,
distillation, and SHAP of the original beside the shipped model. Pure functions of a Result's stored data (no
torch, no models)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from engine.core import charts
from engine.core.contract import Result

SHIPPED_COLOUR, OTHER_COLOUR = "#2ca02c", "#1f77b4"
# One colour per variant, the same in every chart that shows variants (trade-off, latency): by its place in the run's
# list of variants, the original first.
VARIANT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def variant_colours(names: list[str]) -> dict[str, str]:
    return {n: VARIANT_COLOURS[i % len(VARIANT_COLOURS)] for i, n in enumerate(names)}


def variants(result: Result) -> list[dict]:
    """Every variant's measurements (``info["variants"]``), the original first."""
    return result.info["variants"]


def comparison_table(result: Result) -> go.Figure:
    """One row per variant: file size, latency, accuracy and agreement (five columns, so it reads on a phone)."""
    rows = variants(result)
    base = rows[0]
    columns = {
        "variant": [_variant_cell(result, r) for r in rows],
        "file KB (vs original)": [f"{r['size_kb']:,.1f} ({r['size_kb'] / base['size_kb']:.0%})" for r in rows],
        "latency ms (median / p95)": [f"{r['latency_ms']:.3f} / {r['latency_p95_ms']:.3f}" for r in rows],
        "accuracy (points vs original)": [
            f"{r['accuracy']:.1%} ({100 * (r['accuracy'] - base['accuracy']):+.1f})" for r in rows
        ],
        "agrees with original": [f"{r['agreement']:.1%}" for r in rows],
    }
    return charts.captioned(
        _table(result, columns, TABLE_WIDTHS, "Every variant measured the same way"),
        "Latency: one sample at a time, median and 95th percentile of repeated calls after warm-up calls that are "
        "not timed. The green row is the variant this run would ship; the next table shows each file's check.",
    )


def files_table(result: Result) -> go.Figure:
    """One row per variant: zipped size, weights kept, batch throughput and how its file was checked."""
    rows = variants(result)
    columns = {
        "variant": [_variant_cell(result, r) for r in rows],
        "zipped KB": [f"{r['zipped_kb']:,.1f}" for r in rows],
        "non-zero / weights": [f"{r['nonzeros']:,} / {r['parameters']:,}" for r in rows],
        "samples/s (batch)": [_count(r["throughput"]) for r in rows],
        "file check": [_check_text(r) for r in rows],
    }
    return charts.captioned(
        _table(result, columns, FILES_WIDTHS, "Each variant's file, and how it was checked"),
        "Zipped: the file compressed, as a download would be. Throughput: a batch of 256 rows. An exported file "
        "is reloaded in ONNX Runtime and its answers compared with PyTorch's before it can be shipped.",
    )


def _count(n: float) -> str:
    """A big count short enough for a narrow column: 3,703,224 -> "3.7 million", 45,210 -> "45,210"."""
    return f"{n / 1e6:.1f} million" if n >= 1e6 else f"{n:,.0f}"


def _variant_cell(result: Result, row: dict) -> str:
    return ("✔ " if row["name"] == result.info["shipped"] else "") + row["name"]


def _table(result: Result, columns: dict[str, list[str]], widths: tuple[float, ...], title: str) -> go.Figure:
    """A table of variants, the shipped row green, its text wrapped to fit a phone and the figure tall enough."""
    rows = variants(result)
    fill = [["#e8f5e9" if r["name"] == result.info["shipped"] else "white" for r in rows]] * len(columns)
    header, cells, height = _wrapped_table(list(columns), list(columns.values()), widths)
    fig = go.Figure(
        go.Table(
            columnwidth=list(widths),
            header=dict(values=header, fill_color="#f0f2f6", align="left", height=LINE_PX + 8),
            cells=dict(values=cells, fill_color=fill, align="left", height=LINE_PX + 8),
        )
    )
    # sized to every row, wrapped lines included: a table taller than its figure scrolls and hides the last rows
    fig.update_layout(title=title, height=height + 70, margin=dict(l=10, r=10, t=50, b=10))
    return fig


# Relative column widths of the comparison table, and the narrowest width (px) it is drawn at: a cell's text is
# wrapped at the characters that fit its column there, so the figure's height can count every line.
TABLE_WIDTHS = (1.4, 1.1, 1.1, 1.2, 1.0)
FILES_WIDTHS = (1.3, 0.8, 1.1, 1.1, 2.1)
TABLE_MIN_PX = 340  # a phone (390 px) less the page's margins
LINE_PX = 18  # one line of 12 px table text


def _wrap(text: str, chars: int) -> list[str]:
    import textwrap

    return textwrap.wrap(str(text), max(chars, 4), break_long_words=False) or [""]


def _wrapped_table(
    header: list[str], cells: list[list[str]], widths: tuple[float, ...]
) -> tuple[list[str], list[list[str]], int]:
    """Break header and cell text into lines (``<br>``) that fit each column; returns them and the pixel height
    of the header plus all rows."""
    chars = [int(TABLE_MIN_PX * w / sum(widths) / 7) for w in widths]  # about 7 px per character
    head = [_wrap(h, c) for h, c in zip(header, chars)]
    body = [[_wrap(v, c) for v in column] for column, c in zip(cells, chars)]
    height = max(map(len, head)) * LINE_PX + 10
    for i in range(len(cells[0]) if cells else 0):
        height += max(len(column[i]) for column in body) * LINE_PX + 10
    return ["<br>".join(h) for h in head], [["<br>".join(v) for v in column] for column in body], height


def _check_text(row: dict) -> str:
    if row["kind"] == "torch":
        return "runs in PyTorch"
    if not row.get("verified"):
        return "FAILED: " + row.get("problem", f"output differs by {row.get('max_abs_diff', float('nan')):.2g}")
    if "int8" in row["name"]:
        return f"reloaded in ONNX Runtime; same class as its PyTorch source on {row['source_agreement']:.1%}"
    return f"reloaded in ONNX Runtime; max difference from PyTorch {row['max_abs_diff']:.1e}"


def pareto(xs: list[float], ys: list[float]) -> list[int]:
    """Indices on the front: no other point is both smaller (x) and at least as accurate (y). Sorted by x."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], -ys[i]))
    front, best = [], -np.inf
    for i in order:
        if ys[i] > best:
            front.append(i)
            best = ys[i]
    return front


def tradeoff(result: Result) -> go.Figure:
    """Accuracy against file size (or latency, by the buttons), one marker per variant, with the Pareto front."""
    rows, shipped = variants(result), result.info["shipped"]
    acc = [r["accuracy"] for r in rows]
    axes = {"file size (KB)": [r["size_kb"] for r in rows], "latency per sample (ms)": [r["latency_ms"] for r in rows]}
    fronts = {title: pareto(xs, acc) for title, xs in axes.items()}
    first = next(iter(axes))
    fig = go.Figure(
        go.Scatter(
            x=[axes[first][i] for i in fronts[first]],
            y=[acc[i] for i in fronts[first]],
            mode="lines+markers",  # a front of one variant is a point, not a line: its ring still shows
            line=dict(dash="dash", color="#333333", width=2),
            marker=dict(size=24, symbol="circle-open", color="#333333"),
            name="Pareto front",
        )
    )
    colours = variant_colours([r["name"] for r in rows])
    for i, r in enumerate(rows):
        star = r["name"] == shipped
        fig.add_trace(
            go.Scatter(
                x=[axes[first][i]],
                y=[acc[i]],
                mode="markers",
                name=r["name"] + (" (shipped)" * star),
                marker=dict(size=16 if star else 11, symbol="star" if star else "circle", color=colours[r["name"]]),
                hovertemplate=f"{r['name']}: %{{x:.3g}}, %{{y:.1%}}<extra></extra>",
            )
        )
    buttons = [
        dict(
            label=title.split(" (")[0],
            method="update",
            args=[
                {
                    "x": [[xs[i] for i in fronts[title]], *[[x] for x in xs]],
                    "y": [[acc[i] for i in fronts[title]], *[[a] for a in acc]],
                },
                {f"xaxis.{k}": v for k, v in charts.log_axis(xs, title=dict(text=title)).items()},
            ],
        )
        for title, xs in axes.items()
    ]
    fig.update_layout(
        title="What each variant costs: accuracy vs size",
        xaxis=charts.log_axis(axes[first], title=first),
        yaxis=dict(title="test accuracy", tickformat=".1%"),
        updatemenus=[
            dict(type="buttons", direction="left", x=0, y=-0.2, xanchor="left", yanchor="top", buttons=buttons)
        ],
        margin=dict(b=90),
    )
    return charts.captioned(
        fig,
        "Up and to the left is better (the x-axis is logarithmic). The dark rings, joined by a dashed line, mark "
        "the variants that no other variant beats on both counts (the Pareto front); the "
        "star is the shipped one. The buttons switch between file size and latency.",
    )


def latency_boxes(result: Result) -> go.Figure:
    colours = variant_colours([r["name"] for r in variants(result)])
    fig = go.Figure(
        [
            go.Box(y=ms, name=name, boxpoints=False, marker_color=colours.get(name))
            for name, ms in result.arrays["latencies"].items()
        ]
    )
    fig.update_layout(title="Latency per sample at batch 1 (after warm-up)", yaxis_title="ms", showlegend=False)
    return charts.captioned(
        fig,
        "Each box holds every timed single-sample call: the line is the median, the box the "
        "middle half. Timings vary from run to run with what else the machine is doing.",
    )


def sparsity_bars(result: Result) -> go.Figure:
    a = result.arrays
    fig = charts.bar(
        a["layer_names"],
        list(a["layer_sparsity"]),
        title="Share of zero weights per layer",
        caption="Global magnitude pruning removes the smallest weights wherever they are, so layers "
        "end up pruned unevenly. Structured pruning removes whole neurons, and with them their "
        "weights in the next layer.",
        x_title="share of weights that are zero",
    )
    fig.add_hline(
        y=result.metrics["pruned_sparsity"],
        line_dash="dash",
        annotation_text=f"whole network: {result.metrics['pruned_sparsity']:.1%}",
    )
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig


def weight_histograms(result: Result) -> go.Figure:
    """The largest layer's weights before and after int8: 256 allowed values replace the continuous spread."""
    a = result.arrays
    i = int(np.argmax([len(w) for w in a["weights_float"]]))
    before, after = a["weights_float"][i], a["weights_int8"][i]
    levels = np.unique(after)
    step = float(np.diff(levels).min()) if len(levels) > 1 else 1.0  # the int8 grid's spacing (per-tensor scale)
    bins = dict(start=float(before.min()) - step / 8, end=float(before.max()) + step / 8, size=step / 4)
    fig = go.Figure(
        [
            go.Histogram(x=before, xbins=bins, name="float32 (before)", opacity=0.6),
            go.Histogram(x=after, xbins=bins, name=f"int8 (after: {len(levels)} distinct values)", opacity=0.6),
        ]
    )
    fig.update_layout(
        title=f"Weights of the largest layer before and after {a['quantized_variant']}",
        barmode="overlay",
        xaxis=dict(title="weight value", range=[-25 * step, 25 * step]),
        yaxis_title="how many weights",
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "Zoomed on the middle (drag or double-click to see all). int8 stores each weight as "
        "one of 256 evenly spaced values times a scale: the smooth spread becomes a comb, "
        "and the gaps are the rounding the model has to live with.",
    )


def teacher_and_students(result: Result) -> go.Figure:
    """The teacher's test accuracy beside the distilled student's and the same student's trained alone."""
    m, c = result.metrics, result.config
    names = ["teacher (the original)", "distilled student", "student alone"]
    values = [m["original_accuracy"], m["student_accuracy"], m["student_alone_accuracy"]]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            text=[f"{v:.1%}" for v in values],
            textposition="outside",
            marker_color=["#7f7f7f", SHIPPED_COLOUR, OTHER_COLOUR],
        )
    )
    low = max(0.0, min(values) - 0.1)
    fig.update_layout(
        title="Test accuracy: the teacher and the same small student with and without it",
        yaxis=dict(title="test accuracy", tickformat=".0%", range=[low, 1.04]),
        showlegend=False,
    )
    labelled = m.get("student_labelled_rows")  # absent from runs made before the students got few labels
    rows = (
        f"the true labels of only {labelled:,.0f} training rows ({c.student_labels} per class)"
        if labelled
        else "every training row's label"
    )
    return charts.captioned(
        fig,
        f"Both students have {c.student_width} hidden neurons and get {rows}. The distilled one also copies the "
        "teacher's softened answers on every training row and on blends of them; the student alone learns from "
        "its labelled rows only.",
    )


def distillation_curves(result: Result) -> go.Figure:
    h = result.history
    fig = go.Figure()
    for col, label in (
        ("alone_val_accuracy", "student alone (its labelled rows only)"),
        ("distilled_val_accuracy", "distilled student (copies the original)"),
    ):
        y = h[col].dropna().to_numpy()
        fig.add_trace(go.Scatter(x=np.arange(1, len(y) + 1) / len(y), y=y, mode="lines", name=label))
    if "original_accuracy" in result.metrics:
        fig.add_hline(
            y=result.metrics["original_accuracy"], line_dash="dot", annotation_text="teacher, the original (test)"
        )
    fig.update_layout(
        title="Distillation: the same small student, with and without a teacher",
        xaxis=dict(title="share of training done", tickformat=".0%"),
        yaxis=dict(title="validation accuracy", tickformat=".1%"),
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "Both students start from the same weights and take the same number of training "
        "steps. Alone, the student sees only its few labelled rows; distilled, it also copies "
        "the original's softened outputs on every training row and on blends of them.",
    )


def figures(result: Result) -> dict:
    a, h = result.arrays, result.history
    figs = {
        "Variants compared": comparison_table(result),
        "Variant files": files_table(result),
        "Trade-off": tradeoff(result),
        "Latency": latency_boxes(result),
    }
    if "layer_sparsity" in a:
        figs["Sparsity per layer"] = sparsity_bars(result)
    if "weights_int8" in a:
        figs["Weights before and after int8"] = weight_histograms(result)
    if "distill_gain" in result.metrics:
        figs["Teacher and students"] = teacher_and_students(result)
    if "alone_val_accuracy" in h and "distilled_val_accuracy" in h:
        figs["Distillation"] = distillation_curves(result)
    training = [c for c in ("baseline_loss", "baseline_val_accuracy", "finetune_val_accuracy") if c in h]
    if training:
        h = h.dropna(subset=training, how="all")  # the students' epochs have their own figure
        figs["Training"] = charts.learning_curves(
            h,
            training,
            title="Training the original, then fine-tuning after pruning",
            unit=result.config.step_unit(),
            names={
                "baseline_loss": "original: training loss",
                "baseline_val_accuracy": "original: validation accuracy",
                "finetune_val_accuracy": "pruned, fine-tuning: validation accuracy",
            },
            caption="The first steps train the original; fine-tuning steps let the pruned network recover.",
        )
    return figs


def explain_figures(result: Result, explanation) -> dict:
    if not explanation:
        return {}
    return {"Side by side": side_by_side(result), "Explanation drift": drift_scatter(result)}


def side_by_side(result: Result) -> go.Figure:
    """Each explained row's SHAP values for both models next to each other; the slider picks the row."""
    from plotly.subplots import make_subplots

    a, info = result.arrays, result.info
    n, side = len(a["shap_rows"]), info["image_side"]
    titles = ("original", f"shipped: {info['compared']}")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    for r in range(n):
        lim = float(max(np.abs(a["shap_original"][r]).max(), np.abs(a["shap_compressed"][r]).max())) or 1.0
        for c, key in enumerate(("shap_original", "shap_compressed")):
            v = a[key][r]
            if side:
                trace = go.Heatmap(
                    z=v.reshape(side, side),
                    colorscale=charts.DIVERGING,
                    zmin=-lim,
                    zmax=lim,
                    showscale=c == 1,
                    visible=r == 0,
                )
            else:
                trace = go.Bar(x=info["feature_names"], y=v, visible=r == 0, marker_color=OTHER_COLOUR)
            fig.add_trace(trace, row=1, col=c + 1)
    labels = [info["class_names"][int(k)] for k in a["shap_classes"]]
    steps = [
        dict(label=f"{r} ({labels[r]})", method="update", args=[{"visible": [j // 2 == r for j in range(2 * n)]}])
        for r in range(n)
    ]
    fig.update_layout(
        title="SHAP of the same rows: original and shipped model",
        showlegend=False,
        sliders=[dict(active=0, currentvalue=dict(prefix="row (class): "), steps=steps)],
    )
    if side:
        fig.update_yaxes(autorange="reversed", scaleanchor="x")
        fig.update_yaxes(autorange="reversed", scaleanchor="x2", row=1, col=2)
    return charts.captioned(
        fig,
        "Red pushes the logit of the class the original predicts up, blue pushes it down. "
        "Similar pictures mean compression kept what the model looks at.",
    )


def drift_scatter(result: Result) -> go.Figure:
    a, r = result.arrays, result.metrics.get("shap_correlation", float("nan"))
    x, y = a["shap_original"].ravel(), a["shap_compressed"].ravel()
    lim = float(max(np.abs(x).max(), np.abs(y).max())) or 1.0
    fig = go.Figure(go.Scatter(x=x, y=y, mode="markers", marker=dict(size=5, opacity=0.5), name="feature of a row"))
    fig.add_shape(type="line", x0=-lim, y0=-lim, x1=lim, y1=lim, line=dict(dash="dash", color="grey"))
    fig.update_layout(
        title=f"Explanation drift: correlation r = {r:.3f}",
        xaxis_title="SHAP value, original",
        yaxis_title=f"SHAP value, {result.info['compared']}",
    )
    return charts.captioned(
        fig,
        "One dot per feature of each explained row. On the dashed line the two models "
        "credit that feature exactly the same.",
    )


def live_figure(snapshot):
    return None  # the live learning curves say it all
