"""Option validation over random option dicts, for every registered algorithm (property-based).

Whatever a user passes as options, ``registry.validate_options`` either returns the algorithm's
``Options`` or raises a ``ppl.errors.PPLError`` whose message names an option at fault; never a
bare ``TypeError``/``ValueError`` from inside the checks, and never an ``Options`` holding NaN.
No inference runs: only the options are validated.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ppl
from ppl.errors import OptionError, PPLError
from ppl.inference import registry

SPECS = list(ppl.algorithms())

#: values of every kind a user might pass by mistake (or on purpose)
VALUES = st.one_of(
    st.integers(-3, 5),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-2.0, 2.0),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["adam", "normal", "uniform", "prior", "mh", "kl", "relu", "sites"]),
    st.lists(st.integers(-2, 64), max_size=3),
    st.tuples(st.integers(-2, 64)),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
    st.lists(st.lists(st.text(max_size=2), max_size=2), max_size=2),
)


def _option_dicts(spec):
    names = list(spec.defaults())
    name = st.one_of(
        st.sampled_from(names),
        st.sampled_from(names).map(lambda n: n + "_"),  # a near miss
        st.text(min_size=1, max_size=8),
    )
    return st.dictionaries(name, VALUES, max_size=4)


def _nan_fields(options) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(options)
        if isinstance(getattr(options, f.name), float) and math.isnan(getattr(options, f.name))
    ]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_options_give_options_or_a_ppl_error_naming_one(spec, data):
    """Catches an Options check that compares a string with a number (TypeError), calls int()
    on junk (ValueError), lets NaN through (every ``x < 1`` check is false for NaN), or an error
    that does not say which option is wrong."""
    options = data.draw(_option_dicts(spec))
    try:
        result = registry.validate_options(spec, options)
    except PPLError as error:
        assert isinstance(error, OptionError), repr(error)
        assert any(
            repr(k) in str(error) or f"{k} " in str(error) or f"{k}=" in str(error) for k in options
        ), str(error)
        return
    assert isinstance(result, spec.options)
    assert set(options) <= set(spec.defaults())
    assert not _nan_fields(result), f"{spec.name} accepted NaN for {_nan_fields(result)}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_defaults_validate(spec):
    """The generator's anchor: the empty dict is always valid (so the property above is not
    vacuously satisfied by an Options that rejects everything)."""
    assert isinstance(registry.validate_options(spec, {}), spec.options)
    assert isinstance(registry.validate_options(spec, spec.defaults()), spec.options)
