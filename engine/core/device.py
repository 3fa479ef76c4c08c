"""Pick the compute device: CUDA, then Apple MPS, then CPU. Everything also runs on CPU."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager


def pick():
    """The best available ``torch.device`` (``FRONTIER_DEVICE=cpu`` forces the CPU)."""
    import torch

    wanted = os.environ.get("FRONTIER_DEVICE", "").lower()
    if wanted:
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe() -> str:
    """A human name for the device runs use, e.g. ``CUDA (NVIDIA H100)`` or ``CPU (2 cores)``."""
    import torch

    dev = pick()
    if dev.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(dev)})"
    if dev.type == "mps":
        return "Apple MPS"
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} thread per run)"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a seeded run is reproducible."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def seeded(seed: int, device=None):
    """Run a block with torch's generator seeded to ``seed`` and give the caller's generator back afterwards (and
    the generator of ``device`` too, when it is a CUDA device): weights, dropout and sampling then depend on the
    seed alone, whatever ran before, and the caller's random stream is left alone."""
    import torch

    with torch.random.fork_rng(devices=[device] if device is not None and device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield
