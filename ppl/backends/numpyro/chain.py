"""A first-order chain of enumerated sites on NumPyro: its log density summed out by the
forward algorithm, and its exact draws by forward filtering, backward sampling (Viterbi at
temperature 0).

NumPyro's ``infer_discrete`` contracts every enumerated site at once, without the Markov
structure of a ``ppl.markov`` loop, so a hidden Markov model's ``3^120`` joint states do not
fit in memory. Where the enumerated sites form a first-order chain (each log-probability
factor of the model involves at most two consecutive ones: ``x_{t-1}`` and ``x_t``), the
chain is drawn here from its exact conditional in time linear in its length: the forward
pass ``alpha_t(x_t) = log sum_{x_{t-1}} exp(alpha_{t-1}(x_{t-1}) + f_t(x_{t-1}, x_t))`` over
the factors that the model's run under NumPyro's ``enum`` gives (as funsor tensors named by
site, the way NumPyro's own ``_enum_log_density`` builds them), then ``x_{T-1}`` drawn from
``alpha_{T-1}`` and each ``x_{t-1}`` from ``alpha_{t-1}(x_{t-1}) + f_t(x_{t-1}, x_t)`` given
the drawn ``x_t``. Factors over plates that hold no enumerated site are summed over them.
"""

from __future__ import annotations

from collections import OrderedDict

import funsor
import jax
import jax.numpy as jnp
from numpyro.contrib.funsor import enum, plate_to_enum_plate
from numpyro.contrib.funsor import trace as packed_trace
from numpyro.handlers import block

__all__ = ["chain_log_density", "chain_sites", "sample_chain"]


def _factors(model, args, kwargs, first_enum_dim):
    """The enumerated sites ``{name: support values (K,)}`` and the log-probability factors
    (funsor tensors, inputs named by enumerated site and plate) of one run of ``model``
    under ``enum``."""
    with block(), plate_to_enum_plate():
        target = enum(model, first_available_dim=first_enum_dim)
        tr = packed_trace(target).get_trace(*args, **kwargs)
    supports, factors = {}, []
    for name, site in tr.items():
        if site["type"] != "sample":
            continue
        if not site["is_observed"] and site["infer"].get("enumerate") == "parallel":
            supports[name] = (site["value"], site)
        log_prob = site["fn"].log_prob(site["value"])
        if site["scale"] is not None:
            log_prob = site["scale"] * log_prob
        dim_to_name = site["infer"]["dim_to_name"]
        if all(dim == 1 for dim in jnp.shape(log_prob)) and not dim_to_name:
            log_prob = jnp.squeeze(log_prob)
        factors.append(funsor.to_funsor(log_prob, funsor.Real, dim_to_name=dim_to_name))
    return supports, factors


def chain_sites(model, args, kwargs, first_enum_dim) -> tuple[str, ...] | None:
    """The enumerated sites of ``model`` in chain order where they form a first-order chain
    that ``sample_chain`` draws (scalar sites outside every plate, with the same number of
    values, each factor over at most two consecutive ones), else ``None``. Traced
    abstractly: nothing is computed."""
    found = []
    # only the array arguments are abstract: an int length (``range(T)``), a string or a flag
    # stays a Python value, as the model expects
    leaves, tree = jax.tree_util.tree_flatten((args, kwargs))
    arrays = [i for i, leaf in enumerate(leaves) if hasattr(leaf, "shape")]

    def structure(*array_leaves):
        full = list(leaves)
        for i, leaf in zip(arrays, array_leaves):
            full[i] = leaf
        supports, factors = _factors(model, *jax.tree_util.tree_unflatten(tree, full),
                                     first_enum_dim)  # fmt: skip
        found.append((supports, [frozenset(f.inputs) for f in factors]))
        return 0.0

    try:
        jax.eval_shape(structure, *[leaves[i] for i in arrays])
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError):
        # the model reads its data's values in Python: no chain draws (infer_discrete instead)
        return None
    supports, inputs = found[0]
    order = tuple(supports)
    sizes = {int(jnp.size(value)) for value, _ in supports.values()}
    for _, site in supports.values():
        if site["fn"].event_shape or any(f.dim is not None for f in site["cond_indep_stack"]):
            return None
    if len(sizes) > 1:  # stacked tables: every site has the same number of values
        return None
    index = {name: i for i, name in enumerate(order)}
    for names in inputs:
        steps = [index[n] for n in names if n in index]
        if steps and max(steps) - min(steps) > 1:
            return None
    return order if len(order) > 1 else None


def _chain_tables(model, args, kwargs, first_enum_dim, order):
    """The chain's log-probability tables and the rest of the model's log density:
    ``first`` ``(K,)`` (the factors of ``x_0`` alone), ``tables`` ``(T - 1, K, K)`` (the
    factors of step ``t`` over ``x_{t-1}, x_t``), ``rest`` (the sum of every factor without an
    enumerated site, over its plates), and the sites' support values."""
    supports, factors = _factors(model, args, kwargs, first_enum_dim)
    index = {name: i for i, name in enumerate(order)}
    local = [[] for _ in order]  # the factors of each step: its site and, at most, the one before
    rest = jnp.zeros(())
    for factor in factors:
        steps = [index[n] for n in factor.inputs if n in index]
        if not steps:
            rest = rest + factor.reduce(funsor.ops.add).data
            continue
        plates = frozenset(n for n in factor.inputs if n not in index)
        local[max(steps)].append(factor.reduce(funsor.ops.add, plates) if plates else factor)
    size = int(jnp.size(supports[order[0]][0]))
    first = _dense(local[0], (order[0],), size)
    tables = jnp.stack(
        [_dense(local[t], (order[t - 1], order[t]), size) for t in range(1, len(order))]
    )
    return first, tables, rest, supports


def _logsumexp(x, axis):
    """``logsumexp`` whose gradient is finite where every term is ``-inf`` (a state that
    cannot be reached: ``-inf``, with a zero gradient, not NaN)."""
    reachable = jnp.isfinite(jnp.max(x, axis=axis, keepdims=True))
    out = jax.nn.logsumexp(jnp.where(reachable, x, 0.0), axis=axis)
    return jnp.where(jnp.squeeze(reachable, axis), out, -jnp.inf)


def _forward(first, tables, reduce):
    """The forward pass: ``alpha_{T-1}`` and the ``alpha_t`` of ``t < T - 1``."""

    def step(alpha, table):
        return reduce(alpha[:, None] + table, axis=0), alpha

    return jax.lax.scan(step, first, tables)


def chain_log_density(model, args, kwargs, first_enum_dim, order):
    """The log density of ``model`` with the chain ``order`` summed out by the forward
    algorithm. Each step's sum is a ``logsumexp`` over the joint terms ``alpha_{t-1}(i) +
    f_t(i, j)``: funsor's log-space ``einsum`` shifts each operand by its own maximum, so in
    float32 a sum whose terms are all far below both maxima underflows to zero, and its
    ``log`` gives a NaN gradient (16 of 50 points near the HMM's posterior)."""
    first, tables, rest, _ = _chain_tables(model, args, kwargs, first_enum_dim, order)
    last, _ = _forward(first, tables, _logsumexp)
    return rest + _logsumexp(last, 0)


def sample_chain(model, args, kwargs, first_enum_dim, order, key, temperature):
    """``{site: value}``: the chain ``order`` (``chain_sites``) drawn from its conditional
    given everything else ``model`` holds fixed (temperature 1), or its most probable joint
    value (temperature 0, Viterbi). The factors of each step are gathered into one ``(K, K)``
    table ``f_t(x_{t-1}, x_t)``; the forward pass and the backward draws are two ``scan``s
    over the stacked tables."""
    first, tables, _, supports = _chain_tables(model, args, kwargs, first_enum_dim, order)
    last, alphas = _forward(first, tables, _logsumexp if temperature else jnp.max)
    keys = jax.random.split(key, len(order))

    def pick(logits, key):
        return jax.random.categorical(key, logits) if temperature else jnp.argmax(logits)

    def backward(after, inputs):
        alpha, table, key = inputs
        here = pick(alpha + table[:, after], key)
        return here, here

    end = pick(last, keys[-1])
    _, picks = jax.lax.scan(backward, end, (alphas, tables, keys[:-1]), reverse=True)
    picks = jnp.concatenate([picks, end[None]])
    return {name: jnp.reshape(supports[name][0], (-1,))[picks[t]] for t, name in enumerate(order)}


def _dense(factors, names, size):
    """The sum of ``factors`` as an array over the sites ``names`` (each of ``size`` values),
    broadcast over the sites a factor does not involve."""
    zeros = funsor.Tensor(jnp.zeros((size,) * len(names)),
                          OrderedDict((n, funsor.Bint[size]) for n in names))  # fmt: skip
    return sum(factors, zeros).align(names).data
