"""pyro-api's ``handlers`` for the alias ``ppl-pyro``: ``ppl.handlers`` pinned to pyro."""

from ..pinned import pinned

_HANDLERS = pinned("pyro")
globals().update(_HANDLERS)
__all__ = sorted(_HANDLERS)  # noqa: PLE0605 (the pinned handlers' names)
