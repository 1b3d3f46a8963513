"""Updates of discrete latent sites, one element at a time, written once over the array layer.

An element whose support has at most ``max_support_size`` values is drawn from its exact
conditional: the joint log density is evaluated at every value of its support, the others
held (vectorised over the values where the backend maps models, one after another otherwise),
and a value drawn from the normalised weights. With ``modified=True`` the draw excludes the
current value and is accepted with probability ``(1 - p(current)) / (1 - p(new))``: Liu's
(1996) modified Gibbs sampler, which moves more often (NumPyro's ``DiscreteHMCGibbs(...,
modified=True)``). An element with a larger (finite) support takes a Metropolis step with the
modified uniform proposal: a value drawn uniformly from its support without the current one
(symmetric), accepted with the ratio of the joint densities (NumPyro's
``_discrete_modified_rw_proposal``). The elements of a site are visited in a fresh random
order at every sweep.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ...errors import ModelError

__all__ = ["Block", "plan", "sweep"]


class Block(NamedTuple):
    """One discrete site: its place in ``z``, per-element bounds (backend arrays) and the
    number of values of its largest element's support; ``exact``: drawn from the conditional."""

    name: str
    offset: int
    size: int
    low: object
    high: object
    support: int
    exact: bool


def plan(problem, skip, max_support_size: int) -> list[Block]:
    """The ``Block`` of every discrete site of ``problem`` not in ``skip`` (sites a user's
    ``gibbs_fn`` updates); a ``ModelError`` naming a site whose support cannot be walked."""
    offsets = dict(zip(problem.layout.names, np.cumsum((0,) + problem.layout.sizes)))
    sizes = dict(zip(problem.layout.names, problem.layout.sizes))
    arrays = problem.arrays
    blocks = []
    for name, bounds in problem.discrete.items():
        if name in skip:
            continue
        if bounds is None or not np.all(np.isfinite(bounds[1])):
            what = (
                "a support that is not a range of integers (one-hot or multinomial)"
                if bounds is None
                else f"an unbounded support (integers from {int(np.min(bounds[0]))} up)"
            )
            raise ModelError(
                f"Discrete latent site {name!r} has {what}, so gibbs can neither enumerate its "
                "values nor propose one uniformly. Update it with your own Gibbs function: "
                f"ppl.infer(model, 'gibbs', gibbs_fn=f, gibbs_sites=({name!r},)), where "
                "f(key, gibbs_sites, hmc_sites) returns {site: new value}; or give it a bounded "
                "prior (Categorical, Binomial), or marginalise it out of the model."
            )
        low, high = (np.reshape(b, -1) for b in bounds)
        support = int(np.max(high - low)) + 1
        blocks.append(
            Block(
                name=name,
                offset=int(offsets[name]),
                size=int(sizes[name]),
                low=arrays.asarray(low),
                high=arrays.asarray(high),
                support=support,
                exact=support <= max_support_size,
            )
        )
    return blocks


def _map_values(arrays, vectorised: bool, f, values):
    """``f`` at every entry of ``values``, stacked: ``vmap`` where the backend maps models,
    else a loop (``scan``)."""
    if vectorised:
        return arrays.vmap(f)(values)
    _, out = arrays.scan(lambda carry, v: (carry, f(v)), 0, values)
    return out


def _exact(arrays, potential, block, modified, vectorised):
    """``(z, key, i) -> (z, accept)``: element ``i`` of ``block`` drawn from its conditional."""
    xp = arrays.xp

    def update(z, key, i):
        at = xp.arange(z.shape[0]) == block.offset + i
        values = block.low[i] + xp.arange(block.support, dtype=z.dtype)
        energies = _map_values(arrays, vectorised, lambda v: potential(xp.where(at, v, z)), values)
        ok = (values <= block.high[i]) & xp.isfinite(energies)
        logits = xp.where(ok, -energies, -math.inf)
        draw_key, accept_key = arrays.split(key)
        if not modified:
            new = values[arrays.categorical(draw_key, logits)]
            return xp.where(at, new, z), xp.ones((), dtype=z.dtype)
        current = xp.sum(xp.where(at, z, 0 * z))
        is_current = values == current
        k = arrays.categorical(draw_key, xp.where(is_current, -math.inf, logits))
        log_p = logits - arrays.logsumexp(logits)
        log_p_current = xp.sum(xp.where(is_current, log_p, 0 * log_p))
        # (1 - p(current)) / (1 - p(new)); a lone value of the support stays where it is
        log_accept = xp.log1p(-xp.exp(log_p_current)) - xp.log1p(-xp.exp(log_p[k]))
        alone = xp.sum(xp.where(ok, 1.0 + 0 * logits, 0 * logits)) < 2
        capped = xp.exp(xp.where(log_accept < 0, log_accept, 0 * log_accept))
        accept_prob = xp.where(alone, 0 * capped, capped)
        accept = arrays.uniform(accept_key, ()) < accept_prob
        return xp.where(at & accept, values[k], z), accept_prob

    return update


def _metropolis(arrays, potential, block):
    """``(z, key, i) -> (z, accept)``: element ``i`` of ``block`` moved by Metropolis with a
    uniform proposal over its support without the current value."""
    xp = arrays.xp

    def update(z, key, i):
        at = xp.arange(z.shape[0]) == block.offset + i
        low, high = block.low[i], block.high[i]
        current = xp.sum(xp.where(at, z, 0 * z))
        draw_key, accept_key = arrays.split(key)
        # one of the high - low other values, uniformly
        offset = xp.floor(arrays.uniform(draw_key, ()) * (high - low))
        proposal = low + offset
        proposal = xp.where(proposal >= current, proposal + 1, proposal)
        moved = xp.where(at, proposal, z)
        log_ratio = potential(z) - potential(moved)
        log_ratio = xp.where(xp.isnan(log_ratio), -math.inf, log_ratio)
        accept_prob = xp.exp(xp.where(log_ratio < 0, log_ratio, 0 * log_ratio))
        accept = arrays.uniform(accept_key, ()) < accept_prob
        return xp.where(accept, moved, z), accept_prob

    return update


def sweep(arrays, potential, z, key, blocks, modified: bool, vectorised: bool):
    """Every element of every block updated once, each block's elements in a random order.
    Returns ``(z, mean acceptance probability of the updates)``."""
    xp = arrays.xp
    total, count = xp.zeros((), dtype=z.dtype), 0
    for block, block_key in zip(blocks, arrays.split(key, len(blocks))):
        order_key, steps_key = arrays.split(block_key)
        order = arrays.permutation(order_key, block.size)
        keys = arrays.split(steps_key, block.size)
        if block.exact:
            update = _exact(arrays, potential, block, modified, vectorised)
        else:
            update = _metropolis(arrays, potential, block)

        def body(z, item, update=update):
            i, k = item
            z, accept_prob = update(z, k, i)
            return z, accept_prob

        z, accepts = arrays.scan(body, z, (order, keys))
        total, count = total + xp.sum(accepts), count + block.size
    return z, total / max(count, 1)
