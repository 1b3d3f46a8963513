"""pyro-api's ``handlers`` for the alias ``ppl-numpyro``: ``ppl.handlers`` pinned to numpyro."""

from __future__ import annotations

from ...handlers.pinned import pinned

_HANDLERS = pinned("numpyro")
trace = _HANDLERS["trace"]
replay = _HANDLERS["replay"]
condition = _HANDLERS["condition"]
substitute = _HANDLERS["substitute"]
seed = _HANDLERS["seed"]
block = _HANDLERS["block"]
scale = _HANDLERS["scale"]
mask = _HANDLERS["mask"]
do = _HANDLERS["do"]
reparam = _HANDLERS["reparam"]

__all__ = [
    "trace",
    "replay",
    "condition",
    "substitute",
    "seed",
    "block",
    "scale",
    "mask",
    "do",
    "reparam",
]
