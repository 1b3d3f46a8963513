"""``Implicit``: the backends' own implicit reparameterization gradients for Gamma, Beta and
Dirichlet sites (``torch.distributions.Gamma.rsample``, NumPyro's Gamma sampler)."""

from __future__ import annotations

from ._gammas import gamma_site
from .base import Reparam, ReparamMessage, ReparamResult

__all__ = ["Implicit"]


class Implicit(Reparam):
    """Leave a Gamma, Beta or Dirichlet site to the backend's own sampler, whose gradient is the
    implicit reparameterization gradient (Figurnov et al. 2018) on both backends.

    It exists so that the three estimators (``AcceptReject``, ``Score``, ``Implicit``) are chosen
    the same way; it checks the site's family and changes nothing else.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> from ppl.reparam import Implicit
    >>> def guide():
    ...     ppl.sample("p", dist.Beta(2.0, 3.0))
    >>> guide = handlers.reparam(guide, config={"p": Implicit()})
    >>> sorted(handlers.trace(handlers.seed(guide, rng_seed=0)).get_trace().sample_sites())
    ['p']
    """

    #: the backend's draws are pathwise differentiable: no score-function term
    adds_score_terms = False

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        gamma_site(msg["name"], msg["fn"], repr(self))
        return ReparamResult(fn=msg["fn"], value=msg["value"], is_observed=msg["is_observed"])

    def __repr__(self) -> str:
        return "Implicit()"
