"""Small neural networks as trees of arrays, written once over the backend's array namespace.

Parameters are plain trees (a list of ``{"w", "b"}`` dicts), so they go through the backend's
``value_and_grad``, ``tree_map`` and ``optimizer`` like any other parameters, inside ``jit`` on
JAX. ``time_mlp`` is the network of the diffusion samplers (CMCD's control, MCD's backward
score): an MLP of ``(x, time embedding of t)``. ``coupling_init`` / ``coupling_apply`` are the
affine coupling layers of RealNVP (Dinh et al. 2017), the invertible blocks of the flow samplers.

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
>>> layer = nn.coupling_init(backend, backend.key(2), 2, hidden=(8,), final_scale=1.0)
>>> mask = nn.coupling_masks(2, 2)[1]
>>> x = backend.normal(backend.key(3), (5, 2))
>>> y, logdet = nn.coupling_apply(backend, layer, x, mask)
>>> x_back, logdet_back = nn.coupling_apply(backend, layer, y, mask, inverse=True)
>>> bool(abs(x_back - x).max() < 1e-5), bool(abs(logdet + logdet_back).max() < 1e-5)
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import OptionError, did_you_mean

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "SCALE_BOUND",
    "check_activation",
    "coupling_apply",
    "coupling_init",
    "coupling_masks",
    "mlp_apply",
    "mlp_init",
    "time_embedding",
    "time_mlp_apply",
    "time_mlp_init",
]

ACTIVATIONS = ("swish", "tanh", "relu", "softplus")
#: a coupling layer's log-scale is soft-clamped to (-SCALE_BOUND, SCALE_BOUND) by
#: ``SCALE_BOUND * tanh(s / SCALE_BOUND)``: the identity near 0, and no overflow of ``exp(s)``
SCALE_BOUND = 5.0


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


class MLP:
    """A multilayer perceptron written once, for ``ppl.module``: its parameters are a tree of
    arrays (``mlp_init``) that the module registers with the model or guide on either backend.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, output last (at least two).
    activation : str
        One of ``ACTIVATIONS``, between layers.
    final_scale : float
        Factor on the last layer's initial weights.

    Examples
    --------
    >>> import ppl
    >>> net = ppl.nn.MLP([3, 8, 2])
    >>> net.shapes
    [{'w': (3, 8), 'b': (8,)}, {'w': (8, 2), 'b': (2,)}]
    >>> arrays = ppl.get_backend("numpyro").arrays
    >>> net.apply(arrays, net.init(arrays, arrays.key(0)), arrays.xp.ones((5, 3))).shape
    (5, 2)
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", final_scale: float = 1.0):
        self.sizes = [int(s) for s in sizes]
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise OptionError(f"An MLP needs at least two positive layer sizes, got {sizes}.")
        check_activation(activation)
        self.activation, self.final_scale = activation, float(final_scale)

    @property
    def shapes(self) -> list[dict]:
        """The parameter tree's structure with each leaf's shape."""
        pairs = zip(self.sizes[:-1], self.sizes[1:])
        return [{"w": (n_in, n_out), "b": (n_out,)} for n_in, n_out in pairs]

    def init(self, arrays, key) -> list[dict]:
        """Initial parameters (``mlp_init``) on the array layer ``arrays``."""
        return mlp_init(arrays, key, self.sizes, final_scale=self.final_scale)

    def apply(self, arrays, params, x):
        """The network at ``x`` of shape ``(..., sizes[0])``: ``(..., sizes[-1])``."""
        return mlp_apply(arrays, params, x, self.activation)

    def __repr__(self) -> str:
        return f"MLP({self.sizes}, activation={self.activation!r})"


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


def coupling_masks(dim: int, num_layers: int) -> list[np.ndarray]:
    """Alternating binary masks of ``num_layers`` coupling layers on ``R^dim``: 1 marks the
    coordinates a layer conditions on (kept), 0 those it transforms. Layer 0 keeps the first
    ``dim // 2`` coordinates, layer 1 the rest, and so on, so two consecutive layers update
    every coordinate once (with ``dim = 1`` layer 0 is an affine map of the one coordinate
    with a constant conditioner, and layer 1 the identity)."""
    first = (np.arange(dim) < dim // 2).astype(float)
    return [first if j % 2 == 0 else 1.0 - first for j in range(num_layers)]


def coupling_init(
    backend, key, dim: int, hidden: Sequence[int] = (64, 64), final_scale: float = 0.0
) -> list[dict]:
    """Parameters of one affine coupling layer on ``R^dim``: the conditioner, an MLP from
    ``dim`` inputs (the masked point) to ``2 * dim`` outputs (log-scale and shift). With
    ``final_scale=0`` (the default) the layer starts as the identity."""
    return mlp_init(backend, key, [dim, *hidden, 2 * dim], final_scale=final_scale)


def coupling_apply(backend, params: list[dict], x, mask, inverse: bool = False, activation="relu"):
    """One affine coupling layer: ``y = x * exp(s) + t`` on the coordinates where ``mask`` is
    0, ``y = x`` where it is 1, with ``(s, t) = mlp(x * mask)``.

    Parameters
    ----------
    backend : Backend
        The backend of ``params`` and ``x``.
    params : list of dict
        From ``coupling_init``.
    x : array, shape ``(..., dim)``
        Points (``y`` when ``inverse``).
    mask : numpy array, shape ``(dim,)``
        From ``coupling_masks``.
    inverse : bool
        Apply the inverse map ``x = (y - t) * exp(-s)`` (``s, t`` depend on the kept
        coordinates only, which both directions share).
    activation : str
        One of ``ACTIVATIONS``.

    Returns
    -------
    (array, array)
        The mapped points ``(..., dim)`` and ``log |det J|`` of the map applied, ``(...)``.
    """
    xp = backend.xp
    keep = backend.asarray(mask)
    free = 1.0 - keep
    out = mlp_apply(backend, params, x * keep, activation)
    dim = x.shape[-1]
    s = SCALE_BOUND * xp.tanh(out[..., :dim] / SCALE_BOUND) * free
    t = out[..., dim:] * free
    if inverse:
        return (x - t) * xp.exp(-s), -xp.sum(s, axis=-1)
    return x * xp.exp(s) + t, xp.sum(s, axis=-1)
