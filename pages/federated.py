"""Federated learning page: clients keep their data, the server averages their models, round by round."""

from ui.page import technique_page

INTRO = """
In **federated learning** the data stays where it was collected (phones, hospitals, banks). Each round the server
sends the current model to some clients; each trains it for a few epochs on its own data and sends back only the
change to the weights; the server averages the changes, weighting each client by how much data it has (**FedAvg**,
McMahan et al. 2017). **FedProx** (Li et al. 2020) adds a pull back towards the global model so clients with very
different data drift apart less, and keeps the partial work of slow phones (stragglers) that FedAvg drops. It trades
less drift for slower progress: with every phone finishing its work it matches FedAvg or trails it a little; with
most phones slow it wins (preset *FedProx helps*).

The hard part is that clients' data differ. **iid** gives every client the same mix of classes; **dirichlet** skews
each client towards a few classes (smaller alpha, stronger skew); **shards** gives each client only a few classes.
Two baselines train beside the federation on the same data: one model on all the data pooled (what privacy rules
forbid) and each client alone. Optional **differential privacy** clips every update and adds noise to the average,
so no single client's data can be read back from the model. The same client code runs on real machines with
[Flower](https://flower.ai): see `flower/README.md` in the repository.
"""

technique_page("federated", intro=INTRO)
