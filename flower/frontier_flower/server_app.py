"""The ServerApp: rounds of FedAvg / FedProx over real SuperNodes, aggregated by engine.federated's server_update."""

from __future__ import annotations

import json
import time
from logging import INFO
from pathlib import Path

import numpy as np
import torch
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.common.logger import log
from flwr.serverapp import Grid, ServerApp

from engine.federated.fedavg import BYTES_PER_WEIGHT, get_weights, server_update
from frontier_flower.task import accuracy, engine_config, from_record, new_model, sample, test_data, to_record

torch.set_num_threads(1)
app = ServerApp()


def wait_for_nodes(grid: Grid, n: int, seconds: float) -> list[int]:
    end = time.time() + seconds
    while len(nodes := sorted(grid.get_node_ids())) < n:
        if time.time() > end:
            raise RuntimeError(
                f"Only {len(nodes)} of the {n} SuperNodes the run needs (n_clients) connected within {seconds:.0f} s."
            )
        time.sleep(1.0)
    return nodes


@app.main()
def main(grid: Grid, context: Context) -> None:
    config = engine_config(context.run_config)
    wait = float(context.run_config.get("wait-seconds", 120))
    X_test, y_test = test_data(config)
    model = new_model(config)
    global_w = get_weights(model)  # (P,) the simulation's initial weights
    nodes = wait_for_nodes(grid, config.n_clients, wait)
    rng, noise_gen = np.random.default_rng(config.seed), torch.Generator().manual_seed(config.seed + 1)
    history = []
    for r in range(1, config.rounds + 1):
        asked = sample(nodes, config.fraction, rng)
        content = RecordDict(
            {
                "arrays": to_record(model, global_w),
                "config": ConfigRecord({"engine": config.model_dump_json(), "server-round": r}),
            }
        )
        messages = [Message(content, dst_node_id=n, message_type=MessageType.TRAIN) for n in asked]
        replies = [m for m in grid.send_and_receive(messages, timeout=wait) if m.has_content()]
        if replies:  # a round where every asked SuperNode failed leaves the model as it was
            updates = torch.stack([from_record(model, m.content["arrays"]) - global_w for m in replies])  # (k, P)
            sizes = torch.tensor([float(m.content["metrics"]["num-examples"]) for m in replies])  # (k,)
            global_w, info = server_update(global_w, updates, sizes, config, noise_gen)
        row = {
            "round": r,
            "global_accuracy": accuracy(model, global_w, X_test, y_test),
            "asked": len(asked),
            "updates_received": len(replies),
            "bytes": BYTES_PER_WEIGHT * len(global_w) * (len(asked) + len(replies)),
            "client_drift": float(np.mean(info["drift"])) if replies else None,
        }
        history.append(row)
        log(
            INFO,
            "round %d: global accuracy %.4f (%d of %d updates)",
            r,
            row["global_accuracy"],
            len(replies),
            len(asked),
        )
    if path := context.run_config.get("result-path", ""):
        Path(str(path)).write_text(json.dumps({"config": config.model_dump(), "history": history}, indent=2))
