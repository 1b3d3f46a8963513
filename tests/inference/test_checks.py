"""A finished run's checks (``ppl/inference/checks.py``): garbage raises, an untrusted result warns.

This module is also a tiny ``"fit"`` algorithm (``Options``, ``CAPABILITIES``, ``build``) run
through ``driver.run`` under an unregistered ``AlgorithmSpec``, so that the checks are exercised
where the driver calls them without touching the registry.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.core import Algorithm, Capabilities, RunConfig
from ppl.errors import DivergenceError, UntrustedResultWarning
from ppl.inference import checks, driver, registry
from ppl.inference.registry import AlgorithmSpec

CAPABILITIES = Capabilities(kind="fit")


@dataclass(frozen=True)
class Options:
    """num_steps, num_samples: as any fit; result: what ``sample`` returns ("fine", "nan_draws",
    "nan_weights", "zero_weights", "one_weight", "one_far_draw")."""

    num_steps: int = 3
    num_samples: int = 200
    result: str = "fine"


class State(NamedTuple):
    step: Any


class Info(NamedTuple):
    loss: Any


def build(problem, options):
    def init(key):
        return State(problem.backend.asarray(np.zeros(())))

    def step(state, key):
        # the loss is NaN from step 1 on when the draws will be NaN (a fit that diverged)
        bad = float("nan") if options.result == "nan_draws" else 0.0
        loss = state.step + problem.backend.asarray(np.array(bad)) * (state.step >= 1)
        return State(state.step + 1), Info(loss)

    def draw(state, key, num_samples):
        return _draws(problem, options, num_samples)

    return Algorithm(init, step, CAPABILITIES, sample=draw)


def _draws(problem, options, num_samples):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(num_samples, problem.dim))
    w = np.zeros(num_samples)
    if options.result == "nan_draws":
        z[5, 2] = np.nan  # coordinate 2 is site "b"
    if options.result == "one_far_draw":
        z[7, 1] = 30.0  # b[0]: 900 of ~1,100 in its variance's sum
    w[0] = {"nan_weights": np.nan, "zero_weights": -np.inf, "one_weight": 50.0}.get(
        options.result, 0
    )
    if options.result == "zero_weights":
        w[:] = -np.inf
    backend = problem.backend
    return driver.Draws(
        backend.asarray(z.astype(np.float32)), backend.asarray(w.astype(np.float32))
    )


FAKE = AlgorithmSpec(name="fake_fit", family="test", target=__name__)


def _model():
    ppl.sample("a", dist.Normal(0.0, 1.0))
    ppl.sample("b", dist.Normal(0.0, 1.0).expand([2]).to_event(1))


@pytest.fixture(scope="module")
def problem():
    return ppl.get_backend("numpyro").problem(_model, (), {})


def _run(problem, result):
    options = Options(result=result)
    config = RunConfig.for_options("fit", options, seed=0, progress=False)
    return driver.run(FAKE, problem, options, config)


def test_nan_draws_of_a_fit_raise_naming_algorithm_stage_site_and_step(problem):
    with pytest.raises(DivergenceError) as err:
        _run(problem, "nan_draws")
    message = str(err.value)
    assert message.startswith("fake_fit: the final sampling stage returned NaN or inf in 1 of")
    assert "site 'b'" in message and "first NaN or inf at step 1" in message
    assert "lower the learning rate" in message


@pytest.mark.parametrize("result", ["nan_weights", "zero_weights"])
def test_nan_or_all_zero_weights_raise(problem, result):
    with pytest.raises(DivergenceError, match="fake_fit: in the final sampling stage .* log Z"):
        _run(problem, result)


def test_one_dominant_weight_warns_with_the_ess_and_the_fix(problem):
    with pytest.warns(UntrustedResultWarning, match=r"effective sample size of 1\.0 .*num_steps"):
        post = _run(problem, "one_weight")
    assert post.diagnostics["ess"] == pytest.approx(1.0)


def test_one_draw_carrying_a_parameters_variance_warns_naming_it(problem):
    # the ESS is the full 200 (equal weights): only the draw's share of the variance flags it
    with pytest.warns(UntrustedResultWarning, match=r"\(b\[0\] = 30\) carries 8\d% .*num_samples"):
        _run(problem, "one_far_draw")


def test_a_fine_result_neither_raises_nor_warns(problem):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntrustedResultWarning)
        post = _run(problem, "fine")
    assert post.diagnostics["ess"] == pytest.approx(200.0) and post.log_z.estimate == 0.0


def test_split_rhat_flags_chains_that_disagree(problem, rng):
    mixed = rng.normal(size=(4, 500, 3))
    assert np.all(checks.split_rhat(mixed) < 1.02)  # 4 x 500 iid draws: R-hat - 1 ~ 0.002
    apart = mixed + np.array([0.0, 0.0, 1.0])[None, None] * np.arange(4)[:, None, None]
    with pytest.warns(UntrustedResultWarning, match=r"R-hat over the 4 chains is .* site 'b'"):
        checks.check_result("nuts", "mcmc", problem, apart, None, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntrustedResultWarning)
        checks.check_result("nuts", "mcmc", problem, mixed, None, {})


def test_chain_ess_matches_an_ar1_chain_and_a_sticky_chain_warns(problem, rng):
    # the same estimator as ArviZ's ess(method="mean") (Geyer's initial monotone sequence), so
    # the two agree to 0.1%; AR(1) with phi = 0.9 has ESS ~ n (1 - phi) / (1 + phi) ~ 105
    def ar1(phi):
        x = np.zeros((2, 1000, 3))
        for t in range(1, 1000):
            x[:, t] = phi * x[:, t - 1] + rng.normal(size=(2, 3))
        return x

    import arviz

    x = ar1(0.9)
    expected = [float(arviz.ess(x[..., i], method="mean")) for i in range(3)]
    np.testing.assert_allclose(checks.chain_ess(x), expected, rtol=1e-3)  # ArviZ adds a tail term
    with pytest.warns(UntrustedResultWarning, match=r"effective sample size of .* Monte Carlo"):
        checks.check_result("sgld", "mcmc", problem, ar1(0.995), None, {})


def test_a_chain_that_ran_away_is_found_and_a_settling_one_is_not(rng):
    still = 40.0 + 3.0 * rng.normal(size=(1000, 2))  # (step, chain) at stationarity, dim 10
    assert checks.runaway_chain(still, 10) is None
    down = np.linspace(1e6, 40.0, 1000)  # coming down from a far start is no runaway
    assert checks.runaway_chain(down, 10) is None
    # the old pSGLD on eight schools: 42 at the MAP, then 1e25 from step 5 on
    away = np.concatenate([np.full(5, 42.0), 1e25 * (1 + 1e-3 * rng.normal(size=995))])
    assert checks.runaway_chain(np.stack([still[:, 0], away], axis=1), 10)[0] == 5


def test_every_sgmcmc_sampler_checks_its_chunks_for_a_runaway(problem):
    # the pSGLD runaway of eight schools (below): 42, then 1e25 from step 5 on
    away = np.concatenate([np.full(5, 42.0), np.full(45, 1e25)])[:, None]
    for spec in ppl.algorithms("sgmcmc"):
        algorithm = spec.load().build(problem, spec.options(step_size=0.1))
        with pytest.raises(DivergenceError, match=f"{spec.name}: a chain ran away near step 15"):
            algorithm.check_info({"potential": away}, 10, spec.name)


def _psgld_eight_schools(**options):
    spec = ppl.models.get("eight_schools-eight_schools_noncentered")
    post = ppl.infer(
        spec.model, "psgld", args=spec.args, kwargs=spec.kwargs, backend="numpyro", seed=0,
        progress=False, **options,
    )  # fmt: skip
    return spec.compare(post.samples)


@pytest.mark.slow  # ~10 s alone, most of it the MAP search of step_size="auto"; a minute loaded
@pytest.mark.parametrize("options", [{}, {"batch_size": 1}], ids=["full", "batch_size=1"])
def test_psgld_on_eight_schools_with_defaults_does_not_run_away(options):
    # Before the fix the RMSprop average started at 0 at the MAP point (gradient ~0), so the
    # first steps' noise sqrt(eps / rms_eps) threw the chain to tau ~ 1e12: 7e12 sd off with no
    # error. Now: within Monte Carlo error. pSGLD's 1,000 draws have an ESS of 6-60 for mu and
    # tau over seeds 0-2 (and less for single theta_trans), so a mean's MC error is up to
    # ~0.4 sd and an sd's up to ~30%; 2 sd and a factor 2 are ~5 and ~3 of those (seed 0
    # scores 0.24 / 0.32 in full batch, 0.38 / 0.32 with batch_size=1).
    errors = _psgld_eight_schools(**options)
    assert max(e["mean_err"] for e in errors.values()) < 2.0
    assert max(abs(e["sd_err"]) for e in errors.values()) < 1.0


def test_registry_is_untouched_by_the_fake_algorithm():
    assert "fake_fit" not in {spec.name for spec in registry.algorithms()}
