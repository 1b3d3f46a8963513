"""``ppl.module`` on Pyro: a ``ppl.nn`` network's parameters as ``pyro.param`` sites, or a
``torch.nn.Module`` through ``pyro.module``."""

from __future__ import annotations

import pyro
import torch

from ...errors import ModelError
from ..modules import (
    check_leaf_shape,
    init_seed,
    is_network,
    leaf_paths,
    leaves_by_path,
    unflatten_paths,
    wrong_backend,
)


def module(name: str, network, update_module_params: bool = False):
    """Register ``network``'s parameters under ``name``; return ``x -> network(x)``.

    A ``torch.nn.Module`` is Pyro's own (``pyro.module``); a network written once over the
    array layer has each leaf of its parameter tree registered as ``f"{name}.{path}"``, created
    lazily at its initial value (``network.init`` with a key fixed by ``name``).
    """
    if isinstance(network, torch.nn.Module):
        return pyro.module(name, network, update_module_params=update_module_params)
    foreign = wrong_backend(name, network, "pyro")
    if foreign is not None:
        raise foreign
    if not is_network(network):
        raise ModelError(
            f"ppl.module({name!r}, ...) on the pyro backend takes a ppl.nn network (an object "
            "with shapes, init and apply, such as ppl.nn.MLP) or a torch.nn.Module, not a "
            f"{type(network).__name__}."
        )
    from .. import get_backend

    arrays = get_backend("pyro").arrays
    initial = {}

    def init_leaf(path):
        if not initial:
            initial.update(leaves_by_path(network.init(arrays, arrays.key(init_seed(name)))))
        return initial[path]

    values = {}
    for path, shape in leaf_paths(network.shapes):
        value = pyro.param(f"{name}.{path}", lambda p=path: init_leaf(p))
        check_leaf_shape(name, path, value.shape, shape)
        values[path] = value
    params = unflatten_paths(network.shapes, values)
    return lambda x: network.apply(arrays, params, x)
