"""A one-dimensional Gaussian mixture, with the assignments as sites or marginalised out.

``gaussian_mixture_enum`` keeps the per-point assignment ``z`` as a discrete site marked
``infer={"enumerate": "parallel"}``: the backends sum it out of the ``Problem``'s potential, so
every continuous algorithm runs it, and ``Posterior.samples["z"]`` holds its draws given each
continuous draw; ``gaussian_mixture`` sums it out by hand with a ``MixtureSameFamily``
likelihood. Both have the same marginal density.

>>> import ppl
>>> spec = ppl.models.get("gaussian_mixture")
>>> ppl.get_backend("pyro").problem(spec.model, spec.args, spec.kwargs).layout.names
('weights', 'locs', 'scales')
"""

from __future__ import annotations

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = ["gaussian_mixture_enum", "gaussian_mixture", "mixture_data", "MIXTURE_REFERENCE"]


def _priors(K: int):
    weights = ppl.sample("weights", dist.Dirichlet(ops.ones(K)))
    locs = ppl.sample("locs", dist.Normal(0.0, 10.0).expand([K]).to_event(1))
    scales = ppl.sample("scales", dist.HalfNormal(2.0).expand([K]).to_event(1))
    return weights, locs, scales


def gaussian_mixture_enum(y, K: int = 3):
    """Mixture with explicit assignments ``z[i] ~ Categorical(weights)`` (enumerated)."""
    weights, locs, scales = _priors(K)
    with ppl.plate("data", y.shape[0]):
        z = ppl.sample("z", dist.Categorical(weights), infer={"enumerate": "parallel"})
        ppl.sample("y", dist.Normal(locs[z], scales[z]), obs=y)


def gaussian_mixture(y, K: int = 3):
    """The same mixture with ``z`` summed out: ``y[i] ~ MixtureSameFamily``."""
    weights, locs, scales = _priors(K)
    with ppl.plate("data", y.shape[0]):
        mix = dist.MixtureSameFamily(dist.Categorical(weights), dist.Normal(locs, scales))
        ppl.sample("y", mix, obs=y)


def mixture_data(N: int = 200, seed: int = 0):
    """``N`` points from ``0.3 N(-4, 1) + 0.5 N(0, 0.5) + 0.2 N(5, 1.5)``."""
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=N, p=[0.3, 0.5, 0.2])
    return np.array([-4.0, 0.0, 5.0])[z] + np.array([1.0, 0.5, 1.5])[z] * rng.normal(size=N)


#: the posterior of ``gaussian_mixture_enum`` on ``mixture_data()`` with its components sorted
#: by location in every draw (the prior is exchangeable, so raw labels are arbitrary): NumPyro's
#: own NUTS, 2 chains x 2,000 draws after 500 warmup, ESS >= 3,363 per element (Monte Carlo
#: error <= 0.018 sd). Command: ``python benchmarks/discrete_reference.py`` (2026-12-06).
MIXTURE_REFERENCE = {
    "weights": {
        "mean": np.array([0.2689, 0.4482, 0.2829]),
        "sd": np.array([0.0314, 0.0370, 0.0332]),
    },
    "locs": {
        "mean": np.array([-3.9857, -0.0054, 4.4516]),
        "sd": np.array([0.1317, 0.0638, 0.2625]),
    },
    "scales": {
        "mean": np.array([0.8677, 0.5360, 1.5555]),
        "sd": np.array([0.1106, 0.0576, 0.2173]),
    },
}


def enumerated_spec() -> ModelSpec:
    return ModelSpec(
        name="gaussian_mixture_enum",
        model=gaussian_mixture_enum,
        family="mixture",
        description="1-D Gaussian mixture (K=3, N=200) with enumerated discrete assignments",
        args=(mixture_data(),),
        reference=MIXTURE_REFERENCE,
        enumerate=True,
    )


def marginal_spec() -> ModelSpec:
    return ModelSpec(
        name="gaussian_mixture",
        model=gaussian_mixture,
        family="mixture",
        description="1-D Gaussian mixture (K=3, N=200), assignments marginalised out",
        args=(mixture_data(),),
    )
