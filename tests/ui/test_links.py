"""Settings links and presets for every technique: values are read together, presets keep what they do not name."""

import pytest

import engine
from engine.core.config import ConfigError, from_params, parse_value, to_params, validate
from ui.form import preset_values
from ui.runs import DATA_FIELDS


def _setup(name):
    module = engine.load(name)
    return module.Config, module.PRESETS, validate(module.Config, module.PRESETS["quick"])


def test_a_dqn_link_is_read_as_one_setup_in_either_order():
    cls, _, quick = _setup("rl")
    for params in ({"env": "CartPole-v1", "agent": "dqn"}, {"agent": "dqn", "env": "CartPole-v1"}):
        config, warnings = from_params(cls, params, quick.model_dump())
        assert (config.env, config.agent, warnings) == ("CartPole-v1", "dqn", [])


@pytest.mark.parametrize("name", list(engine.TECHNIQUES))
def test_every_presets_link_reproduces_it_in_any_order(name):
    """Each preset names dependent values (agent and world, loss and its settings...): its link, with the
    parameters in reverse order, must open exactly that setup."""
    cls, presets, quick = _setup(name)
    for preset in presets.values():
        config = validate(cls, preset)
        params = dict(reversed(to_params(config, quick).items()))
        back, warnings = from_params(cls, params, quick.model_dump())
        assert warnings == [] and back == config, (preset, params, warnings)


def test_a_value_that_does_not_fit_the_others_is_dropped_with_a_warning():
    cls, _, quick = _setup("rl")
    config, warnings = from_params(cls, {"agent": "dqn", "episodes": "200"}, quick.model_dump())
    assert config.agent != "dqn" and config.episodes == 200  # FrozenLake stays; the valid value is kept
    assert len(warnings) == 1 and "agent" in warnings[0]
    config, warnings = from_params(cls, {"episodes": "abc", "alpha": "7"}, quick.model_dump())
    assert len(warnings) == 2 and config == quick


def test_type_errors_read_as_plain_words():
    cls, _, _ = _setup("xai")
    with pytest.raises(ConfigError, match="must be a whole number"):
        parse_value(cls, "epochs", "ten")
    with pytest.raises(ConfigError, match="must be a number"):
        parse_value(cls, "learning_rate", "fast")


@pytest.mark.parametrize("name", list(engine.TECHNIQUES))
def test_every_preset_keeps_the_data_and_seed_it_does_not_name(name):
    """Choosing a preset never resets the dataset (or world, task...) or the seed unless the preset sets it."""
    cls, presets, quick = _setup(name)
    for field in [f for f in (*DATA_FIELDS, "seed") if f in cls.model_fields]:
        for other in _other_values(cls, field, quick):
            current = {**quick.model_dump(), field: other}
            try:
                validate(cls, current)
            except ConfigError:
                continue  # not a setup a person can have on the form
            for choice, preset in presets.items():
                after = preset_values(cls, presets, choice, current)
                expected = preset.get(field, other)
                assert after[field] == expected, (choice, field, other, after[field])


def _other_values(cls, field, quick):
    from engine.core.config import choices

    opts = choices(cls.model_fields[field].annotation)
    if opts is not None:
        return [o for o in opts if o != getattr(quick, field)]
    return [getattr(quick, field) + 1] if isinstance(getattr(quick, field), int) else []
