"""Model arguments as numpy arrays or lists, wherever they enter (issue 24, item 8).

Before: on Pyro, ``handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(X, y)`` with
numpy ``X``/``y`` recorded numpy values and ``log_prob_sum()`` failed (18 of the ready models);
``spec.model(*spec.args)`` failed the same way. ``ppl.infer`` converted; now every entry does.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import ppl
from ppl import dist, handlers, ops

X = np.random.default_rng(0).normal(size=(10, 3))
Y = (X[:, 0] > 0).astype(float)


def model(X, y=None):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X, w)), obs=y)


@pytest.mark.parametrize("as_list", [False, True], ids=["numpy", "list"])
def test_trace_of_a_model_on_numpy_or_list_arguments_has_a_log_density(backend, as_list):
    args = (X.tolist(), Y.tolist()) if as_list else (X, Y)
    trace = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(*args)
    assert math.isfinite(float(trace.log_prob_sum()))
    assert backend.arrays.is_array(trace["y"].value)


def test_ready_model_runs_on_its_numpy_arguments_outside_ppl_infer(backend):
    spec = ppl.models.get("linear_regression")
    trace = handlers.trace(handlers.seed(spec.model, rng_seed=0)).get_trace(
        *spec.args, **spec.kwargs
    )
    assert math.isfinite(float(trace.log_prob_sum()))
    with handlers.trace() as recorded, handlers.seed(rng_seed=0):
        spec.model(*spec.args, **spec.kwargs)  # called directly: the spec's model converts
    assert math.isfinite(float(recorded.log_prob_sum()))


def test_site_reads_like_a_backend_site_dict(backend):
    trace = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(X, Y)
    site = trace["y"]
    assert site["value"] is site.value and site["is_observed"] and site["type"] == "sample"
    with pytest.raises(KeyError, match="Site has no field 'cond_indep'.*value"):
        site["cond_indep"]
