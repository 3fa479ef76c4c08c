"""GAN pictures: the training animation, quality beside its noise and real-data references, and the pixel SHAP of
the discriminator on digits. Pure functions of a Result's stored data (no torch, no models)."""

from __future__ import annotations

import numpy as np

from engine.core import charts
from engine.core.contract import Result
from engine.gan.config import CLASS_CONFIDENCE, CLASS_SHARE, COPY_LINE, COVER_SHARE, SURFACE_LIMIT

GENERATED, REAL = "#9467bd", "#2ca02c"


# --- shared pieces -----------------------------------------------------------------------------------------


def surface_style(wgan: bool) -> dict:
    """The discriminator surface's colours, the same on Results, in the animation and in Try it."""
    if wgan:
        return dict(colorscale=charts.DIVERGING, colorbar=dict(title="critic<br>score"))  # red high, blue low
    return dict(colorscale=charts.DIVERGING, zmin=0, zmax=1, colorbar=dict(title="P(real)"))


def _square(fig, limit: float = SURFACE_LIMIT):
    """Equal, fixed axes over the decision-surface window so frames and figures line up."""
    fig.update_xaxes(range=[-limit, limit], title="x1", constrain="domain")
    fig.update_yaxes(range=[-limit, limit], title="x2", scaleanchor="x")
    return fig


def _points(x: np.ndarray, name: str, color: str, size: int = 5, **marker):
    import plotly.graph_objects as go

    return go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", name=name, marker=dict(color=color, size=size, **marker))


def _fake_points(x: np.ndarray):
    return _points(x, "generated", GENERATED, line=dict(width=0.5, color="white"))


def drawn_points(text: str):
    """The points a person drew (the centres of the drawn data's blobs), as black crosses."""
    from engine.gan.drawing import parse

    return _points(
        parse(text), "your drawing", "black", 6, symbol="x-thin", opacity=0.8, line=dict(width=1.2, color="black")
    )


def live_figure(payload: dict):
    """Real vs generated samples right now (2-D, over D's surface) or the current generated digits."""
    import plotly.graph_objects as go

    if payload.get("kind") == "images":
        return charts.image_montage(
            np.asarray(payload["images"]),
            cols=5,
            shape=(8, 8),
            title=f"Generated digits at step {payload['step']}",
            caption="What the generator draws right now from ten fixed noise vectors.",
        )
    real, fake, axis = np.asarray(payload["real"]), np.asarray(payload["fake"]), payload["axis"]
    fig = go.Figure(
        [
            go.Heatmap(x=axis, y=axis, z=payload["surface"], opacity=0.7, **surface_style(payload.get("wgan", False))),
            _points(real, "real", REAL),
            _fake_points(fake),
        ]
    )
    fig.update_layout(title=f"Real vs generated at step {payload['step']}", legend=dict(orientation="h", y=-0.15))
    return charts.captioned(
        _square(fig),
        "Green: real data; purple: the generator's samples. Background: where "
        "the discriminator thinks samples look real (red) or fake (blue).",
    )


# --- 2-D figures -------------------------------------------------------------------------------------------


def _animation(result: Result):
    """Generated samples over training on top of the discriminator's decision surface, with a slider."""
    import plotly.graph_objects as go

    a, wgan = result.arrays, result.config.loss == "wgan_gp"
    steps, samples, surfaces = a["snapshot_steps"], a["snapshot_samples"], a["snapshot_surfaces"]
    last = len(steps) - 1

    def traces(k):
        return [
            go.Heatmap(x=a["grid_x"], y=a["grid_y"], z=surfaces[k], opacity=0.7, **surface_style(wgan)),
            _fake_points(samples[k]),
        ]

    fig = go.Figure([traces(last)[0], _points(a["real"][:300], "real", REAL, 4, opacity=0.6), traces(last)[1]])
    if result.config.dataset == "drawn":  # the drawing itself, on top (the frames change traces 0 and 2 only)
        fig.add_trace(drawn_points(result.config.drawing))
    fig.frames = [go.Frame(data=traces(k), traces=[0, 2], name=str(int(s))) for k, s in enumerate(steps)]
    fig.update_layout(
        title="Generated samples over training",
        legend=dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom"),
        **charts.play_controls([int(t) for t in steps], 500, y=-0.12, active=last, from_start=True),
    )
    what = (
        "the critic's realness score (red high, blue low)"
        if wgan
        else "the discriminator's probability that a point is real (red) or fake (blue)"
    )
    return charts.captioned(
        _square(fig),
        f"Green: held-out real data; purple: generated samples from the same "
        f"noise at each snapshot. Background: {what}. Drag the slider or press "
        f"Play to watch the generator chase the regions the discriminator calls "
        f"real.",
    )


def _interpolation_2d(result: Result):
    import plotly.graph_objects as go

    a = result.arrays
    path = a["interpolation"]
    fig = go.Figure(
        [
            go.Heatmap(
                x=a["grid_x"],
                y=a["grid_y"],
                z=a["final_surface"],
                opacity=0.4,
                **surface_style(result.config.loss == "wgan_gp"),
            ),
            _points(a["real"], "real", REAL, 4),
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines+markers",
                name="G along the noise path",
                marker=dict(
                    color=np.linspace(0, 1, len(path)), colorscale="Viridis", size=10, line=dict(width=1, color="black")
                ),
                line=dict(color="black", width=1),
            ),
        ]
    )
    fig.update_layout(
        title="Latent interpolation: walking in a straight line between two noise vectors",
        legend=dict(orientation="h", y=-0.15),
    )
    return charts.captioned(
        _square(fig),
        "Twelve noise vectors evenly spaced on a straight line from one random noise vector (dark) to "
        "another (yellow), each turned into a point by the generator. A generator that covers several "
        "modes must jump across the empty space between them somewhere.",
    )


# --- digits figures ----------------------------------------------------------------------------------------


def _digits_over_training(result: Result):
    steps, samples = result.arrays["snapshot_steps"], result.arrays["snapshot_samples"]  # (snapshots, 10, 64)
    return charts.image_montage(
        samples.reshape(-1, 64),
        cols=samples.shape[1],
        shape=(8, 8),
        row_labels=[f"step {int(s)}" for s in steps],
        title="Generated digits over training (rows: training step)",
        height=120 + 45 * len(steps),
        caption="Each column is one fixed noise vector, each row the generator at a later point in training: noise "
        "turns into strokes, then into digits.",
    )


def _interpolation_digits(result: Result):
    path = result.arrays["interpolation"]
    return charts.image_montage(
        path,
        cols=len(path),
        shape=(8, 8),
        title="Latent interpolation between two noise vectors",
        height=220,
        caption="Twelve noise vectors on a straight line between two random ones, each drawn by the final generator: "
        "a smooth morph means the generator learned a continuous space of digits.",
    )


# --- quality with its scale --------------------------------------------------------------------------------


def _quality(result: Result):
    """Precision and recall of the generated samples beside uniform noise and a second real sample."""
    import plotly.graph_objects as go

    m = result.metrics
    names = ["precision", "recall"]
    fig = go.Figure(
        [
            go.Bar(
                name=label,
                x=["Precision", "Recall"],
                y=[m[f"{prefix}{n}"] for n in names],
                marker_color=color,
                text=[f"{m[f'{prefix}{n}']:.0%}" for n in names],
                textposition="auto",
            )
            for label, prefix, color in (
                ("uniform noise", "noise_", "#bbbbbb"),
                ("generated", "", GENERATED),
                ("real data", "real_", REAL),
            )
        ]
    )
    fig.update_layout(
        title="Precision and recall against held-out real data",
        barmode="group",
        yaxis=dict(range=[0, 1.05], tickformat=".0%"),
        legend=dict(orientation="h", y=-0.15),
    )
    return charts.captioned(
        fig,
        "Precision: share of samples that land where real data lives. Recall: share of "
        "held-out real data the samples reach. Grey bars are random noise over the data's "
        "range (learned nothing), green bars a second held-out real sample (perfect). High precision "
        "with low recall is mode collapse; the reverse is samples smeared between the modes.",
    )


def _mmd(result: Result):
    import plotly.graph_objects as go

    a, m = result.arrays, result.metrics  # the snapshots: before training, then every 10%
    fig = go.Figure(
        go.Scatter(
            x=a["snapshot_steps"],
            y=a["snapshot_mmd"],
            mode="lines+markers",
            name="generated",
            line=dict(color=GENERATED),
        )
    )
    kept = m.get("kept_step")
    if "snapshot_train_mmd" in a and kept is not None:  # keep_best: the snapshot measured and kept
        k = int(np.flatnonzero(a["snapshot_steps"] == kept)[0])
        fig.add_scatter(
            x=[kept],
            y=[a["snapshot_mmd"][k]],
            mode="markers+text",
            name="kept (closest to the training data)",
            text=["kept"],
            textposition="bottom center",
            marker=dict(size=14, symbol="star", color=GENERATED, line=dict(width=1, color="black")),
        )
    for label, key, color in (("uniform noise", "noise_mmd", "#888888"), ("real data", "real_mmd", REAL)):
        fig.add_hline(
            y=m[key],
            line=dict(dash="dash", color=color),
            annotation_text=f"{label}: {m[key]:.3g}",
            annotation_position="top left",
        )
    fig.update_layout(
        title="MMD between generated and held-out real samples",
        xaxis_title=result.config.step_unit(),
        yaxis=charts.log_axis([*a["snapshot_mmd"], m["noise_mmd"], m["real_mmd"]], title="MMD")
        if m["real_mmd"] > 0
        else dict(title="MMD"),
    )
    return charts.captioned(
        fig,
        "Maximum mean discrepancy: a distance between the generated and the held-out real "
        "samples (0 = the same distribution; log scale). The dashed lines give its scale: "
        "random noise over the data's range, and a second real sample."
        + (
            " The star marks the snapshot that was kept: the one closest to the training data."
            if "snapshot_train_mmd" in a
            else ""
        ),
    )


def _coverage(result: Result, unit: str):
    a, m = result.arrays, result.metrics
    names, n = result.info["mode_names"], len(a["real"])  # scored on as many samples as real ones
    digits = unit == "class"
    which = "confidently recognised, real-looking samples" if digits else "high-quality samples"
    noise = m["noise_class_coverage" if digits else "noise_modes_covered"]
    share = CLASS_SHARE if digits else COVER_SHARE
    counted = (
        f" (a sample counts when the classifier is at least {CLASS_CONFIDENCE:.0%} sure of its class and it lies on "
        f"the real data)"
        if digits
        else ""
    )
    return charts.bar(
        names,
        a["mode_counts"].tolist(),
        title=f"Generated {which} per {unit} (out of {n})",
        caption=f"How many of {n} generated samples land on each {unit}{counted}. A {unit} counts as covered with at "
        f"least {share:.0%} of its fair share ({share * n / len(names):.0f} samples); short or empty "
        f"bars are {unit}s the generator missed. For scale, uniform noise covers {noise:.0f} of {len(names)}.",
    )


def _copying(result: Result):
    """The copying check: distances to the nearest training sample, generated beside held-out real samples."""
    import plotly.graph_objects as go

    a, m = result.arrays, result.metrics
    generated, held = a["copy_train_distance"], a["copy_held_distance"]
    top = float(np.quantile(np.concatenate([generated, held]), 0.99)) or 1.0
    bins = dict(start=0.0, end=top, size=top / 40)
    fig = go.Figure(
        [
            go.Histogram(x=held, name="held-out real data", marker_color=REAL, opacity=0.6, xbins=bins),
            go.Histogram(x=generated, name="generated", marker_color=GENERATED, opacity=0.6, xbins=bins),
        ]
    )
    copies = m["copy_ratio"] < COPY_LINE
    fig.update_layout(
        title=f"Does it copy its training points? {'Yes' if copies else 'No'} (distance ratio {m['copy_ratio']:.2f})",
        barmode="overlay",
        xaxis=dict(title="distance to the nearest training sample", range=[0, top]),
        yaxis_title="samples",
        legend=dict(orientation="h", y=-0.2),
    )
    return charts.captioned(
        fig,
        "How far each sample lies from its nearest training sample: purple for generated samples, green for real "
        "samples the GAN never saw. A generator that draws new samples lands as far from the training points as "
        "fresh real data (ratio of the medians about 1); one that copies its training set piles up at 0 (ratio "
        f"under {COPY_LINE:g} reads as copying). Precision and recall cannot see this: a copy scores like real data.",
    )


def figures(result: Result) -> dict:
    h, wgan = result.history, result.config.loss == "wgan_gp"
    if result.config.dataset != "digits":
        figs = {
            "Training animation": _animation(result),
            "Precision and recall": _quality(result),
            "Latent interpolation": _interpolation_2d(result),
        }
        unit = {"spiral": "region", "moons": "region", "drawn": "group"}.get(result.config.dataset, "mode")
    else:
        figs = {
            "Digits over training": _digits_over_training(result),
            "Precision and recall": _quality(result),
            "Latent interpolation": _interpolation_digits(result),
        }
        unit = "class"
    figs["Losses"] = charts.learning_curves(
        h,
        ["g_loss", "d_loss"],
        unit=result.config.step_unit(),
        title="Generator and discriminator losses",
        names={"g_loss": "generator loss", "d_loss": "discriminator loss"},
        caption="GAN losses do not fall to zero: the two networks push against each other. Wild swings or a "
        "discriminator loss stuck near zero (it always wins) are signs of trouble.",
    )
    figs["D(real) and D(fake)"] = charts.learning_curves(
        h,
        ["d_real", "d_fake"],
        unit=result.config.step_unit(),
        names={"d_real": "score for real samples", "d_fake": "score for generated samples"},
        title="Critic score on real and generated samples"
        if wgan
        else "Discriminator's average P(real) on real and generated samples",
        caption="The critic's average score for real and for generated samples; the gap between them estimates "
        "how far apart the two distributions are."
        if wgan
        else "At the game's equilibrium the discriminator cannot tell them apart and both lines sit near 0.5.",
    )
    figs["MMD over training"] = _mmd(result)
    figs["Coverage"] = _coverage(result, unit)
    if "copy_train_distance" in result.arrays:  # runs stored before the copying check have none
        figs["Copying check"] = _copying(result)
    return figs


# --- explanation figures ---------------------------------------------------------------------------------


def _pixel_slider(title: str, exp):
    """One example's pixel SHAP (charts.image_attribution), with a slider over the explained examples."""
    import plotly.graph_objects as go

    values, images = np.asarray(exp.values).reshape(-1, 8, 8), np.asarray(exp.data).reshape(-1, 8, 8)
    frame = lambda k: charts.image_attribution(values[k], images[k]).data
    fig = charts.image_attribution(
        values[0], images[0], title=f"{title}: which pixels make the discriminator say 'real'"
    )
    fig.frames = [go.Frame(data=frame(k), name=str(k)) for k in range(len(values))]
    fig.update_layout(**charts.play_controls(range(len(values)), 800, y=-0.05, prefix="example "))
    return charts.captioned(
        fig,
        "Red pixels push the discriminator's 'real' score up, blue pixels push it down; "
        "black lines outline the digit's strokes. Pick an example with the slider.",
    )


def explain_figures(result: Result, explanation) -> dict:
    """For digits: per-pixel SHAP over each image, and where the discriminator looks on average."""
    from engine.core.explain import global_importance

    if result.config.dataset != "digits" or not explanation:
        return {}
    figs = {f"Pixel SHAP: {title.lower()}": _pixel_slider(title, exp) for title, exp in explanation.items()}
    mean_abs = np.mean([global_importance(exp).reshape(8, 8) for exp in explanation.values()], axis=0)
    figs["Where the discriminator looks"] = charts.image_attribution(
        mean_abs,
        title="Mean |SHAP| per pixel over the real and generated examples",
        caption="Darker red pixels move the discriminator's 'real' score the most, on average over every explained "
        "image: these are the strokes it checks to tell real digits from generated ones.",
    )
    return figs
