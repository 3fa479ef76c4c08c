"""Result links and the runs page: stored results open without retraining; sessions see only their own runs."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.core.service import service
from tests.pages.helpers import open_page, open_tab, open_try_it, train_and_wait

ROOT = Path(__file__).resolve().parents[2]


def _recorded(run_id, timeout=30):
    store = service().store
    end = time.time() + timeout
    while time.time() < end:
        row = store.get(run_id)
        if row and row["status"] == "done":
            return row
        time.sleep(0.1)
    raise AssertionError("run was not recorded")


def _train_in_app(at, dataset):
    at.switch_page("pages/xai.py").run()
    at.selectbox(key="xai.dataset").set_value(dataset).run()
    return train_and_wait(at, "xai").session_state["xai._outcome"]


def test_a_result_link_shows_the_stored_run_without_training():
    at = train_and_wait(open_page("xai", query={"dataset": "iris", "epochs": "15"}))
    run_id = at.session_state["xai._outcome"].run_id
    _recorded(run_id)
    other = open_page("xai", query={"run": run_id})
    assert "xai._job" not in other.session_state  # nothing was trained
    assert any("stored result" in i.value for i in other.info)
    assert other.selectbox(key="xai.dataset").value == "iris" and other.slider(key="xai.epochs").value == 15
    assert [t.label for t in other.tabs] == ["Results", "Explain", "Try it", "Details"]
    assert len(other.get("plotly_chart")) == 3  # a first visit builds only the open tab: Results
    open_tab(other, "xai", "Explain")
    assert len(other.get("plotly_chart")) >= 8
    open_try_it(other, "xai")
    shared = next(m.value for m in other.metric if m.label == "Prediction")  # Try it, rebuilt from the store
    assert shared.split(" (")[0] in ("setosa", "versicolor", "virginica"), shared


def test_a_result_link_opens_on_the_result_with_its_settings_folded_and_sets_no_cookie():
    """Issue 27.19 / 26: the person who opens a link reads the result first; the settings are one line of what
    differs, with the whole form folded under "Change the settings and train again"; a visitor who only reads
    is given no owner cookie (its component's round trip cost every first visit a rerun)."""
    from tests.pages.helpers import stored_run

    run_id = stored_run("xai", dataset="wine", epochs=30, text="A run on the wine table.")
    at = open_page("xai", query={"run": run_id})
    kinds = [type(e).__name__ for e in at.main]
    assert kinds.index("Tab") < kinds.index("Expander", kinds.index("Info"))  # the result, then the folded form
    line = next(c.value for c in at.caption if c.value.startswith("**Settings of this run:**"))
    # the form's own words for each setting and option, as in the Runs table
    assert "\\: Wines" in line and "epochs" in line and "\\: 30" in line and "Quick look" in line
    assert "Change the settings and train again" in [e.label for e in at.expander]
    assert at.button(key="xai._train")  # still there, folded
    assert "_owner_claimed" not in at.session_state


def test_malformed_and_unknown_result_links_get_clear_messages():
    bad = open_page("xai", query={"run": "<script>"})
    assert any("malformed" in e.value for e in bad.error)
    unknown = open_page("xai", query={"run": "0" * 32})
    assert any("No stored run has this id" in e.value for e in unknown.error)
    assert not unknown.tabs  # no results shown, the page still works
    assert next(b for b in unknown.button if b.key == "xai._train").disabled is False


def test_a_link_to_a_run_still_being_saved_says_so_and_shows_it_once_saved():
    """The soak benchmark opened links of runs that had just ended but were not written yet: the page said "This run
    has no results to show (it running: no details)" in a red box, and kept saying it. Now it says to reload in a
    few seconds, and the same session shows the run once it is stored."""
    import secrets

    from engine.core.service import service
    from tests.pages.helpers import stored_run
    from ui.runs import PENDING_NOTE

    run_id = secrets.token_hex(16)
    service().store.start(run_id, "someone", "xai", {})
    at = open_page("xai", query={"run": run_id})
    assert [i.value for i in at.info if i.value == PENDING_NOTE] and not at.error and not at.tabs
    assert run_id not in at.session_state["_shared_runs"]  # not remembered: the next rerun reads the store again
    done = stored_run("xai", owner="someone")  # a stored run's link in the same session opens on its result
    at.query_params["run"] = done
    at.run()
    assert not at.error and at.tabs, [e.value for e in at.error]


def test_runs_page_lists_only_this_sessions_runs_and_compares_them():
    mine = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    first, second = _train_in_app(mine, "wine"), _train_in_app(mine, "iris")
    for o in (first, second):
        _recorded(o.run_id)
    mine.switch_page("pages/runs.py").run()
    assert not mine.exception
    table = mine.dataframe[0].value
    assert len(table) == 2 and set(table["technique"]) == {"Explainable AI"}

    stranger = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    stranger.switch_page("pages/runs.py").run()
    assert not stranger.exception and not stranger.dataframe
    assert any("No runs yet" in i.value for i in stranger.info)


def test_runs_page_compares_two_selected_runs():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    for epochs in (5, 25):
        at.switch_page("pages/xai.py").run()
        at.selectbox(key="xai.dataset").set_value("iris").run()
        at.slider(key="xai.epochs").set_value(epochs).run()
        _recorded(train_and_wait(at, "xai").session_state["xai._outcome"].run_id)
    at.switch_page("pages/runs.py").run()
    at.session_state["runs.table.0"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(s.value.startswith("Comparing 2 runs") for s in at.subheader)
    assert _highlighted(at) == _labels("epochs")  # only the setting that differs
    traces = _traces(at)
    curves = [data for title, data in traces.items() if title.endswith(", by run")]
    assert curves and all(len(c) == 2 for c in curves)  # one chart per metric, one line per run
    assert [t["name"] for t in curves[0]] == ["run 1 · epochs 5", "run 2 · epochs 25"]
    assert "SHAP global importance by run" in traces


# --- issue 29.3: many runs on one chart, with a shareable link ----------------------------------------------------


def _three_runs(owner: str) -> list[str]:
    """Three stored xai runs (oldest first) that differ in dataset and epochs, with a headline accuracy."""
    from tests.pages.helpers import stored_run

    return [
        stored_run("xai", owner=owner, metrics={"test_accuracy": acc}, dataset=data, epochs=epochs)
        for data, epochs, acc in (("wine", 10, 0.8), ("iris", 30, 0.9), ("wine", 30, 0.95))
    ]


def _runs_page(owner: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=120)
    at.session_state["_owner"] = owner
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _traces(at: AppTest) -> dict[str, list]:
    """Each chart's traces, by its title."""
    import json

    found = {}
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        title = spec["layout"].get("title", {}).get("text", "")
        found[title] = spec["data"]
    return found


def _labels(*names: str) -> list[str]:
    """The plain labels of xai settings, as the form shows them."""
    import engine
    from ui.form import label_of

    fields = engine.load("xai").Config.model_fields
    return [label_of(n, fields[n]) for n in names]


def _highlighted(at: AppTest) -> list[str]:
    """The row labels of the comparison table that are styled as differing settings."""
    import re

    from ui.runs import DIFFERS

    table = next(d for d in at.dataframe if d.proto.arrow_data.styler.styles)
    rows = set()
    for selectors, props in re.findall(r"([^{}]*)\{([^}]*)\}", table.proto.arrow_data.styler.styles):
        if DIFFERS.split(";")[0].replace(" ", "") in props.replace(" ", ""):
            rows |= {int(m) for m in re.findall(r"row(\d+)_col\d+", selectors)}
    return [table.value.index[i] for i in sorted(rows)]


def test_runs_page_overlays_three_selected_runs_and_puts_them_in_the_address():
    import secrets

    me = secrets.token_hex(16)
    ids = _three_runs(me)
    at = _runs_page(me)
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0, 1, 2], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["compare"] == ",".join(ids)  # oldest first: run 1, 2, 3
    assert any("Comparing 3 runs of Explainable AI" in s.value for s in at.subheader)
    traces = _traces(at)
    (curve,) = [data for title, data in traces.items() if title.endswith(", by run")]  # one chart per metric: loss
    assert [t["name"] for t in curve] == [
        "run 1 · dataset wine, epochs 10",
        "run 2 · dataset iris, epochs 30",
        "run 3 · dataset wine, epochs 30",
    ]
    assert _highlighted(at) == _labels("dataset", "epochs")  # plain labels, only the settings that differ
    table = next(d for d in at.dataframe if d.proto.arrow_data.styler.styles).value
    assert list(table.columns) == ["run 1", "run 2", "run 3"]
    assert list(table.loc["Network: test accuracy"]) == ["80.0%", "90.0%", "95.0%"]  # the headline, formatted
    assert any(ids[0] in c.value and "?compare=" in c.value for c in at.code)


def test_a_compare_link_shows_the_overlay_in_a_fresh_browser_and_says_what_it_cannot_show():
    import secrets

    ids = _three_runs(secrets.token_hex(16))
    stranger = _runs_page(secrets.token_hex(16), {"compare": ",".join(ids)})
    assert not any("No runs yet" in i.value for i in stranger.info)
    (curve,) = [data for title, data in _traces(stranger).items() if title.endswith(", by run")]
    assert len(curve) == 3
    assert _highlighted(stranger) == _labels("dataset", "epochs")

    odd = _runs_page(secrets.token_hex(16), {"compare": f"{ids[0]},{'0' * 32},<script>,{ids[1]}"})
    warnings = " ".join(w.value for w in odd.warning)
    assert "malformed" in warnings and "not stored" in warnings and "<script>" not in warnings
    (curve,) = [data for title, data in _traces(odd).items() if title.endswith(", by run")]
    assert len(curve) == 2

    nothing = _runs_page(secrets.token_hex(16), {"compare": "0" * 32})
    assert any("at least two finished runs" in i.value for i in nothing.info)
    assert not nothing.get("plotly_chart")


def test_runs_page_sets_all_runs_settings_against_the_headline_metric():
    import json
    import secrets

    me = secrets.token_hex(16)
    _three_runs(me)
    at = _runs_page(me)
    assert any("settings against your results" in s.value for s in at.subheader)
    (chart,) = at.get("plotly_chart")
    (trace,) = json.loads(chart.proto.spec)["data"]
    assert trace["type"] == "parcoords"
    labels = [d["label"] for d in trace["dimensions"]]
    assert labels == [*_labels("dataset", "epochs"), "Network: test accuracy"]
    assert trace["dimensions"][-1]["values"] == [0.95, 0.9, 0.8]  # newest first, as listed


def test_delete_asks_first_and_cancel_keeps_the_run():
    import secrets

    from tests.pages.helpers import button, stored_run

    me = secrets.token_hex(16)
    run_id = stored_run("xai", owner=me, dataset="wine")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)  # the app: "Open this run" links a page
    at.session_state["_owner"] = me
    at.run()
    at.switch_page("pages/runs.py").run()
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    button(at, "runs.delete").click().run()
    assert [w.value for w in at.warning] == ["Delete this run? Its result link will stop working."]
    assert service().run(run_id) is not None  # nothing deleted yet
    button(at, "runs.delete.cancel").click().run()
    assert not at.warning and service().run(run_id) is not None
    assert button(at, "runs.delete")  # back to the first step
    button(at, "runs.delete").click().run()
    button(at, "runs.delete.confirm").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert service().run(run_id) is None
    assert not at.dataframe and any("No runs yet" in i.value for i in at.info)


def test_unselecting_the_compared_runs_takes_the_comparison_out_of_the_address():
    import secrets

    me = secrets.token_hex(16)
    _three_runs(me)
    at = _runs_page(me)
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": [0, 2], "columns": [], "cells": []}}
    at.run()
    assert "compare" in at.query_params and any(s.value.startswith("Comparing 2") for s in at.subheader)
    at.session_state[key] = {"selection": {"rows": [], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert "compare" not in at.query_params and not any(s.value.startswith("Comparing") for s in at.subheader)
