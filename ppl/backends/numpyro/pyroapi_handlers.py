"""pyro-api's ``handlers`` for the alias ``ppl-numpyro``: ``ppl.handlers`` pinned to numpyro."""

from __future__ import annotations

from ...handlers.pinned import pinned

_HANDLERS = pinned("numpyro")
globals().update(_HANDLERS)

__all__ = sorted(_HANDLERS)
