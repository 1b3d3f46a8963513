"""``AcceptReject``: the reparameterization gradient through acceptance-rejection samplers
(Naesseth, Ruiz, Linderman and Blei, 2017) for Gamma, Beta and Dirichlet sites.

The interface is fixed here; the math belongs to its own issue ("AcceptReject reparam"). The
extension point is ``AcceptReject.apply``: an implementation replaces the site by the proposal
noise ``eps`` of the Marsaglia-Tsang Gamma sampler (boosted ``boost`` times for small shapes) and
returns the deterministic ``h(eps, alpha)`` with the correction term of the paper.
"""

from __future__ import annotations

from ..errors import NotYetImplementedError, OptionError
from .base import Reparam, ReparamMessage, ReparamResult

__all__ = ["AcceptReject"]

#: the distributions the acceptance-rejection gradient covers
SUPPORTED = ("Gamma", "Beta", "Dirichlet")


class AcceptReject(Reparam):
    """Reparameterize a Gamma, Beta or Dirichlet site through its acceptance-rejection sampler.

    Parameters
    ----------
    boost : int
        Shape augmentation: sample with shape ``alpha + boost`` and multiply by
        ``prod(u_i ** (1 / (alpha + i)))``, which lowers the variance of the gradient for small
        shapes.

    Examples
    --------
    >>> from ppl.reparam import AcceptReject
    >>> AcceptReject(boost=4).boost
    4
    """

    def __init__(self, boost: int = 1):
        if isinstance(boost, bool) or not isinstance(boost, int) or boost < 0:
            raise OptionError(f"AcceptReject needs boost, a non-negative integer, not {boost!r}.")
        self.boost = boost

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        raise NotYetImplementedError(
            f"AcceptReject(boost={self.boost}) at site {msg['name']!r}: the acceptance-rejection "
            "reparameterization gradient (Naesseth et al. 2017) is the subject of its own issue "
            "('AcceptReject reparam') and is not implemented yet. Use LocScale or Transform, or "
            "leave the site as it is."
        )

    def __repr__(self) -> str:
        return f"AcceptReject(boost={self.boost})"
