"""Attention pictures: accuracy side by side, attention maps, positional encodings, token SHAP.

Pure functions of a stored run (no torch, no models); SHAP and the reference encoding are computed in
``analysis``, the words are in ``summary``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.core import charts
from engine.core.contract import Result

LOSSES = ("transformer_loss", "baseline_loss", "no_pe_loss")
ACCURACIES = ("val_accuracy", "baseline_val_accuracy", "no_pe_val_accuracy")
CURVE_NAMES = {  # legends, and the Runs page's chart titles
    "transformer_loss": "Transformer: training loss",
    "baseline_loss": "No attention (averaged embeddings): training loss",
    "no_pe_loss": "Transformer without position information: training loss",
    "val_accuracy": "Transformer: validation accuracy",
    "baseline_val_accuracy": "No attention (averaged embeddings): validation accuracy",
    "no_pe_val_accuracy": "Transformer without position information: validation accuracy",
}


# --- attention maps ----------------------------------------------------------------------------------------


def _ticks(tokens: list[str]) -> tuple[dict, dict]:
    """Horizontal tick labels for an attention map: keys by position number (always short), queries as
    "position token" (e.g. "3 (" or "0 [CLS]"), so brackets and long words never need rotating."""
    idx = list(range(len(tokens)))
    keys = dict(tickvals=idx, ticktext=[str(i) for i in idx], tickangle=0)
    queries = dict(tickvals=idx, ticktext=[f"{i} {t}" for i, t in enumerate(tokens)], tickangle=0)
    return keys, queries


def _pair_labels(tokens: list[str]) -> list[list[str]]:
    """Hover text for an attention map: 'query → key' with the tokens' places."""
    return [[f"{q} ({i}) looks at {k} ({j})" for j, k in enumerate(tokens)] for i, q in enumerate(tokens)]


def attention_trace(weights: np.ndarray, tokens: list[str]):
    """One head's attention weights as a heatmap trace over positions 0..T-1 (0-1, blue), hovering 'query looks at
    key' with the tokens' places."""
    import plotly.graph_objects as go

    idx = list(range(len(tokens)))
    return go.Heatmap(
        z=np.round(np.asarray(weights, dtype=float), 3),
        x=idx,
        y=idx,
        zmin=0,
        zmax=1,
        colorscale="Blues",
        colorbar=dict(title="weight"),
        text=_pair_labels(tokens),
        hovertemplate="%{text}: %{z:.2f}<extra></extra>",
    )


def _heatmap_figure(weights: np.ndarray, tokens: list[str], title: str, caption: str):
    import plotly.graph_objects as go

    keys, queries = _ticks(tokens)
    fig = go.Figure(attention_trace(weights, tokens))
    fig.update_layout(
        title=title,
        xaxis=dict(title="key position (looked at)", **keys),
        yaxis=dict(title="query (looking)", autorange="reversed", **queries),
    )
    return charts.captioned(fig, caption)


def live_figure(snapshot):
    """The attention map of one test sequence as training goes on."""
    if not snapshot:
        return None
    return _heatmap_figure(
        np.asarray(snapshot["weights"]),
        snapshot["tokens"],
        "Attention while training (last block, head 1)",
        "Each row is a token asking 'where should I look?'; the colours in that row are its "
        "attention weights over the positions (they add up to 1). Watch them sharpen as the "
        "model learns.",
    )


def _room_for_menu(fig, caption: str):
    """Caption the figure, then keep a top margin tall enough for the title and the example menu."""
    fig = charts.captioned(fig, caption)
    fig.update_layout(margin=dict(t=140))
    return fig


def _example_label(result: Result, e: int) -> str:
    """The menu entry for example ``e``: its text, or for digit images the digit it shows."""
    info, a = result.info, result.arrays
    if info["row_width"]:
        return f"Example {e + 1}: a handwritten {info['class_names'][a['y_test'][a['examples'][e]]]}"
    text = " ".join(info["tokens"][e][1:])
    return f"Example {e + 1}: {text if len(text) <= 40 else text[:39] + '…'}"


def _example_layout(result: Result, e: int, n_axes: int) -> dict:
    """Layout changes that show example ``e``: its tick labels on every map and its title."""
    info, a = result.info, result.arrays
    keys, queries = _ticks(info["tokens"][e])
    layout = {}
    for k in range(n_axes):
        suffix = "" if k == 0 else str(k + 1)
        layout.update(
            {
                f"xaxis{suffix}.tickvals": keys["tickvals"],
                f"xaxis{suffix}.ticktext": keys["ticktext"],
                f"yaxis{suffix}.tickvals": queries["tickvals"],
                f"yaxis{suffix}.ticktext": queries["ticktext"],
            }
        )
    truth = info["class_names"][a["y_test"][a["examples"][e]]]
    pred = info["class_names"][a["pred_test"][a["examples"][e]]]
    layout["title.text"] = f"Attention maps · example {e + 1} (answer: {truth}; model says: {pred})"
    return layout


def attention_maps_figure(result: Result):
    """Every block (rows) and head (columns) for one example, with a dropdown to pick the example."""
    from plotly.subplots import make_subplots

    maps, info = result.arrays["attention"], result.info
    n_ex, L, H = maps.shape[:3]
    fig = make_subplots(
        rows=L,
        cols=H,
        shared_yaxes=True,
        horizontal_spacing=0.03,
        vertical_spacing=0.1,
        subplot_titles=[f"block {b + 1} · head {h + 1}" for b in range(L) for h in range(H)],
    )
    buttons: list[dict[str, Any]] = []
    for e in range(n_ex):
        tokens = info["tokens"][e]
        n = len(tokens)
        for b, h in np.ndindex(L, H):
            trace = attention_trace(maps[e, b, h, :n, :n], tokens).update(
                visible=e == 0,
                showscale=b == 0 and h == 0,
                hovertemplate=f"block {b + 1} head {h + 1}<br>%{{text}}: %{{z:.2f}}<extra></extra>",
            )
            fig.add_trace(trace, row=b + 1, col=h + 1)
        buttons.append(
            dict(
                label=_example_label(result, e),
                method="update",
                args=[{"visible": [i // (L * H) == e for i in range(n_ex * L * H)]}, _example_layout(result, e, L * H)],
            )
        )
    fig.update_layout(**buttons[0]["args"][1])
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=10))
    fig.update_xaxes(tickfont=dict(size=10))
    fig.update_xaxes(title_text="key position", row=L)
    fig.update_layout(
        updatemenus=[
            dict(
                buttons=buttons,
                direction="down",
                x=0,
                y=1.0,
                xanchor="left",
                yanchor="bottom",
                pad=dict(b=30),
                showactive=True,
            )
        ],
        title=dict(x=0.01, y=0.98, yanchor="top"),
        height=max(440, 300 * L + 140),
    )
    return _room_for_menu(
        fig,
        "Each small map is one attention head: row = the token that is looking (its "
        "position and text on the left), column = the position it looks at, darker = "
        "more attention (each row adds up to 1). The [CLS] row (position 0) is what the "
        "classifier reads its answer from. Hover for both tokens; pick another example "
        "in the menu.",
    )


def _position_similarity(pe: np.ndarray, title: str):
    """The cosine similarity between the position vectors of ``pe`` (T, d), as a (T, T) heatmap."""
    import plotly.graph_objects as go

    positions = np.arange(pe.shape[0])
    unit = pe / np.maximum(np.linalg.norm(pe, axis=1, keepdims=True), 1e-9)
    fig = go.Figure(charts.cosine_heatmap(unit @ unit.T, positions, "positions %{y} and %{x}"))
    fig.update_layout(
        title=title, xaxis_title="position", yaxis=dict(title="position", autorange="reversed", scaleanchor="x")
    )
    return fig


def positional_encoding_figures(result: Result) -> dict:
    """The positional-encoding matrix and the cosine similarity between positions it induces."""
    import plotly.graph_objects as go

    kind, pe, note = result.config.positional_encoding, result.arrays["positional_encoding"], ""
    if kind == "none":  # the sinusoidal table of the same shape, computed by analysis.measure
        pe, kind = result.arrays["sinusoidal_encoding"], "sinusoidal"
        note = " (this run used none: showing the sinusoidal one for reference)"
    positions = np.arange(pe.shape[0])
    matrix = go.Figure(
        go.Heatmap(
            z=pe,
            x=np.arange(pe.shape[1]),
            y=positions,
            colorscale=charts.DIVERGING,
            zmid=0,
            colorbar=dict(title="value"),
            hovertemplate="position %{y}, dimension %{x}: %{z:.2f}<extra></extra>",
        )
    )
    matrix.update_layout(
        title=f"Positional encoding ({kind}){note}",
        xaxis_title="embedding dimension",
        yaxis=dict(title="position (0 = [CLS])", autorange="reversed"),
    )
    similarity = _position_similarity(pe, f"How alike positions look ({kind} encoding){note}")
    what = (
        "Fixed sine waves of different speeds: fast waves (left columns) tell neighbours apart, slow waves "
        "(right columns) tell far-apart positions apart."
        if kind == "sinusoidal"
        else "One vector per position, learned during training together with everything else."
    )
    return {
        "Positional encoding": charts.captioned(
            matrix, "Each row is the vector added to the token at that position. " + what
        ),
        "Position similarity": charts.captioned(
            similarity,
            "Cosine similarity between the position vectors: "
            "1 means two positions look identical to the "
            "model, 0 unrelated. A dark diagonal fading "
            "outwards means nearby positions look alike.",
        ),
    }


# --- results -----------------------------------------------------------------------------------------------


def accuracy_figure(m: dict):
    names = ["transformer", "no attention (averaged embeddings)"]
    values = [m["test_accuracy"], m["baseline_test_accuracy"]]
    if "test_accuracy_no_positional_encoding" in m:
        names.append("transformer without positional encoding")
        values.append(m["test_accuracy_no_positional_encoding"])
    fig = charts.bar(
        names,
        values,
        title="Test accuracy",
        x_title="share of test sequences right",
        caption=f"Share of the {m['n_test']:.0f} held-out sequences each model got right; always "
        f"giving the commonest answer gets {m['chance_accuracy']:.0%}. The no-attention "
        "model only sees which tokens occur, not their order.",
    )
    fig.add_hline(y=m["chance_accuracy"], line_dash="dash", line_color="grey", annotation_text="chance")
    return fig


def figures(result: Result) -> dict:
    h, a = result.history, result.arrays
    figs = {
        "Test accuracy": accuracy_figure(result.metrics),
        "Loss": charts.learning_curves(
            h,
            [c for c in LOSSES if c in h],
            title="Training loss",
            unit=result.config.step_unit(),
            names=CURVE_NAMES,
            caption="Cross-entropy on the training sequences, per epoch: lower is "
            "better. A model that cannot see order stalls early on order "
            "tasks.",
        ),
        "Validation accuracy": charts.learning_curves(
            h,
            [c for c in ACCURACIES if c in h],
            title="Validation accuracy",
            unit=result.config.step_unit(),
            names=CURVE_NAMES,
            caption="Share of validation sequences (not used for training) each model gets right, per epoch.",
        ),
        "Attention maps": attention_maps_figure(result),
        **positional_encoding_figures(result),
        "Confusion matrix": charts.confusion_matrix(
            a["y_test"],
            a["pred_test"],
            result.info["class_names"],
            title="Transformer: confusion matrix on the test set",
        ),
    }
    return figs


# --- explain -----------------------------------------------------------------------------------------------


def _attention_vs_shap_traces(result: Result, explanation, e: int):
    """The bars for example ``e``: [CLS]'s attention to each token (last block, heads averaged) and its SHAP."""
    import plotly.graph_objects as go

    a = result.arrays
    tokens = result.info["tokens"][e][1:]
    n = len(tokens)
    weights = a["attention"][e, -1, :, 0, 1 : n + 1].mean(0)  # [CLS] row, real tokens only
    shap_values = np.asarray(explanation.values)[e, :n]
    x = list(range(n))
    return [
        go.Bar(
            x=x,
            y=weights,
            marker_color="#1f77b4",
            visible=e == 0,
            name="attention",
            customdata=tokens,
            hovertemplate="%{customdata}: %{y:.2f}<extra></extra>",
        ),
        go.Bar(
            x=x,
            y=shap_values,
            visible=e == 0,
            name="SHAP",
            customdata=tokens,
            marker_color=np.where(shap_values >= 0, "#d62728", "#1f77b4").tolist(),
            hovertemplate="%{customdata}: %{y:+.3f}<extra></extra>",
        ),
    ]


def attention_vs_shap_figure(result: Result, explanation):
    """Per example: the attention [CLS] pays to each token next to each token's SHAP attribution."""
    from plotly.subplots import make_subplots

    a, info = result.arrays, result.info
    fig = make_subplots(
        rows=2,
        cols=1,
        vertical_spacing=0.18,
        subplot_titles=[
            "Attention: how much [CLS] looks at each token (last block, heads averaged)",
            "SHAP: how much each token pushed the predicted class",
        ],
    )
    buttons: list[dict[str, Any]] = []
    n_ex = len(a["examples"])
    for e in range(n_ex):
        attention, shap_bars = _attention_vs_shap_traces(result, explanation, e)
        fig.add_trace(attention, 1, 1)
        fig.add_trace(shap_bars, 2, 1)
        tokens, x = info["tokens"][e][1:], list(range(len(info["tokens"][e]) - 1))
        truth = info["class_names"][a["y_test"][a["examples"][e]]]
        pred = info["class_names"][a["pred_test"][a["examples"][e]]]
        layout = {
            "xaxis.tickvals": x,
            "xaxis.ticktext": tokens,
            "xaxis2.tickvals": x,
            "xaxis2.ticktext": tokens,
            "title.text": f"Example {e + 1}: answer {truth}, model says {pred}",
        }
        buttons.append(
            dict(
                label=_example_label(result, e),
                method="update",
                args=[{"visible": [i // 2 == e for i in range(2 * n_ex)]}, layout],
            )
        )
    fig.update_layout(**buttons[0]["args"][1])
    fig.update_xaxes(tickangle=0)
    fig.update_layout(
        showlegend=False,
        height=620,
        title=dict(x=0.01, y=0.98, yanchor="top"),
        updatemenus=[
            dict(buttons=buttons, direction="down", x=0, y=1.0, xanchor="left", yanchor="bottom", pad=dict(b=40))
        ],
    )
    fig.update_yaxes(title_text="weight", row=1, col=1)
    fig.update_yaxes(title_text="SHAP value", row=2, col=1)
    return _room_for_menu(
        fig,
        "Top: where the classifier token looked. Bottom: SHAP, how much each token changed "
        "the score of the predicted class (red pushes it up, blue down). They answer "
        "different questions: attention says where information was read from, SHAP says "
        "which tokens the answer depends on. A token can get little attention and still "
        "matter (its information may have reached [CLS] through another token in an earlier "
        f"block). SHAP method: {getattr(explanation, 'method', 'SHAP')}.",
    )


def token_importance_figure(result: Result, explanation):
    """Mean |SHAP| of each kind of token over all explained sequences (token positions differ per sequence, so
    this groups by the token itself rather than by column as :func:`engine.core.explain.global_importance` does)."""
    vocab = result.info["vocab"]
    ids, values = np.asarray(explanation.data, dtype=int), np.abs(np.asarray(explanation.values))
    kinds = [k for k in np.unique(ids) if k != 0]
    mean = np.array([values[ids == k].mean() for k in kinds])
    order = np.argsort(mean)[::-1][:15]
    return charts.bar(
        [vocab[kinds[j]] for j in order],
        mean[order].tolist(),
        title=f"Tokens that matter most (mean |SHAP| over {len(ids)} test sequences)",
        x_title="mean |SHAP value|",
        caption="How much, on average, each kind of token moves the model's answer when it is "
        "removed from a sequence. The tokens that decide the answer (the X and Y markers, "
        "'not' and the adjectives, the brackets) should stand out; filler "
        "should not.",
    )


def explain_figures(result: Result, explanation) -> dict:
    if explanation is None:
        return {}
    figs = {"Attention vs SHAP": attention_vs_shap_figure(result, explanation)}
    if result.info["row_width"]:  # digit rows: the generic views rank rows with global_importance
        from engine.core.explain import global_importance

        names = explanation.feature_names
        figs["Rows that matter most"] = charts.bar(
            names,
            global_importance(explanation).tolist(),
            title="Pixel rows that matter most (mean |SHAP|)",
            x_title="mean |SHAP value|",
            caption="How much, on average, blanking each row of the 8x8 image moves the model's answer.",
        )
    else:
        figs["Tokens that matter most"] = token_importance_figure(result, explanation)
    return figs


# --- inside a real pretrained model (Try it: "Look inside a real model") --------------------------------------
# Pure figures of measured numbers: the attention weights come from ``pretrained.look`` (or the toy's forward).

REAL_GRID_TITLE = "Every head of the real model"  # the Try it's clickable figure (a click opens that head)
TAGS = {
    "previous": "prev",
    "next": "next",
    "cls": "CLS",
    "sep": "SEP",
    "same": "same",
    "punctuation": "punct",
    "self": "self",
}
BLUES = [  # plotly.py's "Blues" (ColorBrewer), light to dark, as the token maps draw it
    [i / 8, c]
    for i, c in enumerate(
        ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
    )
]


def token_map(weights: np.ndarray, tokens: list[str], title: str, caption: str):
    """One head's attention (T, T) with the tokens written on both axes: rows look, columns are looked at."""

    from engine.core.tryit import figure

    idx = list(range(len(tokens)))
    labels = [f"{i} {t}" for i, t in enumerate(tokens)]
    side = max(360, 22 * len(tokens) + 170)
    return figure(
        [attention_trace(weights, tokens)],
        caption,
        title=title,
        height=side,
        xaxis=dict(title="looked at", tickvals=idx, ticktext=labels, tickangle=-60),
        yaxis=dict(title="looking", autorange="reversed", tickvals=idx, ticktext=labels, tickangle=0),
    )


def head_grid(
    att: np.ndarray, labels: list, title: str, caption: str, row_name: str = "layer", clickable: bool = False
):
    """Small multiples: every head's map (rows: layers or blocks; columns: heads) in one chart. Head h of layer l
    fills the square [h, h+1) x [l, l+1), so a click's coordinates name the head; ``labels[l][h]`` is
    (kind, share) or None and goes in the hover."""
    import plotly.graph_objects as go

    from engine.attention.pretrained import KINDS
    from engine.core.tryit import lean_template

    att = np.asarray(att, dtype=float)
    n_rows, n_heads, T = att.shape[0], att.shape[1], att.shape[-1]
    step = 1.0 / (T + 1)  # one empty cell between heads
    pos = np.arange(T) * step
    traces = []
    for r in range(n_rows):
        for h in range(n_heads):
            found = labels[r][h]
            kind = f"{KINDS[found[0]]} ({found[1]:.0%})" if found else "no single pattern"
            traces.append(
                dict(
                    type="heatmap",
                    z=np.round(att[r, h], 2),
                    x=h + pos,
                    y=r + pos,
                    zmin=0,
                    zmax=1,
                    colorscale=BLUES,  # explicit: unvalidated, "Blues" would mean plotly.js's own (dark) scale
                    showscale=False,
                    hovertemplate=f"{row_name} {r + 1}, head {h + 1}: {kind}<extra></extra>",
                )
            )
    middle = (T - 1) * step / 2
    traces += _grid_marks(traces, labels, (n_rows, n_heads), middle, clickable)
    axis = dict(showgrid=False, zeroline=False, tickangle=0)
    layout = dict(
        template=lean_template(),
        meta={"caption": caption},
        margin=dict(l=10, r=10, t=50, b=10),
        title=dict(text=title),
        height=max(300, 64 * n_rows + 120) if n_heads > 4 else 300,
        showlegend=False,
        xaxis=dict(
            tickvals=[h + middle for h in range(n_heads)],
            ticktext=[f"H{h + 1}" for h in range(n_heads)],
            title="head",
            **axis,
        ),
        yaxis=dict(
            tickvals=[r + middle for r in range(n_rows)],
            ticktext=[f"{row_name[0].upper()}{r + 1}" for r in range(n_rows)],
            autorange="reversed",
            title=row_name,
            scaleanchor="x",
            **axis,
        ),
    )
    # Built without Plotly's per-trace validation (fixed, known-good keys): 72 validated heatmaps cost ~200 ms.
    return go.Figure(data=traces, layout=layout, _validate=False)


def _grid_marks(heatmaps: list[dict], labels: list, shape: tuple[int, int], middle: float, clickable: bool) -> list:
    """:func:`head_grid`'s marks over its heatmaps: an invisible marker at each square's centre that takes a click
    (heatmaps cannot be selected), and each measured head type written on its square."""
    cells = list(np.ndindex(*shape))
    out = []
    if clickable:
        hover = [t["hovertemplate"].removesuffix("<extra></extra>") for t in heatmaps]
        out.append(
            dict(
                type="scatter",
                mode="markers",
                x=[h + middle for _, h in cells],
                y=[r + middle for r, _ in cells],
                hovertext=hover,
                hovertemplate="%{hovertext}<br>click to open it<extra></extra>",
                marker=dict(size=36, color="rgba(0,0,0,0)", symbol="square"),
                selected=dict(marker=dict(color="rgba(0,0,0,0)")),
                unselected=dict(marker=dict(opacity=0)),
            )
        )
    tagged = [(h + middle, r + middle, TAGS[found[0]]) for (r, h) in cells if (found := labels[r][h])]
    if tagged:
        out.append(
            dict(
                type="scatter",
                mode="text",
                x=[t[0] for t in tagged],
                y=[t[1] for t in tagged],
                text=[t[2] for t in tagged],
                textfont=dict(size=11, color="#b35900"),
                hoverinfo="skip",
            )
        )
    return out


def share_bars(shares: np.ndarray, tokens: list[str], title: str, caption: str):
    """Each input token's share (sums to 1) of what a model reads its answer from (attention rollout)."""
    import plotly.graph_objects as go

    from engine.core.tryit import figure

    labels = [f"{i} {t}" for i, t in enumerate(tokens)]
    trace = go.Bar(x=labels, y=np.round(np.asarray(shares, dtype=float), 4), marker_color="#1f77b4")
    return figure(
        [trace],
        caption,
        title=title,
        xaxis=dict(title="input token", tickangle=-60),
        yaxis=dict(title="share", tickformat=".0%", rangemode="tozero"),
    )


def head_type_table(real: list, toy: list):
    """How many heads of each model take most of their weight to each kind of place (measured on this input),
    with the clearest heads named: a DataFrame for the Try it answer."""
    import pandas as pd

    from engine.attention.pretrained import KINDS

    def column(labels: list, prefix: str) -> dict[str, str]:
        found: dict[str, list[tuple[float, str]]] = {}
        for r, row in enumerate(labels):
            for h, item in enumerate(row):
                if item:
                    found.setdefault(item[0], []).append((item[1], f"{prefix}{r + 1} H{h + 1} ({item[1]:.0%})"))
        total = sum(len(row) for row in labels)
        out = {}
        for kind in KINDS:
            heads = sorted(found.get(kind, []), reverse=True)
            names = ", ".join(n for _, n in heads[:3]) + (", …" if len(heads) > 3 else "")
            out[kind] = f"{len(heads)} of {total}" + (f": {names}" if heads else "")
        spread = total - sum(len(v) for v in found.values())
        out["none"] = f"{spread} of {total}"
        return out

    a, b = column(real, "L"), column(toy, "B")
    rows = [{"Most of a head's attention goes to": KINDS.get(k, "no single pattern (spread out)")} for k in a]
    for row, k in zip(rows, a):
        row["Real model (MiniLM, 6 layers x 12 heads)"] = a[k]
        row["Toy model (this run)"] = b[k]
    return pd.DataFrame(rows)
