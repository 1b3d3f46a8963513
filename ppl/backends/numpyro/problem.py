"""``Problem`` on NumPyro, built on ``numpyro.infer.util``
(``potential_energy``, ``constrain_fn``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import block, seed, substitute, trace
from numpyro.infer.util import constrain_fn, potential_energy

from ...primitives import plate_subsample_sizes
from ..problem import FlatLayout, Problem, latent_sites, observed_values


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


def build_problem(backend, model, args, kwargs, init_values) -> Problem:
    proto, subsample_plates = prototype_trace(model, args, kwargs)
    latent = latent_sites(proto, subsample_plates)

    def full_model(*args, **kwargs):  # every subsampled plate over its whole data set
        with plate_subsample_sizes(dict.fromkeys(subsample_plates)):
            return model(*args, **kwargs)

    transforms = {site["name"]: biject_to(site["fn"].support) for site in latent}
    layout = FlatLayout(
        tuple(transforms),
        tuple(tuple(transforms[s["name"]].inverse_shape(jnp.shape(s["value"]))) for s in latent),
    )

    def potential(z, key=None):
        params = layout.unravel(z, jnp)
        target = seed(model, key) if key is not None and subsample_plates else full_model
        with block():  # isolated: callers' handlers (an outer SVI trace, say) never see it
            return potential_energy(target, args, kwargs, params)

    def constrain_one(z):
        params = layout.unravel(z, jnp)
        return constrain_fn(full_model, args, kwargs, params, return_deterministic=True)

    def unconstrain(values, batch_ndim=0):
        parts = {name: t.inv(jnp.asarray(values[name])) for name, t in transforms.items()}
        return layout.ravel(parts, jnp, batch_ndim)

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

    sizes = [size for size, _ in subsample_plates.values()]
    return Problem(
        backend=backend,
        layout=layout,
        potential=potential,
        constrain_one=constrain_one,
        constrain_many=jax.jit(jax.vmap(constrain_one)),
        unconstrain=unconstrain,
        sample_prior=sample_prior,
        site_log_probs=site_log_probs,
        num_data=max(sizes) if sizes else None,
        subsample_plates=subsample_plates,
        model=model,
        args=args,
        kwargs=kwargs,
        observed=observed_values(proto),
        init_values={k: jnp.asarray(v) for k, v in init_values.items()},
    )
