"""Shared fixtures: every test that takes ``backend`` runs on both backends."""

from __future__ import annotations

import numpy as np
import pytest

import ppl

BACKENDS = ppl.backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The backend object, active for the duration of the test."""
    with ppl.backend(request.param) as b:
        yield b


@pytest.fixture
def float64():
    """Compute in double precision for this test, then restore the previous precision."""
    before = ppl.get_precision()
    ppl.set_precision("float64")
    yield
    ppl.set_precision(before)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
