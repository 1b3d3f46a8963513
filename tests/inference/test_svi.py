"""SVI by name: every guide and objective runs on both backends; the default fits a badly
conditioned posterior that the backends' own defaults do not."""

import warnings

import numpy as np
import pytest

import ppl
from ppl import dist, ops
from ppl.errors import OptionError, ShapeError, UntrustedResultWarning
from ppl.inference.svi import GUIDES, OBJECTIVES
from tests.inference.test_contract import LOG_EVIDENCE, POST_MEAN, POST_SD, Y, normal_normal


def location_scale(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    with ppl.plate("data", y.shape[0]):
        ppl.sample("y", dist.Normal(mu, sigma), obs=y)


@pytest.mark.parametrize("guide", GUIDES)
def test_every_guide_runs(backend, guide):
    post = ppl.infer(
        location_scale,
        "svi",
        args=(Y,),
        backend=backend.name,
        guide=guide,
        num_steps=30,
        num_samples=20,
        map_iterations=200,
        progress=False,
    )
    assert post.samples["mu"].shape == (1, 20) and np.isfinite(post.samples["mu"]).all()
    assert post.sample_stats["loss"].shape == (1, 30)


# chi2 draws 16 particles a step (a loop of traces on Pyro): its quick check is
# test_chi2_recovers_the_conjugate_posterior below
@pytest.mark.parametrize(
    "objective", [pytest.param(o, marks=pytest.mark.slow) if o == "chi2" else o for o in OBJECTIVES]
)
def test_every_objective_fits_the_conjugate_posterior(backend, objective):
    post = ppl.infer(
        normal_normal,
        "svi",
        args=(Y,),
        backend=backend.name,
        objective=objective,
        num_steps=1000,
        num_samples=500,
        map_iterations=200,
        progress=False,
    )
    draws = post.samples["mu"].reshape(-1)
    # The whitened start is the exact posterior here (a Gaussian, the optimum of every one of
    # these objectives). Adam's noisy steps (0.01 decaying, in units of posterior sd) move
    # coherently over its momentum window (~10 steps), so the location wanders by about
    # 0.01 * sqrt(10 * steps) ~ 0.2-0.35 sd before the gradient pulls it back: mean within
    # 0.5 sd; sd within 25% (500 draws: MC error ~3%).
    assert abs(draws.mean() - POST_MEAN) < 0.5 * POST_SD
    assert abs(draws.std() / POST_SD - 1) < 0.25


def ill_conditioned(x, y=None):
    """Linear regression with an intercept far from zero and a tiny slope: posterior sds of
    ~0.05 and ~0.0005 (Laplace), a condition number of ~10^4 like posteriordb's kidiq."""
    a = ppl.sample("a", dist.Normal(0.0, 1000.0))
    b = ppl.sample("b", dist.Normal(0.0, 1000.0))
    with ppl.plate("data", x.shape[0]):
        ppl.sample("y", dist.Normal(a + b * x, 1.0), obs=y)


def test_default_svi_fits_an_ill_conditioned_posterior(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(100.0, 20.0, size=400)
    y = 30.0 + 0.5 * x + rng.normal(size=400)
    X = np.stack([np.ones_like(x), x], 1)
    cov = np.linalg.inv(X.T @ X)  # flat prior, unit noise: exact Gaussian posterior
    mean = cov @ X.T @ y
    post = ppl.infer(
        ill_conditioned,
        "svi",
        args=(x,),
        kwargs={"y": y},
        backend=backend.name,
        guide="mvn",
        progress=False,
    )
    for i, site in enumerate("ab"):
        draws = post.samples[site].reshape(-1)
        sd = np.sqrt(cov[i, i])
        # targets of the issue: means within 0.3 posterior sd, sds within 30%
        assert abs(draws.mean() - mean[i]) < 0.3 * sd, site
        assert abs(draws.std() / sd - 1) < 0.3, site


def test_stops_early_once_the_elbo_settles(backend):
    post = ppl.infer(normal_normal, "svi", args=(Y,), backend=backend.name, progress=False)
    steps_run = post.sample_stats["loss"].shape[1]
    # started at the exact posterior (whitened Laplace of a Gaussian): the windowed ELBO is
    # flat from the first windows of 250 steps on, long before the 10,000-step budget
    assert 750 <= steps_run < 10_000 and steps_run % 250 == 0


def test_budget_running_out_warns_naming_the_rule(backend):
    with pytest.warns(UntrustedResultWarning, match="stopped improving"):
        ppl.infer(
            normal_normal, "svi", args=(Y,), backend=backend.name, num_steps=100, progress=False
        )


def test_whitened_fit_starts_at_the_laplace_point(backend):
    def wide(sd):
        ppl.sample("x", dist.Normal(1.0, sd))

    # one step at a negligible rate: the draws are the start, N(MAP, Laplace sd) = N(1, 2)
    # exactly here; 1,000 draws: se of the mean 0.063, of the sd 0.045; 4 se each
    post = ppl.infer(
        wide,
        "svi",
        args=(2.0,),
        backend=backend.name,
        num_steps=1,
        lr=1e-9,
        tol=0,
        progress=False,
    )
    draws = post.samples["x"]
    assert abs(draws.mean() - 1.0) < 0.25 and abs(draws.std() - 2.0) < 0.18


def test_tol_zero_runs_every_step_without_the_warning(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        post = ppl.infer(
            normal_normal,
            "svi",
            args=(Y,),
            backend=backend.name,
            num_steps=300,
            tol=0,
            progress=False,
        )
    assert post.sample_stats["loss"].shape[1] == 300


#: a fit that must move: the prior median with the guide's small start scale (0.1, half the
#: posterior sd), 4.6 posterior sds from the posterior mean
FROM_THE_PRIOR = {"init": "median", "whiten": False, "tol": 0, "lr": 0.05, "progress": False}


@pytest.mark.filterwarnings("ignore:svi. the stop rule")
def test_chi2_recovers_the_conjugate_posterior(backend):
    post = ppl.infer(
        normal_normal,
        "svi",
        args=(Y,),
        backend=backend.name,
        objective="chi2",
        num_particles=8,
        num_steps=300,
        num_samples=400,
        **FROM_THE_PRIOR,
    )
    draws = post.samples["mu"].reshape(-1)
    # The Normal guide contains the posterior, the forward chi-square's unique minimizer, so
    # there is no family bias; chi2 is mass-covering, so a fit stopped short errs wide rather
    # than narrow. Measured (seed 0, both backends): mean within 0.06 sd, sd 1-7% wide. Allowed:
    # mean 0.25 sd (Adam's wander at the end, ~0.01 * sqrt(10 * 30) per step window, plus MC
    # error 0.05), sd within 15% (MC error of the sd from 400 draws ~4%, plus the noise of the
    # self-normalized gradient with 8 particles).
    assert abs(draws.mean() - POST_MEAN) < 0.25 * POST_SD
    assert abs(draws.std() / POST_SD - 1) < 0.15
    # an importance proposal: the draws carry log-weights, and a proposal this close to the
    # posterior has an effective sample size near the number of draws and log Z to ~1e-3
    assert post.diagnostics["log_weights"].shape == (400,)
    assert post.diagnostics["ess"] > 0.9 * 400
    assert abs(post.log_z.estimate - LOG_EVIDENCE) < 0.02


def neg_mean(log_weights):
    return -ops.mean(log_weights)


@pytest.mark.filterwarnings("ignore:svi. the stop rule")
def test_a_callable_elbo_fits_as_the_native_elbo(backend):
    fits = {}
    for objective in ("elbo", neg_mean):
        post = ppl.infer(
            normal_normal,
            "svi",
            args=(Y,),
            backend=backend.name,
            objective=objective,
            num_particles=4,
            num_steps=300,
            num_samples=1000,
            seed=3,
            **FROM_THE_PRIOR,
        )
        draws = post.samples["mu"].reshape(-1)
        fits[objective if isinstance(objective, str) else "callable"] = (draws.mean(), draws.std())
        assert post.log_z is None  # a plain variational fit: no importance weights
    (m1, s1), (m2, s2) = fits["elbo"], fits["callable"]
    # the same objective and the same seed, but each draws its own particles: the two fits
    # differ by the optimizer's noise (~0.1 sd in the mean, a few % in the sd), and both must
    # have reached the posterior from 4.6 sds away
    assert abs(m1 - m2) < 0.2 * POST_SD and abs(s1 / s2 - 1) < 0.15
    assert abs(m2 - POST_MEAN) < 0.25 * POST_SD and abs(s2 / POST_SD - 1) < 0.2


def test_bad_objectives_are_named(backend):
    def per_particle(log_weights):
        return -log_weights  # one loss per particle, not a scalar

    with pytest.raises(ShapeError, match=r"'per_particle'.*\(4,\).*returned shape \(4,\)"):
        ppl.infer(
            normal_normal,
            "svi",
            args=(Y,),
            backend=backend.name,
            objective=per_particle,
            num_particles=4,
            num_steps=5,
            **FROM_THE_PRIOR,
        )
    with pytest.raises(OptionError, match="'elbo'.*'chi2'.*got 3"):
        ppl.infer(normal_normal, "svi", args=(Y,), backend=backend.name, objective=3)
    with pytest.raises(OptionError, match="Did you mean 'chi2'"):
        ppl.infer(normal_normal, "svi", args=(Y,), backend=backend.name, objective="chi3")
    with pytest.raises(OptionError, match="num_particles >= 2"):
        ppl.infer(
            normal_normal, "svi", args=(Y,), backend=backend.name, objective="chi2", num_particles=1
        )
    with pytest.raises(OptionError, match="point mass"):
        ppl.infer(
            normal_normal, "svi", args=(Y,), backend=backend.name, objective="chi2", guide="delta"
        )


def test_init_values_of_a_guide_function_name_its_params_else_warn(backend, monkeypatch):
    def no_map(*args, **kwargs):
        raise AssertionError("a guide function starts at its params: no MAP search")

    monkeypatch.setattr("ppl.inference.svi.find_map", no_map)

    def guide(y):
        loc = ppl.param("loc", 0.5)
        ppl.sample("mu", dist.Normal(loc, 0.1))
        ppl.sample("sigma", dist.LogNormal(0.0, 0.1))

    y = np.array([0.1, -0.3, 0.4])
    options = dict(guide=guide, num_steps=1, lr=1e-6, num_samples=2000, progress=False)
    with pytest.warns(UserWarning, match=r"init_values names \['mu'\], which are not ppl.param"):
        post = ppl.infer(location_scale, "svi", args=(y,), init_values={"mu": 3.0}, **options)
    # one step at lr 1e-6 leaves loc at 0.5: the draws' mean is 0.5 +- 0.1 / sqrt(2000)
    assert abs(float(np.mean(post.samples["mu"])) - 0.5) < 0.02
    # init_values naming the guide's param start it there (the warm start of a guide function)
    post = ppl.infer(location_scale, "svi", args=(y,), init_values={"loc": 2.0}, **options)
    assert abs(float(np.mean(post.samples["mu"])) - 2.0) < 0.02
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ppl.infer(location_scale, "svi", args=(y,), **options)
    assert not [w for w in caught if "init_values" in str(w.message)]


def test_the_whitening_travels_in_the_state_not_in_the_problem(backend):
    # init's whitening (the MAP point and Laplace factor) is part of the state: a state whose
    # shift is moved by 1 gives draws moved by 1 (on another problem, whose own init, which
    # builds the guide, a resumed run also calls)
    from ppl.inference import svi
    from tests.inference.test_contract import Y, normal_normal

    options = svi.Options(num_steps=5, map_iterations=50)
    state = svi.build(backend.problem(normal_normal, (Y,)), options).init(backend.key(0))
    assert state.whitening, "the whitened fit carries its whitening"
    fresh = svi.build(backend.problem(normal_normal, (Y,)), options)
    fresh.init(backend.key(2))
    moved = state._replace(whitening=state.whitening._replace(shift=state.whitening.shift + 1))
    draws = fresh.sample(state, backend.key(1), 50).z
    draws_moved = fresh.sample(moved, backend.key(1), 50).z
    np.testing.assert_allclose(backend.to_numpy(draws_moved - draws), 1.0, rtol=1e-5)
