"""Data-parallel minibatch gradients: ``ppl.infer(..., devices=N)``.

Every step draws one global minibatch from its key, exactly as on one device. Device ``d`` of
``N`` computes the gradient of its slice of it (``Problem.part_potential``: the ``d``-th
``B / N`` indices of every subsampled plate, plus ``1 / N`` of the prior and the Jacobians),
and the backend's collective sums the ``N`` parts before the update (``psum`` over a JAX
device mesh; ``all_reduce`` across ``torch.distributed`` processes). The sum is the
single-device minibatch gradient, so the chain is the single-device chain with the same seed,
up to the rounding of a sum taken in another order.

The algorithms stay written once: a minibatch algorithm asks ``gradient(problem)`` for its
``(z, key) -> (U, dU/dz)`` and declares ``Capabilities.data_parallel``. ``svi`` runs the
backend's own SVI, whose runner splits its ELBO the same way (the backend's ``svi`` with
``parallel``): the ``d``-th slice of every subsampled plate's minibatch, ``1 / N`` of the
global terms, the parts' gradients summed before the backend's optimizer step.

>>> from ppl.inference.data_parallel import check_devices
>>> try:
...     check_devices(0)
... except ValueError as err:
...     print(err)
devices must be a positive int (the devices that share every minibatch), got 0.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import OptionError

__all__ = ["check_devices", "check_problem", "gradient"]


def check_devices(devices, method: str = "", capabilities=None, chain_method=None) -> None:
    """An ``OptionError`` unless ``devices`` is a positive int, and, above 1, ``method`` (of
    ``capabilities``) takes data-parallel gradients and chains are not also put one per
    device."""
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise OptionError(
            "devices must be a positive int (the devices that share every minibatch), got "
            f"{devices!r}."
        )
    if devices == 1 or capabilities is None:
        return
    if not capabilities.data_parallel:
        raise OptionError(
            f"devices={devices} splits every minibatch gradient over devices; {method!r} does "
            "not take its gradients that way (svi and the stochastic-gradient samplers sgld, "
            "psgld, sghmc, sgnht, cyclical_sgld and structured_sgmcmc do). Drop devices, or use "
            "chain_method='parallel' to put chains on separate devices."
        )
    if chain_method == "parallel":
        raise OptionError(
            f"devices={devices} shares every chain's minibatch over the devices; "
            "chain_method='parallel' would put chains on them too. Use one of the two."
        )


def check_problem(problem, devices: int) -> None:
    """An ``OptionError`` where ``devices > 1`` cannot split the minibatches of ``problem``:
    no subsampled plate, or a minibatch that ``devices`` does not divide."""
    if problem.part_potential is None:
        raise OptionError(f"The {problem.backend.name!r} backend cannot split a minibatch.")
    if not problem.subsample_plates:
        raise OptionError(
            f"devices={devices} splits the minibatch over devices, but the model has no "
            "subsampled plate. Set batch_size (a multiple of devices), or a subsample_size in "
            "the model's ppl.plate."
        )
    for name, (_, batch) in problem.subsample_plates.items():
        if batch % devices:
            raise OptionError(
                f"devices={devices} must divide the minibatch of plate {name!r} ({batch}); "
                f"use batch_size={batch - batch % devices or devices} or another device count."
            )


def gradient(problem) -> Callable:
    """``(z, key=None) -> (U, dU/dz)`` of ``problem``: on a minibatch split over
    ``problem.parallel``'s devices where a key draws one, else ``problem.value_and_grad``."""
    parallel = problem.parallel
    if parallel is None:
        return problem.value_and_grad
    arrays = problem.arrays
    num_parts = parallel.num_parts
    # the data's arrays go to each device as arguments (a JAX device reads its own copy
    # inside ``shard_map``); a problem that cannot be rebound keeps its own (one per process)
    leaves, treedef = arrays.tree_flatten((tuple(problem.args), dict(problem.kwargs)))
    rebind = problem.rebind is not None
    data = [leaf for leaf in leaves if arrays.is_array(leaf)] if rebind else []

    def part(index, z, key, data):
        bound = problem
        if rebind:
            given = iter(data)
            filled = [next(given) if arrays.is_array(leaf) else leaf for leaf in leaves]
            bound = problem.with_data(*arrays.tree_unflatten(treedef, filled))
        return arrays.value_and_grad(lambda x: bound.part_potential(x, key, index, num_parts))(z)

    def split(z, key=None):
        if key is None:  # the whole data set: every device computes all of it
            return problem.value_and_grad(z)
        return parallel.sum_parts(part, z, key, data)

    return split
