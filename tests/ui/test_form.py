"""The settings form (ui/form.py): the widget each field gets, presets, settings read from and written to the URL,
fields shown only where they apply, and clear messages for values that do not fit together."""

import pytest
from pydantic import Field
from streamlit.testing.v1 import AppTest

from tests.ui import sample_config
from ui import form


def _form_script():
    import streamlit as st

    from tests.ui import sample_config
    from ui.form import config_form, setting

    config = config_form("demo", sample_config)
    st.session_state["demo.result"] = None if config is None else config.model_dump()
    st.session_state["demo.read_episodes"] = setting("demo", "episodes")


def open_form(query: dict | None = None) -> AppTest:
    at = AppTest.from_function(_form_script, default_timeout=30)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def param(at: AppTest, name: str):
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value  # AppTest versions differ in list-wrapping


# --- pure helpers -----------------------------------------------------------------------------------------------
def test_labels_come_from_the_title_or_the_field_name():
    fields = sample_config.Config.model_fields
    assert form.label_of("noise", fields["noise"]) == "Noise (std)"
    assert form.label_of("learning_rate", fields["learning_rate"]) == "Learning rate"
    assert form.pretty("dirichlet_non_iid") == "dirichlet non iid" and form.pretty(0.5) == "0.5"


def test_every_technique_names_its_presets_as_a_person_would():
    import engine

    for name in engine.TECHNIQUES:
        module = engine.load(name)
        for preset in module.PRESETS:  # each written out (not "Non iid shards"), capitalised, no underscores
            label = form.preset_label(module, preset)
            assert label[0].isupper() and "_" not in label and label.lower() != form.pretty(preset), (name, label)
    assert form.preset_label(module, "custom") == "Custom"


def test_the_train_button_is_the_only_control_a_search_for_train_finds():
    """Each field's help icon is a button named "Help for <label>". A label holding "train" ("Training passes")
    made the first control named "Train" a help icon: a screen reader's jump to Train and the read-path
    measurement (`get_by_role("button", name="Train")`, a substring match) both landed on it."""
    import engine
    from engine.core.config import form_fields

    for name in engine.TECHNIQUES:
        for key, field in form_fields(engine.load(name).Config).items():
            assert "train" not in f"Help for {form.label_of(key, field)}".lower(), (name, key)


def test_bounds_steps_and_decimals():
    fields = sample_config.Config.model_fields
    assert form._bounds(fields["episodes"]) == (1, 500)
    assert form._bounds(Field(1.0, description="x")) == (None, None)  # unbounded: a number box, not a slider
    assert form._step(0, 1) == 0.01 and form._step(0, 10) == 0.1 and form._step(1, 500) == 1.0
    assert form._step(3, 3) == 0.01  # an empty range still gets a usable step
    assert form._decimals(0.01) == 2 and form._decimals(0.9999) == 4 and form._decimals(0.5, 0.000125) == 6


# --- the form in a running script --------------------------------------------------------------------------------
def test_each_field_gets_the_widget_that_fits_its_type_and_bounds():
    at = open_form()
    assert at.selectbox(key="demo.agent").options == ["table", "network"]
    assert at.slider(key="demo.episodes").max == 500  # a small integer range: a slider
    assert at.number_input(key="demo.batch").value == 64  # a huge range: a number box
    assert at.select_slider(key="demo.learning_rate").value == 0.01  # log scale: a grid of 1-2-3-5 steps
    assert at.slider(key="demo.gamma").value == pytest.approx(0.99)  # asked for a slider
    assert at.number_input(key="demo.noise").label == "Noise (std)"
    assert all(t.key != "demo.double" for t in at.toggle)  # shown only for the network agent
    assert "demo.width" not in [s.key for s in at.slider]


def test_first_visit_starts_from_the_quick_preset():
    at = open_form()
    assert at.session_state["demo.result"]["episodes"] == 20 and at.session_state["demo.read_episodes"] == 20
    assert at.selectbox(key="demo._preset").value == "quick"
    assert not at.query_params.get("episodes")  # the quick preset's values are not repeated in the URL


def test_settings_are_read_from_the_link_and_bad_values_are_ignored_with_a_warning():
    at = open_form({"episodes": "120", "gamma": "7", "agent": "network", "width": "64"})
    result = at.session_state["demo.result"]
    assert result["episodes"] == 120 and result["agent"] == "network" and result["width"] == 64
    assert result["gamma"] == pytest.approx(0.99)  # out of bounds: the default stays
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "Ignored `gamma` from the link" in warnings[0] and "<= 1" in warnings[0]
    assert at.selectbox(key="demo._preset").value == "custom"


def test_every_change_is_written_back_to_the_url():
    at = open_form()
    at.slider(key="demo.episodes").set_value(77).run()
    assert param(at, "episodes") == "77"
    assert at.selectbox(key="demo._preset").value == "custom"  # no longer a preset
    at.selectbox(key="demo.agent").set_value("network").run()
    assert param(at, "agent") == "network" and at.slider(key="demo.width").value == 32  # now shown


def test_a_preset_sets_its_values_and_the_url_follows():
    at = open_form()
    at.selectbox(key="demo._preset").set_value("better").run()
    result = at.session_state["demo.result"]
    assert result["episodes"] == 200 and result["learning_rate"] == pytest.approx(0.003)
    assert param(at, "episodes") == "200" and param(at, "learning_rate") == "0.003"


def test_values_that_do_not_fit_together_get_a_clear_message_and_no_config():
    at = open_form({"agent": "network"})
    at.toggle(key="demo.double").set_value(True).run()
    assert at.session_state["demo.result"]["double"] is True
    at.selectbox(key="demo.agent").set_value("table").run()  # double is hidden now but keeps its value
    assert at.session_state["demo.result"] is None
    errors = [e.value for e in at.error]
    assert errors == [
        "These settings cannot run yet: Two networks need the network agent\\."
    ]  # escaped: may quote typing


def test_set_setting_changes_the_form_value_that_setting_reads():
    def script():
        import streamlit as st

        from tests.ui import sample_config
        from ui.form import config_form, set_setting, setting

        if st.button("more", key="more"):
            set_setting("demo", "episodes", setting("demo", "episodes") + 5)
        config = config_form("demo", sample_config)
        st.session_state["demo.result"] = config.model_dump()

    at = AppTest.from_function(script, default_timeout=30).run()
    at.button(key="more").click().run()
    assert at.session_state["demo.result"]["episodes"] == 25 and at.slider(key="demo.episodes").value == 25
