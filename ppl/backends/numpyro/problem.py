"""``Problem`` on NumPyro, built on ``numpyro.infer.util``
(``potential_energy``, ``constrain_fn``).

Discrete sites marked ``infer={"enumerate": "parallel"}`` are summed out as NumPyro's own
``initialize_model`` does for NUTS: the model runs under ``numpyro.contrib.funsor.enum`` (to the
left of its plates) and ``potential_energy(..., enum=True)`` contracts the enumerated
dimensions with funsor, ``markov`` chains in linear time; their draws given the continuous
sites come from ``numpyro.contrib.funsor.infer_discrete``. A first-order chain of enumerated
sites (a ``ppl.markov`` loop) is summed out by the forward algorithm instead (funsor's log-space
contraction underflows in float32, giving NaN gradients) and drawn by forward filtering,
backward sampling (``infer_discrete`` would contract it jointly); ``chain.py``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import block, condition, seed, substitute, trace
from numpyro.infer.util import _unconstrain_params, constrain_fn, potential_energy, unconstrain_fn
from numpyro.primitives import Messenger, _subsample_fn

from ...core import plate_subsample_sizes
from ...errors import ModelError
from ..problem import (
    FlatLayout,
    Problem,
    enumerated_sites,
    integer_bounds,
    latent_sites,
    local_latent_sites,
    max_plate_nesting,
    observed_values,
)

#: the largest joint support of the enumerated sites whose draws ``infer_discrete`` makes
MAX_JOINT_SUPPORT = 2**16


def minibatch_indices(size: int, subsample_size: int, rng_key=None):
    """``subsample_size`` indices of ``range(size)`` for a minibatch: i.i.d. uniform draws
    (with replacement), one ``jax.random.randint``, as BlackJAX's users draw them. The plate's
    ``size / subsample_size`` scaling keeps the minibatch potential unbiased. NumPyro's own
    draw (``_subsample_fn``, without replacement) costs O(size) on CPU (a Fisher-Yates scan
    over ``arange(size)``, ~250 us for 100 indices); a without-replacement draw that skips
    repeats costs ~30 us of sorting, more than an SGLD step. Large batches (over a quarter of
    the data), where repeats would add noticeable gradient noise, use NumPyro's draw."""
    if rng_key is None or 4 * subsample_size > size:
        return _subsample_fn(size, subsample_size, rng_key)
    return jax.random.randint(rng_key, (subsample_size,), 0, size, dtype=jnp.result_type(int))


class _FastSubsample(Messenger):
    """Draws every subsampled plate's indices with ``minibatch_indices``."""

    def process_message(self, msg):
        if msg["type"] == "plate" and msg["fn"] is _subsample_fn:
            msg["fn"] = minibatch_indices


class _PartSubsample(Messenger):
    """Draws every subsampled plate's indices as ``_FastSubsample`` would for a minibatch
    ``num_parts`` times the plate's subsample size, and keeps its ``part``-th slice (``part``
    may be traced: a device's index on a mesh)."""

    def __init__(self, fn, part, num_parts):
        self.part, self.num_parts = part, num_parts
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] == "plate" and msg["fn"] is _subsample_fn:
            part, num_parts = self.part, self.num_parts

            def indices(size, subsample_size, rng_key=None):
                whole = minibatch_indices(size, subsample_size * num_parts, rng_key)
                return jax.lax.dynamic_slice_in_dim(whole, part * subsample_size, subsample_size)

            msg["fn"] = indices


class _ShardSubsample(Messenger):
    """Device ``part`` of ``num_parts``, holding the ``part``-th contiguous block of rows of
    every subsampled plate's data (``shard_sizes``: ``{plate: N / num_parts}``): each plate
    draws its indices from its own block (``stratified_indices``'s ``part``-th draw, local
    to the block), and every site outside the subsampled plates (prior, Jacobians) is weighed
    ``1 / num_parts``. A plate whose size is not the block's (a plate over another axis, or
    one sized without the data) is a ``ModelError``: its data are not the sharded rows."""

    def __init__(self, fn, part, num_parts, shard_sizes):
        self.part, self.num_parts, self.shard_sizes = part, num_parts, shard_sizes
        super().__init__(fn)

    def process_message(self, msg):
        # every NumPyro plate sends ``_subsample_fn``; only the subsampled ones are sharded
        if (
            msg["type"] == "plate"
            and msg["fn"] is _subsample_fn
            and msg["name"] in self.shard_sizes
        ):
            size, want = msg["args"][0], self.shard_sizes[msg["name"]]
            if size != want:
                raise ModelError(
                    f"plate {msg['name']!r} has size {size} on a device holding {want} of its "
                    "rows: the plate is not sized by the sharded arrays' rows"
                )
            part = self.part

            def indices(size, subsample_size, rng_key=None):
                return minibatch_indices(size, subsample_size, jax.random.fold_in(rng_key, part))

            msg["fn"] = indices
        elif msg["type"] == "sample" and not any(
            frame.name in self.shard_sizes for frame in msg["cond_indep_stack"]
        ):
            msg["scale"] = (1.0 if msg["scale"] is None else msg["scale"]) / self.num_parts


class _StratifiedSubsample(Messenger):
    """Every subsampled plate draws, on one device, the union of the ``num_parts`` draws that
    ``_ShardSubsample`` makes on the devices holding its blocks of rows (block ``d``'s local
    indices shifted by ``d * N / num_parts``): the sharded minibatch, in global indices."""

    def __init__(self, fn, num_parts):
        self.num_parts = num_parts
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] == "plate" and msg["fn"] is _subsample_fn:
            num_parts = self.num_parts

            def indices(size, subsample_size, rng_key=None):
                block, share = size // num_parts, subsample_size // num_parts
                return jnp.concatenate([
                    d * block + minibatch_indices(block, share, jax.random.fold_in(rng_key, d))
                    for d in range(num_parts)
                ])  # fmt: skip

            msg["fn"] = indices


def prototype_trace(model, args, kwargs):
    """One run of the model (seeded with 0) and the plates that draw minibatches."""
    proto = trace(seed(model, jax.random.PRNGKey(0))).get_trace(*args, **kwargs)
    subsample_plates = {
        name: (site["args"][0], site["args"][1])
        for name, site in proto.items()
        if site["type"] == "plate"
        and site["args"][1] is not None
        and site["args"][1] != site["args"][0]
    }
    return proto, subsample_plates


def build_problem(
    backend, model, args, kwargs, init_values, local_latents=False, discrete=False
) -> Problem:
    """The model's ``Problem``: its structure (sites, supports, plates) from one prototype run,
    its functions closed over ``args``/``kwargs``; ``Problem.with_data`` binds the same
    structure to other data of the same shapes without running the model again.
    ``discrete``: the discrete latent sites go last in the layout (``Problem.discrete``)."""
    proto, subsample_plates = prototype_trace(model, args, kwargs)
    latent = latent_sites(
        proto, subsample_plates, data=(args, kwargs), discrete=discrete, allow_local=local_latents
    )
    continuous = [s for s in latent if not s["fn"].support.is_discrete]
    transforms = {site["name"]: biject_to(site["fn"].support) for site in continuous}
    discretes = {
        s["name"]: _Discrete(jnp.result_type(s["value"]), jnp.shape(s["value"]), s["fn"].support)
        for s in latent
        if s["fn"].support.is_discrete
    }
    layout = FlatLayout(
        tuple(transforms) + tuple(discretes),
        tuple(tuple(transforms[s["name"]].inverse_shape(jnp.shape(s["value"]))) for s in continuous)
        + tuple(d.shape for d in discretes.values()),
    )
    has_deterministic = any(site["type"] == "deterministic" for site in proto.values())
    enumerated = enumerated_sites(proto)
    # where enumeration starts, left of the plates; None: nothing to enumerate
    first_enum_dim = -max_plate_nesting(proto) - 1 if enumerated else None
    # NumPyro's infer_discrete contracts the enumerated sites jointly, without the markov
    # structure: a chain's joint support (3^120 for the HMM) would not fit in memory, so a
    # first-order chain is drawn by forward filtering, backward sampling instead
    joint_support = math.prod(
        int(proto[name]["fn"].enumerate_support(expand=False).shape[0]) for name in enumerated
    )
    chain = None
    if len(enumerated) > 1:
        from .chain import chain_sites

        chain = chain_sites(seed(model, 0), args, kwargs, first_enum_dim)
    sizes = [size for size, _ in subsample_plates.values()]
    structure = dict(
        backend=backend,
        layout=layout,
        num_data=max(sizes) if sizes else None,
        subsample_plates=subsample_plates,
        model=model,
        observed=observed_values(proto),
        init_values={k: jnp.asarray(v) for k, v in init_values.items()},
        enumerated=enumerated,
        discrete={name: d.bounds for name, d in discretes.items()},
        local_sites=local_latent_sites(proto, subsample_plates) if local_latents else {},
    )
    fixed = {}

    def bind_data(args, kwargs) -> Problem:
        functions = _functions(
            model, args, kwargs, transforms, layout, subsample_plates, discretes, first_enum_dim,
            chain,
        )  # fmt: skip
        if "supports" not in fixed:  # checked once, at the prototype's data
            fixed["supports"] = _same_values(
                functions["constrain_one"], functions["transforms_only"], layout
            )
        transforms_only = functions.pop("transforms_only")
        if chain is None and joint_support > MAX_JOINT_SUPPORT:
            functions["sample_discrete"] = None
        if fixed["supports"]:
            functions["unconstrain"] = functions.pop("unconstrain_fixed")
        else:
            functions.pop("unconstrain_fixed")
        # batched: the transforms alone (a few array operations, no compilation) where they
        # are all there is to it, else the whole model, compiled
        functions["constrain_many"] = (
            transforms_only
            if fixed["supports"] and not has_deterministic
            else jax.jit(jax.vmap(functions["constrain_one"]))
        )
        return Problem(**structure, **functions, args=args, kwargs=kwargs, rebind=bind_data)

    return bind_data(args, kwargs)


class _Discrete:
    """A discrete latent site kept in the layout: its dtype, shape and support's bounds."""

    def __init__(self, dtype, shape, support):
        self.dtype, self.shape = dtype, tuple(shape)
        self.bounds = integer_bounds(support, self.shape)

    def value(self, u):
        """The site's value from its coordinates ``u``: rounded, held to the support."""
        if self.bounds is not None:
            u = jnp.clip(jnp.round(u), self.bounds[0], self.bounds[1])
        return u.astype(self.dtype)


def _functions(
    model, args, kwargs, transforms, layout, subsample_plates, discretes, first_enum_dim, chain
) -> dict:
    """The ``Problem``'s functions of ``model(*args, **kwargs)``, for a fixed structure;
    the model is conditioned on the values of the ``discretes`` sites held in ``z``
    (``first_enum_dim``: where enumeration starts, ``None`` for a model without enumerated
    sites; ``chain``: the enumerated sites in chain order where they form a first-order chain,
    drawn by forward filtering, backward sampling)."""
    enumerates = first_enum_dim is not None
    if enumerates:  # funsor (NumPyro's enumeration extra) is needed by enumerated models only
        from numpyro.contrib.funsor import enum, infer_discrete

        from .chain import chain_log_density, sample_chain

    def full_model(*args, **kwargs):  # every subsampled plate over its whole data set
        with plate_subsample_sizes(dict.fromkeys(subsample_plates)):
            return model(*args, **kwargs)

    def split(z):  # {continuous site: unconstrained value}, {discrete site: value}
        params = layout.unravel(z, jnp)
        return params, {name: d.value(params.pop(name)) for name, d in discretes.items()}

    def conditioned(fn, values):
        return condition(fn, data=values) if values else fn

    def potential(z, key=None):
        params, values = split(z)
        fast = key is not None and subsample_plates
        target = seed(_FastSubsample(model), key) if fast else full_model
        if chain is not None and not fast:  # the forward algorithm, stable in float32
            with block():
                target = _unconstrain_params(conditioned(target, values), params)
                return -chain_log_density(target, args, kwargs, first_enum_dim, chain)
        if enumerates:
            target = enum(target, first_available_dim=first_enum_dim)
        with block():  # isolated: callers' handlers (an outer SVI trace, say) never see it
            return potential_energy(
                conditioned(target, values), args, kwargs, params, enum=enumerates
            )

    def part_potential(z, key, part, num_parts):
        # each plate takes a slice of 1/num_parts of its minibatch, so its log-likelihood is
        # scaled by num_parts times N/B; the division by num_parts gives the slice its share
        # of the minibatch potential and every other term (prior, Jacobians) 1/num_parts
        params, values = split(z)
        sizes = {name: batch // num_parts for name, (_, batch) in subsample_plates.items()}
        with block(), plate_subsample_sizes(sizes):
            target = conditioned(seed(_PartSubsample(model, part, num_parts), key), values)
            if enumerates:
                target = enum(target, first_available_dim=first_enum_dim)
            return potential_energy(target, args, kwargs, params, enum=enumerates) / num_parts

    def shard_potential(z, key, part, num_parts):
        # the plates over the rows this device holds: the plate scale N/B is kept (the block
        # of N / num_parts rows, B / num_parts of them drawn), every other term 1/num_parts
        params, values = split(z)
        sizes = {name: batch // num_parts for name, (_, batch) in subsample_plates.items()}
        shards = {name: size // num_parts for name, (size, _) in subsample_plates.items()}
        with block(), plate_subsample_sizes(sizes):
            target = _ShardSubsample(model, part, num_parts, shards)
            target = conditioned(seed(target, key), values)
            if enumerates:
                target = enum(target, first_available_dim=first_enum_dim)
            return potential_energy(target, args, kwargs, params, enum=enumerates)

    def stratified_potential(z, key, num_parts):
        params, values = split(z)
        with block():
            target = conditioned(seed(_StratifiedSubsample(model, num_parts), key), values)
            if enumerates:
                target = enum(target, first_available_dim=first_enum_dim)
            return potential_energy(target, args, kwargs, params, enum=enumerates)

    def constrain_one(z):
        params, values = split(z)
        target = conditioned(full_model, values)
        target = seed(target, 0) if enumerates else target  # draws discrete sites
        return {
            **constrain_fn(target, args, kwargs, params, return_deterministic=True),
            **values,
        }

    def unconstrain_fixed(values, batch_ndim=0):
        parts = {name: t.inv(jnp.asarray(values[name])) for name, t in transforms.items()}
        parts.update({name: _as_float(values[name]) for name in discretes})
        return layout.ravel(parts, jnp, batch_ndim)

    def unconstrain_one(values):  # through each site's support at these very values
        fixed = {name: discretes[name].value(_as_float(values[name])) for name in discretes}
        values = {name: jnp.asarray(values[name]) for name in transforms}
        parts = unconstrain_fn(conditioned(full_model, fixed), args, kwargs, values)
        parts.update({name: _as_float(v) for name, v in fixed.items()})
        return layout.ravel(parts, jnp)

    def unconstrain(values, batch_ndim=0):
        one = unconstrain_one
        for _ in range(batch_ndim):
            one = jax.vmap(one)
        return one({name: values[name] for name in layout.names})

    def sample_prior(key):
        tr = trace(seed(full_model, key)).get_trace(*args, **kwargs)
        return {name: tr[name]["value"] for name in layout.names}

    def site_log_probs(z):
        values = constrain_one(z)
        tr = trace(substitute(seed(full_model, 0), data=values)).get_trace(*args, **kwargs)
        return {
            name: float(jnp.sum(site["fn"].log_prob(site["value"])))
            for name, site in tr.items()
            if site["type"] == "sample"
        }

    def transforms_only(z):  # the constrained latent values, without running the model
        params, values = split(z)
        return {**{name: t(params[name]) for name, t in transforms.items()}, **values}

    def sample_discrete_one(z, key, temperature):
        values = {k: v for k, v in constrain_one(z).items() if k in layout.names}
        conditioned = substitute(full_model, data=values)
        if chain is not None:
            model_key, key = jax.random.split(key)  # any other random site: its own key
            seeded = seed(conditioned, model_key)
            return sample_chain(seeded, args, kwargs, first_enum_dim, chain, key, temperature)
        draw = infer_discrete(conditioned, first_enum_dim, temperature=temperature, rng_key=key)
        tr = trace(draw).get_trace(*args, **kwargs)
        return {
            name: site["value"]
            for name, site in tr.items()
            if site["type"] == "sample" and site["infer"].get("enumerate") == "parallel"
        }

    samplers = {}  # temperature -> the batched draw, compiled (one per bound problem)

    def sample_discrete(zs, key, temperature=1):
        if temperature not in samplers:
            one = functools.partial(sample_discrete_one, temperature=temperature)
            samplers[temperature] = jax.jit(jax.vmap(one))
        return samplers[temperature](zs, jax.random.split(key, zs.shape[0]))

    return dict(
        potential=potential,
        part_potential=part_potential,
        shard_potential=shard_potential,
        stratified_potential=stratified_potential,
        sample_discrete=sample_discrete if enumerates else None,
        constrain_one=constrain_one,
        unconstrain=unconstrain,
        unconstrain_fixed=unconstrain_fixed,
        sample_prior=sample_prior,
        site_log_probs=site_log_probs,
        transforms_only=transforms_only,
    )


def _as_float(value):
    value = jnp.asarray(value)
    return value if jnp.issubdtype(value.dtype, jnp.floating) else value.astype(float)


def _same_values(constrain_one, transforms_only, layout) -> bool:
    """Whether the transforms fixed at the prototype constrain like the model itself does: not
    so where a support depends on another latent (``x ~ Uniform(0, a)``), which a point away
    from the prototype shows."""
    if layout.dim == 0:
        return True
    z = jnp.linspace(-1.3, 1.7, layout.dim)
    try:
        model_values = constrain_one(z)
    except Exception:  # noqa: BLE001 - a model that fails there: take the model's own path
        return False
    fixed = transforms_only(z)
    return all(np.allclose(model_values[name], fixed[name], rtol=1e-5) for name in fixed)
