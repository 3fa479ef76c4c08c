"""Issue 13 item 16: choices read as words a person knows (a field's own option labels, not code names)."""

from tests.pages.helpers import open_page


def test_a_fields_option_labels_are_what_the_selectbox_shows():
    at = open_page("transfer")
    box = at.selectbox(key="transfer.dataset")
    assert "Built-in topics (300 sentences)" in box.options and "Your own CSV" in box.options
    assert "topics" not in box.options


def test_every_form_shows_its_key_settings_first_and_folds_the_rest():
    """Issue 27.20: the 4-6 settings that change the lesson (Config.PRIMARY) first; the rest under "More settings",
    closed (links still carry every setting)."""
    import engine

    for name in engine.TECHNIQUES:
        at = open_page(name)
        more = next(e for e in at.expander if e.label.startswith("More settings"))
        kinds = ("slider", "select_slider", "selectbox", "number_input", "toggle", "text_input")
        folded = {w.key for kind in kinds for w in getattr(more, kind)}
        everywhere = {w.key for kind in kinds for w in getattr(at, kind)}
        primary = {f"{name}.{k}" for k in engine.load(name).Config.PRIMARY}
        assert f"{name}.seed" in folded and not folded & primary, (name, folded & primary)
        assert primary & everywhere and (primary & everywhere) <= everywhere - folded


def _jargon(text: str) -> list[str]:
    """What a non-programmer would trip over in a label: code names (snake_case), environment ids like
    'Taxi-v4' or library ids like 'default.qubit' without a plain name before them (a technical term in brackets
    after plain words is fine), Greek letters on their own, and two-letter or one-letter openers ('Dp', 'N clients')."""
    import re

    plain = re.sub(r"\([^)]*\)", "", text)  # what is left outside brackets must read as words
    found = re.findall(r"\b[a-z]+_[a-z0-9_]+\b", text)
    found += re.findall(r"\b[A-Za-z0-9]+-v\d+\b|\b[a-z]+\.[a-z]+\b", plain)
    found += re.findall(r"[α-ωΑ-Ω]", plain)
    opener = re.match(r"\s*([A-Za-z]+)(-?)", plain)
    if opener is None and not re.match(r"\s*-?\d", plain):
        found.append(text)  # nothing but a bracket or symbols
    elif opener is not None:
        word, hyphen = opener.groups()  # 'Q-learning' and 'RL' are names; 'Dp', 'Mu', 'N clients' are not
        if (len(word) == 1 and word != "A" and not hyphen) or (
            len(word) == 2 and word.istitle() and word not in {"An", "No", "On", "In", "To", "Up", "Of", "At", "By"}
        ):
            found.append(text)
    return found


def test_no_form_label_option_label_or_metric_label_is_jargon():
    """Issue 27 item 11: every setting's label, every option's label and every result label reads as plain words
    (the technical term may follow in brackets); option values and field names stay as they are (links use them)."""
    import importlib

    import engine
    from engine.core.config import choices
    from ui.form import label_of, pretty

    bad = []
    for name in engine.TECHNIQUES:
        cls = engine.load(name).Config
        for field_name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if extra.get("form") is False:
                continue
            bad += [(name, field_name, j) for j in _jargon(label_of(field_name, field))]
            labels = extra.get("labels", {})
            for option in choices(field.annotation) or ():
                shown = labels.get(option) or pretty(option)
                bad += [(name, field_name, option, j) for j in _jargon(shown)]
        for key, metric in getattr(importlib.import_module(f"engine.{name}.config"), "METRICS", {}).items():
            bad += [(name, key, j) for j in _jargon(metric.label)]
    assert not bad, bad


def test_jargon_check_catches_todays_old_labels():
    assert _jargon("Dp") and _jargon("N clients") and _jargon("Alpha".replace("Alpha", "α"))
    assert _jargon("FrozenLake-v1") and _jargon("fedavg_x") and _jargon("Learning rate α")
    assert not _jargon("Frozen lake (FrozenLake-v1)") and not _jargon("How much the future counts (γ)")
