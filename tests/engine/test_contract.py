"""One contract suite for every registered technique (DESIGN.md, "The technique contract")."""
import json

import numpy as np
import pytest
import torch

import engine
from engine.core.config import ConfigError, TechniqueConfig, choices, form_fields, validate
from engine.core.pipeline import execute

torch.set_num_threads(1)
NAMES = list(engine.TECHNIQUES)


@pytest.fixture(scope="module", params=NAMES)
def module(request):
    return engine.load(request.param)


def test_module_exposes_the_contract(module):
    for attr in ("TITLE", "SUMMARY", "Config", "PRESETS", "run", "figures", "explain", "describe", "estimate_seconds"):
        assert hasattr(module, attr), f"{module.__name__} lacks {attr}"
    assert issubclass(module.Config, TechniqueConfig) and "seed" in module.Config.model_fields
    assert "quick" in module.PRESETS


def test_defaults_and_presets_validate(module):
    module.Config()
    for name, preset in module.PRESETS.items():
        config = validate(module.Config, preset)
        assert module.estimate_seconds(config) > 0, name


def test_every_form_field_is_described_and_bounded(module):
    for name, field in form_fields(module.Config).items():
        assert field.description and len(field.description) > 10, f"{name} needs a plain description"
        if field.annotation in (int, float):
            kinds = {type(m).__name__ for m in field.metadata}
            assert {"Ge", "Le"} <= kinds, f"{name} needs ge/le bounds"


def test_out_of_range_values_raise_a_clear_message(module):
    for name, field in form_fields(module.Config).items():
        if field.annotation in (int, float):
            upper = next(m.le for m in field.metadata if type(m).__name__ == "Le")
            with pytest.raises(ConfigError, match=f"`{name}` must be <= "):
                validate(module.Config, {name: upper * 10 + 1})
            return
    pytest.fail("no numeric field to check")


def test_unknown_setting_is_refused(module):
    with pytest.raises(ConfigError, match="not a setting"):
        validate(module.Config, {"definitely_not_a_field": 1})


def _quick(module):
    return validate(module.Config, module.PRESETS["quick"]).model_dump()


def test_stop_on_first_progress_returns_a_partial_result(module):
    calls = []

    def stop_now(step, total, metrics):
        calls.append((step, total))
        return True

    result = module.run(module.Config(**_quick(module)), stop_now)
    assert result.stopped and len(calls) == 1
    assert len(result.history) <= 1


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_reports_progress_and_is_reproducible(name):
    module = engine.load(name)
    steps = []
    first = execute(name, _quick(module), lambda s, t, m: steps.append((s, t)) or False)
    assert steps and all(0 < s <= t for s, t in steps), "progress must be called with step <= total"
    assert first.status == "done" and len(first.history) >= 1 and "step" in first.history
    assert first.text and first.figures
    json.dumps(first.metrics)  # metrics are plain numbers
    second = execute(name, _quick(module))
    for key, value in first.metrics.items():
        if key != "shap_additivity_error":
            assert np.isclose(second.metrics[key], value, rtol=1e-5, atol=1e-6), f"{name}.{key} not reproducible"


def test_show_if_rules_name_real_settings_and_values(module):
    fields = form_fields(module.Config)
    for field, rules in module.Config.SHOW_IF.items():
        assert field in fields, f"SHOW_IF names unknown setting {field!r}"
        for other, allowed in rules.items():
            assert other in fields, f"{field} depends on unknown setting {other!r}"
            options = choices(fields[other].annotation) or (True, False)
            assert set(allowed) <= set(options), f"{field}: {allowed} are not all choices of {other}"
