"""The spike-and-slab prior of Chakraborty, Roy & Tewari (2023), relaxed, and its guide.

The prior
---------
Each coefficient is ``beta_j = z_j * w_j``: a slab value ``w_j ~ Laplace(0, slab_scale)`` gated by
an inclusion indicator ``z_j``, with the inclusion probability ``pi ~ Beta(a, b)`` shared by all
coefficients. The indicator is a *relaxed* Bernoulli (Concrete; Maddison, Mnih & Teh 2017) of
temperature ``temperature``: ``z_j = sigmoid(g_j)`` with the logit
``g_j ~ Logistic(logit(pi) / temperature, 1 / temperature)``, which is exactly
``RelaxedBernoulli(temperature, probs=pi)`` written in its logit. As the temperature falls it
tends to ``Bernoulli(pi)``: a draw has ``z_j`` within ``0.05`` of 0 or 1 with probability at
least ``2 / (1 + exp(2.94 temperature))`` (the least at ``pi = 1/2``; about
``1 - 1.5 temperature``). The model keeps the logit ``g_j`` as its latent site, so every density is
smooth in unconstrained space (no clamped ``logit(sigmoid(.))``) and gradient-based posteriors
(SVI, NUTS, SG-MCMC) all apply; ``beta`` is recorded as a deterministic site.

The guide
---------
``spike_slab_guide`` is the mean-field family of the paper's variational Thompson sampling
(Ray & Szabó 2022), relaxed: ``q(z_j)`` a relaxed Bernoulli of the model's temperature with its
own inclusion logit ``phi_j`` (the variational inclusion probability is ``sigmoid(phi_j)``),
``q(w_j) = Normal(m_j, s_j)``, ``q(pi)`` logit-normal (a Beta's reparameterised sampler made each
compile of the fit several seconds longer). It is chosen over the alternatives
because

- an autoguide that is Gaussian in ``beta`` cannot put mass near both 0 and a signal value, which
  is what a coordinate's posterior does before the data decide;
- the closed-form coordinate updates of the paper exist only for the Gaussian likelihood with the
  exact (non-relaxed) indicator and a Gaussian-approximated slab, and would be a new algorithm
  beside ``svi``; the relaxed guide is an ordinary guide function that ``svi`` fits on either
  backend with reparameterised gradients;
- a Thompson draw from it is what the paper draws: ``z_j`` near-Bernoulli(``sigmoid(phi_j)``)
  times a Gaussian slab value.

``guide_start(warm)`` gives the initial values of the guide's parameters at a previous posterior
(the warm start of ``ThompsonSampling``, passed to ``svi`` as ``init_values``): the mean of the
logit ``g_j`` is ``phi_j / temperature`` and the mean of ``w_j`` is ``m_j``. The guide itself
does not change between posteriors, so each refit reuses its compiled program.

>>> import numpy as np
>>> import ppl
>>> from ppl.decide import spike_slab_parts
>>> parts = spike_slab_parts((3,), temperature=0.2)
>>> x, arms, r = np.ones((4, 2, 3)), np.array([0, 1, 0, 1]), np.zeros(4)
>>> tr = ppl.handlers.trace(ppl.handlers.seed(parts.guide, rng_seed=0)).get_trace(x, arms, r)
>>> [name for name in tr if tr[name].type == "sample"]
['inclusion', 'gate_logit', 'slab']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from .. import dist, ops, primitives
from ..errors import OptionError

__all__ = ["SpikeSlabParts", "spike_slab_parts"]


class SpikeSlabParts(NamedTuple):
    """What ``linear_reward_model`` needs of the prior.

    Attributes
    ----------
    coefficients : callable
        ``coefficients() -> beta``: samples the prior's sites inside a model.
    guide : callable
        ``guide(contexts, arms, rewards=None, valid=None)``, the mean-field relaxed guide, its
        parameters started cold.
    guide_start : callable
        ``guide_start(warm) -> {param: initial value}``: the guide's parameters at a warm start;
        ``warm`` maps latent site names to a previous posterior mean.
    """

    coefficients: Callable
    guide: Callable
    guide_start: Callable


def spike_slab_parts(
    shape: tuple,
    *,
    slab_scale: float = 1.0,
    inclusion_a: float = 1.0,
    inclusion_b: float | None = None,
    temperature: float = 0.2,
    init_inclusion: float = 0.05,
    init_slab_scale: float = 0.5,
) -> SpikeSlabParts:
    """The relaxed spike-and-slab prior over coefficients of ``shape`` and its guide.

    Parameters
    ----------
    shape : tuple of int
        The coefficients' shape.
    slab_scale : float
        Scale of the Laplace slab.
    inclusion_a, inclusion_b : float
        The Beta prior of the inclusion probability; ``inclusion_b`` defaults to the number of
        coefficients (prior mean inclusion about ``1 / d``, the usual sparsity-adaptive choice).
    temperature : float
        Of the relaxed Bernoulli indicators, in ``(0, 1]``.
    init_inclusion, init_slab_scale : float
        The guide's start without a warm start: inclusion probability of every coefficient, and
        sd of every slab value.

    Returns
    -------
    SpikeSlabParts
    """
    if not 0 < temperature <= 1:
        raise OptionError(f"temperature must lie in (0, 1], got {temperature}.")
    if not 0 < init_inclusion < 1:
        raise OptionError(f"init_inclusion must lie in (0, 1), got {init_inclusion}.")
    for name, value in (("slab_scale", slab_scale), ("inclusion_a", inclusion_a)):
        if value <= 0:
            raise OptionError(f"{name} must be positive, got {value}.")
    shape = tuple(int(n) for n in shape)
    size = int(np.prod(shape))
    b0 = float(size if inclusion_b is None else inclusion_b)
    if b0 <= 0:
        raise OptionError(f"inclusion_b must be positive, got {inclusion_b}.")
    a0, event = float(inclusion_a), len(shape)

    def coefficients():
        pi = primitives.sample("inclusion", dist.Beta(a0, b0))
        logit_pi = ops.log(pi) - ops.log1p(-pi)
        prior_gate = dist.Logistic(logit_pi / temperature, 1.0 / temperature)
        gate = primitives.sample("gate_logit", prior_gate.expand(list(shape)).to_event(event))
        slab = primitives.sample(
            "slab", dist.Laplace(0.0, slab_scale).expand(list(shape)).to_event(event)
        )
        gate_value = ops.exp(-ops.softplus(-gate))  # sigmoid, finite gradient when saturated
        return primitives.deterministic("beta", gate_value * slab)

    cold_phi = np.full(shape, math.log(init_inclusion / (1 - init_inclusion)))
    cold_pi = a0 / (a0 + b0)
    positive = dist.constraints.positive

    def guide(contexts, arms, rewards=None, valid=None):
        start = math.log(cold_pi / (1 - cold_pi))
        loc = primitives.param("inclusion_loc", ops.asarray(start))
        scale = primitives.param("inclusion_scale", ops.asarray(0.5), constraint=positive)
        sigmoid = dist.transforms.SigmoidTransform()
        primitives.sample(
            "inclusion", dist.TransformedDistribution(dist.Normal(loc, scale), sigmoid)
        )
        phi = primitives.param("inclusion_logits", ops.asarray(cold_phi))
        primitives.sample(
            "gate_logit", dist.Logistic(phi / temperature, 1.0 / temperature).to_event(event)
        )
        loc = primitives.param("slab_loc", ops.asarray(np.zeros(shape)))
        scale = primitives.param(
            "slab_scale", ops.asarray(np.full(shape, float(init_slab_scale))), constraint=positive
        )
        primitives.sample("slab", dist.Normal(loc, scale).to_event(event))

    def guide_start(warm: Mapping) -> dict:
        # inclusion logits no lower than the cold start: excluded coordinates can return
        phi = temperature * np.asarray(warm.get("gate_logit", cold_phi / temperature), float)
        pi = float(np.clip(warm.get("inclusion", cold_pi), cold_pi, 1 - 1e-6))
        return {
            "inclusion_loc": np.asarray(math.log(pi / (1 - pi))),
            "inclusion_logits": np.maximum(phi, cold_phi),
            "slab_loc": np.asarray(warm.get("slab", np.zeros(shape)), dtype=float),
        }

    return SpikeSlabParts(coefficients, guide, guide_start)
