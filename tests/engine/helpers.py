"""Shared by the executor tests (tests/engine/test_jobs.py, test_jobs_contract.py, test_ray.py)."""


def wait_done(executor, job, timeout=300):
    """Wait on the executor's state changes until ``job`` ends (generous default: a loaded box took >60 s to
    restart a worker); fails the test if it is still active after ``timeout`` seconds."""
    executor.wait_for(lambda: not job.active, timeout)
    assert not job.active, f"job still {job.status} after {timeout}s"
    return job


def read_back(outcome, tmp_path):
    """``outcome`` written to a fresh SQLite run store and read back, as a result link reads it: only the data a
    run stores (arrays, info, SHAP values, layer tables), drawn anew by the technique's pure views."""
    from engine.core.drawing import forget
    from engine.core.store import RunStore

    store = RunStore(tmp_path / "read_back.sqlite3")
    run_id = "ab" * 16
    store.start(run_id, "owner", outcome.technique, outcome.config)
    store.finish(run_id, outcome.status, outcome)
    forget(run_id)  # drawings are cached per run id, and every read-back uses this one: draw this run anew
    return store.load_outcome(run_id)


def read_back_same(fresh, tmp_path):
    """:func:`read_back`, checking that the stored run draws the same charts (titles in order) and the same words
    as the run that has just ended, with no drawing problem; returns the read-back outcome."""
    stored = read_back(fresh, tmp_path)
    assert not stored.drawn().problems, stored.drawn().problems
    for kind in ("figures", "explain_figures"):
        before, after = getattr(fresh, kind), getattr(stored, kind)
        assert list(after) == list(before)
        assert [f.layout.title.text for f in after.values()] == [f.layout.title.text for f in before.values()]
    assert stored.text == fresh.text and stored.text
    return stored


def x_titles(fig) -> set[str]:
    """The x-axis titles a figure shows (a stacked-panel figure titles only its bottom axis)."""
    return {axis.title.text for axis in fig.select_xaxes() if axis.title.text}


def readable_log_axes(fig) -> int:
    """Asserts every log-scale axis of ``fig`` names its ticks itself in plain text (1,000 / 20k, never Plotly's
    bare minor '2', '5' between decades); returns how many log axes it has."""
    axes = [a for a in [*fig.select_xaxes(), *fig.select_yaxes()] if a.type == "log"]
    for a in axes:
        assert a.tickmode == "array" and a.tickvals and len(a.tickvals) >= 2, a
        from engine.core.charts import tick_text

        assert list(a.ticktext) == [tick_text(v) for v in a.tickvals], a
    return len(axes)
