"""``Score``: the score-function (REINFORCE) gradient for a Gamma, Beta or Dirichlet guide site,
the baseline against which ``AcceptReject`` is measured."""

from __future__ import annotations

from .. import distributions as dist
from .. import ops
from ..backends import get_backend
from ..primitives import sample
from ._gammas import gamma_site
from .base import Reparam, ReparamMessage, ReparamResult

__all__ = ["Score"]

_AUX = {"is_auxiliary": True}


class Score(Reparam):
    """Estimate the gradient of a guide site by the score function, with a constant baseline.

    The site's value ``x`` is drawn without gradient, and the ELBO gradient becomes
    ``(f - baseline) * d log q(x)`` with ``f`` the ELBO integrand. It reaches each backend's ELBO
    as in ``AcceptReject``: an auxiliary non-reparameterized site ``{name}_score`` whose log
    density is ``log q(x) - stop_gradient(log q(x))``. The site's own term ``-log q(x)`` in the
    ELBO already contributes ``-d log q(x)``, the baseline 1; another ``baseline`` ``b`` adds a
    site ``{name}_baseline`` (a ``Delta`` whose log density is
    ``(b - 1) (log q(x) - stop_gradient(log q(x)))``). A good constant baseline is the mean of
    ``f``.

    Parameters
    ----------
    baseline : float, optional
        The constant subtracted from the ELBO integrand; ``None`` leaves the baseline 1 of the
        site's own term.

    Examples
    --------
    >>> import ppl
    >>> from ppl import dist, handlers
    >>> from ppl.reparam import Score
    >>> def guide():
    ...     ppl.sample("rate", dist.Gamma(2.0, 1.0))
    >>> guide = handlers.reparam(guide, config={"rate": Score(baseline=-20.0)})
    >>> sorted(handlers.trace(handlers.seed(guide, rng_seed=0)).get_trace().sample_sites())
    ['rate', 'rate_baseline', 'rate_draw', 'rate_score']
    """

    def __init__(self, baseline: float | None = None):
        self.baseline = None if baseline is None else float(baseline)

    def apply(self, msg: ReparamMessage) -> ReparamResult:
        name, fn = msg["name"], msg["fn"]
        gamma_site(name, fn, repr(self))
        if msg["is_observed"]:
            return ReparamResult(fn=fn, value=msg["value"], is_observed=True)
        backend = get_backend()
        event_dim = len(fn.event_shape)
        drawn = sample(f"{name}_draw", fn.mask(False), infer=dict(_AUX))

        def surrogate(x):
            log_q = fn.log_prob(x)
            return log_q - backend.stop_gradient(log_q)

        x = sample(
            f"{name}_score",
            backend.reparam.ScoreDelta(backend.stop_gradient(drawn), surrogate, event_dim),
            infer=dict(_AUX),
        )
        if self.baseline is not None:
            extra = (self.baseline - 1.0) * surrogate(x)
            sample(
                f"{name}_baseline",
                dist.Delta(ops.zeros_like(extra), log_density=extra),
                infer=dict(_AUX),
            )
        return ReparamResult(fn=fn, value=x, is_observed=False)

    def __repr__(self) -> str:
        return f"Score(baseline={self.baseline!r})"
