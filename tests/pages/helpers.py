"""Shared AppTest helpers for page tests: open a page, press Train, wait for the real run to finish."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_page(name: str, query: dict | None = None, timeout: float = 120) -> AppTest:
    """AppTest of pages/<name>.py (run once, no exception); ``query`` sets URL parameters first."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def train_and_wait(at: AppTest, name: str | None = None, timeout: float = 180) -> AppTest:
    """Press Train and rerun the page until the run has finished; asserts no exception and no failure."""
    train = next(b for b in at.button if b.key and b.key.endswith("._train"))
    name = name or train.key.removesuffix("._train")
    train.click().run()
    end = time.time() + timeout
    while time.time() < end:
        assert not at.exception, [e.message for e in at.exception]
        if f"{name}._job" not in at.session_state:
            break
        time.sleep(0.5)
        at.run()
    else:
        raise AssertionError(f"the {name} run did not finish within {timeout} s")
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert f"{name}._outcome" in at.session_state, "the run finished without results"
    return at


def stored_run(
    name: str, owner: str = "", text: str = "", metrics: dict | None = None, store=None, history=None, **settings
) -> str:
    """A finished run of technique ``name`` in the run store (default: this process's), with the quick preset plus
    ``settings`` and a small real history (or ``history``, a DataFrame with a ``step`` column); no training. It has no arrays to draw charts from, so it is stored in the
    old form (a run from before runs kept their data): its words are ``text``, as stored."""
    import secrets

    import pandas as pd
    import sqlalchemy as sa

    import engine
    from engine.core.config import validate
    from engine.core.drawing import Drawn
    from engine.core.pipeline import Outcome
    from engine.core.service import service
    from engine.core.store import ARTIFACTS

    module = engine.load(name)
    config = {**validate(module.Config, module.PRESETS["quick"]).model_dump(), **settings}
    run_id = secrets.token_hex(16)
    store = store or service().store
    store.start(run_id, owner, name, config)
    outcome = Outcome(
        technique=name,
        config=config,
        status="done",
        metrics=metrics or {},
        history=pd.DataFrame({"step": [1, 2], "loss": [1.0, 0.5]}) if history is None else history,
        headline=list(metrics or {})[:1],
    )
    outcome._drawn = Drawn(text=text or f"Run {run_id}")  # the words it was stored with
    store.finish(run_id, "done", outcome)
    with store.engine.begin() as db:  # the old form: no arrays, so a link shows what was stored
        db.execute(sa.delete(ARTIFACTS).where(ARTIFACTS.c.run_id == run_id, ARTIFACTS.c.kind == "arrays"))
    return run_id


def open_tab(at: AppTest, name: str, label: str) -> AppTest:
    """Open one of the result's tabs ("Explain", "Try it", "Details": only the open tab is built)."""
    from ui.results import tabs_key

    at.session_state[tabs_key(name)] = label
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def every_chart(at: AppTest, name: str) -> list:
    """Every chart of the result's Results, Explain and Details tabs (each tab is built only while it is open, the
    Results tab always), in that order; the Results tab is open again afterwards."""
    results = len(open_tab(at, name, "Results").get("plotly_chart"))
    explained = list(open_tab(at, name, "Explain").get("plotly_chart"))
    details = list(open_tab(at, name, "Details").get("plotly_chart"))[results:]
    open_tab(at, name, "Results")
    return explained + details


def open_try_it(at: AppTest, name: str) -> AppTest:
    """Open the result's Try it tab (its content is only built for a person who opens it)."""
    return open_tab(at, name, "Try it")


def try_it_answer(at: AppTest, label: str) -> str:
    """The value the Try it tab shows under ``label`` (one of its headline metrics)."""
    return next(m.value for m in at.metric if m.label == label)


def digit_try_it_matches_the_engine(at: AppTest, name: str, label: str, answer_of) -> None:
    """Pick two held-out digits in the Try it tab; what it shows under ``label`` is the engine's own answer for each
    (``answer_of(bundle, image) -> str``, with the model rebuilt here from the run's stored weights)."""
    from engine.core import tryit

    outcome = at.session_state[f"{name}._outcome"]
    bundle = tryit.load(name, outcome.config, outcome.weights, outcome.info)
    open_try_it(at, name)
    for i in (3, 11):
        at.number_input(key=f"{name}.try.digit").set_value(i).run()
        assert not at.exception, [e.message for e in at.exception]
        assert try_it_answer(at, label) == answer_of(bundle, bundle.X_test[i].reshape(8, 8)), i
    assert any(c.value.startswith("Answered in") for c in at.caption)
