"""The reparameterizer interface (``Reparam``, ``ReparamMessage``, ``ReparamResult``), defined in
``ppl.core.reparam`` so that the backends' handler glue can adapt strategies without importing
this package, and re-exported here, where ``ppl.reparam``'s strategies subclass it.
"""

from __future__ import annotations

from ..core.reparam import Reparam, ReparamMessage, ReparamResult

__all__ = ["Reparam", "ReparamMessage", "ReparamResult"]
