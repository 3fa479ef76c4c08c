"""A technique's own files (the optional ``downloads`` view): execute puts them in the Outcome, the run store keeps
them (so a result link offers the same file), and the edge page's shipped model is a working, verified file.
Also: the store keeps ``Result.info``, so Edge AI rebuilds a NAS winner from its recorded architecture."""

import secrets
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engine.core.pipeline import Outcome, downloads, execute
from engine.core.store import RunStore

SMALL_EDGE = {
    "start_from": "wine",
    "epochs": 10,
    "dynamic_int8": False,
    "prune": False,
    "onnx": True,
    "explain_rows": 4,
}


@pytest.fixture(scope="module")
def edge():
    return execute("edge", SMALL_EDGE)


def test_edge_offers_its_shipped_model_as_a_verified_onnx_file(edge):
    import onnxruntime as ort

    ((label, d),) = edge.downloads.items()
    assert d["file_name"].endswith(".onnx") and label.startswith("Shipped model")
    assert "agrees with the original" in d["note"] and "ONNX Runtime" in d["note"]
    session = ort.InferenceSession(d["data"], providers=["CPUExecutionProvider"])  # the bytes are a real model
    rows = np.random.default_rng(0).normal(size=(5, 13)).astype(np.float32)  # wine: 13 standardised features
    out = session.run(None, {session.get_inputs()[0].name: rows})[0]
    assert out.shape == (5, 3)  # three wine cultivars


def test_the_store_keeps_downloads_so_a_result_link_offers_the_same_file(edge):
    store, run_id = RunStore(), secrets.token_hex(16)
    store.start(run_id, "someone", "edge", edge.config)
    store.finish(run_id, "done", edge)
    loaded = store.load_outcome(run_id)
    assert loaded.downloads == edge.downloads  # label, file name, type, note and every byte


def test_techniques_without_downloads_have_none_and_bad_entries_are_refused():
    assert downloads(SimpleNamespace(), None) == {}
    files = downloads(SimpleNamespace(downloads=lambda r: {"Model": {"file_name": "m.bin", "data": b"\x00\x01"}}), None)
    assert files == {
        "Model": {"file_name": "m.bin", "mime": "application/octet-stream", "data": b"\x00\x01", "note": ""}
    }
    for bad in (
        {"file_name": "../../etc/passwd", "data": b"x"},
        {"file_name": "..\\m.bin", "data": b"x"},
        {"file_name": "", "data": b"x"},
        {"file_name": "m.bin", "data": "text"},
    ):
        with pytest.raises(TypeError, match="plain file_name"):
            downloads(SimpleNamespace(downloads=lambda r, b=bad: {"Model": b}), None)


def test_edge_reads_a_nas_winner_from_its_recorded_architecture_not_from_model_text():
    from engine.core.pipeline import weights_bytes
    from engine.core.service import stored_source
    from engine.nas import rebuild_model
    from engine.nas.space import build

    arch = {
        "conv_blocks": 1,
        "filters": 8,
        "kernel_size": 3,
        "pooling": "max",
        "dense_layers": 1,
        "dense_width": 32,
        "activation": "tanh",
        "dropout": 0.25,  # a value the space offers: the network is built from it
    }
    outcome = Outcome(
        technique="nas",
        config={"seed": 0},
        status="done",
        metrics={"best_test_accuracy": 0.9},
        history=pd.DataFrame({"step": [1]}),
        architecture={"best": "a layout str() no longer prints"},
        info={"best_architecture": arch},
    )
    store, run_id = RunStore(), secrets.token_hex(16)
    store.start(run_id, "someone", "nas", outcome.config)
    store.finish(run_id, "done", outcome)
    assert store.load_outcome(run_id).info == {"best_architecture": arch}
    source = stored_source(store, run_id)  # what the service hands to an edge run that starts from it
    weights = weights_bytes({"best": build(arch)})
    assert rebuild_model(source["config"], source["info"], weights, source["architecture"])["architecture"] == arch
