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
from tests.engine.helpers import read_back

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)
NAMES = list(engine.TECHNIQUES)


@pytest.fixture(scope="module", params=NAMES)
def module(request):
    return engine.load(request.param)


def test_module_exposes_the_contract(module):
    assert check_module(module) == []
    assert "seed" in module.Config.model_fields


FILES = ("__init__.py", "config.py", "analysis.py", "views.py", "summary.py", "tryit.py")


def test_every_technique_is_a_package_of_the_same_shape(module):
    """The same files in every package; run() lives in its own algorithm module; the package import (what the app
    loads), its pictures (views) and its words (summary) stay free of torch."""
    from engine.core.contract import check_tryit
    from engine.core.tryit import module as tryit_module

    folder = ROOT / module.__name__.replace(".", "/")
    assert [f for f in FILES if not (folder / f).exists()] == []
    # run() is in its own algorithm module, or is a small visible dispatch in __init__ to two of them (transfer)
    algorithm = getattr(module.run, "lazy_target", (module.run.__module__ + ".__init__",))[0]
    assert algorithm.startswith(module.__name__ + ".") and algorithm.rsplit(".", 1)[1] not in (
        "config",
        "analysis",
        "views",
        "summary",
        "tryit",
    ), algorithm
    assert module.explain.lazy_target[0] == f"{module.__name__}.analysis"
    for member, file in (
        ("figures", "views"),
        ("explain_figures", "views"),
        ("live_figure", "views"),
        ("describe", "summary"),
    ):
        assert getattr(module, member).__module__ == f"{module.__name__}.{file}", member
    assert check_tryit(tryit_module(module.__name__.rsplit(".", 1)[1])) == []
    code = (
        f"import sys, {module.__name__}, {module.__name__}.views, {module.__name__}.summary; "
        "print('torch' in sys.modules)"
    )
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
def test_quick_run_reports_progress_and_is_reproducible(name, tmp_path):
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
    _check_read_back(first, tmp_path)
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


def _check_read_back(outcome, tmp_path):
    """A result link draws the same charts and words from the stored data, in a process that never imports torch."""
    back = read_back(outcome, tmp_path)
    assert back.legacy is None and back.drawn().problems == ()
    assert list(back.figures) == list(outcome.figures) and back.text == outcome.text
    assert list(back.explain_figures) == list(outcome.explain_figures)
    assert list(back.diagrams) == list(outcome.diagrams)
    code = (
        "import sys; from engine.core.store import RunStore; "
        f"o = RunStore({str(tmp_path / 'read_back.sqlite3')!r}).load_outcome('ab' * 16); "
        "print(len(o.figures), len(o.explain_figures), len(o.text) > 0, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    expected = f"{len(outcome.figures)} {len(outcome.explain_figures)} True False"
    assert out.stdout.strip().splitlines()[-1:] == [expected], out.stderr[-2000:]


def test_contract_checks_catch_what_they_name():
    """The checks themselves can fail: a Result with an undeclared headline and a text metric is refused."""
    import pandas as pd

    from engine.core.contract import Metric, Result

    bad = Result(config=None, history=pd.DataFrame({"x": [1]}), metrics={"acc": "high"}, headline=("acc", "gone"))
    problems = check_result(bad, {"acc": Metric("Accuracy", "percent")})
    assert any("gone" in p for p in problems) and any("must be a number" in p for p in problems)
    assert any("step column" in p for p in problems)
    assert not reproducible({"latency_ms": Metric("Latency", "ms", measured=True)})("latency_ms")
    import types

    fake = types.SimpleNamespace(**{k: getattr(engine.load("xai"), k) for k in dir(engine.load("xai"))})

    def figures():  # takes no result
        return {}

    fake.figures = figures
    fake.describe = lambda result, extra: ""  # needs an argument the app never passes
    del fake.PRESET_LABELS
    problems = check_module(fake)
    assert "lacks PRESET_LABELS" in problems
    assert any(p.startswith("figures must take (result)") for p in problems)
    assert any(p.startswith("describe must take (result)") for p in problems)


def test_primary_settings_are_few_and_real(module):
    """The form shows Config.PRIMARY first (the settings that change the lesson), the rest under "More settings"."""
    primary = module.Config.PRIMARY
    assert 1 <= len(primary) <= 6 and len(set(primary)) == len(primary), primary
    assert set(primary) <= set(form_fields(module.Config)) - {"seed"}, primary


def test_show_if_rules_name_real_settings_and_values(module):
    fields = form_fields(module.Config)
    for field, rules in module.Config.SHOW_IF.items():
        assert field in fields, f"SHOW_IF names unknown setting {field!r}"
        for other, allowed in rules.items():
            assert other in fields, f"{field} depends on unknown setting {other!r}"
            options = choices(fields[other].annotation) or (True, False)
            assert set(allowed) <= set(options), f"{field}: {allowed} are not all choices of {other}"


@pytest.mark.parametrize("name", NAMES)
def test_a_run_leaves_the_global_random_state_alone(name):
    """DESIGN.md, "Randomness": a run's draws come from its seed, and Python's, NumPy's and torch's global
    generators are where the caller left them afterwards (run, SHAP and the after-training steps included)."""
    import random

    module = engine.load(name)
    random.seed(4321)
    np.random.seed(4321)
    torch.manual_seed(4321)
    random.random(), np.random.rand(5), torch.rand(5)  # somewhere no seed alone gives
    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    execute(name, _quick(module))
    assert random.getstate() == py, "Python's random state moved"
    after = np.random.get_state()
    assert after[0] == npy[0] and np.array_equal(after[1], npy[1]) and after[2:] == npy[2:], "NumPy's state moved"
    assert torch.equal(torch.get_rng_state(), cpu), "torch's generator moved"
