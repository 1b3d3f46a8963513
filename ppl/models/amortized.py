"""Amortized models: one local latent per data point or group, fitted by ``svi`` with an
encoder (``ppl.module``) and minibatches (``batch_size``).

``vae_digits``: a variational autoencoder (Kingma and Welling 2014) of scikit-learn's 8x8
digits (1,797 images from the UCI optical-recognition data, CC BY 4.0; shipped in
``data/digits.npz``, so scikit-learn is not needed), binarized at half intensity (pixel >= 8 of
16), with a Bernoulli likelihood per pixel, a ``latent_dim``-dimensional standard normal code,
and one-hidden-layer MLP decoder and encoder. ``amortized_regression``: a hierarchical linear
regression, ``alpha_g ~ Normal(mu, tau)``, ``y_gj ~ Normal(alpha_g + beta x_gj, sigma)``, with
the population parameters as ``ppl.param`` (empirical Bayes) and one local latent ``alpha_g``
per group, its guide an encoder of the group's data. Each spec has its guide
(``spec.guide``) and a held-out split (``spec.test_args``).

>>> import ppl
>>> spec = ppl.models.get("vae_digits")
>>> spec.args[0].shape, spec.test_args[0].shape, spec.local_latents
((1437, 64), (360, 64), True)
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

import ppl
from ppl import dist, ops

from .spec import ModelSpec

__all__ = [
    "LATENT_DIM",
    "HIDDEN",
    "amortized_regression",
    "digits",
    "regression_guide",
    "vae_guide",
    "vae_model",
]

#: the VAE's code size and hidden width (encoder and decoder)
LATENT_DIM, HIDDEN = 8, 128
#: images held out for the test split (the last 360 of a fixed permutation, seed 0)
TEST_IMAGES = 360


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)``: binarized digit images as float arrays ``(n, 64)`` of 0 and 1."""
    with resources.files("ppl.models").joinpath("data/digits.npz").open("rb") as f:
        images = np.load(f)["images"]
    binary = (images >= 8).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(binary))
    return binary[order[:-TEST_IMAGES]], binary[order[-TEST_IMAGES:]]


def vae_model(x, latent_dim: int = LATENT_DIM, hidden: int = HIDDEN):
    """``z_i ~ Normal(0, I)``, ``x_i ~ Bernoulli(logits=decoder(z_i))`` per pixel."""
    decoder = ppl.module("decoder", ppl.nn.MLP([latent_dim, hidden, x.shape[-1]]))
    with ppl.plate("data", x.shape[0]) as idx:
        z = ppl.sample("z", dist.Normal(0.0, 1.0).expand([latent_dim]).to_event(1))
        ppl.sample("x", dist.Bernoulli(logits=decoder(z)).to_event(1), obs=x[idx])


def vae_guide(x, latent_dim: int = LATENT_DIM, hidden: int = HIDDEN):
    """``q(z_i | x_i) = Normal(loc, scale)`` with ``(loc, scale)`` from an MLP encoder."""
    encoder = ppl.module("encoder", ppl.nn.MLP([x.shape[-1], hidden, 2 * latent_dim]))
    with ppl.plate("data", x.shape[0]) as idx:
        h = encoder(x[idx])
        loc, scale = h[..., :latent_dim], ops.softplus(h[..., latent_dim:]) + 1e-3
        ppl.sample("z", dist.Normal(loc, scale).to_event(1))


def vae_spec() -> ModelSpec:
    train, test = digits()
    return ModelSpec(
        name="vae_digits",
        model=vae_model,
        family="amortized",
        description="Variational autoencoder of the 8x8 digits (binarized), MLP encoder/decoder",
        args=(train,),
        guide=vae_guide,
        local_latents=True,
        test_args=(test,),
    )


#: groups, observations per group and held-out groups of ``amortized_regression``'s data
GROUPS, PER_GROUP, TEST_GROUPS = 200, 10, 40
#: the population values the data are drawn with
TRUTH = {"mu": 1.0, "tau": 0.8, "beta": 0.5, "sigma": 0.6}


@functools.cache
def regression_data():
    """``((x, y) train, (x, y) test)``: ``(groups, PER_GROUP)`` arrays drawn with seed 0."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(GROUPS, PER_GROUP))
    alpha = TRUTH["mu"] + TRUTH["tau"] * rng.normal(size=(GROUPS, 1))
    y = alpha + TRUTH["beta"] * x + TRUTH["sigma"] * rng.normal(size=x.shape)
    split = GROUPS - TEST_GROUPS
    return (x[:split], y[:split]), (x[split:], y[split:])


def amortized_regression(x, y):
    """``alpha_g ~ Normal(mu, tau)``, ``y_gj ~ Normal(alpha_g + beta x_gj, sigma)``."""
    mu, beta = ppl.param("mu", 0.0), ppl.param("beta", 0.0)
    tau = ppl.param("tau", 1.0, constraint=dist.constraints.positive)
    sigma = ppl.param("sigma", 1.0, constraint=dist.constraints.positive)
    with ppl.plate("groups", x.shape[0]) as idx:
        alpha = ppl.sample("alpha", dist.Normal(mu, tau))
        mean = alpha[..., None] + beta * x[idx]
        ppl.sample("y", dist.Normal(mean, sigma).to_event(1), obs=y[idx])


def regression_guide(x, y):
    """``q(alpha_g | x_g, y_g)``: an MLP encoder of the group's ``(x, y)`` pairs."""
    encoder = ppl.module("encoder", ppl.nn.MLP([2 * x.shape[-1], 32, 2]))
    with ppl.plate("groups", x.shape[0]) as idx:
        h = encoder(ops.concat([x[idx], y[idx]], axis=-1))
        ppl.sample("alpha", dist.Normal(h[..., 0], ops.softplus(h[..., 1]) + 1e-3))


def regression_spec() -> ModelSpec:
    train, test = regression_data()
    return ModelSpec(
        name="amortized_regression",
        model=amortized_regression,
        family="amortized",
        description="Hierarchical regression with one local latent per group and an encoder",
        args=train,
        guide=regression_guide,
        local_latents=True,
        test_args=test,
    )
