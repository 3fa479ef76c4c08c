"""The ClientApp: one SuperNode trains the global model on its own rows with engine.federated's client_update."""

from __future__ import annotations

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from engine.federated.config import Config
from engine.federated.fedavg import client_generator, client_update, set_weights
from frontier_flower.task import client_data, from_record, new_model

torch.set_num_threads(1)
app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Receive the global weights and the settings, train locally, send back the new weights and the row count."""
    config = Config.model_validate_json(msg.content["config"]["engine"])
    k = int(context.node_config["partition-id"])
    if int(context.node_config["num-partitions"]) != config.n_clients:
        raise ValueError(
            f"This SuperNode was started with num-partitions={context.node_config['num-partitions']}, "
            f"but the run has n_clients={config.n_clients}: they must match."
        )
    X, y = client_data(config, k)
    model = new_model(config)
    global_w = from_record(model, msg.content["arrays"])
    r = int(msg.content["config"]["server-round"])
    update, loss = client_update(model, global_w, X, y, config, client_generator(config.seed, k, r))
    set_weights(model, global_w + update)
    metrics = MetricRecord({"num-examples": len(y), "loss": loss, "partition-id": k})
    return Message(RecordDict({"arrays": ArrayRecord(model.state_dict()), "metrics": metrics}), reply_to=msg)
