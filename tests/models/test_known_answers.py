"""Known answers: closed-form conjugate posteriors, and the normalizers of the benchmark targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit, logsumexp

import ppl
from ppl.models import energies, targets


def _potential_on(problem, backend, z_rows):
    return np.array([float(problem.potential(backend.asarray(z))) for z in z_rows])


def test_gamma_poisson_closed_form_matches_integrating_the_model(float64):
    # Integrate the model's own density exp(-potential(u)) over u = log(lam) (the Jacobian is in
    # the potential): Z, E[lam] and sd[lam] must equal the closed form. The trapezoid rule on
    # 4,001 points over a range holding all the mass is accurate to ~1e-9; 1e-6 leaves margin.
    spec = ppl.models.get("gamma_poisson")
    with ppl.backend("pyro") as backend:
        problem = backend.problem(spec.model, spec.args, spec.kwargs)
        u = np.linspace(-1.0, 3.0, 4001)
        log_p = -_potential_on(problem, backend, u[:, None])
    w = np.exp(log_p - log_p.max())
    z = integrate.trapezoid(w, u)
    mean = integrate.trapezoid(w * np.exp(u), u) / z
    sd = math.sqrt(integrate.trapezoid(w * (np.exp(u) - mean) ** 2, u) / z)
    assert log_p.max() + math.log(z) == pytest.approx(spec.log_z, abs=1e-6)
    assert mean == pytest.approx(float(spec.reference["lam"]["mean"]), rel=1e-6)
    assert sd == pytest.approx(float(spec.reference["lam"]["sd"]), rel=1e-6)


def test_dirichlet_multinomial_closed_form():
    # Posterior Dirichlet(alpha + total counts): its moments, by sampling it (200,000 draws: the
    # Monte Carlo error is < 1e-3 of the values), and the evidence by importance sampling from
    # that posterior (exact proposal up to the normalizer, so the log-weights are constant).
    from scipy.stats import dirichlet, multinomial

    spec = ppl.models.get("dirichlet_multinomial")
    counts, alpha, total = spec.args
    post = alpha + counts.sum(axis=0)
    draws = np.random.default_rng(0).dirichlet(post, size=200_000)
    np.testing.assert_allclose(spec.reference["probs"]["mean"], draws.mean(0), rtol=3e-3)
    np.testing.assert_allclose(spec.reference["probs"]["sd"], draws.std(0), rtol=1e-2)
    p = draws[:100]
    log_joint = dirichlet.logpdf(p.T, alpha) + sum(
        multinomial.logpmf(row, total, p) for row in counts
    )
    log_w = log_joint - dirichlet.logpdf(p.T, post)
    assert np.ptp(log_w) < 1e-8
    assert log_w.mean() == pytest.approx(spec.log_z, abs=1e-8)


@pytest.mark.parametrize("name", list(energies.ENERGIES))
def test_quadrature_log_z_is_converged(name):
    # doubling the grid changes log Z by < 1e-6 (the midpoint rule converges as h^2)
    spec = ppl.models.get(name)
    finer, mean, sd = energies.quadrature(name, n=2401)
    assert spec.log_z == pytest.approx(finer, abs=1e-6)
    np.testing.assert_allclose(spec.reference["x"]["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(spec.reference["x"]["sd"], sd, rtol=1e-5)


def test_log_z_against_independent_answers():
    # banana: Z = 2 pi in closed form; double well: a 1-D adaptive quadrature times sqrt(2 pi)
    assert ppl.models.get("banana").log_z == pytest.approx(math.log(2 * math.pi), abs=1e-8)
    one_d, _ = integrate.quad(lambda t: math.exp(-(t**4 - 6 * t**2 - 0.5 * t)), -6, 6)
    expected = math.log(one_d) + 0.5 * math.log(2 * math.pi)
    assert ppl.models.get("double_well").log_z == pytest.approx(expected, abs=1e-8)


def test_double_well_draws_match_the_quadrature_moments():
    # 200,000 exact draws: the standard error of each mean is sd / 447 (<= 0.004), of each sd
    # about sd / 632 (Gaussian; less for the light-tailed bimodal x1); 5 standard errors each
    x = energies.double_well_draws(200_000, seed=3)
    reference = ppl.models.get("double_well").reference["x"]
    se = reference["sd"] / math.sqrt(len(x))
    np.testing.assert_array_less(np.abs(x.mean(axis=0) - reference["mean"]), 5 * se)
    np.testing.assert_array_less(np.abs(x.std(axis=0) - reference["sd"]), 5 * se / math.sqrt(2))


@pytest.mark.parametrize("name", [f"rezende_u{i}" for i in range(1, 5)])
def test_box_log_z_by_monte_carlo(name):
    # Z = 64 E[exp(-U(x))] for x uniform on [-4, 4]^2; 400,000 draws give a relative standard
    # error of a few 1e-3, so 2% is a > 5-sigma tolerance
    x = np.random.default_rng(1).uniform(-4.0, 4.0, size=(400_000, 2))
    log_w = -energies.ENERGIES[name][0](x)
    estimate = math.log(64.0) + logsumexp(log_w) - math.log(len(x))
    assert ppl.models.get(name).log_z == pytest.approx(estimate, abs=0.02)


@pytest.mark.parametrize("name", list(energies.ENERGIES))
def test_energy_model_density_is_exp_minus_energy(name, float64):
    # potential(z) = E(x) - log|dx/dz|: identity on R^2, x = -4 + 8 sigmoid(z) on the box
    spec = ppl.models.get(name)
    z = np.array([[0.3, -0.7], [-1.2, 0.4], [1.5, 1.0]])
    kind = energies.ENERGIES[name][1][0]
    if kind == "box":
        x = -4.0 + 8.0 * expit(z)
        log_jac = np.sum(np.log(8.0 * expit(z) * expit(-z)), axis=-1)
    else:
        x, log_jac = z, np.zeros(len(z))
    expected = energies.ENERGIES[name][0](x) - log_jac
    with ppl.backend("numpyro") as backend:
        problem = backend.problem(spec.model, spec.args, spec.kwargs)
        np.testing.assert_allclose(_potential_on(problem, backend, z), expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["gmm_ring_2d", "gmm_40_modes"])
def test_mixture_target_density_is_the_normalized_mixture(name, float64):
    spec = ppl.models.get(name)
    (locs,), scale = spec.args, spec.kwargs["scale"]
    x = locs[:3] + np.array([[0.1, -0.2], [0.5, 0.5], [-1.0, 0.3]])
    sq = np.sum((x[:, None, :] - locs[None]) ** 2, axis=-1)
    log_p = logsumexp(-0.5 * sq / scale**2, axis=-1) - math.log(2 * math.pi * scale**2 * len(locs))
    with ppl.backend("pyro") as backend:
        problem = backend.problem(spec.model, spec.args, spec.kwargs)
        np.testing.assert_allclose(_potential_on(problem, backend, x), -log_p, rtol=1e-10)
    assert spec.log_z == 0.0


def test_challenging_mixture_density_moments_and_mode_masses(float64):
    from scipy.stats import multivariate_normal

    spec = ppl.models.get("gmm_challenging_2d")
    x = np.array([[3.1, 0.2], [0.1, -2.4], [2.5, 2.4], [-1.0, 1.0]])
    parts = [
        multivariate_normal(m, c).pdf(x) + multivariate_normal(m[::-1], c[::-1, ::-1]).pdf(x)
        for m, c in zip(targets.CHALLENGING_LOCS, targets.CHALLENGING_COVS)
    ]
    log_p = np.log(np.sum(parts, axis=0) / 6)
    with ppl.backend("pyro") as backend:
        problem = backend.problem(spec.model, spec.args, spec.kwargs)
        np.testing.assert_allclose(_potential_on(problem, backend, x), -log_p, rtol=1e-10)
    # exact draws (component, then mirror or not) against the moments and the mode masses;
    # 200,000 draws: standard errors below 0.005 for the means and 0.0011 for each mass, so
    # 0.02 and 0.005 are over 4 standard errors
    rng = np.random.default_rng(0)
    n = 200_000
    component, mirrored = rng.integers(0, 3, n), rng.integers(0, 2, n).astype(bool)
    draws = np.stack(
        [
            rng.multivariate_normal(m, c, n)
            for m, c in zip(targets.CHALLENGING_LOCS, targets.CHALLENGING_COVS)
        ]
    )[component, np.arange(n)]
    draws[mirrored] = draws[mirrored, ::-1]
    np.testing.assert_allclose(draws.mean(0), spec.reference["x"]["mean"], atol=0.02)
    np.testing.assert_allclose(draws.std(0), spec.reference["x"]["sd"], rtol=0.01)
    masses = targets.challenging_mode_masses()
    assert masses.sum() == pytest.approx(1.0, abs=1e-5)
    empirical = np.bincount(targets.challenging_mode(draws), minlength=6) / n
    np.testing.assert_allclose(empirical, masses, atol=0.005)


def test_mixture_target_reference_and_locations():
    locs = targets.forty_mode_locs()
    assert locs.shape == (40, 2) and np.all(np.abs(locs) <= 40)
    np.testing.assert_array_equal(locs, targets.forty_mode_locs())  # fixed seed
    ring = ppl.models.get("gmm_ring_2d").reference["x"]
    # 8 points on a circle of radius 5, sd 0.5: Var x1 = 25 / 2 + 0.25
    np.testing.assert_allclose(ring["sd"], math.sqrt(12.75))
    np.testing.assert_allclose(ring["mean"], 0.0, atol=1e-12)


def test_funnel_reference_by_sampling():
    # draw the funnel exactly; 400,000 draws: sd of x (heavy-tailed) to within a few percent
    rng = np.random.default_rng(0)
    v = 3.0 * rng.normal(size=400_000)
    x = np.exp(v / 2) * rng.normal(size=400_000)
    ref = ppl.models.get("funnel").reference
    assert float(ref["v"]["sd"]) == pytest.approx(v.std(), rel=0.01)
    assert float(ref["x"]["sd"][0]) == pytest.approx(x.std(), rel=0.1)
