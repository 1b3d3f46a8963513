"""SG-MCMC at the scale it exists for (issue 25): ``step_size="auto"`` on a model above
``AUTO_MAX_DIM`` dimensions whitens with a diagonal Laplace factor instead of refusing, and at
batches of 2% of the data it is accurate (the MAP point's control variate)."""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl.inference.sgmcmc.base import AUTO_MAX_DIM
from ppl.models.bnn import bnn_data, bnn_regression

#: 2 x 520 + 520 + 520 + 1 weights and sigma: 2,082 dimensions, above AUTO_MAX_DIM
WIDTH = 520


def _fitted(samples, X):
    """The posterior mean of the network's output at ``X`` over every draw."""
    w1, b1 = samples["w1"].reshape(-1, *samples["w1"].shape[2:]), samples["b1"].reshape(-1, WIDTH)
    w2, b2 = samples["w2"].reshape(-1, WIDTH), samples["b2"].reshape(-1)
    hidden = np.tanh(np.einsum("nd,sdw->snw", X, w1) + b1[:, None, :])
    return (np.einsum("snw,sw->sn", hidden, w2) + b2[:, None]).mean(0)


@pytest.mark.slow  # ~25 s of CPU per backend (MAP search, diagonal curvature of 2,082 dims)
def test_bnn_above_the_dense_limit_runs_with_defaults(backend):
    # today's main refused it with OptionError ("beyond 2000 dimensions"); now the frame is
    # diagonal. The fit is checked, not only the run. The prior-mean predictor's RMSE is
    # sd(y) ~ 0.79 (the noise sd is 0.1, but one L-BFGS search from a uniform draw ends in a
    # local mode with sigma ~ 0.6, and SGLD stays near it: measured RMSE 0.45-0.49 and mean
    # sigma 0.63 on NumPyro, 0.56 before the step was scaled by the stiffest direction); a
    # chain that wanders off (steps too large for the diagonal frame) fits worse than the
    # prior mean and a diverging one raises
    X, y, _ = bnn_data(N=100)
    post = ppl.infer(
        bnn_regression, "sgld", args=(X,), kwargs={"y": y, "width": WIDTH}, backend=backend.name,
        batch_size=20, num_warmup=200, num_samples=100, seed=0, progress=False,
    )  # fmt: skip
    dim = sum(np.prod(v.shape[2:], dtype=int) for v in post.samples.values())
    assert dim > AUTO_MAX_DIM
    assert "diagonal" in post.diagnostics["warm_start"], post.diagnostics["warm_start"]
    rmse = np.sqrt(np.mean((_fitted(post.samples, X) - y) ** 2))
    assert rmse < 0.75 * y.std(), (rmse, y.std())
    assert post.samples["sigma"].mean() < y.std()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,backend_name",
    [
        ("kidiq-kidscore_momiq", "numpyro"),
        ("nes2000-nes", "numpyro"),
        ("earnings-logearn_height", "numpyro"),
        ("nes2000-nes", "pyro"),
    ],
)
def test_sgld_defaults_are_accurate_at_two_percent_batches(name, backend_name):
    # issue 25: at 4% batches the plain minibatch gradient's noise cut the auto step to ~0.01
    # and 4,000 draws had an ESS of 3-9 (mixing, not bias: 10x the steps brought the means from
    # 0.34-0.51 to 0.12-0.20 sd); the MAP point's control variate gives the step cap back.
    # 10,000 draws: ESS ~180 per parameter, so a mean's Monte Carlo error is ~0.075 sd and the
    # bar of 0.25 sd is 3.3 of them (~1% for the largest of 10 parameters); an sd's is ~5%
    # against the bar of 35%. References: posteriordb's gold-standard draws
    spec = ppl.models.get(name)
    batch = max(1, round(0.02 * spec.args[0].shape[0]))
    post = ppl.infer(
        spec.model, "sgld", args=spec.args, kwargs=spec.kwargs, backend=backend_name,
        batch_size=batch, num_samples=10_000, seed=0, progress=False,
    )  # fmt: skip
    errors = spec.compare(post.samples)
    assert max(e["mean_err"] for e in errors.values()) < 0.25, errors
    assert max(abs(e["sd_err"]) for e in errors.values()) < 0.35, errors


@pytest.mark.slow  # ~20 s: 5 interleaved repeats of 300 steps each way, N = 100,000
def test_pyro_default_sgld_is_close_to_a_hand_written_torch_loop():
    # issue 25's headline (benchmarks/sgmcmc_speed.py --headline): default options, the same
    # randint minibatch draw; measured 1.22-1.23x under heavy load (3.2-3.4x before the fused
    # value-and-gradient graph). The bound is generous so that a loaded machine does not fail
    # it, but the old path (recorded potential plus autograd) does not pass it.
    import statistics

    from benchmarks import sgmcmc_speed as bench

    x, y = bench.data()
    steps = 300
    hand = bench.torch_runners(x, y, steps)["hand-written SGLD loop"]
    ours = lambda: bench.time_ppl("sgld", "pyro", x, y, steps, 1)[0]  # noqa: E731
    ours()  # its build, outside the timings
    ratios = []
    for _ in range(5):
        base = bench._median_run(hand, 1) / steps
        ratios.append(ours() / base)
    assert statistics.median(ratios) < 2.0, ratios
