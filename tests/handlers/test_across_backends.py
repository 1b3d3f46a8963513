"""The same handler stack gives the same ``Trace.log_prob_sum()`` on both backends, and bad
input gets a clear message."""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import handlers, ops
from ppl.errors import HandlerError, UnknownSiteWarning

from .cases import CASES, normal_normal


def _condition(case):
    return handlers.condition(case.fn, data=case.latents)


def _scaled(case):
    return handlers.scale(_condition(case), scale=0.37)


def _masked_and_scaled(case):
    return handlers.mask(handlers.scale(_condition(case), scale=3.0), mask=True)


def _substituted_then_conditioned(case):
    return handlers.condition(handlers.substitute(case.fn, data=case.latents), data=case.latents)


def _blocked(case):
    return handlers.block(_condition(case), hide=[next(iter(case.latents))])


STACKS = [_condition, _scaled, _masked_and_scaled, _substituted_then_conditioned, _blocked]


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.__name__.strip("_"))
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_log_prob_sum_agrees_across_backends(float64, case, stack):
    totals = []
    for name in ppl.backends():
        with ppl.backend(name):
            seeded = handlers.seed(stack(case), rng_seed=0)
            tr = handlers.trace(seeded).get_trace(**case.args())
            totals.append(float(tr.log_prob_sum()))
    assert np.isfinite(totals[0])
    assert totals[1] == pytest.approx(totals[0], rel=1e-6, abs=1e-6)


def test_condition_on_an_unknown_site_warns_and_names_it(backend):
    conditioned = handlers.condition(normal_normal, data={"muu": 0.0, "mu": 0.1})
    with pytest.warns(UnknownSiteWarning, match=r"'muu'.*Did you mean 'mu'"):
        handlers.seed(conditioned, rng_seed=0)(y=ops.asarray([0.0, 1.0, 2.0]))


def test_replay_with_a_trace_from_the_other_backend_is_an_error():
    names = ppl.backends()
    with ppl.backend(names[0]):
        tr = handlers.trace(handlers.seed(normal_normal, rng_seed=0)).get_trace()
    with ppl.backend(names[1]):
        replayed = handlers.seed(handlers.replay(normal_normal, trace=tr), rng_seed=0)
        with pytest.raises(HandlerError, match=f"recorded on the {names[0]!r} backend"):
            replayed()


@pytest.mark.parametrize("bad", [1.5, "zero", True], ids=repr)
def test_seed_rejects_what_is_not_a_seed(backend, bad):
    with pytest.raises(HandlerError, match="rng_seed"):
        handlers.seed(normal_normal, rng_seed=bad)()


def test_scale_must_be_positive(backend):
    with pytest.raises(HandlerError, match="positive"):
        handlers.scale(normal_normal, scale=-1.0)()


def test_log_prob_of_a_plate_site_is_an_error(backend):
    tr = handlers.trace(handlers.seed(normal_normal, rng_seed=0)).get_trace()
    with pytest.raises(HandlerError, match="'data' is a 'plate' site"):
        tr["data"].log_prob()


def test_a_numpyro_model_run_without_a_seed_names_the_fix():
    with ppl.backend("numpyro"), pytest.raises(HandlerError, match=r"ppl\.handlers\.seed"):
        handlers.trace(normal_normal).get_trace(np.array([0.5, 1.0, 1.5]))
