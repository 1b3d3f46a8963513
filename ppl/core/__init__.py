"""``ppl.core``: the types and tables that several layers share, at the bottom of the layers.

It imports nothing from ``ppl`` but ``ppl.errors``, so every layer may import it: the backends
build ``Site`` records and adapt ``Reparam`` strategies without importing ``ppl.handlers`` or
``ppl.reparam``, and read the SVI tables without importing ``ppl.inference``; the algorithm
contract (``Algorithm``, ``Capabilities``, ``RunConfig``) is here too. The public names
stay where users find them (``ppl.Site``, ``ppl.reparam.Reparam``,
``ppl.inference.objectives``), re-exported from here. ARCHITECTURE.md shows the layers.

>>> from ppl.core import GUIDE_CLASSES, Site
>>> GUIDE_CLASSES["normal"]
'AutoNormal'
"""

from __future__ import annotations

from .algorithm import KINDS, Algorithm, Capabilities, RunConfig
from .draws import Draws
from .plates import ANY_PLATE, minibatch_sizes, plate_subsample_sizes, subsample_size_override
from .precision import PRECISIONS, get_precision, store_precision
from .reparam import Reparam, ReparamMessage, ReparamResult
from .sites import SITE_TYPES, Site
from .vi import (
    CHI2_PARTICLES,
    GUIDE_CLASSES,
    LOG_WEIGHT_OBJECTIVES,
    POINT_MASS_GUIDES,
    SCALED_GUIDES,
    check_model_params,
    chi2,
    elbo,
    evaluate,
    iwae,
    loss_function,
    needs_score_terms,
    num_particles,
    objective_spec,
    score_function,
)

__all__ = [
    "KINDS",
    "Algorithm",
    "Capabilities",
    "RunConfig",
    "Draws",
    "ANY_PLATE",
    "minibatch_sizes",
    "plate_subsample_sizes",
    "subsample_size_override",
    "PRECISIONS",
    "get_precision",
    "store_precision",
    "Reparam",
    "ReparamMessage",
    "ReparamResult",
    "SITE_TYPES",
    "Site",
    "CHI2_PARTICLES",
    "GUIDE_CLASSES",
    "LOG_WEIGHT_OBJECTIVES",
    "POINT_MASS_GUIDES",
    "SCALED_GUIDES",
    "check_model_params",
    "chi2",
    "elbo",
    "evaluate",
    "iwae",
    "loss_function",
    "needs_score_terms",
    "num_particles",
    "objective_spec",
    "score_function",
]
