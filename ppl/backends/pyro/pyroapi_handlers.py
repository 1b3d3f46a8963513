"""pyro-api's ``handlers`` for the alias ``ppl-pyro``: ``ppl.handlers`` pinned to pyro."""

from __future__ import annotations

from ...handlers.pinned import pinned

_HANDLERS = pinned("pyro")
globals().update(_HANDLERS)

__all__ = sorted(_HANDLERS)
