"""``Problem`` on NumPyro, built on ``numpyro.infer.util``
(``potential_energy``, ``constrain_fn``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import block, seed, substitute, trace
from numpyro.infer.util import constrain_fn, potential_energy, unconstrain_fn
from numpyro.primitives import Messenger, _subsample_fn

from ...core import plate_subsample_sizes
from ..problem import FlatLayout, Problem, latent_sites, local_latent_sites, observed_values


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


def build_problem(backend, model, args, kwargs, init_values, local_latents=False) -> Problem:
    """The model's ``Problem``: its structure (sites, supports, plates) from one prototype run,
    its functions closed over ``args``/``kwargs``; ``Problem.with_data`` binds the same
    structure to other data of the same shapes without running the model again."""
    proto, subsample_plates = prototype_trace(model, args, kwargs)
    latent = latent_sites(proto, subsample_plates, data=(args, kwargs), allow_local=local_latents)
    transforms = {site["name"]: biject_to(site["fn"].support) for site in latent}
    layout = FlatLayout(
        tuple(transforms),
        tuple(tuple(transforms[s["name"]].inverse_shape(jnp.shape(s["value"]))) for s in latent),
    )
    has_deterministic = any(site["type"] == "deterministic" for site in proto.values())
    sizes = [size for size, _ in subsample_plates.values()]
    structure = dict(
        backend=backend,
        layout=layout,
        num_data=max(sizes) if sizes else None,
        subsample_plates=subsample_plates,
        model=model,
        observed=observed_values(proto),
        init_values={k: jnp.asarray(v) for k, v in init_values.items()},
        local_sites=local_latent_sites(proto, subsample_plates) if local_latents else {},
    )
    fixed = {}

    def bind_data(args, kwargs) -> Problem:
        functions = _functions(model, args, kwargs, transforms, layout, subsample_plates)
        if "supports" not in fixed:  # checked once, at the prototype's data
            fixed["supports"] = _same_values(
                functions["constrain_one"], functions["transforms_only"], layout
            )
        transforms_only = functions.pop("transforms_only")
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


def _functions(model, args, kwargs, transforms, layout, subsample_plates) -> dict:
    """The ``Problem``'s functions of ``model(*args, **kwargs)``, for a fixed structure."""

    def full_model(*args, **kwargs):  # every subsampled plate over its whole data set
        with plate_subsample_sizes(dict.fromkeys(subsample_plates)):
            return model(*args, **kwargs)

    def potential(z, key=None):
        params = layout.unravel(z, jnp)
        fast = key is not None and subsample_plates
        target = seed(_FastSubsample(model), key) if fast else full_model
        with block():  # isolated: callers' handlers (an outer SVI trace, say) never see it
            return potential_energy(target, args, kwargs, params)

    def constrain_one(z):
        params = layout.unravel(z, jnp)
        return constrain_fn(full_model, args, kwargs, params, return_deterministic=True)

    def unconstrain_fixed(values, batch_ndim=0):
        parts = {name: t.inv(jnp.asarray(values[name])) for name, t in transforms.items()}
        return layout.ravel(parts, jnp, batch_ndim)

    def unconstrain_one(values):  # through each site's support at these very values
        values = {name: jnp.asarray(values[name]) for name in layout.names}
        return layout.ravel(unconstrain_fn(full_model, args, kwargs, values), jnp)

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
        return {
            name: t(u) for (name, t), u in zip(transforms.items(), layout.unravel(z, jnp).values())
        }

    return dict(
        potential=potential,
        constrain_one=constrain_one,
        unconstrain=unconstrain,
        unconstrain_fixed=unconstrain_fixed,
        sample_prior=sample_prior,
        site_log_probs=site_log_probs,
        transforms_only=transforms_only,
    )


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
