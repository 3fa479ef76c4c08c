"""The Details tab offers a technique's own files (Outcome.downloads), also when the run is opened by its link."""

import secrets

import pandas as pd

from engine.core.config import validate
from engine.core.pipeline import Outcome
from engine.core.store import RunStore
from engine.xai import PRESETS, Config
from tests.pages.helpers import open_page, open_tab


def test_a_stored_runs_files_are_offered_in_the_details_tab():
    config = validate(Config, PRESETS["quick"]).model_dump()
    files = {
        "Compressed model (onnx)": {
            "file_name": "model.onnx",
            "mime": "application/octet-stream",
            "data": b"\x08\x07onnx-bytes",
            "note": "Checked on 45 test rows.",
        }
    }
    outcome = Outcome(
        technique="xai",
        config=config,
        status="done",
        metrics={"test_accuracy": 0.9},
        history=pd.DataFrame({"step": [1, 2], "loss": [1.0, 0.5]}),
        headline=["test_accuracy"],
        downloads=files,
    )
    store, run_id = RunStore(), secrets.token_hex(16)
    store.start(run_id, "someone", "xai", config)
    store.finish(run_id, "done", outcome)

    at = open_tab(open_page("xai", query={"run": run_id}), "xai", "Details")
    assert not at.error, [e.value for e in at.error]
    offered = [b for b in at.get("download_button") if b.proto.label == "Compressed model (onnx)"]
    assert len(offered) == 1
    assert any("Checked on 45 test rows." in c.value.replace("\\", "") for c in at.caption)  # shown as plain text
