"""Test setup: JAX's persistent compilation cache; the stage tests' jit fixture; the order."""

import jax
import pytest

import purejaxppo as pjp

pjp.enable_compilation_cache()


@pytest.fixture(params=["eager", "jit"])
def maybe_jit(request):
    """Runs a stage as it is and under jax.jit."""
    return (lambda f: f) if request.param == "eager" else jax.jit


# The slowest modules first (MJX programs compiling, processes on forced devices): the two
# workers then end on short tests, not one waiting for the other's last long one.
_SLOW_FIRST = ("test_v5_parity.py", "test_parallel.py", "test_mjx_fixes.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs the slow modules' tests first, in that order; within a module the order is kept."""
    rank = {name: i for i, name in enumerate(_SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
