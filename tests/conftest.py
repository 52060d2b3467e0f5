"""Test setup: JAX's persistent compilation cache; the stage tests' jit fixture."""

import jax
import pytest

import purejaxppo as pjp

pjp.enable_compilation_cache()


@pytest.fixture(params=["eager", "jit"])
def maybe_jit(request):
    """Runs a stage as it is and under jax.jit."""
    return (lambda f: f) if request.param == "eager" else jax.jit
