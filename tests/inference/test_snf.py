"""The flow samplers (snf, realnvp): exact path weights, log Z, training on data, bad input.

How the tolerances are derived. ``log_z`` is the log of a mean of importance weights whose mean
is exactly ``Z`` for any parameters, and the driver reports the delta-method standard error of
that log-mean; with hundreds of paths and an ESS well above 50 its error is close to normal, so
each check allows 4 reported standard errors (a 1-in-16,000 false alarm) and bounds the
standard error itself, so degenerate weights cannot pass by being vague. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl.errors import DivergenceError, OptionError, ShapeError
from ppl.inference import nn
from ppl.inference.driver import _log_z
from ppl.inference.flows import realnvp, snf
from ppl.inference.flows.blocks import KERNELS, Flow
from tests.inference.test_cmcd import GAUSSIAN_LOG_Z, MEAN, PRECISION, gaussian

#: paths per weight check: torch evaluates the potential one particle at a time
NUM_PATHS = {"numpyro": 2000, "pyro": 400}


def _random_flow(backend, options, stochastic):
    """A flow with random coupling layers, base ``N((0.3, -0.2), diag(1.3, 0.8)^2)``."""
    flow = Flow(backend.problem(gaussian), options, stochastic)
    theta = flow.initial_theta(backend.key(0))
    keys = backend.split(backend.key(1), flow.num_couplings)
    theta["couplings"] = [
        nn.coupling_init(backend, keys[j], 2, options.hidden, final_scale=0.5)
        for j in range(flow.num_couplings)
    ]
    theta["loc"] = backend.asarray(np.array([0.3, -0.2]))
    theta["log_scale"] = backend.asarray(np.log([1.3, 0.8]))
    return flow, theta


@pytest.mark.parametrize("kernel", KERNELS)
def test_untrained_snf_weights_are_exact(backend, float64, kernel):
    """``E[w] = Z`` for any parameters: a random flow with every kind of stochastic block
    (after block 0 at lambda = 0, after block 1 on the target) still estimates log Z. A wrong
    sign or a missing term in a transition ratio biases it by far more than 4 standard
    errors."""
    # in the problem's own coordinates, for which this random flow's weights have a small
    # enough variance at these path counts (in the warm start's, the same flow is a poorer
    # proposal: still unbiased, an ESS of ~50 in 40,000 paths)
    options = snf.Options(
        num_blocks=2, hidden=(8,), kernel=kernel, mc_steps=3, step_size=0.3, warm_start=False
    )
    flow, theta = _random_flow(backend, options, stochastic=True)
    forward = backend.jit(flow.forward, static_argnums=2)
    path = forward(theta, backend.key(2), NUM_PATHS[backend.name])
    log_z = _log_z(backend.to_numpy(path.log_weights))
    assert log_z.stderr < 0.1, log_z
    assert abs(log_z.estimate - GAUSSIAN_LOG_Z) < 4 * log_z.stderr, (log_z, GAUSSIAN_LOG_Z)
    assert bool(np.all(backend.to_numpy(path.layer_ok)))


def test_realnvp_likelihood_inverts_the_forward_path(backend, float64):
    """Without stochastic blocks the reverse pass is the exact inverse: ``log q(x)`` at the
    flow's own draws equals ``-log w - U(x)``, to rounding."""
    flow, theta = _random_flow(backend, realnvp.Options(num_blocks=2, hidden=(8,)), False)
    path = flow.forward(theta, backend.key(2), 50)
    log_q, ok = flow.log_likelihood(theta, path.x, backend.key(3))
    x = backend.to_numpy(path.x)
    r = x - MEAN
    u = 0.5 * np.einsum("ni,ij,nj->n", r, PRECISION, r) + 1.3  # the potential, carrier cancels
    expected = -backend.to_numpy(path.log_weights) - u
    np.testing.assert_allclose(backend.to_numpy(log_q), expected, rtol=1e-8, atol=1e-8)
    assert bool(np.all(backend.to_numpy(ok)))


#: training settings per backend: torch runs the potential one particle at a time
TRAIN = {
    "numpyro": dict(num_steps=300, batch_size=64, num_samples=1000),
    "pyro": dict(num_steps=80, batch_size=16, num_samples=400),
}


@pytest.mark.parametrize("method", ["realnvp", "snf"])
def test_log_z_of_a_gaussian_within_monte_carlo_error(backend, float64, method):
    stochastic = {"mc_steps": 3, "step_size": 0.3} if method == "snf" else {}
    post = ppl.infer(
        gaussian,
        method,
        backend=backend.name,
        seed=0,
        progress=False,
        num_blocks=2,
        hidden=(16,),
        lr=0.01,
        **stochastic,
        **TRAIN[backend.name],
    )
    losses = post.sample_stats["loss"][0]
    assert losses[-10:].mean() < losses[:10].mean()
    assert post.log_z.stderr < 0.1, post.log_z
    assert abs(post.log_z.estimate - GAUSSIAN_LOG_Z) < 4 * post.log_z.stderr, post.log_z
    assert post.diagnostics["ess"] > 0.2 * TRAIN[backend.name]["num_samples"]
    assert post.diagnostics["log_weights"].shape == (TRAIN[backend.name]["num_samples"],)


def test_likelihood_training_on_data_moves_the_flow_to_the_data():
    """``ml_steps`` steps of maximum likelihood alone on draws of the Gaussian target: the
    flow's draws get the data's mean (from the identity start, 1.1 off) within 0.15: the
    Monte-Carlo sd of the mean of 1000 draws of sd <= 1 is 0.03, the rest is the fit."""
    cov = np.linalg.inv(PRECISION)
    data = np.random.default_rng(0).multivariate_normal(MEAN, cov, size=2000)
    post = ppl.infer(
        gaussian,
        "realnvp",
        backend="numpyro",
        seed=0,
        progress=False,
        num_blocks=1,
        hidden=(16,),
        lr=0.02,
        num_steps=200,
        batch_size=64,
        data=data,
        ml_steps=200,
    )
    assert np.isnan(post.sample_stats["log_z"][0]).all()  # no forward paths in the ML phase
    np.testing.assert_allclose(post.samples["x"][0].mean(axis=0), MEAN, atol=0.15)


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [realnvp, snf], ids=["realnvp", "snf"])
def test_a_non_finite_log_determinant_halts_and_names_the_layer(backend, module):
    """A NaN weight in coupling layer 1's network makes that layer's log-determinant NaN: the
    step is halted (parameters unchanged) and ``check_info`` names the layer and the step."""
    problem = backend.problem(gaussian)
    extra = {"mc_steps": 2} if module is snf else {}
    options = module.Options(num_blocks=2, hidden=(4,), batch_size=8, **extra)
    algorithm = module.build(problem, options)
    state = algorithm.init(backend.key(0))
    layer = state.params["couplings"][1]
    layer[0]["w"] = layer[0]["w"] * float("nan")
    before = backend.to_numpy(state.params["couplings"][0][0]["w"])  # a copy (torch: in place)
    new_state, info = algorithm.step(state, backend.key(1))
    assert int(info.bad_layer) == 2  # after the base layer and coupling layer 0
    after = backend.to_numpy(new_state.params["couplings"][0][0]["w"])
    np.testing.assert_array_equal(after, before)
    info_np = {"bad_layer": np.array([-1, -1, int(info.bad_layer)])}
    with pytest.raises(DivergenceError, match=r"coupling layer 1 \(RealNVP block 0\).* step 12"):
        algorithm.check_info(info_np, 10, module.__name__)


def test_data_of_the_wrong_dimension_names_the_shapes(backend):
    with pytest.raises(ShapeError, match=r"data= has 3 columns .* dimension 2 \(sites 'x'"):
        ppl.infer(
            gaussian,
            "snf",
            backend=backend.name,
            progress=False,
            data=np.zeros((10, 3)),
            ml_steps=2,
            num_steps=2,
        )


@pytest.mark.parametrize(
    "options,match",
    [
        ({"kernel": "mhh"}, "Did you mean 'mh'"),
        ({"activation": "rellu"}, "Did you mean 'relu'"),
        ({"ml_steps": 5}, "data= is not given"),
        ({"data": np.array([[0.0, np.nan]])}, "1 NaN or inf"),
        ({"mc_steps": 0}, "mc_steps must be at least 1"),
        ({"step_size": 0.0}, "step_size must be a positive number or None"),
        ({"step_size": float("inf")}, "step_size must be a positive number or None"),
        ({"step_size": "0.1"}, "step_size must be a positive number or None"),
    ],
)
def test_bad_options_name_the_cause(options, match):
    with pytest.raises(OptionError, match=match):
        ppl.infer(gaussian, "snf", progress=False, **options)


def test_stochastic_blocks_relax_from_prior_to_target():
    flow = Flow(ppl.get_backend("numpyro").problem(gaussian), snf.Options(num_blocks=3), True)
    assert flow.lambdas == [0.0, 0.5, 1.0]
    assert flow.layer_names[0] == "base affine layer" and len(flow.layer_names) == 7


@pytest.mark.parametrize(
    "options,start,learned",
    [
        ({}, 0.05, True),  # the default: learned steps, from the adaptive-MC notebook's 0.05
        ({"learn_step_size": False}, 0.25, False),  # the paper's fixed steps
        ({"step_size": 0.4}, 0.4, True),
        ({"step_size": 0.4, "learn_step_size": False}, 0.4, False),
    ],
)
def test_step_sizes_are_learned_by_default_and_fixed_on_request(options, start, learned):
    """Issue 24 item 10: learned step sizes are the default (they are trained parameters, so
    one optimiser step moves them); ``learn_step_size=False`` keeps them fixed, at the paper's
    0.25 unless ``step_size`` is given."""
    backend = ppl.get_backend("numpyro")
    algorithm = snf.build(
        backend.problem(gaussian),
        snf.Options(num_blocks=2, hidden=(4,), batch_size=8, mc_steps=2, **options),
    )
    state = algorithm.init(backend.key(0))
    where = state.params if learned else state.fixed
    assert "log_step" in where and "log_step" not in (state.fixed if learned else state.params)
    np.testing.assert_allclose(np.exp(backend.to_numpy(where["log_step"])), start, rtol=1e-6)
    new_state, _ = algorithm.step(state, backend.key(1))
    moved = {**new_state.fixed, **new_state.params}["log_step"]
    assert (not np.allclose(backend.to_numpy(moved), np.log(start))) == learned
