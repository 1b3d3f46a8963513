"""Algebraic laws of the effect handlers, over a small table of models, on both backends."""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist, handlers, ops

from .cases import CASES, chain, normal_normal


def _np(x):
    return np.asarray(ops.to_numpy(x))


def _trace(fn, seed=0, **kwargs):
    return handlers.trace(handlers.seed(fn, rng_seed=seed)).get_trace(**kwargs)


def _latent_values(tr):
    return {name: _np(site.value) for name, site in tr.sample_sites(observed=False).items()}


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_condition_marks_exactly_those_sites_observed(backend, case):
    first = next(iter(case.latents))
    data = {first: case.latents[first]}
    tr = _trace(handlers.condition(case.fn, data=data), **case.args())
    observed = {name for name, site in tr.sample_sites().items() if site.is_observed}
    assert observed == {first, *case.observed}
    np.testing.assert_allclose(_np(tr[first].value), data[first], rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_replay_reproduces_every_latent(backend, case):
    recorded = _trace(case.fn, seed=1, **case.args())
    replayed = _trace(handlers.replay(case.fn, trace=recorded), seed=2, **case.args())
    original, again = _latent_values(recorded), _latent_values(replayed)
    assert set(original) == set(case.latents) == set(again)
    for name in original:
        np.testing.assert_array_equal(again[name], original[name])


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_block_hides_exactly_the_named_sites(backend, case):
    everything = set(_trace(case.fn, **case.args()))
    for name in case.latents:
        visible = set(_trace(handlers.block(case.fn, hide=[name]), **case.args()))
        assert visible == everything - {name}


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_seed_reproduces_and_different_seeds_differ(backend, case):
    a = _latent_values(_trace(case.fn, seed=5, **case.args()))
    b = _latent_values(_trace(case.fn, seed=5, **case.args()))
    c = _latent_values(_trace(case.fn, seed=6, **case.args()))
    for name in case.latents:
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_substitute_then_trace_gives_the_values(backend, case):
    tr = _trace(handlers.substitute(case.fn, data=case.latents), **case.args())
    for name, value in case.latents.items():
        assert not tr[name].is_observed
        np.testing.assert_allclose(_np(tr[name].value), value, rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_scale_multiplies_log_prob_sum(backend, case):
    conditioned = handlers.condition(case.fn, data=case.latents)
    base = float(_trace(conditioned, **case.args()).log_prob_sum())
    scaled = float(_trace(handlers.scale(conditioned, scale=2.5), **case.args()).log_prob_sum())
    twice = handlers.scale(handlers.scale(conditioned, scale=2.0), scale=3.0)
    assert scaled == pytest.approx(2.5 * base, rel=1e-5)
    assert float(_trace(twice, **case.args()).log_prob_sum()) == pytest.approx(6 * base, rel=1e-5)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_mask_false_drops_and_true_keeps_log_prob(backend, case):
    conditioned = handlers.condition(case.fn, data=case.latents)
    base = float(_trace(conditioned, **case.args()).log_prob_sum())
    kept = float(_trace(handlers.mask(conditioned, mask=True), **case.args()).log_prob_sum())
    dropped = float(_trace(handlers.mask(conditioned, mask=False), **case.args()).log_prob_sum())
    assert kept == pytest.approx(base, rel=1e-6)
    assert dropped == 0.0


def test_mask_array_keeps_the_selected_elements(backend):
    y = np.array([0.5, -0.2, 1.1])
    keep = np.array([True, False, True])
    masked = handlers.mask(handlers.condition(normal_normal, data={"mu": 0.0}), mask=keep)
    tr = _trace(masked, y=ops.asarray(y))
    expected = -0.5 * (y[keep] ** 2).sum() - 2 * 0.5 * np.log(2 * np.pi)
    assert float(tr["y"].log_prob().sum()) == pytest.approx(expected, rel=1e-5)


def test_do_cuts_the_dependency(backend):
    """Under do(x=10) the site x is still drawn from N(0, 1), but y ~ N(x, 0.5) sees 10."""
    tr = _trace(handlers.do(chain, data={"x": 10.0}), seed=3)
    assert abs(float(tr["x"].value)) < 5.0
    assert float(tr["y"].value) == pytest.approx(10.0, abs=3.0)
    undone = _trace(chain, seed=3)
    assert abs(float(undone["y"].value)) < 5.0


def test_trace_commutes_with_condition(backend):
    """trace(condition(f)) and condition applied inside a trace context record the same."""
    data = {"mu": 0.3}
    a = _trace(handlers.condition(normal_normal, data=data))
    with handlers.trace() as b, handlers.seed(rng_seed=0), handlers.condition(data=data):
        normal_normal()
    assert list(a) == list(b)
    assert float(a.log_prob_sum()) == pytest.approx(float(b.log_prob_sum()))


def test_decorator_form_equals_higher_order_form(backend):
    @handlers.seed(rng_seed=4)
    def decorated():
        return ppl.sample("x", dist.Normal(0.0, 1.0))

    def plain():
        return ppl.sample("x", dist.Normal(0.0, 1.0))

    assert float(decorated()) == float(handlers.seed(plain, rng_seed=4)())


def test_nested_seed_derives_from_the_outer_key(backend):
    """seed(rng_seed=None) inside a seed draws from the outer key: reproducible, and different
    outer seeds give different draws; an inner integer seed ignores the outer one."""

    def draw(outer, inner):
        with handlers.seed(rng_seed=outer), handlers.seed(rng_seed=inner):
            return float(ppl.sample("x", dist.Normal(0.0, 1.0)))

    assert draw(0, None) == draw(0, None)
    assert draw(0, None) != draw(1, None)
    assert draw(0, 7) == draw(1, 7)


def test_handler_wrapped_model_builds_a_problem(backend):
    y = ops.asarray(np.array([0.5, -0.2, 1.1]))
    plain = backend.problem(normal_normal, kwargs={"y": y})
    scaled = backend.problem(handlers.scale(normal_normal, scale=2.0), kwargs={"y": y})
    z = ops.asarray(np.array([0.4]))
    assert float(scaled.potential(z)) == pytest.approx(2 * float(plain.potential(z)), rel=1e-5)


def test_trace_view_fields(backend):
    tr = _trace(CASES[3].fn)
    assert tr["w"].plates == ("outer", "inner")
    assert tr["s"].plates == ("outer",)
    assert tr["outer"].type == "plate"
    chain_tr = _trace(chain)
    assert chain_tr["z"].type == "deterministic"
    assert chain_tr["k"].is_observed and not chain_tr["x"].is_observed
    assert set(chain_tr.sample_sites()) == {"x", "y", "p", "k"}
    assert tr.backend == backend.name
    assert ppl.Trace is handlers.Trace and ppl.Site is handlers.Site
    assert isinstance(tr["w"], ppl.Site)
