"""The coordinates of a warm start: ``z = shift + factor @ u``, and the potential in ``u``.

``ppl.inference.warm_start`` computes a ``WarmStart``; the algorithms that move in its
coordinates (diffusions, flows, their ``q0``) use the maps and potentials here.

>>> import numpy as np
>>> start = WarmStart(np.ones(2), np.full(2, 2.0), np.full(2, 0.5), np.log(4.0), 0.0, 0)
>>> to_target(np, start, np.zeros((1, 2))), from_target(np, start, np.full((1, 2), 3.0))
(array([[1., 1.]]), array([[1., 1.]]))
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "WarmStart",
    "batched_potential_and_grad",
    "from_target",
    "potential",
    "potential_and_grad",
    "to_target",
]


class WarmStart(NamedTuple):
    """The map ``z = shift + factor @ u``: ``shift`` (the MAP point, or the fallback's
    mean), ``factor`` (``(dim, dim)`` lower-triangular, or ``(dim,)`` for a diagonal one),
    ``inverse`` (``factor``'s inverse, same shape), ``log_det`` (``log|det factor|``),
    ``seconds`` (the warm start's cost) and ``fallback`` (an index into ``REASONS``, 0 when
    the Laplace start was used)."""

    shift: Any
    factor: Any
    inverse: Any
    log_det: Any
    seconds: Any
    fallback: Any


def batched_potential_and_grad(problem):
    """``f(x) -> (U(x), grad U(x))`` for a batch ``x`` of shape ``(n, dim)``, where ``U`` is the
    problem's potential (the negative log joint). It composes with an outer ``value_and_grad``
    (a reparameterised loss differentiates through ``grad U``)."""
    backend = problem.backend
    xp = backend.xp
    batched = backend.vmap(problem.potential)

    def total(x):
        u = batched(x)
        return xp.sum(u), u

    value_and_grad = backend.value_and_grad(total, has_aux=True)

    def f(x):
        (_, u), g = value_and_grad(x)
        return u, g

    return f


def to_target(xp, start: WarmStart | None, u):
    """``z = shift + factor @ u`` for each row of ``u`` (``u`` itself without a start)."""
    if start is None:
        return u
    if len(start.factor.shape) == 1:
        return start.shift + u * start.factor
    return start.shift + xp.matmul(u, xp.matrix_transpose(start.factor))


def from_target(xp, start: WarmStart | None, z):
    """``u = factor^-1 (z - shift)`` for each row of ``z`` (``z`` itself without a start)."""
    if start is None:
        return z
    if len(start.factor.shape) == 1:
        return (z - start.shift) * start.inverse
    return xp.matmul(z - start.shift, xp.matrix_transpose(start.inverse))


def potential(problem):
    """``f(start, u) -> U_u`` for a batch ``u`` of shape ``(n, dim)``: the potential in the
    coordinates of ``start``, ``U(to_target(u)) - log|det factor|`` (``U`` without one)."""
    backend = problem.backend
    batched = backend.vmap(problem.potential)

    def f(start, u):
        if start is None:
            return batched(u)
        return batched(to_target(backend.xp, start, u)) - start.log_det

    return f


def potential_and_grad(problem):
    """``f(start, u) -> (U_u, grad U_u)`` for a batch ``u`` (see ``potential``); composes with
    an outer ``value_and_grad`` as ``batched_potential_and_grad`` does."""
    xp = problem.backend.xp
    plain = batched_potential_and_grad(problem)

    def f(start, u):
        if start is None:
            return plain(u)
        value, grad = plain(to_target(xp, start, u))
        if len(start.factor.shape) == 1:
            return value - start.log_det, grad * start.factor
        return value - start.log_det, xp.matmul(grad, start.factor)

    return f
