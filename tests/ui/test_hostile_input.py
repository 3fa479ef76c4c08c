"""Hostile input never becomes Markdown: a link's values, uploaded column names and a collapsed model's explanation.

A settings link is written by whoever shares it. Each value below is Markdown (an image, i.e. a tracking pixel;
a link, i.e. phishing inside the app's own warning) or HTML. Every page of the registry gets every one of its
settings set to such a value through the URL; the page must show the values escaped (or as code), so no element
that Streamlit renders as Markdown contains a live link, image or tag outside a code span. No training happens.
"""

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine.core.config import form_fields
from engine.core.data import DataError, read_csv, table_from_csv

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = [
    "![x](http://evil.example/pixel.png)",
    "[Click here to fix your account](http://evil.example/phish)",
    '<img src="http://evil.example/p.png"><a href="http://evil.example">x</a>',
]
LIVE = ("evil.example", "<img", "<a href")  # the payloads' host or tags left unescaped, outside code
MARKDOWN_ELEMENTS = ("markdown", "caption", "warning", "info", "error", "success", "title", "header", "subheader")


def outside_code(text: str) -> str:
    """What Markdown would act on: code spans and backslash-escaped characters removed."""
    return re.sub(r"\\.", "", re.sub(r"`[^`]*`", "", text))


def rendered(at: AppTest) -> list[str]:
    return [str(e.value) for kind in MARKDOWN_ELEMENTS for e in at.get(kind)]


@pytest.mark.parametrize("name", list(engine.TECHNIQUES))
def test_markdown_html_and_links_in_every_setting_of_a_link_are_shown_as_text(name):
    fields = list(form_fields(engine.load(name).Config))
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=120)
    for i, field in enumerate(fields):
        at.query_params[field] = PAYLOADS[i % len(PAYLOADS)]
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    texts = rendered(at)
    for text in texts:
        assert not any(bad in outside_code(text) for bad in LIVE), text
    warnings = [w.value for w in at.warning]
    assert len(warnings) >= len(fields) // 2, warnings  # most values are refused, each with its own warning
    assert any(r"\!\[x\]\(http\://evil\.example/pixel\.png\)" in w for w in warnings)  # shown, escaped


def test_the_warnings_name_what_was_ignored_in_plain_words():
    from engine.core.config import from_params

    cls = engine.load("xai").Config
    _, warnings = from_params(cls, {"epochs": PAYLOADS[0], "dataset": PAYLOADS[1]})
    assert len(warnings) == 2
    assert warnings[0].startswith("Ignored `epochs` from the link: `epochs` must be a whole number, but got")
    assert not any(bad in outside_code(w) for w in warnings for bad in LIVE), warnings


# --- uploads ---------------------------------------------------------------------------------------------------
def _csv(header: str, rows: int = 30) -> bytes:
    n = header.count(",") + 1
    return (header + "\n" + "\n".join(",".join(str((r * (c + 1)) % 7) for c in range(n)) for r in range(rows))).encode()


def test_column_names_that_collide_after_trimming_get_a_clear_message():
    with pytest.raises(DataError, match=r"Every column needs its own name, but `label` appears more than once"):
        read_csv(_csv("f1,label,label "))
    long = "x" * 70
    with pytest.raises(DataError, match="appears more than once"):
        read_csv(_csv(f"{long}a,{long}b"))  # the same once cut to 60 characters


def test_utf16_csvs_are_read_and_other_binary_is_refused_with_what_to_do():
    text = "f1,f2,label\n" + "\n".join(f"{i},{i % 3},{'ab'[i % 2]}" for i in range(30))
    for encoded in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-16-be")):
        df = read_csv(encoded)
        assert list(df.columns) == ["f1", "f2", "label"] and len(df) == 30
    with pytest.raises(DataError, match='binary data.*"CSV UTF-8"'):
        read_csv(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DataError, match='not UTF-8 text. Save it as "CSV UTF-8"'):
        read_csv("name,value\ncaf\xe9,1\n".encode("latin-1"))


def test_column_names_in_upload_messages_are_code_never_markdown():
    header = ",".join(f"f{i}" for i in range(3)) + "," + PAYLOADS[1].replace(",", " ")
    df = read_csv(_csv(header))
    target = df.columns[-1]
    df[target] = np.nan  # the target column has missing values: the message names it
    with pytest.raises(DataError) as e:
        table_from_csv(df, target)
    assert "[Click here" in str(e.value) and not any(bad in outside_code(str(e.value)) for bad in LIVE)
    with pytest.raises(DataError) as e:
        table_from_csv(df, PAYLOADS[2])  # a target that is not there: every column name is listed
    assert not any(bad in outside_code(str(e.value)) for bad in LIVE), str(e.value)


# --- a model that learned nothing -----------------------------------------------------------------------------
def _constant_explanation_views():
    import numpy as np

    from engine.core.explain import make_explanation
    from ui.results import explanation_views

    rng = np.random.default_rng(0)
    regression = make_explanation(
        np.zeros((20, 4)), np.full(20, 3.0), rng.normal(size=(20, 4)), list("abcd"), None, 0.0, "DeepExplainer"
    )
    classes = make_explanation(
        np.full((20, 4, 3), 0.25),
        np.zeros((20, 3)),
        np.ones((20, 4)),
        list("abcd"),
        ["x", "y", "z"],
        0.0,
        "DeepExplainer",
    )
    explanation_views("xai", "SHAP", regression)
    explanation_views("xai", "SHAP per class", classes)


def test_all_constant_shap_values_draw_the_explain_tab_without_an_error():
    """`/xai?dataset=diabetes&optimizer=sgd&learning_rate=1.0` once collapsed to a constant model: every SHAP value
    the same (here zero, and a constant 0.25 with constant data), which crashed the Explain tab."""
    at = AppTest.from_function(_constant_explanation_views, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.get("plotly_chart")) == 8  # bar, beeswarm, waterfall, dependence for each
