"""Native networks in ``ppl.module`` on their own backend: a ``flax.linen`` or ``equinox``
module on NumPyro fitted by ``svi`` like a ``ppl.nn`` network, its parameters in
``Posterior.params``; and the refusals of a network on the wrong backend or without the shape
it needs."""

import equinox as eqx
import flax.linen as fnn
import jax
import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import ModelError

X = np.linspace(-1.0, 1.0, 50).astype(np.float32)
Y = (2.0 * X + 1.0).astype(np.float32)


def flax_line(x):
    line = ppl.module("line", fnn.Dense(1), input_shape=(1, 1))
    return line(x[..., None])[..., 0]


def equinox_line(x):
    line = ppl.module("line", eqx.nn.Linear(1, 1, key=jax.random.PRNGKey(0)))
    return jax.vmap(line)(x[..., None])[..., 0]


def mlp_line(x):
    return ppl.module("line", ppl.nn.MLP([1, 1]))(x[..., None])[..., 0]


LINES = {
    "flax": (flax_line, ("line.kernel", "line.bias")),
    "equinox": (equinox_line, ("line.weight", "line.bias")),
    "ppl.nn": (mlp_line, ("line.0.w", "line.0.b")),
}


@pytest.mark.parametrize("kind", list(LINES))
def test_a_native_network_is_fitted_on_numpyro_like_ppl_nn(kind):
    """y = 2 x + 1 exactly, with noise sd 0.1 in the likelihood: the fitted line's weight and
    bias are the optimum (2, 1), where every minibatch's gradient vanishes (no minibatch noise
    there). Tolerance 0.01: on seed 0 the three networks' 300-step fits all landed within
    1e-5 of it; a network whose parameters were not fitted stays at its random start."""
    line, (weight, bias) = LINES[kind]

    def model(x, y):
        mean = line(x)
        with ppl.plate("data", x.shape[0]) as idx:
            ppl.sample("y", dist.Normal(mean[idx], 0.1), obs=y[idx])
        ppl.sample("s", dist.Normal(0.0, 1.0))  # one latent site: svi needs one

    def guide(x, y):
        ppl.sample("s", dist.Normal(ppl.param("m", 0.0), 1.0))

    post = ppl.infer(
        model,
        "svi",
        args=(X, Y),
        guide=guide,
        batch_size=10,
        num_steps=300,
        lr=0.05,
        lr_decay=1.0,
        tol=0,
        backend="numpyro",
        progress=False,
    )
    assert float(np.ravel(post.params[weight])[0]) == pytest.approx(2.0, abs=0.01)
    assert float(np.ravel(post.params[bias])[0]) == pytest.approx(1.0, abs=0.01)


class FlaxEncoder(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        hidden = fnn.tanh(fnn.Dense(8)(x))
        return fnn.Dense(4)(hidden)


def test_a_vae_with_flax_and_equinox_networks():
    """A VAE-shaped model whose decoder is an equinox MLP and whose encoder a flax module:
    svi with local latents fits both, and ``post.params`` holds every leaf of both."""
    decoder = eqx.nn.MLP(2, 3, 8, 1, key=jax.random.PRNGKey(1))
    x = np.random.default_rng(0).normal(size=(24, 3)).astype(np.float32)

    def model(x):
        net = ppl.module("decoder", decoder)
        with ppl.plate("data", x.shape[0]) as idx:
            z = ppl.sample("z", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
            ppl.sample("x", dist.Normal(jax.vmap(net)(z), 1.0).to_event(1), obs=x[idx])

    def guide(x):
        encoder = ppl.module("encoder", FlaxEncoder(), input_shape=(1, 3))
        with ppl.plate("data", x.shape[0]) as idx:
            h = encoder(x[idx])
            ppl.sample("z", dist.Normal(h[..., :2], ppl.ops.exp(h[..., 2:])).to_event(1))

    post = ppl.infer(
        model,
        "svi",
        args=(x,),
        guide=guide,
        batch_size=8,
        num_steps=60,
        lr=0.02,
        tol=0,
        backend="numpyro",
        progress=False,
    )
    shapes = {k: np.shape(v) for k, v in post.params.items()}
    assert shapes["encoder.Dense_0.kernel"] == (3, 8)
    assert shapes["encoder.Dense_1.kernel"] == (8, 4)
    assert shapes["decoder.layers.0.weight"] == (8, 2)
    assert shapes["decoder.layers.1.bias"] == (3,)
    losses = post.sample_stats["loss"][0]
    assert np.isfinite(losses).all() and losses[-10:].mean() < losses[:10].mean()


def _trace(backend, fn):
    with ppl.backend(backend):
        return ppl.handlers.trace(ppl.handlers.seed(fn, rng_seed=0)).get_trace()


@pytest.mark.parametrize(
    "network",
    [fnn.Dense(1), eqx.nn.Linear(1, 1, key=jax.random.PRNGKey(0))],
    ids=["flax", "equinox"],
)
def test_pyro_refuses_a_jax_network(network):
    with pytest.raises(ModelError, match=r"ppl.module\('net'.*numpyro backend only.*ppl.nn"):
        _trace("pyro", lambda: ppl.module("net", network))


def test_numpyro_refuses_a_torch_module():
    torch = pytest.importorskip("torch")
    with pytest.raises(ModelError, match=r"ppl.module\('net'.*torch.*pyro backend only"):
        _trace("numpyro", lambda: ppl.module("net", torch.nn.Linear(1, 1)))


def test_a_flax_module_needs_its_input_shape():
    with pytest.raises(ModelError, match=r"ppl.module\('net', Dense.*input_shape="):
        _trace("numpyro", lambda: ppl.module("net", fnn.Dense(1)))


def test_input_shape_is_for_flax_only():
    with pytest.raises(ModelError, match=r"ppl.module\('net'.*input_shape.*flax.linen"):
        _trace("numpyro", lambda: ppl.module("net", ppl.nn.MLP([1, 1]), input_shape=(1, 1)))


def test_a_flax_module_with_batch_stats_is_refused():
    class Normed(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            return fnn.BatchNorm(use_running_average=False)(x)

    with pytest.raises(ModelError, match=r"ppl.module\('net'.*batch_stats"):
        _trace("numpyro", lambda: ppl.module("net", Normed(), input_shape=(2, 3)))


def test_a_flax_module_registered_twice_with_another_shape():
    def model():
        ppl.module("net", fnn.Dense(2), input_shape=(1, 3))
        ppl.module("net", fnn.Dense(5), input_shape=(1, 3))

    with pytest.raises(ModelError, match=r"Module 'net'.*own name"):
        _trace("numpyro", model)


def test_a_flax_module_draws_its_apply_rng_streams_from_the_seed():
    """``apply_rng=["dropout"]``: each call draws a fresh dropout key from the enclosing seed,
    so two calls on the same input drop different units (24 units at rate 1/2: the chance that
    two independent masks agree is 2**-24)."""

    class Dropped(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            return fnn.Dropout(0.5, deterministic=False)(fnn.Dense(4)(x))

    def model():
        net = ppl.module("net", Dropped(), input_shape=(1, 3), apply_rng=["dropout"])
        x = ppl.ops.ones((6, 3))
        return net(x), net(x)

    with ppl.backend("numpyro"):
        first, second = ppl.handlers.seed(model, rng_seed=0)()
    first, second = np.asarray(first), np.asarray(second)
    assert (first == 0).any() and (first != second).any()
