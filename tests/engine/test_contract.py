"""One contract suite for every registered technique (DESIGN.md, "The technique contract")."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from engine.core.config import ConfigError, choices, form_fields, validate
from engine.core.contract import check_module, check_result, is_phase, reproducible
from engine.core.pipeline import execute

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)
NAMES = list(engine.TECHNIQUES)


@pytest.fixture(scope="module", params=NAMES)
def module(request):
    return engine.load(request.param)


def test_module_exposes_the_contract(module):
    assert check_module(module) == []
    assert "seed" in module.Config.model_fields


def test_every_technique_is_a_package_of_the_same_shape(module):
    """config.py and views.py in every package; the package import (what the app loads) stays free of torch."""
    folder = ROOT / module.__name__.replace(".", "/")
    assert (folder / "__init__.py").exists() and (folder / "config.py").exists() and (folder / "views.py").exists()
    code = f"import sys, {module.__name__}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", f"importing {module.__name__} imported torch: {out.stderr[-500:]}"


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
    checked = 0
    for name, field in form_fields(module.Config).items():
        if field.annotation in (int, float):
            upper = next(m.le for m in field.metadata if type(m).__name__ == "Le")
            lower = next(m.ge for m in field.metadata if type(m).__name__ == "Ge")
            with pytest.raises(ConfigError, match=f"`{name}` must be <= "):
                validate(module.Config, {name: upper * 10 + 1})
            with pytest.raises(ConfigError, match=f"`{name}` must be >= "):
                validate(module.Config, {name: lower - abs(upper - lower) - 1})
            checked += 1
    assert checked, "no numeric field to check"


def test_unknown_setting_is_refused(module):
    with pytest.raises(ConfigError, match="not a setting"):
        validate(module.Config, {"definitely_not_a_field": 1})


def _quick(module):
    return validate(module.Config, module.PRESETS["quick"]).model_dump()


def test_stop_on_first_progress_returns_a_partial_result(module):
    calls = []

    def stop_now(step, total, metrics, live=None):
        calls.append((step, total))
        return True

    result = module.run(module.Config(**_quick(module)), stop_now)
    assert result.stopped and len(calls) == 1
    assert len(result.history) <= 1


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_reports_progress_and_is_reproducible(name):
    module = engine.load(name)
    calls = []
    results = []
    first = execute(
        name, _quick(module), lambda s, t, m, live=None: calls.append((s, t, m, live)) or False, keep=results.append
    )
    steps = [(s, t, m) for s, t, m, live in calls if not is_phase(live)]
    phases = [(s, t, m) for s, t, m, live in calls if is_phase(live)]
    assert steps and all(0 < s <= t for s, t, _ in steps), "progress must be called with step <= total"
    assert phases and all(not m and (t == 0 or 0 <= s <= t) for s, t, m in phases), "a phase has no metrics"
    assert all(all(isinstance(v, float) for v in m.values()) for *_, m in steps), "progress metrics are floats"
    assert first.status == "done" and len(first.history) >= 1 and "step" in first.history
    assert first.text and first.figures
    assert check_result(results[0], module.METRICS) == []
    assert results[0].config == validate(module.Config, _quick(module)), "the Result carries its config"
    json.dumps(first.metrics)  # metrics are plain numbers
    _check_diagrams(first, results[0])
    torch.manual_seed(12345)  # another run moved the global generators: the seed alone must decide the run
    np.random.seed(12345)
    torch.rand(100)
    second = module.run(validate(module.Config, _quick(module)), None)
    same = reproducible(module.METRICS)
    checked = [k for k in first.metrics if same(k) and k in second.metrics]
    assert checked, "no reproducible metric to compare"
    for key in checked:
        assert np.isclose(second.metrics[key], first.metrics[key], rtol=1e-5, atol=1e-6), (
            f"{name}.{key} not reproducible"
        )


def _check_diagrams(outcome, result):
    """Every trained torch model is drawn (Details tab), and its blocks' weights add up to the model's own count."""
    modules = {n: m for n, m in result.models.items() if isinstance(m, torch.nn.Module)}  # none for tabular RL
    assert set(outcome.diagrams) == set(modules)
    for model_name, model in modules.items():
        fig = outcome.diagrams[model_name]
        per_block = np.asarray(fig.data[-1].x, dtype=np.int64)  # the bars: weights in each block
        total = sum(p.numel() for p in model.parameters())
        assert fig.layout.meta["total_parameters"] == per_block.sum() == total, model_name
        assert f"{total:,} weights" in fig.layout.title.text


def test_contract_checks_catch_what_they_name():
    """The checks themselves can fail: a Result with an undeclared headline and a text metric is refused."""
    import pandas as pd

    from engine.core.contract import Metric, Result

    bad = Result(config=None, history=pd.DataFrame({"x": [1]}), metrics={"acc": "high"}, headline=("acc", "gone"))
    problems = check_result(bad, {"acc": Metric("Accuracy", "percent")})
    assert any("gone" in p for p in problems) and any("must be a number" in p for p in problems)
    assert any("step column" in p for p in problems)
    assert not reproducible({"latency_ms": Metric("Latency", "ms", measured=True)})("latency_ms")


def test_show_if_rules_name_real_settings_and_values(module):
    fields = form_fields(module.Config)
    for field, rules in module.Config.SHOW_IF.items():
        assert field in fields, f"SHOW_IF names unknown setting {field!r}"
        for other, allowed in rules.items():
            assert other in fields, f"{field} depends on unknown setting {other!r}"
            options = choices(fields[other].annotation) or (True, False)
            assert set(allowed) <= set(options), f"{field}: {allowed} are not all choices of {other}"
