"""The enumerated mixture against its marginalised twin, and the two GP models."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ppl


def test_enumerated_mixture_is_a_flat_problem_over_its_continuous_sites(backend):
    spec = ppl.models.get("gaussian_mixture_enum")
    assert spec.enumerate
    problem = backend.problem(spec.model, spec.args, spec.kwargs)
    assert problem.layout.names == ("weights", "locs", "scales")
    assert problem.enumerated == ("z",)


def test_enumerated_mixture_sums_to_the_marginal_model(float64):
    # Summing the joint over every assignment z (per point: logsumexp over k of the model with
    # z[i] = k) gives the marginalised model's likelihood: 1e-8 is float64 round-off.
    import pyro.poutine as poutine  # the test reads per-point log-probs from Pyro's trace

    enum = ppl.models.get("gaussian_mixture_enum")
    marginal = ppl.models.get("gaussian_mixture")
    (y,) = enum.args
    with ppl.backend("pyro") as backend:
        (y_t,), _ = backend.convert_args(enum.args)
        params = {
            "weights": backend.asarray(np.array([0.2, 0.5, 0.3])),
            "locs": backend.asarray(np.array([-3.0, 0.5, 4.0])),
            "scales": backend.asarray(np.array([1.2, 0.6, 2.0])),
        }
        per_k = []
        for k in range(3):
            z = backend.asarray(np.full(len(y), k))  # integers keep their kind
            tr = poutine.trace(poutine.condition(enum.model, {**params, "z": z})).get_trace(y_t)
            lp = tr.nodes["z"]["fn"].log_prob(z) + tr.nodes["y"]["fn"].log_prob(y_t)
            per_k.append(backend.to_numpy(lp))
        summed = np.logaddexp.reduce(np.stack(per_k), axis=0).sum()
        assert tr.nodes["z"]["infer"].get("enumerate") == "parallel"
        tr = poutine.trace(poutine.condition(marginal.model, params)).get_trace(y_t)
        direct = float(tr.nodes["y"]["fn"].log_prob(y_t).sum())
    assert summed == pytest.approx(direct, abs=1e-8)


def test_exact_gp_potential_matches_a_numpy_gaussian_process(float64):
    # -log N(y | 0, K + noise I) plus the log-normal priors, written in numpy, against the
    # model's potential on both backends (unconstrained = log of each positive site)
    from scipy.stats import lognorm, multivariate_normal

    spec = ppl.models.get("gp_regression")
    (X,), y = spec.args, spec.kwargs["y"]
    ls, var, noise = 0.8, 1.3, 0.05
    K = var * np.exp(-0.5 * (X - X.T) ** 2 / ls**2) + (noise + 1e-6) * np.eye(len(y))
    log_p = multivariate_normal(np.zeros(len(y)), K).logpdf(y)
    log_p += lognorm(1.0, scale=1.0).logpdf(ls) + lognorm(1.0, scale=1.0).logpdf(var)
    log_p += lognorm(1.0, scale=math.exp(-2.0)).logpdf(noise)
    expected = -(log_p + math.log(ls * var * noise))  # the log-Jacobian of exp
    z = np.log([ls, var, noise])
    for name in spec.backends:
        with ppl.backend(name) as backend:
            problem = backend.problem(spec.model, spec.args, spec.kwargs)
            assert float(problem.potential(backend.asarray(z))) == pytest.approx(expected, rel=1e-9)


def test_svgp_classifier_trains_with_pyro_svi():
    pytest.importorskip("gpytorch")
    import pyro  # the GPyTorch model is Pyro-only; the test drives Pyro's own SVI

    from ppl.models.gp_gpytorch import make_svgp

    spec = ppl.models.get("svgp_classification")
    assert spec.backends == ("pyro",) and spec.guide is not None
    gp = make_svgp(np.linspace(-3.0, 3.0, 8)[:, None])  # a fresh module: the spec's stays as is
    with ppl.backend("pyro") as backend, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        args, kwargs = backend.convert_args(spec.args, {**spec.kwargs, "gp": gp})
        pyro.clear_param_store()
        pyro.set_rng_seed(0)
        before = gp.variational_strategy._variational_distribution.variational_mean.clone()
        svi = pyro.infer.SVI(
            spec.model,
            spec.guide,
            pyro.optim.Adam({"lr": 0.05}),
            pyro.infer.Trace_ELBO(retain_graph=True),
        )
        losses = [svi.step(*args, **kwargs) for _ in range(15)]
    after = gp.variational_strategy._variational_distribution.variational_mean
    assert all(math.isfinite(loss) for loss in losses)
    assert not np.allclose(before.detach().numpy(), after.detach().numpy())  # SVI moved q(u)
    # the ELBO improves: the last steps' mean loss is below the first steps' (noisy, so a mean)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert "svgp.gp$$$mean_module.raw_constant" in pyro.get_param_store()


def test_svgp_classifier_trains_with_ppl_svi():
    # ppl.infer's svi on the GPyTorch model: GPyTorch caches tensors across the model's and
    # the guide's sample statements within a step, so the ELBO must retain its graph
    pytest.importorskip("gpytorch")
    from ppl.models.gp_gpytorch import make_svgp, svgp_predict

    spec = ppl.models.get("svgp_classification")
    gp = make_svgp(np.linspace(-3.0, 3.0, 8)[:, None])  # a fresh module: the spec's stays as is
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # GPyTorch's jitter notices; a short fit
        post = ppl.infer(
            spec.model, "svi", args=spec.args, kwargs={**spec.kwargs, "gp": gp},
            guide=spec.guide, backend="pyro", num_steps=100, progress=False,
        )  # fmt: skip
    losses = post.sample_stats["loss"][0]
    assert np.all(np.isfinite(losses))
    # the ELBO improves: from ~80 at the start to ~55 after 100 steps (noisy: window means)
    assert losses[-20:].mean() < losses[:20].mean() - 10.0
    # SVI left its parameters in the module: q(f)'s mean already orders the classes (y = 1 where
    # sin(2x) > 0) at points where sin(2x) is near +-1; after 100 steps it is -0.5 and -0.6 at
    # the class-0 points, 0.1 and 0.2 at the class-1 points (an untrained module gives ~0)
    mean, sd = svgp_predict(gp, np.array([[-0.75], [2.25], [0.75], [-2.25]]))
    assert max(mean[:2]) + 0.3 < min(mean[2:]) and np.all(sd > 0)


def test_svgp_predict_of_an_untrained_module_is_the_gp_prior():
    # before training q(u) is the (whitened) prior, so q(f(x)) is the GP prior at every x:
    # mean ~0 (GPyTorch starts q(u)'s mean at 1e-3 noise), sd = sqrt(outputscale) = sqrt(log 2)
    pytest.importorskip("gpytorch")
    from ppl.models.gp_gpytorch import make_svgp, svgp_predict

    gp = make_svgp(np.linspace(-3.0, 3.0, 8)[:, None])
    mean, sd = svgp_predict(gp, np.linspace(-5.0, 5.0, 7)[:, None])
    assert mean.shape == sd.shape == (7,)
    np.testing.assert_allclose(mean, 0.0, atol=0.02)
    np.testing.assert_allclose(sd, np.sqrt(np.log(2.0)), rtol=1e-3)
