"""Six posteriors of the posterior database (stan-dev/posteriordb), written in ``ppl`` primitives.

Each model follows the Stan program of its posterior; Stan's improper flat priors become very
wide proper ones (``Normal(0, 1000)`` for coefficients, ``HalfNormal(1000)`` for scales), which
leaves these posteriors unchanged in practice. Site names are Stan's, so ``beta[1]`` in the
reference is element 0 of site ``beta``. The data and the reference moments (10 chains x 1,000
draws of Stan's NUTS) ship in ``ppl/models/data``.

>>> import ppl
>>> spec = ppl.models.get("kidiq-kidscore_momiq")
>>> sorted(spec.reference), spec.reference["beta"]["mean"].shape
(['beta', 'sigma'], (2,))
>>> problem = ppl.get_backend("pyro").problem(spec.model, spec.args, spec.kwargs)
>>> problem.layout.names
('beta', 'sigma')
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = [
    "NAMES",
    "load_data",
    "reference",
    "posteriordb_spec",
    "eight_schools_noncentered",
    "kidscore_momiq",
    "blr",
    "logearn_height",
    "nes",
    "ar_k",
    "low_dim_gauss_mix",
]

#: the width of the proper priors that stand in for Stan's improper flat ones
FLAT_SCALE = 1000.0


def load_data(name: str) -> dict:
    """The posteriordb data set ``name`` (e.g. ``"kidiq"``) from the package copy."""
    text = resources.files("ppl.models").joinpath("data", f"{name}.data.json").read_text()
    return json.loads(text)


@functools.cache
def _summaries() -> dict:
    text = resources.files("ppl.models").joinpath("data", "reference_summaries.json").read_text()
    return json.loads(text)


def reference(posterior: str) -> dict:
    """Reference moments of ``posterior`` as ``{site: {"mean": array, "sd": array}}``.

    Stan's ``beta[2]`` becomes element 1 of the array of site ``beta``.
    """
    params = _summaries()[posterior]["params"]
    sites: dict[str, dict[tuple[int, ...], tuple[float, float]]] = {}
    for key, moments in params.items():
        match = re.fullmatch(r"(\w+)(?:\[([\d,]+)\])?", key)
        site, index = match.group(1), match.group(2)
        idx = tuple(int(i) - 1 for i in index.split(",")) if index else ()
        sites.setdefault(site, {})[idx] = (moments["mean"], moments["sd"])
    out = {}
    for site, entries in sites.items():
        shape = tuple(max(i[d] for i in entries) + 1 for d in range(len(next(iter(entries)))))
        mean, sd = np.full(shape, np.nan), np.full(shape, np.nan)
        for idx, (m, s) in entries.items():
            mean[idx], sd[idx] = m, s
        out[site] = {"mean": mean, "sd": sd}
    return out


# ---- the models (Stan programs of posteriordb, in ppl primitives) ------------------------------


def eight_schools_noncentered(sigma, y=None):
    """``eight_schools_noncentered.stan``: ``theta = theta_trans * tau + mu``."""
    J = sigma.shape[0]
    theta_trans = ppl.sample("theta_trans", dist.Normal(0.0, 1.0).expand([J]).to_event(1))
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    theta = ppl.deterministic("theta", theta_trans * tau + mu)
    with ppl.plate("schools", J) as i:  # indexed: SG-MCMC's batch_size subsamples it
        ppl.sample("y", dist.Normal(theta[i], sigma[i]), obs=_at(y, i))


def kidscore_momiq(mom_iq, kid_score=None):
    """``kidscore_momiq.stan``: ``kid_score ~ normal(beta[1] + beta[2] * mom_iq, sigma)``."""
    beta = ppl.sample("beta", dist.Normal(0.0, FLAT_SCALE).expand([2]).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfCauchy(2.5))
    with ppl.plate("data", mom_iq.shape[0]) as i:  # indexed: SG-MCMC's batch_size subsamples it
        mean = beta[0] + beta[1] * mom_iq[i]
        ppl.sample("kid_score", dist.Normal(mean, sigma), obs=_at(kid_score, i))


def blr(X, y=None):
    """``blr.stan``: Bayesian linear regression, ``beta ~ normal(0, 10)``, ``sigma ~ normal+``."""
    beta = ppl.sample("beta", dist.Normal(0.0, 10.0).expand([X.shape[1]]).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfNormal(10.0))
    with ppl.plate("data", X.shape[0]) as i:
        ppl.sample("y", dist.Normal(ops.matmul(X[i], beta), sigma), obs=_at(y, i))


def logearn_height(height, log_earn=None):
    """``logearn_height.stan``: ``log(earn) ~ normal(beta[1] + beta[2] * height, sigma)``."""
    beta = ppl.sample("beta", dist.Normal(0.0, FLAT_SCALE).expand([2]).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfNormal(FLAT_SCALE))
    with ppl.plate("data", height.shape[0]) as i:
        mean = beta[0] + beta[1] * height[i]
        ppl.sample("log_earn", dist.Normal(mean, sigma), obs=_at(log_earn, i))


def nes(predictors, partyid7=None):
    """``nes.stan``: ``partyid7 ~ normal(beta[1] + predictors @ beta[2:9], sigma)``, flat
    priors. ``predictors``: the columns real_ideo, race_adj, age30_44, age45_64, age65up
    (indicators of ``age_discrete`` = 2, 3, 4), educ1, gender, income, in that order."""
    beta = ppl.sample("beta", dist.Normal(0.0, FLAT_SCALE).expand([9]).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfNormal(FLAT_SCALE))
    with ppl.plate("data", predictors.shape[0]) as i:
        mean = beta[0] + ops.matmul(predictors[i], beta[1:])
        ppl.sample("partyid7", dist.Normal(mean, sigma), obs=_at(partyid7, i))


def _at(observed, index):
    """The observations at the plate's (sub)sample ``index``; ``None`` stays ``None``."""
    return None if observed is None else observed[index]


def ar_k(lags, y=None):
    """``arK.stan``: ``y[t] ~ normal(alpha + sum_k beta[k] * y[t-k], sigma)`` for ``t > K``.

    ``lags[i, k]`` is ``y[K + i - k - 1]`` (0-based), so row ``i`` predicts ``y[K + i]``.
    """
    alpha = ppl.sample("alpha", dist.Normal(0.0, 10.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 10.0).expand([lags.shape[1]]).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfCauchy(2.5))
    with ppl.plate("time", lags.shape[0]) as i:  # indexed: SG-MCMC's batch_size subsamples it
        ppl.sample("y", dist.Normal(alpha + ops.matmul(lags[i], beta), sigma), obs=_at(y, i))


def low_dim_gauss_mix(y):
    """``low_dim_gauss_mix.stan``: a two-component normal mixture with ordered means.

    ``mu`` lives on the ordered vectors: it is drawn from ``Normal(0, 2)`` pushed through
    ``OrderedTransform`` (a proper distribution on that set, on both backends), and a factor
    replaces that density by Stan's ``normal(0, 2)`` on each element, so the model density is
    Stan's up to a constant.
    """
    base = dist.Normal(0.0, 2.0).expand([2]).to_event(1)
    ordered = dist.TransformedDistribution(base, [dist.transforms.OrderedTransform()])
    mu = ppl.sample("mu", ordered)
    ppl.factor("mu_prior", ops.sum(dist.Normal(0.0, 2.0).log_prob(mu)) - ordered.log_prob(mu))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    theta = ppl.sample("theta", dist.Beta(5.0, 5.0))
    mix = dist.Categorical(probs=ops.stack([theta, 1.0 - theta], axis=-1))
    with ppl.plate("data", y.shape[0]) as i:  # indexed: SG-MCMC's batch_size subsamples it
        ppl.sample("y", dist.MixtureSameFamily(mix, dist.Normal(mu, sigma)), obs=y[i])


def _arrays(d, *keys):
    return tuple(np.asarray(d[k], dtype=float) for k in keys)


def _args(name: str) -> tuple:
    """``(model, args, kwargs, description)`` of posterior ``name``."""
    if name == "eight_schools-eight_schools_noncentered":
        sigma, y = _arrays(load_data("eight_schools"), "sigma", "y")
        return eight_schools_noncentered, (sigma,), {"y": y}, "Eight schools, non-centred (J=8)"
    if name == "kidiq-kidscore_momiq":
        mom_iq, score = _arrays(load_data("kidiq"), "mom_iq", "kid_score")
        return kidscore_momiq, (mom_iq,), {"kid_score": score}, "Kid IQ on mother's IQ (N=434)"
    if name == "sblrc-blr":
        X, y = _arrays(load_data("sblrc"), "X", "y")
        return blr, (X,), {"y": y}, "Bayesian linear regression (N=100, D=5)"
    if name == "earnings-logearn_height":
        height, earn = _arrays(load_data("earnings"), "height", "earn")
        return logearn_height, (height,), {"log_earn": np.log(earn)}, "Log earnings on height"
    if name == "nes2000-nes":
        d = load_data("nes2000")
        real_ideo, race, educ, gender, income, age = _arrays(
            d, "real_ideo", "race_adj", "educ1", "gender", "income", "age_discrete"
        )
        ages = [(age == k).astype(float) for k in (2, 3, 4)]
        X = np.stack([real_ideo, race, *ages, educ, gender, income], axis=1)
        (party,) = _arrays(d, "partyid7")
        return nes, (X,), {"partyid7": party}, "Party identification, 9 coefficients (N=476)"
    if name == "arK-arK":
        d = load_data("arK")
        y, K = np.asarray(d["y"], dtype=float), int(d["K"])
        lags = np.stack([y[K - k - 1 : len(y) - k - 1] for k in range(K)], axis=1)
        return ar_k, (lags,), {"y": y[K:]}, "Autoregressive AR(5) model (T=200)"
    if name == "low_dim_gauss_mix-low_dim_gauss_mix":
        (y,) = _arrays(load_data("low_dim_gauss_mix"), "y")
        return low_dim_gauss_mix, (y,), {}, "Two-component normal mixture, ordered means (N=1000)"
    raise KeyError(name)


NAMES = (
    "eight_schools-eight_schools_noncentered",
    "kidiq-kidscore_momiq",
    "sblrc-blr",
    "earnings-logearn_height",
    "nes2000-nes",
    "arK-arK",
    "low_dim_gauss_mix-low_dim_gauss_mix",
)


def posteriordb_spec(name: str) -> ModelSpec:
    """The ``ModelSpec`` of posteriordb posterior ``name``."""
    model, args, kwargs, description = _args(name)
    return ModelSpec(
        name=name,
        model=model,
        family="posteriordb",
        description=description,
        args=args,
        kwargs=kwargs,
        reference=reference(name),
    )
