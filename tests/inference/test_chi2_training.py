"""``chi2`` with local latents and model parameters: the guide minimizes the CUBO and the model
maximizes the IWAE bound of the same draws (``ppl.core.local_vi.chi2_model_loss``). Checked
exactly on a tiny model: each set of parameters gets its own objective's gradient only."""

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.inference import svi

X4 = np.array([-1.0, 0.5, 2.0, 3.5])
T0 = 0.3  # the model parameter's start


def model(x, batch=None, t=None):
    """z_i ~ N(t, 1), x_i ~ N(z_i, 1), with the prior mean ``t`` a model parameter (or, given,
    a constant: the model held fixed)."""
    t = ppl.param("t", T0) if t is None else t
    with ppl.plate("data", x.shape[0], subsample_size=batch) as idx:
        z = ppl.sample("z", dist.Normal(t, 1.0))
        ppl.sample("x", dist.Normal(z, 1.0), obs=x[idx])


def guide(x, batch=None, t=None):
    """q(z_i | x_i) = N(a x_i + b, s), away from the posterior N((x_i + t) / 2, 1 / 2)."""
    a, b = ppl.param("a", 0.2), ppl.param("b", -0.4)
    s = ppl.param("s", 1.3, constraint=dist.constraints.positive)
    with ppl.plate("data", x.shape[0], subsample_size=batch) as idx:
        ppl.sample("z", dist.Normal(a * x[idx] + b, s))


def _grads(backend, objective, fixed_model=False):
    """``{param: gradient}`` of ``objective``'s loss at the start, on the minibatch and draws
    of key 3 (the same for every objective: the keys fix the subsample and the draws)."""
    kwargs = {"t": T0} if fixed_model else {}
    problem = backend.problem(model, (X4, 2), kwargs, local_latents=True)
    options = svi.Options(guide=guide, objective=objective, num_particles=3, tol=0)
    plan = svi._Plan(problem, options)
    state = svi._init(problem, options, plan, backend.key(0))
    _, grads = plan.runner.loss_and_grads(state.runner, backend.key(3))
    return {n: float(np.asarray(backend.to_numpy(g))) for n, g in grads.items()}


def test_chi2_gives_the_guide_the_cubo_gradient_and_the_model_the_iwae_one(backend):
    """With the guide held fixed the IWAE gradient in ``t`` is a weighted mean of
    ``grad_t log p(x, z_k)`` over the fixed draws; with the model held fixed (``t`` a
    constant) ``chi2`` is the guide's CUBO alone. The trained-model ``chi2`` must give ``t``
    the first and ``a, b, s`` the second, to rounding: without the stop-gradients ``t`` would
    also get the CUBO's gradient (of the opposite sign) and the guide the IWAE's."""
    both = _grads(backend, "chi2")
    model_only = _grads(backend, "iwae")  # its guide gradient is the IWAE's, not used
    guide_only = _grads(backend, "chi2", fixed_model=True)
    assert set(both) == {"a", "b", "s", "t"} and set(guide_only) == {"a", "b", "s"}
    assert both["t"] == pytest.approx(model_only["t"], rel=1e-5)
    for name in ("a", "b", "s"):
        assert both[name] == pytest.approx(guide_only[name], rel=1e-5, abs=1e-7), name
    # not vacuous: the two objectives' guide gradients differ here, and t's is not zero
    assert abs(both["t"]) > 0.1
    assert max(abs(guide_only[n] - model_only[n]) for n in ("a", "b", "s")) > 0.1
