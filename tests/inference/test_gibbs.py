"""``gibbs``: discrete latent sites by exact conditional draws (or Metropolis), continuous ones
by HMC, on both backends, checked against the change-point model's exact posterior.

The exact posterior is computed here in numpy, independently of ``ppl.models.discrete``: given
the change point ``tau``, each Poisson rate is conjugate to its Gamma prior, so the marginal
likelihood of ``tau`` is a product of two closed-form Gamma-Poisson evidences.

Tolerance of the total variation (TV) between the draws of a discrete site and its exact
posterior ``p``: ``_check_total_variation`` estimates the draws' effective sample size ``n``
(Geyer's, over split chains), simulates the TV of ``n`` independent draws from ``p`` (4,000
multinomial samples) and asserts that its 99.9% quantile is below issue 21's bound of 0.05
(the run had enough draws for the bound to be a 1-in-1000 false alarm at most), then that the
draws' TV is below 0.05. The TV of ``n`` draws has mean about ``sum_k sqrt(p_k (1 - p_k)) /
sqrt(2 pi n)``: 0.021 for the registered data (T=40) at ``n = 2000``, 0.016 for the T=20 data
at ``n = 1000``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

import ppl
from ppl import dist
from ppl.errors import ModelError, OptionError
from ppl.inference.checks import chain_ess
from ppl.models.discrete import change_point, change_point_data

A, B = 2.0, 0.5  # the model's default Gamma(concentration, rate) priors


def exact_change_point(y, a=A, b=B):
    """``(p(tau | y) over 0..T, E[early_rate | y], E[late_rate | y])`` by the closed form."""
    y = np.asarray(y, dtype=float)
    T = len(y)
    log_post, means = np.empty(T + 1), np.empty((T + 1, 2))
    for tau in range(T + 1):
        parts = (y[:tau], y[tau:])
        log_post[tau] = sum(
            a * math.log(b)
            - gammaln(a)
            + gammaln(a + s.sum())
            - (a + s.sum()) * math.log(b + len(s))
            for s in parts
        )
        means[tau] = [(a + s.sum()) / (b + len(s)) for s in parts]
    p = np.exp(log_post - log_post.max())
    p /= p.sum()
    return p, p @ means[:, 0], p @ means[:, 1]


def _total_variation(draws, p) -> float:
    counts = np.bincount(np.asarray(draws).reshape(-1), minlength=len(p))
    return 0.5 * float(np.abs(counts / counts.sum() - p).sum())


def _check_total_variation(draws, p, bound=0.05) -> None:
    """The TV of ``draws`` (chain, draw) against ``p`` is below ``bound``, and ``bound`` is
    above the 99.9% quantile of the TV of as many independent draws as their ESS."""
    ess = int(chain_ess(np.asarray(draws, dtype=float)[..., None])[0])
    rng = np.random.default_rng(0)
    simulated = [_total_variation(np.repeat(np.arange(len(p)), rng.multinomial(ess, p)), p)
                 for _ in range(4000)]  # fmt: skip
    assert np.quantile(simulated, 0.999) < bound, f"too few effective draws ({ess})"
    assert _total_variation(draws, p) <= bound, (_total_variation(draws, p), ess)


#: per backend: the data, chains and draws (Pyro's chains run one after another, each step
#: ~100x a compiled JAX step here, so it takes a shorter series on 20 counts)
SETTINGS = {
    "numpyro": dict(data=change_point_data(), num_chains=4, num_samples=800),
    "pyro": dict(data=change_point_data(T=20, tau=12, rates=(4.0, 1.0)), num_samples=1800),
}


@pytest.mark.parametrize("backend_name", ppl.backends())
def test_change_point_matches_the_exact_posterior(backend_name):
    settings = SETTINGS[backend_name]
    y = settings["data"]
    p, early_mean, late_mean = exact_change_point(y)
    post = ppl.infer(
        change_point,
        "gibbs",
        args=(y,),
        backend=backend_name,
        seed=0,
        progress=False,
        num_warmup=200,
        num_steps=5,
        num_chains=settings.get("num_chains", 1),
        num_samples=settings["num_samples"],
    )
    tau = post.samples["tau"]
    assert tau.dtype.kind == "i" and tau.shape[1] == settings["num_samples"]
    _check_total_variation(tau, p)
    assert np.all(post.sample_stats["discrete_accept_prob"] == 1.0)  # exact draws
    for name, mean in (("early_rate", early_mean), ("late_rate", late_mean)):
        draws = post.samples[name]
        # 5 Monte Carlo standard errors of the mean (the draws' own sd over sqrt(ESS))
        error = draws.std() / math.sqrt(float(chain_ess(draws[..., None])[0]))
        assert abs(draws.mean() - mean) < 5 * error, (name, draws.mean(), mean, error)


def test_the_registered_reference_is_the_exact_posterior():
    spec = ppl.models.get("change_point")
    p, early_mean, late_mean = exact_change_point(spec.args[0])
    assert spec.reference["tau"]["mean"] == pytest.approx(p @ np.arange(len(p)), rel=1e-10)
    assert spec.reference["early_rate"]["mean"] == pytest.approx(early_mean, rel=1e-10)
    assert spec.reference["late_rate"]["mean"] == pytest.approx(late_mean, rel=1e-10)


@pytest.mark.slow  # 10 s (a compile of its own); the default draw's test covers the sweep
def test_the_modified_gibbs_draw_keeps_the_exact_posterior():
    """Liu's modified draw (never the current value, Metropolis-corrected)."""
    y = change_point_data()
    p, _, _ = exact_change_point(y)
    post = ppl.infer(change_point, "gibbs", args=(y,), backend="numpyro", progress=False,
                     seed=1, num_warmup=200, num_steps=5, num_chains=4, num_samples=800,
                     modified=True)  # fmt: skip
    _check_total_variation(post.samples["tau"], p)
    assert 0.0 < post.sample_stats["discrete_accept_prob"].mean() < 1.0


def categorical_location(y):
    """``k`` uniform on 0..9, ``y ~ N(k, 3)``: a broad posterior over ten values."""
    k = ppl.sample("k", dist.Categorical(logits=ppl.ops.zeros(10)))
    ppl.sample("y", dist.Normal(k * 1.0, 3.0), obs=y)


def test_a_support_above_max_support_size_takes_metropolis_steps_to_the_exact_posterior():
    """Ten values above ``max_support_size=4``: the modified uniform proposal, accepted by the
    Metropolis ratio; a purely discrete model (no HMC block)."""
    log_p = -0.5 * ((4.2 - np.arange(10)) / 3.0) ** 2
    p = np.exp(log_p - log_p.max()) / np.exp(log_p - log_p.max()).sum()
    post = ppl.infer(categorical_location, "gibbs", args=(4.2,), backend="numpyro",
                     progress=False, seed=2, num_warmup=100, num_samples=3000, num_chains=4,
                     max_support_size=4)  # fmt: skip
    _check_total_variation(post.samples["k"], p)
    assert 0.3 < post.sample_stats["discrete_accept_prob"].mean() < 1.0


@pytest.mark.slow  # 9 s (a compile of its own); the options' checks run in the default suite
def test_a_gibbs_fn_updates_the_sites_it_names():
    """HMCGibbs style: the rates drawn from their Gamma conditionals by the user's function,
    ``tau`` by gibbs's exact draws; no HMC block is left."""
    import jax
    import jax.numpy as jnp

    y = change_point_data()
    p, early_mean, _ = exact_change_point(y)
    cumulative = jnp.concatenate([jnp.zeros(1), jnp.cumsum(jnp.asarray(y))])

    def conjugate_rates(key, gibbs_sites, hmc_sites):
        tau = hmc_sites["tau"]
        shape = A + jnp.stack([cumulative[tau], cumulative[-1] - cumulative[tau]])
        rate = B + jnp.stack([tau, len(y) - tau])
        draws = jax.random.gamma(key, shape) / rate
        return {"early_rate": draws[0], "late_rate": draws[1]}

    post = ppl.infer(change_point, "gibbs", args=(y,), backend="numpyro", progress=False,
                     num_warmup=100, num_samples=800, num_chains=4,
                     gibbs_fn=conjugate_rates, gibbs_sites=("early_rate", "late_rate"))  # fmt: skip
    assert "accept_prob" not in post.sample_stats  # no HMC block
    _check_total_variation(post.samples["tau"], p)
    early = post.samples["early_rate"]
    error = early.std() / math.sqrt(float(chain_ess(early[..., None])[0]))
    assert abs(early.mean() - early_mean) < 5 * error


def test_an_unbounded_discrete_site_is_refused_naming_it_and_the_fix(backend):
    def model():
        rate = ppl.sample("rate", dist.Gamma(2.0, 1.0))
        ppl.sample("n", dist.Poisson(rate))

    with pytest.raises(ModelError, match=r"'n' has an unbounded support.*gibbs_fn=.*'n'"):
        ppl.infer(model, "gibbs", backend=backend.name, progress=False)


def test_gibbs_options_are_checked_against_the_model():
    y = change_point_data(T=10)
    with pytest.raises(OptionError, match="'early'.*Did you mean 'early_rate'"):
        ppl.infer(change_point, "gibbs", args=(y,), progress=False,
                  gibbs_fn=lambda key, g, h: g, gibbs_sites=("early",))  # fmt: skip
    with pytest.raises(OptionError, match="together"):
        ppl.infer(change_point, "gibbs", args=(y,), progress=False, gibbs_sites=("tau",))


def test_the_problem_keeps_discrete_sites_last_and_conditions_on_them(backend, float64):
    y = change_point_data(T=10)
    problem = backend.problem(change_point, (y,), discrete=True)
    assert problem.layout.names == ("early_rate", "late_rate", "tau")
    low, high = problem.discrete["tau"]
    assert float(low) == 0 and float(high) == 10 and problem.continuous_dim == 2
    early, late, tau = 2.5, 0.7, 4
    z = backend.asarray(np.array([math.log(early), math.log(late), float(tau)]))
    rates = np.where(np.arange(10) < tau, early, late)
    log_joint = (
        -math.log(11)  # tau uniform on 0..10
        + sum(A * math.log(B) - gammaln(A) + (A - 1) * math.log(r) - B * r for r in (early, late))
        + math.log(early) + math.log(late)  # the log transforms' Jacobians
        + float(np.sum(y * np.log(rates) - rates - gammaln(y + 1)))
    )  # fmt: skip
    assert float(problem.potential(z)) == pytest.approx(-log_joint, rel=1e-10)
    values = problem.constrain(z)
    assert int(values["tau"]) == tau and backend.to_numpy(values["tau"]).dtype.kind == "i"
    with pytest.raises(ModelError, match="'tau' is discrete"):  # the default still refuses
        backend.problem(change_point, (y,))


@pytest.mark.parametrize("backend_name", ppl.backends())
def test_an_interrupted_run_resumes_to_the_same_discrete_draws(backend_name, tmp_path, monkeypatch):
    from ppl.inference import driver
    from tests.inference.test_checkpoint import Interrupt

    path = str(tmp_path / "run.ckpt")
    common = dict(args=(change_point_data(T=10),), backend=backend_name, seed=4, progress=False,
                  num_warmup=10, num_samples=20, num_steps=3, checkpoint_every=10)  # fmt: skip
    whole = ppl.infer(change_point, "gibbs", checkpoint_path=str(tmp_path / "w"), **common)
    monkeypatch.setattr(driver, "after_chunk", Interrupt(at=20))
    assert ppl.infer(change_point, "gibbs", checkpoint_path=path, **common).partial
    monkeypatch.undo()
    resumed = ppl.infer(change_point, "gibbs", checkpoint_path=path, resume_from=path, **common)
    for name in ("tau", "early_rate", "late_rate"):
        np.testing.assert_array_equal(resumed.samples[name], whole.samples[name])


@pytest.mark.slow  # 30 s on NumPyro (a compile of its own), 14 s on Pyro under load
@pytest.mark.parametrize("backend_name", ppl.backends())
def test_zero_inflated_poisson_indicators_follow_the_counts(backend_name):
    """A positive count is never a structural zero (its conditional puts no mass there), and
    some zero counts are; an impossible start is refused, naming init_values."""
    from ppl.models.discrete import zero_inflated_poisson, zero_inflated_poisson_data

    X, y = zero_inflated_poisson_data(N=20)
    settings = dict(args=(X,), kwargs={"y": y}, backend=backend_name, progress=False)
    with pytest.raises(ModelError, match=r"discrete sites \('zero'\).*init_values"):
        ppl.infer(zero_inflated_poisson, "gibbs", init_values={"zero": np.ones(len(y))},
                  **settings)  # fmt: skip
    post = ppl.infer(zero_inflated_poisson, "gibbs", num_warmup=5, num_samples=10, num_steps=3,
                     init_values={"zero": np.zeros(len(y))}, **settings)  # fmt: skip
    zero = post.samples["zero"]
    assert zero.shape == (1, 10, len(y))
    assert not zero[..., y > 0].any() and zero[..., y == 0].any()
