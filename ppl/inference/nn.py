"""Small neural networks as trees of arrays, written once over the backend's array namespace.

Parameters are plain trees (a list of ``{"w", "b"}`` dicts), so they go through the backend's
``value_and_grad``, ``tree_map`` and ``optimizer`` like any other parameters, inside ``jit`` on
JAX. ``time_mlp`` is the network of the diffusion samplers (CMCD's control, MCD's backward
score): an MLP of ``(x, time embedding of t)``.

>>> import ppl
>>> from ppl.inference import nn
>>> backend = ppl.get_backend("numpyro")
>>> params = nn.mlp_init(backend, backend.key(0), [3, 8, 2])
>>> nn.mlp_apply(backend, params, backend.xp.ones((5, 3))).shape
(5, 2)
>>> control = nn.time_mlp_init(backend, backend.key(1), 2, hidden=(16,), embed_dim=8)
>>> out = nn.time_mlp_apply(backend, control, backend.xp.ones((4, 2)), 0.5)
>>> out.shape, float(abs(out).max())   # the last layer starts at zero: the output is 0
((4, 2), 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import OptionError, did_you_mean

__all__ = [
    "ACTIVATIONS",
    "check_activation",
    "mlp_apply",
    "mlp_init",
    "time_embedding",
    "time_mlp_apply",
    "time_mlp_init",
]

ACTIVATIONS = ("swish", "tanh", "relu", "softplus")


def check_activation(name: str) -> None:
    """An ``OptionError`` with "did you mean" unless ``name`` is in ``ACTIVATIONS``."""
    if name not in ACTIVATIONS:
        raise OptionError(
            f"Unknown activation {name!r}; use one of {ACTIVATIONS}."
            + did_you_mean(name, ACTIVATIONS)
        )


def _activation(backend, name: str):
    xp = backend.xp
    check_activation(name)
    if name == "tanh":
        return xp.tanh
    if name == "relu":
        return lambda x: xp.maximum(x, 0.0)
    if name == "softplus":
        return backend.softplus
    return lambda x: x / (1.0 + xp.exp(-x))  # swish / SiLU


def mlp_init(backend, key, sizes: Sequence[int], *, final_scale: float = 1.0) -> list[dict]:
    """Parameters of an MLP with layer widths ``sizes`` (input first, output last).

    Parameters
    ----------
    backend : Backend
        The backend whose arrays and keys to use.
    key
        A key of that backend (consumed).
    sizes : sequence of int
        Layer widths, at least two.
    final_scale : float
        Factor on the last layer's weights; ``0.0`` makes the network start as the zero
        function (a learned correction that starts at "no correction").

    Returns
    -------
    list of dict
        One ``{"w": (n_in, n_out), "b": (n_out,)}`` per layer; weights LeCun-normal (variance
        ``1 / n_in``), biases zero.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise OptionError(f"An MLP needs at least two positive layer sizes, got {sizes}.")
    keys = backend.split(key, len(sizes) - 1)
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = backend.normal(keys[i], (n_in, n_out)) / math.sqrt(n_in)
        if i == len(sizes) - 2:
            w = w * final_scale
        params.append({"w": w, "b": w[0] * 0.0})
    return params


def mlp_apply(backend, params: list[dict], x, activation: str = "swish"):
    """The MLP of ``mlp_init`` applied to ``x``.

    Parameters
    ----------
    backend : Backend
        The backend of ``params`` and ``x``.
    params : list of dict
        From ``mlp_init`` (or trained from it).
    x : array, shape ``(..., sizes[0])``
        Inputs; any leading dimensions.
    activation : str
        One of ``ACTIVATIONS``, applied between layers (none after the last).

    Returns
    -------
    array, shape ``(..., sizes[-1])``
    """
    xp, act = backend.xp, _activation(backend, activation)
    for layer in params[:-1]:
        x = act(xp.matmul(x, layer["w"]) + layer["b"])
    return xp.matmul(x, params[-1]["w"]) + params[-1]["b"]


def time_embedding(backend, t, dim: int, max_frequency: float = 100.0):
    """Sinusoidal features of ``t`` (any shape, typically in ``[0, 1]``): ``(*t.shape, dim)``,
    ``sin`` and ``cos`` at ``dim // 2`` frequencies spaced geometrically from 1 to
    ``max_frequency`` (``dim`` must be even)."""
    if dim % 2:
        raise OptionError(f"The time embedding needs an even dimension, got {dim}.")
    xp = backend.xp
    freqs = backend.asarray(np.geomspace(1.0, max_frequency, dim // 2))
    angles = xp.asarray(t)[..., None] * freqs
    return xp.concat([xp.sin(angles), xp.cos(angles)], axis=-1)


def time_mlp_init(
    backend,
    key,
    dim: int,
    hidden: Sequence[int] = (32, 32),
    embed_dim: int = 16,
    final_scale: float = 0.0,
) -> list[dict]:
    """Parameters of ``time_mlp_apply``: an MLP from ``dim + embed_dim`` inputs to ``dim``
    outputs, starting at zero output by default."""
    sizes = [dim + embed_dim, *hidden, dim]
    return mlp_init(backend, key, sizes, final_scale=final_scale)


def time_mlp_apply(backend, params: list[dict], x, t, activation: str = "swish"):
    """``mlp([x, time_embedding(t)])``.

    Parameters
    ----------
    backend : Backend
        The backend of ``params`` and ``x``.
    params : list of dict
        From ``time_mlp_init``; the embedding width is read off its first layer.
    x : array, shape ``(..., dim)``
        Inputs.
    t : float or array
        Times, broadcastable against ``x.shape[:-1]``.
    activation : str
        One of ``ACTIVATIONS``.

    Returns
    -------
    array, shape ``(..., dim)``
    """
    xp = backend.xp
    embed_dim = params[0]["w"].shape[0] - x.shape[-1]
    t = xp.asarray(t, dtype=x.dtype) if not backend.is_array(t) else t
    features = time_embedding(backend, xp.broadcast_to(t, tuple(x.shape[:-1])), embed_dim)
    return mlp_apply(backend, params, xp.concat([x, features], axis=-1), activation)
