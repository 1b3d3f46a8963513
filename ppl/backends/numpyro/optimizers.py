"""The optimizers by name on NumPyro: optax transformations, shared by the backend's
``optimizer`` and its native SVI (one table, no import between the two)."""

from __future__ import annotations

import optax

__all__ = ["OPTIMIZERS"]

OPTIMIZERS = {
    "adam": optax.adam,
    "sgd": optax.sgd,
    "rmsprop": optax.rmsprop,
    "adagrad": optax.adagrad,
}
