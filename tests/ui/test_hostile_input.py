"""Hostile input never becomes Markdown: a link's values, uploaded column names and a collapsed model's explanation.

A settings link is written by whoever shares it. Each value below is Markdown (an image, i.e. a tracking pixel;
a link, i.e. phishing inside the app's own warning) or HTML. Every page of the registry gets every one of its
settings set to such a value through the URL; the page must show the values escaped (or as code), so no element
that Streamlit renders as Markdown contains a live link, image or tag: checked by rendering each element with
CommonMark (markdown-it-py, which Streamlit ships) and looking for bare addresses the way GFM does. No training.
"""

import html
import re
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
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
# Every trick at once: a Markdown link, a bare URL and a www. address (GitHub-flavoured Markdown, which Streamlit
# renders, links those even after backslash escapes), an e-mail address, HTML, and backticks that try to close a
# code span around the value early.
HOSTILE = (
    "[x](http://127.0.0.1:9/p) http://127.0.0.1:9/p <img src=x onerror=alert(1)> www.evil.example "
    "me@evil.example `x` http://127.0.0.1:9/q ``"
)
HOSTS = ("127.0.0.1", "evil.example", "onerror")
MARKDOWN_ELEMENTS = ("markdown", "caption", "warning", "info", "error", "success", "title", "header", "subheader")
COMMONMARK = MarkdownIt("commonmark")
# GFM autolink literals: Streamlit's renderer (remark-gfm) finds these in text *after* backslash escapes are read,
# so "http\\://" is linked as well; only a code span (or a broken-up address) keeps them inert.
AUTOLINK = re.compile(r"(?i)(?:https?://|www\.)\S*|[-.\w+]+@[-\w]+(?:\.[-\w]+)+")


def live(markdown: str) -> list[str]:
    """What Streamlit would make live from visitor text in ``markdown``: links and images (Markdown, HTML or bare
    addresses) that point at, or tags that carry, the hostile payload."""
    found = [t for t in re.findall(r"<(?:a|img)\b[^>]*>", COMMONMARK.render(markdown)) if any(h in t for h in HOSTS)]
    for block in COMMONMARK.parse(markdown):
        in_link = 0
        for token in block.children or []:
            in_link += {"link_open": 1, "link_close": -1}.get(token.type, 0)
            if token.type == "text" and not in_link:
                found += [m for m in AUTOLINK.findall(token.content) if any(h in m for h in HOSTS)]
    return found


def shown(markdown: str) -> str:
    """The text a person reads (tags dropped, entities read, invisible joiners removed)."""
    return html.unescape(re.sub(r"<[^>]+>", "", COMMONMARK.render(markdown))).replace("\u2060", "")


def rendered(at: AppTest) -> list[str]:
    return [str(e.value) for kind in MARKDOWN_ELEMENTS for e in at.get(kind)]


@pytest.mark.parametrize("name", list(engine.TECHNIQUES))
def test_no_value_in_a_link_becomes_a_live_link_image_or_tag(name):
    """``/xai?dataset=[Click here](http://127.0.0.1:9/phish)`` once showed a live link inside the app's own warning:
    every setting of every page gets the hostile value at once, and nothing Streamlit renders as Markdown may turn
    it into a link, an image or a tag; each refused value is still shown as typed."""
    fields = list(form_fields(engine.load(name).Config))
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=120)
    for field in fields:
        at.query_params[field] = HOSTILE
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    texts = rendered(at)
    assert not [(t, live(t)) for t in texts if live(t)]
    warnings = [w.value for w in at.warning]
    assert len(warnings) >= len(fields) // 2, warnings  # most values are refused, each with its own warning
    assert any("[x](http://127.0.0.1:9/p) http://127.0.0.1:9/p <img" in shown(w) for w in warnings), warnings


def test_the_warnings_name_what_was_ignored_in_plain_words():
    from engine.core.config import from_params

    cls = engine.load("xai").Config
    _, warnings = from_params(cls, {"epochs": PAYLOADS[0], "dataset": PAYLOADS[1]})
    assert len(warnings) == 2
    assert warnings[0].startswith("Ignored `epochs` from the link: `epochs` must be a whole number, but got")
    assert not any(live(w) for w in warnings), warnings


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
    assert "[Click here" in str(e.value) and not live(str(e.value))
    with pytest.raises(DataError) as e:
        table_from_csv(df, PAYLOADS[2])  # a target that is not there: every column name is listed
    assert not live(str(e.value)), str(e.value)


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


def test_text_typed_into_a_setting_is_inert_in_the_forms_message():
    from engine.core.export import markdown_text, message_markdown

    message = f"`gates`: gate 1 ({HOSTILE!r}) is not a gate; `x <= 3`"
    assert not live(message_markdown(message)) and not live(markdown_text(HOSTILE))
    assert "[x](http://127.0.0.1:9/p) http://127.0.0.1:9/p <img" in shown(message_markdown(message))
    assert "<code>gates</code>" in COMMONMARK.render(message_markdown(message))  # the setting's name stays code
