"""Count and size options out of range are refused by name (issue 24, item 3).

``num_warmup=-3`` used to run (a constant chain, exit 0 from ``ppl run``); ``svi`` took
``num_steps=-3``, ``num_samples=0`` and ``lr=-1``. No inference runs here: only options.
"""

from __future__ import annotations

import warnings

import pytest

from ppl.errors import OptionError
from ppl.inference import registry

BAD = [
    ("nuts", "num_warmup", -3, "at least 0"),
    ("hmc", "num_warmup", -1, "at least 0"),
    ("nuts", "num_samples", 0, "at least 1"),
    ("nuts", "num_chains", 0, "at least 1"),
    ("nuts", "max_tree_depth", 0, "at least 1"),
    ("nuts", "step_size", -1.0, "positive"),
    ("hmc", "step_size", 0.0, "positive"),
    ("svi", "num_steps", -3, "at least 1"),
    ("svi", "num_steps", 0, "at least 1"),
    ("svi", "num_samples", 0, "at least 1"),
    ("svi", "num_particles", 0, "at least 1"),
    ("svi", "map_iterations", -1, "at least 1"),
    ("svi", "window", 0, "at least 1"),
    ("svi", "lr", -0.01, "positive"),
    ("svi", "tol", -1.0, ">= 0"),
]


@pytest.mark.parametrize(("method", "name", "value", "valid"), BAD, ids=lambda x: str(x))
def test_out_of_range_option_is_an_option_error_naming_it_and_its_range(method, name, value, valid):
    with pytest.raises(OptionError, match=f"Option {name} must be .*{valid}.*got {value}"):
        registry.validate_options(registry.get(method), {name: value})


@pytest.mark.parametrize("method", ["nuts", "hmc"])
def test_no_warmup_warns_that_the_step_size_is_not_adapted(method):
    with pytest.warns(UserWarning, match="num_warmup=0: no warmup, so the step size"):
        registry.validate_options(registry.get(method), {"num_warmup": 0})
    with warnings.catch_warnings():  # a step size chosen by the user, not adapted: no warning
        warnings.simplefilter("error")
        registry.validate_options(
            registry.get(method), {"num_warmup": 0, "step_size": 0.5, "adapt_step_size": False}
        )
        registry.validate_options(registry.get(method), {"num_warmup": 10})


def test_ppl_run_with_a_negative_warmup_exits_2_naming_the_option(capsys):
    from ppl.cli import main

    code = main(["run", "eight_schools_noncentered", "--option", "num_warmup=-3"])
    assert code == 2
    assert "num_warmup must be at least 0, got -3" in capsys.readouterr().err
