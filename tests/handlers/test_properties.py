"""Handler laws over randomly generated small models, on both backends (property-based).

A model is built from a random ``ModelSpec``: one to three sample sites, each with a random event
shape and family, placed at a random depth in up to two nested plates of random sizes; a random
subset of the sites is observed with data of the right shape, and each site's location depends on
the previous site's value, so that conditioning one site changes the density of the next. The
laws are those of ``pyro/tests/poutine/test_properties.py``, checked through ``ppl.handlers``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppl
from ppl import dist, handlers, ops

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class SiteSpec:
    """One sample site: its family, event shape, plate depth and (if observed) its data."""

    name: str
    family: object  # a function ``(loc, event) -> distribution``
    event: tuple[int, ...]
    depth: int
    value: np.ndarray  # a value of the site's full shape, in its support
    observed: bool

    def __repr__(self) -> str:
        obs = ", observed" if self.observed else ""
        return f"{self.name}~{self.family.__name__}{self.event}@{self.depth}{obs}"


def normal(loc, event):
    return dist.Normal(loc + ops.zeros(event), 1.0).to_event(len(event))


def log_normal(loc, event):
    return dist.LogNormal(loc + ops.zeros(event), 0.5).to_event(len(event))


FAMILIES = (normal, log_normal)


@dataclass(frozen=True)
class ModelSpec:
    """Plate sizes (outermost first) and the sites, in program order."""

    plates: tuple[int, ...]
    sites: tuple[SiteSpec, ...]

    def __repr__(self) -> str:
        return f"ModelSpec(plates={self.plates}, sites={list(self.sites)})"

    def batch_shape(self, depth: int) -> tuple[int, ...]:
        """A site inside the ``depth`` outermost plates: their sizes, then ones up to ``dim=-1``."""
        return self.plates[:depth] + (1,) * (len(self.plates) - depth) if depth else ()

    @property
    def observed(self) -> dict:
        return {s.name: s.value for s in self.sites if s.observed}

    @property
    def latents(self) -> dict:
        return {s.name: s.value for s in self.sites if not s.observed}

    def model(self):
        """The model program (data converted to the active backend when it runs)."""
        plates = _make_plates(self.plates)
        previous = None
        for site in self.sites:
            loc = 0.0 if previous is None else 0.1 * ops.sum(previous)
            with _plates(plates, site.depth):
                obs = ops.asarray(site.value) if site.observed else None
                previous = ppl.sample(site.name, site.family(loc, site.event), obs=obs)


class _plates:
    """Enter the first ``depth`` of ``plates`` (plate objects made once per model run: Pyro records
    a plate each time one is made, so a name may be made only once per run)."""

    def __init__(self, plates, depth):
        self.plates = plates[:depth]

    def __enter__(self):
        for p in self.plates:
            p.__enter__()

    def __exit__(self, *exc):
        for p in reversed(self.plates):
            p.__exit__(*exc)


def _make_plates(sizes):
    """One ``ppl.plate`` per size, the outermost at ``dim=-len(sizes)``."""
    return [ppl.plate(f"p{j}", size, dim=j - len(sizes)) for j, size in enumerate(sizes)]


@st.composite
def model_specs(draw):
    plates = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    sites = []
    for i in range(draw(st.integers(1, 3))):
        family = draw(st.sampled_from(FAMILIES))
        event = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
        depth = draw(st.integers(0, len(plates)))
        batch = plates[:depth] + (1,) * (len(plates) - depth) if depth else ()
        value = rng.normal(size=batch + event)
        if family is log_normal:
            value = np.exp(0.5 * value)
        sites.append(SiteSpec(f"s{i}", family, event, depth, value, draw(st.booleans())))
    return ModelSpec(plates, tuple(sites))


def _np(x):
    return np.asarray(ops.to_numpy(x))


def _trace(fn, seed=0):
    return handlers.trace(handlers.seed(fn, rng_seed=seed)).get_trace()


def _record(tr) -> dict:
    """``{site: (value, is_observed, log_prob)}`` of the sample sites, as numpy."""
    return {
        name: (_np(site.value), site.is_observed, _np(site.log_prob()))
        for name, site in tr.sample_sites().items()
    }


def _assert_same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name][1] == b[name][1], name
        for x, y in zip(a[name][0::2], b[name][0::2]):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=name)


def _subsets(spec):
    return st.sets(st.sampled_from([s.name for s in spec.sites]))


# ---- condition ---------------------------------------------------------------------------------
@SETTINGS
@given(spec=model_specs(), data=st.data())
def test_condition_observes_exactly_the_given_sites_and_agrees_with_substitute(backend, spec, data):
    """trace(condition(f, d)): the sites of ``d`` become observed with exactly the values of
    ``d``, the others keep their observed flag and shape, and every site's log_prob equals that
    under substitute(f, d) with the same values. Catches a condition that drops or misnames
    sites, fails to mark them observed, or evaluates the density at the wrong value."""
    chosen = data.draw(_subsets(spec))
    given_values = {s.name: s.value for s in spec.sites if s.name in chosen}
    plain = _trace(spec.model)
    conditioned = _trace(handlers.condition(spec.model, data=given_values))
    assert list(conditioned) == list(plain)
    for name, site in conditioned.sample_sites().items():
        assert site.is_observed == (name in chosen or plain[name].is_observed), name
        assert _np(site.value).shape == _np(plain[name].value).shape, name
        if name in chosen:
            np.testing.assert_allclose(_np(site.value), given_values[name], rtol=1e-6)
    # with every latent pinned, condition and substitute differ only in the observed flags
    pinned = {**spec.latents, **given_values}
    a = _trace(handlers.condition(handlers.substitute(spec.model, data=pinned), data=given_values))
    b = _trace(handlers.substitute(spec.model, data=pinned))
    for name in a.sample_sites():
        np.testing.assert_allclose(_np(a[name].log_prob()), _np(b[name].log_prob()), rtol=1e-5)
        np.testing.assert_allclose(_np(a[name].value), _np(b[name].value), rtol=1e-6)


@SETTINGS
@given(spec=model_specs(), data=st.data())
def test_condition_twice_with_the_same_data_equals_once(backend, spec, data):
    """condition(condition(f, d), d) == condition(f, d) (idempotence), site by site: values,
    observed flags and log-probs under the same seed. Catches a condition that applies its data
    twice (a doubled log-likelihood) or consumes randomness for observed sites."""
    chosen = data.draw(_subsets(spec))
    given_values = {s.name: s.value for s in spec.sites if s.name in chosen}
    once = handlers.condition(spec.model, data=given_values)
    twice = handlers.condition(once, data=given_values)
    _assert_same(_record(_trace(twice, seed=3)), _record(_trace(once, seed=3)))


@SETTINGS
@given(spec=model_specs(), data=st.data())
def test_trace_commutes_with_condition(backend, spec, data):
    """The higher-order form trace(seed(condition(f))) and the context-manager form
    (condition inside a trace context) record the same sites, values and log-probs. Catches a
    handler whose context-manager form is installed at the wrong place in the stack."""
    chosen = data.draw(_subsets(spec))
    given_values = {s.name: s.value for s in spec.sites if s.name in chosen}
    a = _trace(handlers.condition(spec.model, data=given_values), seed=1)
    with handlers.trace() as b, handlers.seed(rng_seed=1), handlers.condition(data=given_values):
        spec.model()
    _assert_same(_record(a), _record(b))


# ---- block, substitute, replay, seed -----------------------------------------------------------
@SETTINGS
@given(spec=model_specs(), data=st.data())
def test_block_hides_exactly_the_named_sites(backend, spec, data):
    """block(hide=H) removes exactly H from the trace, and block(expose=E) keeps exactly E.
    Catches a block that hides too much, too little, or ignores its arguments."""
    everything = set(_trace(spec.model))
    hide = data.draw(_subsets(spec))
    assert set(_trace(handlers.block(spec.model, hide=sorted(hide)))) == everything - hide
    assert set(_trace(handlers.block(spec.model, expose=sorted(hide)))) == hide


@SETTINGS
@given(spec=model_specs())
def test_substitute_then_trace_gives_the_substituted_values(backend, spec):
    """trace(substitute(f, v)) records v at the latent sites, still latent, and the observed
    data at the observed sites (substitute does not override an observation). Catches a
    substitute that marks sites observed, ignores values, or overrides data."""
    tr = _trace(handlers.substitute(spec.model, data=spec.latents))
    for site in spec.sites:
        assert tr[site.name].is_observed == site.observed
        np.testing.assert_allclose(_np(tr[site.name].value), site.value, rtol=1e-6)


@SETTINGS
@given(spec=model_specs())
def test_replay_reproduces_every_latent_under_another_seed(backend, spec):
    """trace(seed(replay(f, t), other)) has t's latent values. Catches a replay that lets the
    new seed through."""
    recorded = _trace(spec.model, seed=1)
    replayed = _trace(handlers.replay(spec.model, trace=recorded), seed=2)
    for name, site in recorded.sample_sites(observed=False).items():
        np.testing.assert_array_equal(_np(replayed[name].value), _np(site.value))


@SETTINGS
@given(spec=model_specs(), seed=st.integers(0, 2**31 - 1))
def test_seed_reproduces_and_another_seed_differs(backend, spec, seed):
    """Same seed, same values at every latent site; seed + 1 gives different values at each.
    Catches a seed that is ignored, or a key reused across sites or seeds."""
    a = _record(_trace(spec.model, seed=seed))
    b = _record(_trace(spec.model, seed=seed))
    c = _record(_trace(spec.model, seed=seed + 1))
    _assert_same(a, b)
    for site in spec.sites:
        if not site.observed:
            assert not np.array_equal(a[site.name][0], c[site.name][0]), site.name


# ---- scale and mask ----------------------------------------------------------------------------
@SETTINGS
@given(spec=model_specs(), factor=st.floats(0.05, 20.0))
def test_scale_multiplies_log_prob_sum(backend, spec, factor):
    """log_prob_sum of scale(f, c) is c times that of f, and each site's log_prob is c times
    its own, at the same values. Catches a scale applied to some sites only, twice, or not at
    all."""
    pinned = handlers.substitute(spec.model, data=spec.latents)
    base = _trace(pinned)
    scaled = _trace(handlers.scale(pinned, scale=factor))
    total = float(base.log_prob_sum())
    assert float(scaled.log_prob_sum()) == pytest.approx(factor * total, rel=1e-4, abs=1e-4)
    for name, site in base.sample_sites().items():
        np.testing.assert_allclose(
            _np(scaled[name].log_prob()), factor * _np(site.log_prob()), rtol=1e-4, atol=1e-5
        )


@SETTINGS
@given(spec=model_specs(), data=st.data())
def test_mask_false_zeroes_the_masked_log_probs(backend, spec, data):
    """mask(False) around some sites zeroes exactly their log-probs and leaves the others' (a
    model in which the sites of ``masked`` run under the mask); mask(True) changes nothing.
    Catches a mask that leaks to sites outside it, or does not apply to observed sites."""
    masked = data.draw(_subsets(spec))

    pinned = handlers.substitute(spec.model, data=spec.latents)
    base = _record(_trace(pinned))
    everything_masked = _record(_trace(handlers.mask(pinned, mask=False)))
    kept = _record(_trace(handlers.mask(pinned, mask=True)))
    _assert_same(kept, base)
    for name in base:
        assert np.all(everything_masked[name][2] == 0.0), name
    # a mask around some sites only: the model runs the masked sites under mask(False)
    per_site = _trace(handlers.substitute(_masked_model(spec, masked), data=spec.latents))
    for name, (_, _, log_prob) in base.items():
        got = _np(per_site[name].log_prob())
        if name in masked:
            assert np.all(got == 0.0), name
        else:
            np.testing.assert_allclose(got, log_prob, rtol=1e-5, atol=1e-6, err_msg=name)


def _masked_model(spec: ModelSpec, masked: set):
    """``spec.model`` with the sites in ``masked`` drawn under ``handlers.mask(mask=False)``."""

    def model():
        plates = _make_plates(spec.plates)
        previous = None
        for site in spec.sites:
            loc = 0.0 if previous is None else 0.1 * ops.sum(previous)
            keep = site.name not in masked
            with _plates(plates, site.depth), handlers.mask(mask=keep):
                obs = ops.asarray(site.value) if site.observed else None
                previous = ppl.sample(site.name, site.family(loc, site.event), obs=obs)

    return model


def test_generated_shapes_are_the_site_shapes(backend):
    """The generator's sanity: a fixed spec's traced values have the shapes the spec says."""
    spec = ModelSpec(
        (2, 3),
        (
            SiteSpec("s0", normal, (2,), 1, np.zeros((2, 1, 2)), False),
            SiteSpec("s1", log_normal, (), 2, np.ones((2, 3)), True),
        ),
    )
    tr = _trace(spec.model)
    assert _np(tr["s0"].value).shape == (2, 1, 2)
    assert tr["s0"].plates == ("p0",) and tr["s1"].plates == ("p0", "p1")
    assert _np(tr["s1"].log_prob()).shape == (2, 3)
    assert math.isfinite(float(tr.log_prob_sum()))
