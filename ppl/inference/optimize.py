"""Optimisation on a ``Problem``, written once: the MAP point in unconstrained space.

>>> import ppl
>>> from ppl import dist
>>> from ppl.inference.optimize import find_map
>>> def model():
...     ppl.sample("x", dist.Normal(3.0, 1.0))
>>> backend = ppl.get_backend("numpyro")
>>> problem = backend.problem(model)
>>> round(float(find_map(problem, backend.key(0))[0]), 3)
3.0
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

from .compiled import compiled

__all__ = ["compiled_value_and_grad", "find_map", "potential_value"]

#: tries of ``Problem.init`` for a start with a finite potential (its first is compiled here)
INIT_TRIES = 100


def compiled_value_and_grad(problem):
    """``z -> (potential, gradient)`` of ``problem``, compiled with the data as arguments: one
    program per process for the model and its data's shapes, shared by the MAP search and the
    starts' checks (``Problem.init(..., value_and_grad=)``)."""
    return compiled(problem, "value_and_grad", lambda p: p.value_and_grad)


def potential_value(problem, z) -> float:
    """The potential at ``z`` through the MAP search's compiled value and gradient (no
    separate program, and no op-by-op run of the model)."""
    value, _ = compiled_value_and_grad(problem)(problem.backend.asarray(z))
    return float(value)


def _first_tries(problem, num_starts: int):
    """``(key, i) -> point``: the first try of ``problem.init(split(key, num_starts)[i],
    strategy="uniform")`` (its uniform draw, constrained by the model and its latent sites
    unconstrained again through the model's own supports), one program compiled with the data
    as arguments for all the starts, instead of each operation compiled on its own."""
    names = problem.layout.names

    def build(p):
        backend = p.backend

        def first_try(key, index):
            start_key = backend.split(key, num_starts)[index]
            draw = backend.uniform(backend.split(start_key, INIT_TRIES)[0], (p.dim,), -2.0, 2.0)
            values = p.constrain_one(draw)
            return p.unconstrain({k: v for k, v in values.items() if k in names})

        return first_try

    return compiled(problem, "map-start", build, static=(num_starts,), once=True)


def _start(problem, key, index: int, num_starts: int, fun) -> np.ndarray:
    """The point ``problem.init(split(key, num_starts)[index], strategy="uniform")`` gives:
    its first try compiled (``_first_tries``) and checked by the MAP search's compiled
    value and gradient where no ``init_values`` apply; ``Problem.init`` itself (its further
    tries, its errors) only where that point's potential or gradient is not finite."""
    backend = problem.backend
    if not problem.init_values:
        try:
            point = _first_tries(problem, num_starts)(key, index)
            x0 = np.asarray(backend.to_numpy(point), dtype=np.float64)
            value, grad = fun(x0)
            if math.isfinite(value) and (grad is None or problem.finite_gradient(grad)):
                return x0
        except Exception:  # noqa: BLE001 - a backend that validates: Problem.init says why
            pass
    start_key = backend.split(key, num_starts)[index]
    start = problem.init(
        start_key, "uniform", INIT_TRIES, value_and_grad=compiled_value_and_grad(problem)
    )
    return np.asarray(backend.to_numpy(start), dtype=np.float64)


def find_map(problem, key, max_iterations: int = 1000, num_starts: int = 4):
    """The mode of the posterior in unconstrained space (Jacobians included).

    L-BFGS (scipy) over the backend's compiled value-and-gradient, from ``num_starts`` uniform
    draws on (-2, 2); the best end point is polished by one more L-BFGS run (a line search that
    gives up early in single precision is common). L-BFGS is invariant to the problem's scale in
    a way Adam is not, which matters for posteriors whose location is far from the origin or
    whose scales differ by orders of magnitude.
    """
    backend = problem.backend
    value_and_grad = compiled_value_and_grad(problem)

    def fun(x):
        value, grad = value_and_grad(backend.asarray(x))
        value = float(value)
        if not math.isfinite(value):
            return math.inf, np.zeros_like(x)
        return value, np.asarray(backend.to_numpy(grad), dtype=np.float64)

    def descend(x0):
        result = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iterations})
        return (result.x, result.fun) if np.isfinite(result.fun) else (x0, fun(x0)[0])

    ends = [descend(_start(problem, key, i, num_starts, fun)) for i in range(num_starts)]
    best, _ = descend(min(ends, key=lambda end: end[1])[0])
    return backend.asarray(best)
