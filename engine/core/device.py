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


@contextmanager
def isolated_random_state(seed: int):
    """Run a block with Python's ``random``, NumPy's global generator and torch's generators (the CPU one, and
    every CUDA one when CUDA is initialised) seeded from ``seed``, and give the caller all of them back as they
    were afterwards, also when the block raises: a run seeded this way is reproducible, whatever ran before, and
    leaves the global random state of the process that ran it untouched."""
    import numpy as np
    import torch

    py_state, np_state, cpu_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@contextmanager
def seeded(seed: int, device=None):
    """Run a block with torch's generators seeded to ``seed`` and give the caller's generators back afterwards: the
    CPU one, the one of ``device`` when it is a CUDA device, and every CUDA one once CUDA is initialised (the seed
    reaches them all). Weights, dropout and sampling then depend on the seed alone, whatever ran before, and the
    caller's random stream is left alone."""
    import torch

    cuda = torch.cuda.is_initialized() or (device is not None and device.type == "cuda")
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if cuda else []):
        torch.manual_seed(seed)
        yield
