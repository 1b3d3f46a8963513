"""The reparameterizer interface: a typed ``apply`` from a site message to its replacement.

As in ``pyro.infer.reparam``: ``apply`` may sample auxiliary sites (with ``ppl.sample``) and
returns the new distribution, value and observedness of the original site. The backend's handler
glue adapts a ``Reparam`` to the backend's own machinery (``pyro.infer.reparam.Reparam``,
``numpyro.infer.reparam.Reparam``). The strategies themselves live in ``ppl.reparam``.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, TypedDict

__all__ = ["Reparam", "ReparamMessage", "ReparamResult"]


class ReparamMessage(TypedDict):
    """The site being reparameterized."""

    name: str
    fn: Any
    value: Any
    is_observed: bool


class ReparamResult(TypedDict):
    """What replaces it: ``fn`` is ``None`` (or a masked ``Delta``) when the site became a
    deterministic function of auxiliary sites, and then ``value`` is that function's value."""

    fn: Any
    value: Any
    is_observed: bool


class Reparam(abc.ABC):
    """Base class of ``ppl.reparam`` strategies.

    Attributes
    ----------
    adds_score_terms : bool
        Whether the strategy's gradient estimate needs score-function terms in the objective
        (so SVI's ``elbo`` runs the backends' ``TraceGraph_ELBO``); ``False`` only for
        strategies whose draws are pathwise differentiable (``ppl.reparam.Implicit``).
    """

    adds_score_terms: ClassVar[bool] = True

    @abc.abstractmethod
    def apply(self, msg: ReparamMessage) -> ReparamResult:
        """Reparameterize the site ``msg`` on the active backend."""
