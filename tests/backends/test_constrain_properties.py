"""``Problem.constrain`` / ``unconstrain`` round trips, for every supported constraint
(property-based, float64, both backends).

One model per constraint: a single latent site whose distribution has that support. For random
points ``z`` of the flat unconstrained space (moderate magnitude), ``constrain(z)`` lies in the
support and ``unconstrain(constrain(z)) == z``; a batch of points constrains row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ppl
from ppl import dist, ops
from ppl.errors import ModelError

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _with_support(support_of: Callable, base: Callable, transform: Callable):
    """``TransformedDistribution(base(), transform())`` whose support is ``support_of()``: the
    backends derive a transformed distribution's support from its transform (``real`` for an
    affine map), so a site on a half-line needs it stated."""

    class Supported(dist.TransformedDistribution):
        support = support_of()

    return Supported(base(), [transform()])


@dataclass(frozen=True)
class ConstraintCase:
    """A distribution with the support under test, and that support as a numpy predicate."""

    name: str
    make: Callable  # () -> distribution, on the active backend
    in_support: Callable  # numpy value -> bool
    unsupported: dict = field(default_factory=dict)  # backend -> why it cannot

    def __repr__(self) -> str:
        return self.name

    def model(self):
        ppl.sample("x", self.make())


def _lower_triangular(x, unit_rows=False):
    ok = np.allclose(np.triu(x, 1), 0.0) and np.all(np.diagonal(x, axis1=-2, axis2=-1) > 0)
    return ok and (not unit_rows or np.allclose(np.linalg.norm(x, axis=-1), 1.0))


def _positive_definite(x):
    return np.allclose(x, np.swapaxes(x, -1, -2)) and np.all(np.linalg.eigvalsh(x) > 0)


NO_BIJECTION = "torch has no biject_to for this constraint (only transform_to)"

CASES = [
    ConstraintCase(
        "real", lambda: dist.Normal(ops.zeros(3), 1.0).to_event(1), lambda x: np.isfinite(x).all()
    ),
    ConstraintCase("positive", lambda: dist.Gamma(2.0, 2.0).expand([2]), lambda x: (x > 0).all()),
    ConstraintCase(
        "unit_interval",
        lambda: dist.Beta(2.0, 3.0).expand([2]),
        lambda x: ((0 < x) & (x < 1)).all(),
    ),
    ConstraintCase(
        "interval", lambda: dist.Uniform(-1.5, 4.0), lambda x: ((-1.5 < x) & (x < 4.0)).all()
    ),
    ConstraintCase(
        "simplex",
        lambda: dist.Dirichlet(ops.ones(4)),
        lambda x: (x >= 0).all() and np.isclose(x.sum(), 1.0),
    ),
    ConstraintCase(
        "corr_cholesky",
        lambda: dist.LKJCholesky(3, 1.0),
        lambda x: _lower_triangular(x, unit_rows=True),
    ),
    ConstraintCase(
        "lower_cholesky",
        lambda: dist.WishartCholesky(4.0, scale_tril=ops.eye(3)),
        _lower_triangular,
        {"pyro": "Pyro has no WishartCholesky, and " + NO_BIJECTION},
    ),
    ConstraintCase(
        "positive_definite",
        lambda: dist.Wishart(ops.asarray(4.0), ops.eye(3)),
        _positive_definite,
        {"pyro": NO_BIJECTION},
    ),
    ConstraintCase(
        "ordered",
        lambda: dist.TransformedDistribution(
            dist.Normal(ops.zeros(3), 1.0).to_event(1), [dist.transforms.OrderedTransform()]
        ),
        lambda x: (np.diff(x) > 0).all(),
    ),
    ConstraintCase(
        "greater_than",
        lambda: _with_support(
            lambda: dist.constraints.greater_than(-1.0),
            lambda: dist.Exponential(1.0),
            lambda: dist.transforms.AffineTransform(-1.0, 1.0),
        ),
        lambda x: (x > -1.0).all(),
    ),
    ConstraintCase(
        "less_than",
        lambda: _with_support(
            lambda: dist.constraints.less_than(2.0),
            lambda: dist.Exponential(1.0),
            lambda: dist.transforms.AffineTransform(2.0, -1.0),
        ),
        lambda x: (x < 2.0).all(),
    ),
    # Pareto: greater_than(scale) on NumPyro, greater_than_eq(scale) on Pyro
    ConstraintCase("pareto", lambda: dist.Pareto(1.5, 2.0), lambda x: (x > 1.5).all()),
]

_problems: dict = {}


def _problem(backend, case):
    key = (backend.name, case.name, ppl.get_precision())
    if key not in _problems:
        _problems[key] = backend.problem(case.model)
    return _problems[key]


def _np(x):
    return np.asarray(ops.to_numpy(x))


def _points(case):
    """Unconstrained points of the case's dimension (NumPyro's, which both backends share)."""
    with ppl.backend("numpyro") as numpyro:
        dim = _problem(numpyro, case).dim
    return hnp.arrays(np.float64, (dim,), elements=st.floats(-4.0, 4.0))


def _usable(backend, case):
    if backend.name in case.unsupported:
        pytest.skip(f"{case.name} on {backend.name}: {case.unsupported[backend.name]}")


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_round_trip_and_support(backend, float64, case):
    """constrain(z) lies in the support and unconstrain undoes it, for random z. Catches a
    wrong transform for a support (a value outside it), a layout that mixes up the flat vector
    (the round trip fails), or an unconstrain that is not the inverse of constrain."""
    _usable(backend, case)
    problem = _problem(backend, case)

    @SETTINGS
    @given(z=_points(case))
    def check(z):
        values = problem.constrain(backend.asarray(z))
        x = _np(values["x"])
        assert case.in_support(x), (case.name, z, x)
        back = _np(problem.unconstrain({"x": values["x"]}))
        np.testing.assert_allclose(back, z, rtol=1e-6, atol=1e-6)

    check()


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_batched_constrain_is_row_by_row(backend, float64, case):
    """constrain of a (2, 3, dim) batch equals constrain of each point, and unconstrain with
    batch_ndim=2 inverts it. Catches a batched path (vmap) that reshapes the flat vector
    wrongly or broadcasts across points."""
    _usable(backend, case)
    problem = _problem(backend, case)

    @settings(SETTINGS, max_examples=5)
    @given(points=st.lists(_points(case), min_size=6, max_size=6))
    def check(points):
        z = np.stack(points).reshape(2, 3, -1)
        batch = _np(problem.constrain(backend.asarray(z))["x"])
        for i, j in np.ndindex(2, 3):
            one = _np(problem.constrain(backend.asarray(z[i, j]))["x"])
            np.testing.assert_allclose(batch[i, j], one, rtol=1e-9, atol=1e-12)
        back = problem.unconstrain({"x": backend.asarray(batch)}, batch_ndim=2)
        np.testing.assert_allclose(_np(back), z, rtol=1e-6, atol=1e-6)

    check()


@pytest.mark.parametrize("case", [c for c in CASES if c.unsupported], ids=repr)
def test_unsupported_constraint_is_a_model_error(case):
    """Where a backend cannot map a support to unconstrained space, building the problem is a
    ModelError (naming the backend), not a traceback from inside the library."""
    for name in case.unsupported:
        with ppl.backend(name) as backend, pytest.raises(ModelError, match=name):
            backend.problem(case.model)
