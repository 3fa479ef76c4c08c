"""Every technique's "What just happened" text leads with one verdict sentence and its numbers; the rest follows
under "More" (issue 27.12; engine/core/wording.py)."""

import re

import pytest
import torch

import engine
from engine.core import charts
from engine.core.config import validate
from engine.core.pipeline import execute
from engine.core.wording import MORE_MARKER, split_summary, summary_text

torch.set_num_threads(1)
NAMES = list(engine.TECHNIQUES)
SMALL = {"gan": {"steps": 200}}  # the rest run their quick preset as the page does
DOUBLED_PERIOD = re.compile(r"(?<!\.)\.\.(?!\.)")  # ".." (an ellipsis "..." is fine)
LEAD_SENTENCES = 2  # the verdict and the numbers behind it
STOPPED_LEAD_SENTENCES = 3  # ... and a stopped run's note


def sentences(text: str) -> list[str]:
    """Sentences end at ., ! or ? before a space or the end (so 97.5% and 0.002 stay whole)."""
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[*A-Z(])", text.strip()) if s]


def test_summary_text_joins_lead_and_more_and_split_gives_them_back():
    text = summary_text("**It worked.**", ["It got 90%.", ""], ["Setup one.", "Setup two."])
    assert text == f"**It worked.** It got 90%.\n\n{MORE_MARKER}\n\nSetup one. Setup two."
    assert split_summary(text) == ("**It worked.** It got 90%.", "Setup one. Setup two.")
    assert summary_text("**Only this.**") == "**Only this.**" and split_summary("Old text.") == ("Old text.", "")


def test_sentences_are_counted_at_their_ends_only():
    assert len(sentences("**Close:** precision 97.5% vs 96.3%. Recall 0.64 of it. (Noise: 3.)")) == 3


@pytest.mark.parametrize("name", NAMES)
def test_quick_summary_leads_with_a_short_verdict_then_more(name):
    module = engine.load(name)
    values = {**validate(module.Config, module.PRESETS["quick"]).model_dump(), **SMALL.get(name, {})}
    outcome = execute(name, values)
    text = outcome.text
    drawn = outcome.drawn()
    captions = [charts.caption_of(f) for f in [*drawn.figures.values(), *drawn.explain_figures.values()]]
    doubled = [t for t in [text, *captions] if DOUBLED_PERIOD.search(t)]
    assert not doubled, f"{name}: a sentence ends with '..': {doubled}"
    lead, more = split_summary(text)
    assert lead.startswith("**"), f"{name}: the verdict comes first, in bold: {lead}"
    assert 1 <= len(sentences(lead)) <= LEAD_SENTENCES, f"{name}: {sentences(lead)}"
    assert more, f"{name}: the rest goes under More"
    assert MORE_MARKER not in lead and MORE_MARKER not in more


@pytest.mark.parametrize("name", NAMES)
def test_a_stopped_run_says_so_in_its_lead(name):
    module = engine.load(name)
    config = validate(module.Config, {**module.PRESETS["quick"], **SMALL.get(name, {})})
    result = module.run(config, lambda *_a, **_k: True)
    assert result.stopped
    lead, _ = split_summary(module.describe(result))
    assert "stop" in lead.lower(), f"{name}: {lead}"
    assert len(sentences(lead)) <= STOPPED_LEAD_SENTENCES, f"{name}: {sentences(lead)}"


def test_a_shipped_variant_more_accurate_than_the_original_is_not_called_within_the_bar():
    """Walkthrough: "within 1.0 points of its accuracy" was said of a variant 1.1 points more accurate."""
    from engine.edge.summary import _accuracy_change

    assert _accuracy_change(0.011, "1.0") == "1.1 points more accurate"
    assert _accuracy_change(0.0, "1.0") == "as accurate"
    assert _accuracy_change(-0.006, "1.0") == "0.6 points less accurate (the bar allows 1.0)"
