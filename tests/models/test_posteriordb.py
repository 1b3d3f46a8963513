"""The seven posteriordb posteriors: package data, reference mapping, and the ``compare`` helper."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

import ppl
from ppl.models import posteriordb

NAMES = posteriordb.NAMES


def test_the_package_ships_exactly_the_seven_posteriors():
    data = resources.files("ppl.models").joinpath("data")
    files = sorted(p.name for p in data.iterdir() if p.name.endswith(".json"))
    assert files == sorted(
        [f"{n.split('-')[0]}.data.json" for n in NAMES] + ["reference_summaries.json"]
    )
    summaries = json.loads(data.joinpath("reference_summaries.json").read_text())
    assert sorted(summaries) == sorted(NAMES)
    assert set(NAMES) <= set(ppl.models.names())


@pytest.mark.parametrize("name", NAMES)
def test_reference_parameters_map_to_sites_of_the_right_shape(name):
    spec = ppl.models.get(name)
    raw = json.loads(
        resources.files("ppl.models").joinpath("data", "reference_summaries.json").read_text()
    )[name]["params"]
    # every Stan parameter name is an element of a reference site, with its moments
    names = [
        n
        for site, m in spec.reference.items()
        for n in ppl.models.element_names(site, np.shape(m["mean"]))
    ]
    assert sorted(names) == sorted(raw)
    for site, moments in spec.reference.items():
        for element, mean, sd in zip(
            ppl.models.element_names(site, np.shape(moments["mean"])),
            np.ravel(moments["mean"]),
            np.ravel(moments["sd"]),
        ):
            assert (mean, sd) == (raw[element]["mean"], raw[element]["sd"])
    # ... and the model has those sites with those shapes (deterministic sites included)
    with ppl.backend("pyro") as backend:
        problem = backend.problem(spec.model, spec.args, spec.kwargs)
        values = problem.constrain(problem.init(backend.key(0)))
    for site, moments in spec.reference.items():
        assert tuple(values[site].shape) == np.shape(moments["mean"]), site


def _least_squares(X, y):
    X = np.column_stack([np.ones(len(y)), X])
    return np.linalg.lstsq(X, y, rcond=None)[0]


@pytest.mark.parametrize(
    "name,coefficients",
    [
        ("kidiq-kidscore_momiq", lambda s: _least_squares(s.args[0], s.kwargs["kid_score"])),
        ("earnings-logearn_height", lambda s: _least_squares(s.args[0], s.kwargs["log_earn"])),
        ("sblrc-blr", lambda s: np.linalg.lstsq(s.args[0], s.kwargs["y"], rcond=None)[0]),
        ("nes2000-nes", lambda s: _least_squares(s.args[0], s.kwargs["partyid7"])),
        ("arK-arK", lambda s: _least_squares(s.args[0], s.kwargs["y"])),
    ],
)
def test_regression_data_reproduce_the_reference_means(name, coefficients):
    # With priors this weak the posterior mean of the coefficients is the least-squares fit of
    # the data as the model sees them (log earnings, the AR lag matrix), to a small fraction of a
    # posterior sd: 0.1 sd catches a wrong transform, lag or column while leaving room for the
    # prior's pull and the reference's Monte Carlo error (~0.01 sd).
    spec = ppl.models.get(name)
    ref = spec.reference
    ref_mean = np.concatenate([np.atleast_1d(ref[k]["mean"]) for k in ref if k != "sigma"])
    ref_sd = np.concatenate([np.atleast_1d(ref[k]["sd"]) for k in ref if k != "sigma"])
    np.testing.assert_array_less(np.abs(coefficients(spec) - ref_mean) / ref_sd, 0.1)


def test_low_dim_gauss_mix_density_is_the_stan_mixture(float64):
    # log p(mu, sigma, theta | y) up to a constant: Stan's program written out in numpy
    from scipy.stats import beta as beta_dist
    from scipy.stats import norm

    spec = ppl.models.get("low_dim_gauss_mix-low_dim_gauss_mix")
    (y,) = spec.args

    def stan(mu, sigma, theta):
        prior = norm.logpdf(sigma, 0, 2).sum() + norm.logpdf(mu, 0, 2).sum()
        prior += beta_dist.logpdf(theta, 5, 5)
        mix = np.logaddexp(
            np.log(theta) + norm.logpdf(y, mu[0], sigma[0]),
            np.log1p(-theta) + norm.logpdf(y, mu[1], sigma[1]),
        )
        return prior + mix.sum()

    points = [([-2.7, 2.9], [1.0, 1.1], 0.45), ([-1.0, 0.5], [2.0, 0.7], 0.3)]
    with ppl.backend("pyro") as backend:
        problem = backend.problem(spec.model, spec.args, spec.kwargs)
        logp = []
        for mu, sigma, theta in points:
            values = {"mu": np.array(mu), "sigma": np.array(sigma), "theta": np.array(theta)}
            z = problem.unconstrain({k: backend.asarray(v) for k, v in values.items()})
            # potential = -log p - log|J|; remove the (known) Jacobian of each transform
            jac = np.log(np.diff(mu)).sum() + np.log(sigma).sum() + np.log(theta * (1 - theta))
            logp.append(-float(problem.potential(z)) - jac)
    expected = [stan(np.array(m), np.array(s), t) for m, s, t in points]
    # the model and Stan differ by a constant (normalizers of the half-normal and the ordering)
    assert logp[0] - logp[1] == pytest.approx(expected[0] - expected[1], abs=1e-8)


def test_compare_measures_against_the_reference():
    spec = ppl.models.get("kidiq-kidscore_momiq")
    rng = np.random.default_rng(0)
    draws = {
        site: rng.normal(m["mean"], m["sd"], size=(4, 5000, *np.shape(m["mean"])))
        for site, m in spec.reference.items()
    }
    draws["beta"] = draws["beta"] + spec.reference["beta"]["sd"]  # shift beta by one ref sd
    table = spec.compare(draws)
    assert sorted(table) == ["beta[1]", "beta[2]", "sigma"]
    # 20,000 draws: the Monte Carlo error of a mean is 0.007 sd and of an sd 0.5%
    assert table["beta[1]"]["mean_err"] == pytest.approx(1.0, abs=0.03)
    assert table["sigma"]["mean_err"] < 0.03
    assert all(abs(row["sd_err"]) < 0.03 for row in table.values())
    with pytest.raises(ValueError, match="shape"):
        spec.compare({**draws, "beta": draws["beta"][..., :1]})
