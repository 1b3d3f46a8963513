"""pyro-api's ``handlers`` for the alias ``ppl-numpyro``: ``ppl.handlers`` pinned to numpyro."""

from ..pinned import pinned

_HANDLERS = pinned("numpyro")
globals().update(_HANDLERS)
__all__ = sorted(_HANDLERS)  # noqa: PLE0605 (the pinned handlers' names)
