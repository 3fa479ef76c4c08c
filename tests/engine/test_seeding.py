"""One seeding rule (DESIGN.md, "Randomness"): a run draws from generators derived from its seed and leaves the
global random state of Python, NumPy and torch as it found it."""

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.core.device import isolated_random_state, seeded

ROOT = Path(__file__).resolve().parents[2]


def _global_state():
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _assert_same(before, after):
    (py_a, np_a, torch_a), (py_b, np_b, torch_b) = before, after
    assert py_a == py_b, "Python's random state moved"
    assert np_a[0] == np_b[0] and np.array_equal(np_a[1], np_b[1]) and np_a[2:] == np_b[2:], "NumPy's state moved"
    assert torch.equal(torch_a, torch_b), "torch's CPU generator moved"


def _draws():
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()


def _somewhere():
    """Move the global generators to a state no seed alone gives."""
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    _draws()


def test_isolated_random_state_seeds_all_three_like_seeding_them_directly():
    _somewhere()
    with isolated_random_state(7):
        first = _draws()
    _draws()  # the caller moves on; the next run still starts from its seed alone
    with isolated_random_state(7):
        again = _draws()
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    assert first == again == _draws()
    with isolated_random_state(8):
        assert _draws() != first


def test_isolated_random_state_gives_the_state_back_on_exit_and_on_errors():
    _somewhere()
    before = _global_state()
    with isolated_random_state(3):
        _draws()
    _assert_same(before, _global_state())
    with pytest.raises(RuntimeError, match="boom"), isolated_random_state(3):
        _draws()
        raise RuntimeError("boom")
    _assert_same(before, _global_state())
    expected = _draws()  # the caller's stream goes on exactly where it was
    _somewhere()
    assert _draws() == expected


def test_a_large_seed_is_accepted():
    """NumPy's legacy seed takes 32 bits; config seeds may be larger."""
    with isolated_random_state(2**40 + 5):
        big = _draws()
    with isolated_random_state(5):
        assert np.random.rand(3).tolist() == big[1]


def test_seeded_forks_torch_alone_and_survives_errors():
    _somewhere()
    before = _global_state()
    with seeded(4):
        weights = torch.nn.Linear(3, 2).weight.detach().clone()
    with pytest.raises(ValueError), seeded(4):
        assert torch.equal(torch.nn.Linear(3, 2).weight, weights)
        raise ValueError
    _assert_same(before, _global_state())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_generators_are_given_back_too():
    torch.cuda.init()
    torch.cuda.manual_seed_all(99)
    before = torch.cuda.get_rng_state_all()
    with isolated_random_state(1):
        torch.rand(3, device="cuda")
    with seeded(2):  # no device named: every initialised CUDA generator is forked all the same
        torch.rand(3, device="cuda")
    after = torch.cuda.get_rng_state_all()
    assert all(torch.equal(a, b) for a, b in zip(before, after))


GLOBAL_SEEDING = re.compile(
    r"\b(torch(\.cuda|\.random)?\.manual_seed(_all)?|torch\.seed|(np|numpy)\.random\.seed|random\.seed)\("
)
GLOBAL_NUMPY_DRAWS = re.compile(
    r"\b(np|numpy)\.random\.(rand|randn|randint|random|random_sample|choice|permutation|shuffle|normal|uniform"
    r"|binomial|poisson|beta|gamma|dirichlet|multinomial|exponential)\("
)


def test_no_engine_module_seeds_or_draws_from_the_global_generators():
    """Only engine/core/device.py seeds the global generators (for a whole run, and gives them back); elsewhere
    draws come from ``seeded(...)`` blocks or private generators (``torch.Generator().manual_seed``,
    ``np.random.default_rng``)."""
    found = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        if path == ROOT / "engine" / "core" / "device.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if GLOBAL_SEEDING.search(code) or GLOBAL_NUMPY_DRAWS.search(code):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


def test_the_static_check_sees_what_it_names():
    for bad in (
        "torch.manual_seed(0)",
        "torch.cuda.manual_seed_all(1)",
        "np.random.seed(2)",
        "random.seed(3)",
        "x = np.random.rand(4)",
    ):
        assert GLOBAL_SEEDING.search(bad) or GLOBAL_NUMPY_DRAWS.search(bad), bad
    for fine in (
        "torch.Generator().manual_seed(0)",
        "gen = torch.Generator(device=dev).manual_seed(seed)",
        "np.random.default_rng(seed).choice(10, 3)",
        "np.random.SeedSequence([1, 2])",
    ):
        assert not (GLOBAL_SEEDING.search(fine) or GLOBAL_NUMPY_DRAWS.search(fine)), fine
