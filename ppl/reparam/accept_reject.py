"""``AcceptReject``: the reparameterization gradient through acceptance-rejection samplers
(Naesseth, Ruiz, Linderman and Blei, 2017) for Gamma, Beta and Dirichlet sites.

The estimator, for ``z ~ Gamma(alpha, 1)`` drawn by Marsaglia-Tsang from the accepted noise
``eps ~ pi(eps; alpha)`` through ``z = h(eps, alpha)``, and an ELBO integrand ``f``::

    d/dalpha E[f(z)] = E[ f'(h(eps, alpha)) dh/dalpha ]            (reparameterization term)
                     + E[ f(h(eps, alpha)) d/dalpha log pi(eps; alpha) ]   (correction term)

with ``pi(eps; alpha) = q(h(eps, alpha); alpha) dh/deps`` (``ppl.reparam._gammas``). Shape
augmentation (``boost = B``) draws ``Gamma(alpha + B)`` and multiplies it by
``prod_i u_i ** (1 / (alpha + i))`` (uniform ``u_i``, reparameterized): the correction term then
belongs to ``alpha + B``, where the proposal is nearly exact and the term small.

How each backend's ELBO gets the correction term. The guide site keeps its own distribution and
takes the reparameterized value ``h(eps, alpha)`` (so the ELBO's ``log q`` and its pathwise
gradient are the backend's own), and the noise ``eps`` is an auxiliary guide site
``{name}_noise`` whose distribution (``backend.reparam.ScoreDelta``) is *not* reparameterized and
whose log density is the surrogate ``log pi(eps; alpha) - stop_gradient(log pi(eps; alpha))``:
zero in value, so the ELBO is unchanged, with gradient the score of ``pi``. Every score-function
ELBO multiplies such a site's score by the detached ELBO integrand of the sites downstream of
it, which is the correction term: Pyro's ``Trace_ELBO``/``TraceGraph_ELBO`` through the site's
``score_parts`` (``ScoreDelta`` sets its entropy part to zero, the noise is not a factor of
``q``), NumPyro's ``TraceGraph_ELBO`` through its surrogate ``log_prob *
stop_gradient(downstream cost)``. NumPyro's ``Trace_ELBO`` has no score-function terms, so on
NumPyro use ``TraceGraph_ELBO`` (the ``svi`` option ``estimator=`` chooses it by itself).

The accepted noise is obtained exactly, without running the rejection loop: a Gamma(alpha + B)
draw of the backend's own sampler (site ``{name}_proposal``, masked out of the ELBO), pushed
through ``h^{-1}``, has density ``pi`` (Naesseth et al., section 3).
"""

from __future__ import annotations

from .. import distributions as dist
from .. import ops
from ..backends import get_backend
from ..errors import HandlerError, OptionError
from ..primitives import sample
from ._gammas import gamma_site, log_noise_density, proposal, proposal_inverse, sum_rightmost
from .base import Reparam, ReparamMessage, ReparamResult

__all__ = ["AcceptReject"]

_AUX = {"is_auxiliary": True}


class AcceptReject(Reparam):
    """Reparameterize a Gamma, Beta or Dirichlet guide site through its acceptance-rejection
    sampler (Marsaglia-Tsang), with the correction term of Naesseth et al. (2017).

    A Beta site is written through two Gamma variables, a Dirichlet site through K. Any
    concentration ``alpha > 0`` works with ``boost >= 1``; ``boost=0`` needs ``alpha > 1/3``
    (where the proposal ``h`` is a bijection). Adds the auxiliary guide sites
    ``{name}_proposal``, ``{name}_noise`` and (``boost > 0``) ``{name}_boost``.

    Parameters
    ----------
    boost : int
        Shape augmentation: sample with shape ``alpha + boost`` and multiply by
        ``prod(u_i ** (1 / (alpha + i)))``, which lowers the variance of the gradient for small
        shapes.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers, ops
    >>> from ppl.reparam import AcceptReject
    >>> def guide():
    ...     ppl.sample("rate", dist.Gamma(0.5, 2.0))
    >>> guide = handlers.reparam(guide, config={"rate": AcceptReject(boost=2)})
    >>> tr = handlers.trace(handlers.seed(guide, rng_seed=0)).get_trace()
    >>> sorted(tr.sample_sites())
    ['rate', 'rate_boost', 'rate_noise', 'rate_proposal']
    >>> bool(tr["rate"].value > 0) and not tr["rate"].is_observed
    True
    """

    def __init__(self, boost: int = 1):
        if isinstance(boost, bool) or not isinstance(boost, int) or boost < 0:
            raise OptionError(f"AcceptReject needs boost, a non-negative integer, not {boost!r}.")
        self.boost = boost

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        name, fn = msg["name"], msg["fn"]
        site = gamma_site(name, fn, repr(self))
        if msg["is_observed"]:
            return ReparamResult(fn=fn, value=msg["value"], is_observed=True)
        backend = get_backend()
        alpha, k = site.alpha, site.event_dim
        self._check_shape(name, alpha)
        shape = tuple(alpha.shape)
        a = alpha + self.boost
        a_fixed = backend.stop_gradient(a)
        g = sample(
            f"{name}_proposal",
            dist.Gamma(a_fixed, ops.ones_like(a_fixed)).to_event(k).mask(False),
            infer=dict(_AUX),
        )

        def surrogate(eps):
            log_pi = sum_rightmost(log_noise_density(eps, a), k)
            return log_pi - backend.stop_gradient(log_pi)

        eps0 = proposal_inverse(backend.stop_gradient(g), a_fixed)
        eps = sample(
            f"{name}_noise", backend.reparam.ScoreDelta(eps0, surrogate, k), infer=dict(_AUX)
        )
        gammas = proposal(eps, a)
        if self.boost:
            u = sample(
                f"{name}_boost",
                dist.Uniform(0.0, 1.0).expand(shape + (self.boost,)).to_event(k + 1),
                infer=dict(_AUX),
            )
            steps = ops.asarray([float(i) for i in range(self.boost)])
            log_factor = ops.sum(ops.log(u) / (alpha[..., None] + steps), axis=-1)
            gammas = gammas * ops.exp(log_factor)
        return ReparamResult(fn=fn, value=site.assemble(gammas), is_observed=False)

    def _check_shape(self, name, alpha):
        """``boost=0`` with a concentration at or below 1/3, where it is known (not traced)."""
        if self.boost:
            return
        try:
            smallest = float(ops.to_numpy(alpha).min())
        except Exception:  # a traced value under jit: nothing to check here
            return
        if smallest <= 1.0 / 3.0:
            raise HandlerError(
                f"{self!r} at site {name!r}: a concentration {smallest:.3g} <= 1/3 needs "
                "boost >= 1 (the Marsaglia-Tsang proposal is not a bijection there)."
            )

    def __repr__(self) -> str:
        return f"AcceptReject(boost={self.boost})"
