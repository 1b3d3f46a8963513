"""Eight schools (Rubin 1981): the centred and the non-centred hierarchical model.

Both parameterize the same posterior; its reference moments (for ``mu``, ``tau`` and ``theta``)
are posteriordb's gold standard for ``eight_schools-eight_schools_noncentered``.

>>> import ppl
>>> spec = ppl.models.get("eight_schools_centered")
>>> problem = ppl.get_backend("pyro").problem(spec.model, spec.args, spec.kwargs)
>>> problem.layout.names, problem.dim
(('mu', 'tau', 'theta'), 10)
"""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist

from .spec import ModelSpec

__all__ = ["eight_schools_centered", "eight_schools_noncentered", "data"]


def data() -> tuple[np.ndarray, np.ndarray]:
    """``(sigma, y)``: the standard errors and the estimated treatment effects."""
    from .posteriordb import load_data

    d = load_data("eight_schools")
    return np.asarray(d["sigma"], dtype=float), np.asarray(d["y"], dtype=float)


def eight_schools_centered(sigma, y=None):
    """``theta_j ~ Normal(mu, tau)``, ``y_j ~ Normal(theta_j, sigma_j)``."""
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("schools", sigma.shape[0]):
        theta = ppl.sample("theta", dist.Normal(mu, tau))
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_noncentered(sigma, y=None):
    """``theta = mu + tau * theta_tilde`` with ``theta_tilde ~ Normal(0, 1)``."""
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("schools", sigma.shape[0]):
        theta_tilde = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_tilde)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def _reference():
    from .posteriordb import reference

    ref = reference("eight_schools-eight_schools_noncentered")
    return {k: ref[k] for k in ("mu", "tau", "theta")}


def centered_spec() -> ModelSpec:
    sigma, y = data()
    return ModelSpec(
        name="eight_schools_centered",
        model=eight_schools_centered,
        family="hierarchical",
        description="Eight schools, centred parameterization (a funnel-shaped posterior)",
        args=(sigma,),
        kwargs={"y": y},
        reference=_reference(),
    )


def noncentered_spec() -> ModelSpec:
    sigma, y = data()
    return ModelSpec(
        name="eight_schools_noncentered",
        model=eight_schools_noncentered,
        family="hierarchical",
        description="Eight schools, non-centred parameterization",
        args=(sigma,),
        kwargs={"y": y},
        reference=_reference(),
    )
