"""Result tabs: Results (what happened + figures), Explain (SHAP views), Details (config, metrics, downloads)."""

from __future__ import annotations

import re
from functools import partial

import numpy as np
import streamlit as st

import engine
from engine.core import charts, export
from engine.core.contract import metric_spec, tile_text
from engine.core.explain import additivity_note, explanations, global_importance, plain_note
from engine.core.service import service
from engine.core.wording import split_summary
from ui.runs import share_box


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def chart_text(fig) -> str:
    """What a chart shows, in words under it: its title (in bold), then its one-line takeaway."""
    title = re.sub(r"<[^>]*>", " ", str(fig.layout.title.text or ""))  # Plotly titles may hold <br>, <sup>
    title = " ".join(title.split()).rstrip(".:")
    caption = charts.caption_of(fig)
    if not title:
        return caption
    return f"**{export.markdown_text(title)}.** {caption}".strip()


def figure(fig, key: str, download: bool = True, select: bool = False) -> list[dict]:
    """One chart with its caption and an HTML download; with ``select``, clicking a point reruns the page and
    the clicked points come back (Streamlit's selection points: curve_number, point_index, x, y, customdata)."""
    points: list[dict] = []
    if select:
        event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points")
        points = list((event.get("selection") or {}).get("points") or [])  # a dict-like state
    else:
        st.plotly_chart(fig, key=key)
    alt = chart_text(fig)
    if alt:
        st.caption(alt)  # the chart's text alternative: Plotly's SVG gives a screen reader nothing to read
    if download:
        st.download_button(
            "Download chart (HTML)",
            data=partial(export.figure_html, fig),
            file_name=f"{key}.html",
            mime="text/html",
            key=f"{key}.dl",
            type="tertiary",
            icon=":material/download:",
        )
    return points


def result_tabs(name: str, outcome, figure_extras: dict | None = None) -> None:
    """``figure_extras``: {figure title: draw(outcome, clicked points)}, drawn under that figure on the Results
    tab, whose points become clickable (e.g. NAS: click a candidate to inspect it)."""
    if outcome.status == "stopped":
        who = "You stopped this run early" if _own(name, outcome) else "This run was stopped before it finished"
        st.warning(f"{who}: these results come from the partly trained model.")
    head, share = st.columns([4, 1], vertical_alignment="bottom")
    head.subheader("What just happened")
    with share:
        share_box(outcome)
    drawn = outcome.drawn()  # charts and words drawn from the run's stored data (cached per run id)
    lead, more = split_summary(drawn.text)  # the verdict and its numbers first; the rest folded away
    st.markdown(lead)
    if more:
        with st.expander("More about this run"):
            st.markdown(more)
    for problem in drawn.problems:
        st.caption(problem)
    specs = engine.load(name).METRICS
    headline = [k for k in outcome.headline if k in outcome.metrics]
    for col, key in zip(st.columns(max(len(headline), 1)), headline):
        spec = metric_spec(specs, key)
        col.metric(spec.label, tile_text(spec, key, outcome.metrics), help=spec.help or None)
    from engine.core.tryit import available

    labels = ["Results", "Explain", *(["Try it"] if available(name) else []), "Details"]
    # Tabs that rerun when switched, so only the open tab is built and sent: a result link's first visit draws the
    # Results charts alone (the browser has a third of the charts to draw before the page settles), and the Try it
    # tab's model (rebuilt from weights, with SHAP) is only built for a person who opens it.
    if try_it_linked(name, labels):  # a link to a Try-it view (``look=``) opens on the Try it tab, once
        st.session_state[tabs_key(name)] = "Try it"
    results, explain, *try_it, details = st.tabs(labels, key=tabs_key(name), on_change="rerun")
    with results:
        for title, fig in drawn.figures.items():
            extra = (figure_extras or {}).get(title)
            points = figure(fig, f"{name}.fig.{_slug(title)}", select=extra is not None)
            if extra is not None:
                extra(outcome, points)
    if explain.open:
        with explain:
            explain_tab(name, outcome, drawn)
    for tab in try_it:
        with tab:
            from ui.tryit import try_it_tab  # it imports this module, so it is imported here

            if tab.open:
                try_it_tab(name, outcome)
    if details.open:
        with details:
            details_tab(name, outcome)


def try_it_linked(name: str, labels: list[str]) -> bool:
    """Whether the address names a Try-it view (``look=``) this session has not opened yet."""
    seen = f"{name}._try_linked"
    if "Try it" not in labels or "look" not in st.query_params or st.session_state.get(seen):
        return False
    st.session_state[seen] = True
    return True


def _own(name: str, outcome) -> bool:
    """Whether this browser made the run (a visitor of someone else's result link did not stop it)."""
    from ui.runs import owner

    if st.session_state.get(f"{name}._outcome") is outcome:
        return True
    row = service().run(outcome.run_id) if outcome.run_id else None
    if not row:
        return False
    return row.get("owner") == owner()


def explain_tab(name: str, outcome, drawn) -> None:
    """SHAP views of each explanation, then the technique's own explanation charts."""
    exps = explanations(outcome.explanation)
    if not exps and not drawn.explain_figures:
        st.info("This run has no SHAP explanation.")
    for title, exp in exps.items():
        explanation_views(name, title, exp)
    for title, fig in drawn.explain_figures.items():
        figure(fig, f"{name}.xfig.{_slug(title)}")


def tabs_key(name: str) -> str:
    """The result tabs' widget key: its session value is the open tab's label ("Results", "Try it", ...)."""
    return f"{name}._tab"


def is_tabular(exp) -> bool:
    return exp.feature_names is not None and np.ndim(exp.data) == 2


@st.fragment
def explanation_views(name: str, title: str, exp) -> None:
    """Global bar, beeswarm, one row's waterfall and one feature's dependence for a tabular Explanation."""
    key = f"{name}.shap.{_slug(title)}"
    st.markdown(f"#### {title}")
    level, note = additivity_note(exp)
    if level == "warning":
        st.warning(plain_note(exp), icon=":material/warning:")
    else:
        st.caption(plain_note(exp))
    if note:
        with st.expander("Details for experts"):
            st.caption(note)
    if not is_tabular(exp):
        return
    output = None
    if np.ndim(exp.values) == 3:
        names = exp.output_names or [str(i) for i in range(np.shape(exp.values)[2])]
        output = st.selectbox(
            "Explain the model's score for class",
            range(len(names)),
            format_func=lambda i: names[i],
            key=f"{key}.output",
            help="SHAP splits the model's output for this class (a raw score or a probability).",
        )
    c1, c2 = st.columns(2)
    with c1:
        figure(charts.shap_bar(exp, output), f"{key}.bar", download=False)
    with c2:
        figure(charts.shap_beeswarm(exp, output), f"{key}.beeswarm", download=False)
    c3, c4 = st.columns(2)
    with c3:
        row = (
            st.slider(
                "Row to explain",
                0,
                len(exp.values) - 1,
                0,
                key=f"{key}.row",
                help="Pick one explained row to see how each feature moved its prediction.",
            )
            if len(exp.values) > 1
            else 0
        )
        figure(charts.shap_waterfall(exp, row, output), f"{key}.waterfall", download=False)
    with c4:
        features = list(exp.feature_names)
        default = int(np.argmax(global_importance(exp)))
        feature = st.selectbox(
            "Feature",
            range(len(features)),
            index=default,
            format_func=lambda j: features[j],
            key=f"{key}.feature",
            help="See how this feature's value changes its effect.",
        )
        figure(charts.shap_dependence(exp, feature, output), f"{key}.dependence", download=False)


def network_views(name: str, diagrams: dict) -> None:
    """Each trained network as a diagram of its layers, blocks and weights (the first one open)."""
    if not diagrams:
        return
    for i, (model_name, fig) in enumerate(diagrams.items()):
        total = (fig.layout.meta or {}).get("total_parameters")
        weights = f" · {total:,} weights" if isinstance(total, int) else ""
        with st.expander(
            f"Network diagram: {model_name.replace('_', ' ')}{weights}", expanded=i == 0, icon=":material/account_tree:"
        ):
            figure(fig, f"{name}.diagram.{_slug(model_name)}", download=False)


def details_tab(name: str, outcome) -> None:
    st.markdown(f"**Status:** {outcome.status} · **time:** {outcome.seconds:.1f} s · **device:** {outcome.device}")
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Settings**")
        st.json(outcome.config)
    with c2:
        st.markdown("**Metrics**")
        st.dataframe(export.metrics_frame(outcome.metrics), hide_index=True)
    network_views(name, getattr(outcome, "diagrams", None) or {})
    for model_name, text in outcome.architecture.items():
        with st.expander(f"Architecture: {model_name} (as PyTorch prints it)"):
            st.code(text, language=None)
    with st.expander("History (every step)"):
        st.dataframe(outcome.history, hide_index=True)
    files = [
        ("History (CSV)", export.csv_bytes(outcome.history), f"{name}_history.csv", "text/csv", "history"),
        (
            "Metrics (CSV)",
            export.csv_bytes(export.metrics_frame(outcome.metrics)),
            f"{name}_metrics.csv",
            "text/csv",
            "metrics",
        ),
        ("Settings (JSON)", export.config_json(outcome.config), f"{name}_config.json", "application/json", "config"),
    ]
    if outcome.weights:
        files.append(
            (
                "Weights (safetensors)",
                outcome.weights,
                f"{name}_model.safetensors",
                "application/octet-stream",
                "weights",
            )
        )
    for col, (label, data, file_name, mime, key) in zip(st.columns(4), files, strict=False):
        col.download_button(label, data, file_name, mime, key=f"{name}.dl.{key}", icon=":material/download:")
    for label, d in (getattr(outcome, "downloads", None) or {}).items():  # the technique's own files (views.downloads)
        st.download_button(
            label,
            d["data"],
            d["file_name"],
            d["mime"],
            key=f"{name}.dl.file.{label}",
            icon=":material/download:",
            type="primary",
        )
        if d.get("note"):
            st.caption(export.markdown_text(d["note"]))
