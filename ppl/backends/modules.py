"""What the backends' ``module`` primitives share: a network's parameter tree as named leaves.

A network written once (``ppl.nn.MLP``, or any object with ``shapes``, ``init(arrays, key)`` and
``apply(arrays, params, x)``) has a tree of arrays as parameters; ``ppl.module(name, net)``
registers each leaf as the parameter ``f"{name}.{path}"`` (``"decoder.0.w"``) with the model or
guide, so the algorithm's state holds them like any ``ppl.param``.

>>> leaf_paths([{"w": (3, 8), "b": (8,)}])
[('0.b', (8,)), ('0.w', (3, 8))]
>>> unflatten_paths([{"w": None, "b": None}], {"0.w": 1, "0.b": 2})
[{'w': 1, 'b': 2}]
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from ..errors import ModelError

__all__ = [
    "NATIVE_HOMES",
    "check_leaf_shape",
    "init_seed",
    "is_network",
    "leaf_paths",
    "leaves_by_path",
    "native_library",
    "unflatten_paths",
    "wrong_backend",
]

#: the backend on which each library's native networks run
NATIVE_HOMES = {"torch": "pyro", "flax": "numpyro", "equinox": "numpyro"}


def is_network(obj) -> bool:
    """Whether ``obj`` is a network written once over the array layer (``ppl.nn``)."""
    return all(callable(getattr(obj, m, None)) for m in ("init", "apply")) and hasattr(
        obj, "shapes"
    )


def native_library(obj) -> str | None:
    """The library (``"torch"``, ``"flax"``, ``"equinox"``) whose network class ``obj`` is an
    instance of, read from the modules of its class's bases (nothing is imported), else
    ``None``."""
    for cls in type(obj).__mro__:
        root = (cls.__module__ or "").split(".")[0]
        if root in NATIVE_HOMES:
            return root
    return None


def wrong_backend(name: str, network, backend: str) -> ModelError | None:
    """The ``ModelError`` for a native network of another backend's library (a Flax or
    Equinox module on Pyro, a ``torch.nn.Module`` on NumPyro), naming the module and the fix;
    ``None`` when ``network`` is not one."""
    library = native_library(network)
    home = NATIVE_HOMES.get(library)
    if home is None or home == backend:
        return None
    return ModelError(
        f"ppl.module({name!r}, ...) got a {library} network ({type(network).__name__}), which "
        f"runs on the {home} backend only, not on {backend}. Run this model with "
        f"backend={home!r}, or write the network once with ppl.nn (ppl.nn.MLP runs on both "
        "backends)."
    )


def init_seed(name: str) -> int:
    """The seed of module ``name``'s initial parameters: fixed by its name, so the model and
    guide and every run start one module at the same weights (on one backend)."""
    return zlib.crc32(name.encode()) % (2**31)


def _items(tree, prefix=""):
    if isinstance(tree, Mapping):
        for key in sorted(tree):
            yield from _items(tree[key], f"{prefix}{key}.")
    elif isinstance(tree, (list, tuple)) and not all(isinstance(d, int) for d in tree):
        for i, sub in enumerate(tree):
            yield from _items(sub, f"{prefix}{i}.")
    else:
        yield prefix[:-1], tree


def leaf_paths(shapes) -> list[tuple[str, tuple]]:
    """``[(path, shape)]`` of a tree of shapes (lists and dicts of int tuples)."""
    return [(path, tuple(shape)) for path, shape in _items(shapes)]


def leaves_by_path(tree) -> dict:
    """``{path: leaf}`` of a tree of arrays (lists and dicts of arrays)."""
    return dict(_items(tree))


def unflatten_paths(structure, values: Mapping):
    """The tree of ``structure`` (lists and dicts) with its leaves taken from ``values`` by
    path."""

    def build(tree, prefix):
        if isinstance(tree, Mapping):
            return {key: build(sub, f"{prefix}{key}.") for key, sub in tree.items()}
        if isinstance(tree, (list, tuple)) and not all(isinstance(d, int) for d in tree):
            return [build(sub, f"{prefix}{i}.") for i, sub in enumerate(tree)]
        return values[prefix[:-1]]

    return build(structure, "")


def check_leaf_shape(module: str, path: str, got, expected) -> None:
    """A ``ModelError`` naming the module when a registered parameter has another shape than
    the network declares (one name registered twice with different networks)."""
    got, expected = tuple(got), tuple(expected)
    if got != expected:
        raise ModelError(
            f"Module {module!r}: its parameter {module}.{path} has shape {got}, but the network "
            f"registered now needs {expected}. The name {module!r} is registered twice with "
            "networks of different shapes (the model and the guide, or two calls): give each "
            "network its own name, or use the same network for both."
        )
