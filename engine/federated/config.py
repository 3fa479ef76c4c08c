"""Federated learning settings: the data and how it is split, the federation, the optional privacy noise."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from engine.core.config import TechniqueConfig
from engine.core.contract import Metric
from engine.core.data import DIGITS_ROWS, SKLEARN_TABLES

N_CLASSES = {"digits": 10, "breast_cancer": 2}


class Config(TechniqueConfig):
    STEP_UNIT: ClassVar[str] = "round"  # a history step: one round of training on clients and averaging
    PRIMARY: ClassVar[tuple[str, ...]] = (
        'dataset',
        'partition',
        'alpha',
        'n_clients',
        'algorithm',
        'rounds',
    )  # the settings that change the lesson: shown first
    dataset: Literal["digits", "breast_cancer"] = Field(
        "digits",
        title='Data',
        json_schema_extra={'labels': {'digits': 'Handwritten digits', 'breast_cancer': 'Breast tumour measurements'}},
        description="What the clients learn: handwritten digits (8x8 images, 10 classes) or breast "
        "tumour measurements (30 numbers, benign or malignant).",
    )
    partition: Literal["iid", "dirichlet", "shards"] = Field(
        "dirichlet",
        title="Clients' data",
        json_schema_extra={
            'labels': {
                'iid': 'Evenly spread (IID)',
                'dirichlet': 'Uneven, like real phones (Dirichlet)',
                'shards': 'A few classes each (shards)',
            }
        },
        description="How the data is shared out among the clients. Evenly spread (IID): every client gets the same "
        "mix of classes. Uneven (Dirichlet): each client leans towards some classes, like real phones; the next "
        "setting says how much. A few classes each (shards): each client holds only a few classes.",
    )
    alpha: float = Field(
        0.3,
        title='How uneven (Dirichlet α)',
        ge=0.01,
        le=100.0,
        description="How uneven the clients' data is: small (0.1) means each client holds mostly one or two "
        "classes; large (100) is close to an even spread. (The concentration α of a Dirichlet distribution.)",
        json_schema_extra={"log": True},
    )
    classes_per_client: int = Field(
        2, title='Classes per client', ge=1, le=10, description="With shards: how many classes each client holds."
    )
    unequal_sizes: bool = Field(
        False,
        title='Clients hold very different amounts of data',
        description="Give clients very different amounts of data (log-normal sizes).",
    )
    n_clients: int = Field(
        10,
        title='Number of clients',
        ge=1,
        le=100,
        description="How many clients (devices or organisations) share the work.",
    )
    fraction: float = Field(
        1.0,
        title='Share of clients asked each round',
        ge=0.05,
        le=1.0,
        description="Share of clients the server asks to train in each round.",
        json_schema_extra={"widget": "slider"},
    )
    client_dropout: float = Field(
        0.0,
        title='Chance a client drops out',
        ge=0.0,
        le=0.9,
        description="Chance that an asked client never sends its update back (a straggler or a phone going offline).",
        json_schema_extra={"widget": "slider"},
    )
    stragglers: float = Field(
        0.0,
        title='Share of phones that do less work (stragglers)',
        ge=0.0,
        le=0.9,
        description="Chance that an answering client is slow (a straggler: an old phone, a weak signal) and gets "
        "through only part of its passes, a random share of them. FedAvg waits for full work only and drops a "
        "straggler's update; FedProx keeps the partial work (Li et al. 2020).",
        json_schema_extra={"widget": "slider"},
    )
    algorithm: Literal["fedavg", "fedprox"] = Field(
        "fedavg",
        title='How updates are combined',
        json_schema_extra={'labels': {'fedavg': 'Average (FedAvg)', 'fedprox': 'Average with a pull back (FedProx)'}},
        description="How the server combines the clients' work. Average (FedAvg) averages the clients' models, "
        "weighted by how much data each has; Average with a pull back (FedProx) also keeps each client's "
        "training close to the shared model, so uneven clients drift apart less.",
    )
    mu: float = Field(
        0.1,
        title='Pull-back strength (FedProx μ)',
        ge=0.001,
        le=10.0,
        description="Only with FedProx: how strongly each client's training is pulled back towards the shared model.",
        json_schema_extra={"log": True},
    )
    compare_fedavg: bool = Field(
        True,
        title='Also run plain FedAvg, for comparison',
        description="Only with FedProx: also train plain FedAvg on the same clients, with the same clients asked, "
        "dropping out and slow in every round, to see what FedProx bought or cost.",
    )
    rounds: int = Field(
        30,
        title='Rounds',
        ge=1,
        le=300,
        description="How many times the server sends the model out, the clients train, and the server averages.",
    )
    local_epochs: int = Field(
        2,
        title='Passes over own data per round',
        ge=1,
        le=20,
        description="Passes each client makes over its own data per round.",
    )
    batch_size: int = Field(32, ge=2, le=256, description="Samples per local training step.")
    learning_rate: float = Field(
        0.2,
        ge=0.0001,
        le=1.0,
        description="How big a step each client's training takes (plain gradient descent, SGD). Too high and training "
        "falls apart.",
        json_schema_extra={"log": True},
    )
    width: int = Field(
        64,
        title='Neurons per hidden layer',
        ge=8,
        le=256,
        description="Neurons in each of the network's two hidden layers.",
    )
    dp: bool = Field(
        False,
        title='Privacy noise (differential privacy)',
        description="Protect each client's data: limit how much one client's update can change the model, then add "
        "random noise to the average so no single client can be read back from it (differential privacy).",
    )
    clip_norm: float = Field(
        1.0,
        title='Largest update allowed (clipping norm)',
        ge=0.01,
        le=10.0,
        description="With privacy noise: the most one client's update may change the model; bigger updates are "
        "scaled down to this length (the clipping norm, an L2 length).",
        json_schema_extra={"log": True},
    )
    noise_multiplier: float = Field(
        0.3,
        title='How much noise (noise multiplier)',
        ge=0.0,
        le=5.0,
        description="With privacy noise: how much noise, as a multiple of the most one client can change the "
        "average (the noise multiplier). Formal privacy guarantees usually need about 1 or more.",
        json_schema_extra={"widget": "slider"},
    )
    explain_client: int = Field(
        0,
        title='Client to explain',
        ge=0,
        le=99,
        description="The client whose own model (trained alone) the Explain tab compares with the shared model "
        "(clients are numbered from 0).",
    )
    explain_rows: int = Field(
        30,
        title='Samples to explain',
        ge=5,
        le=200,
        description="How many test samples the Explain tab explains with SHAP (more is slower).",
    )

    SHOW_IF: ClassVar[dict[str, dict[str, list]]] = {
        "alpha": {"partition": ["dirichlet"]},
        "classes_per_client": {"partition": ["shards"]},
        "mu": {"algorithm": ["fedprox"]},
        "compare_fedavg": {"algorithm": ["fedprox"]},
        "clip_norm": {"dp": [True]},
        "noise_multiplier": {"dp": [True]},
    }

    def expectation(self) -> str:
        """Where FedProx (or FedAvg) is expected to lose, said before Train (measured on seeds 0-7: see
        benchmarks/effects.py and tests/engine/test_federated.py)."""
        if self.algorithm == "fedavg":
            if self.stragglers >= 0.3:
                return (
                    f"FedAvg drops every slow phone's update, so with {self.stragglers:.0%} stragglers few updates "
                    "arrive each round and the model swings between the classes of whoever finished. FedProx keeps "
                    "the partial work: choose it to compare."
                )
            return ""
        if self.mu >= 1:
            return (
                f"A strong pull (μ = {self.mu:g}) holds every client so close to the shared model that it learns "
                "little each round: expect clearly lower accuracy than plain FedAvg (μ 0.01-0.1 is the usual range)."
            )
        if self.stragglers == 0:
            return (
                "With no slow phones (stragglers) FedProx's pull only slows each client down: expect it to match plain "
                "FedAvg or trail it by about a point. It trades less drift between clients for slower progress, "
                "which pays off when phones do uneven amounts of work: raise the stragglers to see it."
            )
        return ""

    @model_validator(mode="after")
    def _consistent(self):
        classes = N_CLASSES[self.dataset]
        if self.partition == "shards" and self.classes_per_client > classes:
            raise ValueError(
                f"`classes_per_client` must be <= {classes} (the classes in {self.dataset}), "
                f"but got {self.classes_per_client}."
            )
        if self.partition == "shards" and self.n_clients * self.classes_per_client < classes:
            raise ValueError(
                f"With shards, `n_clients` x `classes_per_client` must be >= {classes} so that every "
                f"class has a client, but got {self.n_clients} x {self.classes_per_client}."
            )
        if self.explain_client >= self.n_clients:
            raise ValueError(
                f"`explain_client` must be < `n_clients` (clients are numbered 0 to "
                f"{self.n_clients - 1}), but got {self.explain_client}."
            )
        return self


PRESETS = {
    "quick": {
        "rounds": 30,
        "local_epochs": 2,
        "n_clients": 10,
        "batch_size": 32,
        "learning_rate": 0.2,
        "explain_rows": 30,
    },
    "better": {
        "rounds": 60,
        "local_epochs": 2,
        "n_clients": 10,
        "batch_size": 16,
        "learning_rate": 0.1,
        "explain_rows": 60,
    },
    "non_iid_shards": {"partition": "shards", "classes_per_client": 2, "rounds": 40},
    # Li et al. 2020's setting: uneven data, several local passes, most phones too slow to finish them all
    "fedprox_stragglers": {
        "partition": "dirichlet",
        "alpha": 0.3,
        "stragglers": 0.9,
        "local_epochs": 5,
        "rounds": 30,
        "algorithm": "fedprox",
        "mu": 0.1,
        "compare_fedavg": True,
    },
}
PRESET_LABELS = {
    "quick": "Quick look",
    "better": "Better result",
    "non_iid_shards": "Uneven clients (2 classes each)",
    "fedprox_stragglers": "FedProx helps: uneven data, slow phones, many local passes",
}

METRICS = {
    "global_accuracy": Metric(
        "Federated: accuracy",  # headline labels stay short for a metric tile; the full wording is the help
        "percent",
        help="Federated model: test accuracy. The global model on held-out samples no client trained on.",
    ),
    "centralized_accuracy": Metric(
        "Centralised: accuracy",
        "percent",
        help="Centralised training: test accuracy. The same network trained on all clients' data pooled in one place.",
    ),
    "local_only_accuracy_mean": Metric(
        "Local-only: accuracy",
        "percent",
        help="Local-only models: mean test accuracy. Each client training alone on its own data, scored on all "
        "classes.",
    ),
    "worst_client_accuracy": Metric(
        "Worst-served client",
        "percent",
        help="The global model's accuracy on the mix of classes the least well served client holds.",
    ),
    "local_only_own_accuracy_mean": Metric(
        "Local-only models on their own classes",
        "percent",
        help="Each client's own model, scored on the mix of classes it holds.",
    ),
    "fedavg_global_accuracy": Metric(
        "Plain FedAvg: accuracy",
        "percent",
        help="Plain FedAvg: test accuracy. Plain FedAvg trained beside FedProx on the same clients: its global model "
        "on the same held-out samples.",
    ),
    "fedavg_worst_client_accuracy": Metric(
        "Plain FedAvg: worst-served client",
        "percent",
        help="Plain FedAvg's global model on the mix of classes its least well served client holds.",
    ),
    "rounds": Metric("Rounds run", "integer"),
    "bytes_communicated": Metric(
        "Bytes communicated", "integer", help="Model sent to each asked client plus each update sent back (float32)."
    ),
    "client_drift": Metric(
        "Client drift (last round)",
        help="Mean distance of the client updates from their average, relative to the average's length.",
    ),
    "updates_received": Metric("Client updates received", "integer"),
    "parameters": Metric("Weights in the network", "integer"),
    "dp_noise_std": Metric(
        "Privacy noise per weight (standard deviation)",
        help="Standard deviation of the Gaussian noise added to the averaged update in each round.",
    ),
    "federated_seconds": Metric(
        "Federated training time",
        "seconds",
        measured=True,
        help="The rounds alone, without the baselines and evaluation.",
    ),
}


def estimate_seconds(config: Config) -> float:
    """Gradient steps of the federation, the local-only models and the centralised model (about 0.5 ms each on
    one busy core for the small network), plus SHAP of two models and start-up."""
    rows = (DIGITS_ROWS if config.dataset == "digits" else SKLEARN_TABLES[config.dataset][3]) * 0.75
    per_epoch = rows / config.batch_size + config.n_clients / 2  # each client ends on a partial batch
    federations = 2 if config.algorithm == "fedprox" and config.compare_fedavg else 1  # FedProx beside plain FedAvg
    steps = (
        config.rounds
        * config.local_epochs
        * (per_epoch * (config.fraction * federations + 1) + rows / config.batch_size)
    )
    return 1.5 + steps * 5e-4 * (0.75 + config.width / 256) + config.explain_rows * 0.06
