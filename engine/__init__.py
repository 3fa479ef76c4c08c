"""Frontier Lab's engine: every technique computed for real. Never imports Streamlit.

``TECHNIQUES`` maps a registry name to where its module lives and how the home page introduces it, so
listing techniques imports nothing heavy; ``load(name)`` imports the module itself.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Entry:
    module: str  # dotted path of the technique module
    title: str
    icon: str
    summary: str  # one plain sentence for the home page
    page: str  # the Streamlit page file


TECHNIQUES: dict[str, Entry] = {
    "xai": Entry(
        "engine.xai",
        "Explainable AI",
        ":material/insights:",
        "Train a neural network on real tabular data, then see which inputs drove each prediction with SHAP.",
        "pages/xai.py",
    ),
    "transfer": Entry(
        "engine.transfer",
        "Transfer learning",
        ":material/move_up:",
        "See a pretrained model beat training from scratch when only a few examples are labelled "
        "(and see when it does not).",
        "pages/transfer.py",
    ),
    "attention": Entry(
        "engine.attention",
        "Attention & transformers",
        ":material/visibility:",
        "Train a small transformer and look inside: what each attention head looks at, and why "
        "word order needs positional encoding.",
        "pages/attention.py",
    ),
    "ssl": Entry(
        "engine.ssl",
        "Self-supervised learning",
        ":material/hub:",
        "Teach a network from unlabelled digits, then see how few labels it needs and how well it copes "
        "with disturbed images.",
        "pages/ssl.py",
    ),
    "rl": Entry(
        "engine.rl",
        "Reinforcement learning",
        ":material/sports_esports:",
        "Watch an agent learn by trial and error with Q-learning, SARSA and a deep Q-network.",
        "pages/rl.py",
    ),
    "gan": Entry(
        "engine.gan",
        "GANs",
        ":material/auto_awesome:",
        "Watch a generator learn to fool a discriminator until its fake samples look like the real data.",
        "pages/gan.py",
    ),
    "nas": Entry(
        "engine.nas",
        "Neural architecture search",
        ":material/account_tree:",
        "Let random search, evolution and a reinforcement-learning controller design a network for "
        "handwritten digits, and watch how each one searches.",
        "pages/nas.py",
    ),
    "federated": Entry(
        "engine.federated",
        "Federated learning",
        ":material/groups:",
        "Train one model across many clients whose data never leaves them, and see what uneven data costs.",
        "pages/federated.py",
    ),
    "quantum": Entry(
        "engine.quantum",
        "Quantum neural networks",
        ":material/blur_on:",
        "Build quantum circuits and train a classifier whose middle layer is a simulated quantum circuit.",
        "pages/quantum.py",
    ),
    "edge": Entry(
        "engine.edge",
        "Edge AI",
        ":material/smartphone:",
        "Shrink a trained network for a phone with quantization, pruning, distillation and ONNX, and "
        "measure what each step costs in accuracy and gains in size and speed.",
        "pages/edge.py",
    ),
}


def _extra() -> dict[str, str]:
    """Server-side plug-ins: ``FRONTIER_EXTRA_TECHNIQUES="name=package.module,..."`` (tests use it)."""
    pairs = (item.split("=", 1) for item in os.environ.get("FRONTIER_EXTRA_TECHNIQUES", "").split(",") if "=" in item)
    return {name.strip(): module.strip() for name, module in pairs}


def load(name: str) -> ModuleType:
    """Import a technique module by registry name."""
    if name in TECHNIQUES:
        return importlib.import_module(TECHNIQUES[name].module)
    extra = _extra()
    if name in extra:
        return importlib.import_module(extra[name])
    raise KeyError(f"Unknown technique {name!r}; known: {', '.join(TECHNIQUES)}.")
