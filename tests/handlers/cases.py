"""A small table of models for the handler laws, written once in ppl primitives."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import ppl
from ppl import dist, ops


def normal_normal(y=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    with ppl.plate("data", 3):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def hierarchical():
    tau = ppl.sample("tau", dist.HalfNormal(1.0))
    with ppl.plate("groups", 2):
        ppl.sample("theta", dist.Normal(0.0, tau))


def chain():
    x = ppl.sample("x", dist.Normal(0.0, 1.0))
    y = ppl.sample("y", dist.Normal(x, 0.5))
    ppl.deterministic("z", 2.0 * y)
    p = ppl.sample("p", dist.Dirichlet(ops.ones(3)))
    ppl.sample("k", dist.Categorical(probs=p), obs=ops.asarray(1))


def nested_plates():
    with ppl.plate("outer", 2, dim=-2):
        scale = ppl.sample("s", dist.Gamma(2.0, 2.0))
        with ppl.plate("inner", 3, dim=-1):
            ppl.sample("w", dist.Normal(0.0, scale))


@dataclass(frozen=True)
class Case:
    """A model, its keyword arguments (numpy), and values for every latent sample site."""

    fn: object
    latents: dict
    kwargs: dict = field(default_factory=dict)
    observed: tuple = ()

    def __repr__(self) -> str:
        return self.fn.__name__

    def args(self) -> dict:
        return {k: ops.asarray(v) for k, v in self.kwargs.items()}


CASES = [
    Case(normal_normal, {"mu": np.array(0.3)}, {"y": np.array([0.5, -0.2, 1.1])}, ("y",)),
    Case(hierarchical, {"tau": np.array(0.8), "theta": np.array([0.4, -1.2])}),
    Case(
        chain,
        {"x": np.array(0.2), "y": np.array(-0.4), "p": np.array([0.2, 0.5, 0.3])},
        observed=("k",),
    ),
    Case(nested_plates, {"s": np.array([[0.7], [1.3]]), "w": np.linspace(-1, 1, 6).reshape(2, 3)}),
]
