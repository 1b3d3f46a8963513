"""Amortized inference: ``ppl.module`` networks on both backends, local latents under
minibatches in ``svi`` (the N / B scaling of the gradient, checked exactly), and the errors
for modules, encoders and batch sizes that do not fit."""

import itertools

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import ModelError, OptionError, ShapeError
from ppl.inference import svi

X4 = np.array([-1.0, 0.5, 2.0, 3.5])


def local_model(x, batch=None):
    """z_i ~ N(0, 1), x_i ~ N(z_i, 1): a conjugate model with one local latent per point."""
    with ppl.plate("data", x.shape[0], subsample_size=batch) as idx:
        z = ppl.sample("z", dist.Normal(0.0, 1.0))
        ppl.sample("x", dist.Normal(z, 1.0), obs=x[idx])


def delta_guide(x, batch=None):
    """An amortized point-mass guide z_i = a x_i + b: its ELBO has no Monte Carlo noise, so a
    minibatch gradient is a deterministic function of the minibatch."""
    a, b = ppl.param("a", 0.3), ppl.param("b", -0.2)
    with ppl.plate("data", x.shape[0], subsample_size=batch) as idx:
        ppl.sample("z", dist.Delta(a * x[idx] + b))


def _grads(backend, batch, num_keys):
    """``[{param: gradient}]`` of the minibatch ELBO at the guide's initial point for
    ``num_keys`` keys (each key draws a minibatch)."""
    problem = backend.problem(local_model, (X4, batch), local_latents=True)
    options = svi.Options(guide=delta_guide, objective="elbo", tol=0, lr_decay=1.0)
    plan = svi._Plan(problem, options)
    state = svi._init(problem, options, plan, backend.key(0))
    loss_and_grads = backend.jit(plan.runner.loss_and_grads)
    out = []
    for k in range(num_keys):
        _, grads = loss_and_grads(state.runner, backend.key(k))
        out.append({n: float(np.asarray(backend.to_numpy(g))) for n, g in grads.items()})
    return out


def test_minibatch_gradient_is_unbiased_exactly(backend):
    """Each of the C(4, 2) = 6 minibatches of 2 is drawn with the same probability (without
    replacement, by both backends' plates), so the mean of the six distinct minibatch gradients
    is their expectation: it must equal the full-batch gradient, to rounding. Without the N / B
    scale it would be half of it."""
    full = _grads(backend, None, 1)[0]
    draws = _grads(backend, 2, 80)  # 80 keys miss one of 6 subsets with probability < 1e-5
    distinct = {tuple(round(g[n], 5) for n in sorted(full)): g for g in draws}
    assert len(distinct) == len(list(itertools.combinations(range(4), 2)))
    for name in full:
        mean = np.mean([g[name] for g in distinct.values()])
        assert mean == pytest.approx(full[name], rel=1e-5, abs=1e-6), name
    assert abs(full["a"]) > 0.1  # the check is not vacuous at this point


def vae_like(x):
    decoder = ppl.module("decoder", ppl.nn.MLP([2, 8, 3]))
    with ppl.plate("data", x.shape[0]) as idx:
        z = ppl.sample("z", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
        ppl.sample("x", dist.Normal(decoder(z), 1.0).to_event(1), obs=x[idx])


def encoder_guide(out):
    def guide(x):
        encoder = ppl.module("encoder", ppl.nn.MLP([3, 8, out]))
        with ppl.plate("data", x.shape[0]) as idx:
            h = encoder(x[idx])
            d = out // 2
            ppl.sample("z", dist.Normal(h[..., :d], ppl.ops.exp(h[..., d:])).to_event(1))

    return guide


X3 = np.random.default_rng(0).normal(size=(24, 3))


def test_module_parameters_are_fitted_and_returned(backend):
    post = ppl.infer(
        vae_like,
        "svi",
        args=(X3,),
        guide=encoder_guide(4),
        batch_size=8,
        num_steps=40,
        lr=0.02,
        tol=0,
        backend=backend.name,
        progress=False,
    )
    assert post.samples == {}  # no global latent site
    assert post.params["decoder.0.w"].shape == (2, 8)
    assert post.params["encoder.1.w"].shape == (8, 4)
    losses = post.sample_stats["loss"][0]
    assert np.isfinite(losses).all() and losses[-10:].mean() < losses[:10].mean()


def test_encoder_output_of_the_wrong_shape_is_named(backend):
    with pytest.raises(ShapeError, match=r"site 'z'.*local latent in plate 'data'.*encoder"):
        ppl.infer(
            vae_like,
            "svi",
            args=(X3,),
            guide=encoder_guide(2),  # a one-dimensional code for a two-dimensional z
            batch_size=8,
            num_steps=2,
            backend=backend.name,
            progress=False,
        )


def test_module_registered_twice_with_another_shape(backend):
    def model(x):
        ppl.module("net", ppl.nn.MLP([3, 4, 1]))(x)
        ppl.module("net", ppl.nn.MLP([3, 5, 1]))(x)

    with ppl.backend(backend.name), pytest.raises(ModelError, match=r"Module 'net'.*own name"):
        ppl.handlers.trace(ppl.handlers.seed(model, rng_seed=0)).get_trace(ppl.ops.ones((2, 3)))


def test_local_latent_needs_a_guide_function(backend):
    with pytest.raises(OptionError, match=r"site 'z'.*plate 'data'.*guide function"):
        ppl.infer(local_model, "svi", args=(X4, 2), backend=backend.name, progress=False)


def test_batch_size_larger_than_the_plate(backend):
    with pytest.raises(OptionError, match=r"batch_size=10 subsamples nothing"):
        ppl.infer(
            vae_like,
            "svi",
            args=(X3[:6],),
            guide=encoder_guide(4),
            batch_size=10,
            backend=backend.name,
            progress=False,
        )
    with pytest.raises(OptionError, match=r"batch_size 10 for the plate 'data' is larger"):
        ppl.infer(
            vae_like,
            "svi",
            args=(X3[:6],),
            guide=encoder_guide(4),
            batch_size={"data": 10},
            backend=backend.name,
            progress=False,
        )


def test_samplers_name_the_local_latent(backend):
    with pytest.raises(ModelError, match=r"site 'z' lies inside the subsampled plate 'data'"):
        ppl.infer(local_model, "nuts", args=(X4, 2), backend=backend.name, progress=False)


def scale_guide(x, batch=None):
    """q(z_i | x_i) = N(a x_i + b, s): the family holds the exact posterior N(x_i / 2, 1 / 2)."""
    a, b = ppl.param("a", 0.0), ppl.param("b", 0.0)
    s = ppl.param("s", 1.0, constraint=dist.constraints.positive)
    with ppl.plate("data", x.shape[0], subsample_size=batch) as idx:
        ppl.sample("z", dist.Normal(a * x[idx] + b, s))


X40 = np.linspace(-2.0, 2.0, 40)


@pytest.mark.slow  # ~50 s for the four fits
@pytest.mark.parametrize("objective", ["iwae", "chi2"])
def test_per_data_point_objectives_find_the_exact_posterior(backend, objective):
    """Every objective is optimal at the exact posterior, which the guide family holds: a = 1/2,
    b = 0, s = sqrt(1/2). Tolerance 0.1: 1,500-step fits of elbo, iwae, renyi and chi2 on both
    backends (seed 0) all landed within 0.05 of these values; 800 steps add Adam's noise."""
    post = ppl.infer(
        local_model,
        "svi",
        args=(X40,),
        guide=scale_guide,
        objective=objective,
        num_particles=4,
        batch_size=10,
        num_steps=800,
        lr=0.05,
        tol=0,
        backend=backend.name,
        progress=False,
    )
    fitted = {k: float(v) for k, v in post.params.items()}
    assert fitted["a"] == pytest.approx(0.5, abs=0.1)
    assert fitted["b"] == pytest.approx(0.0, abs=0.1)
    assert fitted["s"] == pytest.approx(0.5**0.5, abs=0.1)


def test_a_torch_module_is_fitted_on_pyro():
    """A native network on its own backend: ``torch.nn.Module`` through ``pyro.module``."""
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(1, 1)

    def model(x, y):
        layer = ppl.module("line", net)
        with ppl.plate("data", x.shape[0]) as idx:
            mean = layer(x[idx][..., None])[..., 0]
            ppl.sample("y", dist.Normal(mean, 0.1), obs=y[idx])
        ppl.sample("s", dist.Normal(0.0, 1.0))  # one latent site: svi needs one

    def guide(x, y):
        ppl.sample("s", dist.Normal(ppl.param("m", 0.0), 1.0))

    x = np.linspace(-1.0, 1.0, 50).astype(np.float32)
    y = (2.0 * x + 1.0).astype(np.float32)
    post = ppl.infer(
        model,
        "svi",
        args=(x, y),
        guide=guide,
        batch_size=10,
        num_steps=400,
        lr=0.05,
        tol=0,
        backend="pyro",
        progress=False,
    )
    assert float(post.params["line$$$weight"].ravel()[0]) == pytest.approx(2.0, abs=0.1)
    assert float(post.params["line$$$bias"].ravel()[0]) == pytest.approx(1.0, abs=0.1)


def test_numpyro_refuses_a_foreign_network():
    with ppl.backend("numpyro"), pytest.raises(ModelError, match=r"ppl.module\('net'.*ppl.nn"):
        ppl.handlers.trace(lambda: ppl.module("net", object())).get_trace()


def test_batch_size_with_global_latents_only(backend):
    """svi on minibatches of a model with one global site: the backend's own SVI on the
    subsampled model (N / B scaling of the likelihood, no whitening). The exact posterior is
    Normal(mean(y), 1/sqrt(N)) (sd 0.022); tolerance 4 sd for the mean (minibatch noise of Adam
    near its optimum, seen at ~1 sd) and a factor 2 on the sd."""
    y = np.random.default_rng(0).normal(1.0, 1.0, size=2000)

    def model(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        with ppl.plate("data", y.shape[0]) as idx:
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y[idx])

    post = ppl.infer(
        model,
        "svi",
        args=(y,),
        batch_size=50,
        num_steps=1000,
        lr=0.02,
        tol=0,
        backend=backend.name,
        progress=False,
    )
    sd = 1 / np.sqrt(len(y))
    assert post.samples["mu"].mean() == pytest.approx(y.mean(), abs=4 * sd)
    assert 0.5 * sd < post.samples["mu"].std() < 2 * sd
