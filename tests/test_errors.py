"""The error catalogue (``benchmarks/bad_inputs.py``): every bad input we know of raises its
``ppl`` error, on both backends, with a message that names the cause or the fix."""

import pytest

import ppl
from benchmarks.bad_inputs import CASES, outcome


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_its_error_and_message(backend, name):
    case = CASES[name]
    with ppl.backend(backend.name):
        kind, message = outcome(case)
    assert kind == case.error.__name__, message
    assert case.says in message
    assert "Traceback" not in message
