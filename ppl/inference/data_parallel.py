"""Data-parallel minibatch gradients: ``ppl.infer(..., devices=N)``.

**Sharded data** (the stochastic-gradient samplers on JAX, ``shard``): the arrays of the
subsampled plate's rows (those whose leading axis is the plate's size ``M``) are placed over
the device mesh by contiguous blocks, so device ``d`` holds rows ``d M / N .. (d + 1) M / N``
and no other device holds them. Each step, device ``d`` draws ``B / N`` rows of its own block
from the step's key folded with ``d`` and computes the gradient of their log-likelihood
(scaled ``M / B``) plus ``1 / N`` of the prior and the Jacobians
(``Problem.shard_potential``); ``psum`` adds the ``N`` parts before the update. The global
minibatch is stratified (``B / N`` rows from each block, not ``B`` from all ``M``): still an
unbiased estimate of the full-data gradient, with the same scaling, but other rows than one
device draws, so the chain is not the one-device chain draw for draw. What is kept exactly:
it is the one-device chain whose minibatches are drawn stratified
(``Problem.stratified_potential``), up to the rounding of a sum taken in another order; and
both chains sample the same posterior. Before a run ``shard`` checks that on a point and a
key: a model that uses the rows otherwise than through the plate's indices (``X.mean()``, a
plate over another axis) fails the check and keeps every array on every device, with a
warning.

**Replicated data** (``svi``, the torch processes, and the models that fail the check):
every step draws one global minibatch from its key, exactly as on one device. Device ``d``
of ``N`` computes the gradient of its slice of it (``Problem.part_potential``: the ``d``-th
``B / N`` indices of every subsampled plate, plus ``1 / N`` of the prior and the Jacobians),
and the backend's collective sums the ``N`` parts before the update (``psum`` over a JAX
device mesh; ``all_reduce`` across ``torch.distributed`` processes). The sum is the
single-device minibatch gradient, so the chain is the single-device chain with the same seed,
up to the rounding of a sum taken in another order; every device holds the whole data set.

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

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np

from ..errors import OptionError

__all__ = ["check_devices", "check_problem", "gradient", "place", "shard", "split_gradient"]

#: the relative gap between the sharded potential (and gradient) and the one-device
#: stratified one that ``shard`` accepts: float32 sums of ~10^3-10^6 terms taken in another
#: order differ by ~1e-6 relative; a model that reads other rows differs at order one
SHARD_CHECK_RTOL = 1e-4


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


def _data(problem):
    """``(leaves, treedef, data)``: the flattened arguments of ``problem`` and their arrays."""
    arrays = problem.arrays
    leaves, treedef = arrays.tree_flatten((tuple(problem.args), dict(problem.kwargs)))
    return leaves, treedef, [leaf for leaf in leaves if arrays.is_array(leaf)]


def _row_mask(problem, num_parts) -> list[bool] | None:
    """Which data arrays hold the subsampled plate's rows (leading axis of the plate's size),
    or ``None`` where nothing can be sharded; an ``OptionError`` where ``num_parts`` does not
    divide the plate."""
    sizes = {size for size, _ in problem.subsample_plates.values()}
    if len(sizes) != 1:  # plates of several sizes: which array is whose is not known
        return None
    (size,) = sizes
    mask = [bool(np.ndim(x)) and np.shape(x)[0] == size for x in _data(problem)[2]]
    if not any(mask):
        return None
    if size % num_parts:
        keep = size - size % num_parts
        raise OptionError(
            f"devices={num_parts} shards the {size} rows of plate "
            f"{next(iter(problem.subsample_plates))!r} into blocks of equal size, but "
            f"{num_parts} does not divide {size}. Trim the data to {keep} rows (X[:{keep}]), "
            "or use a device count that divides the number of rows."
        )
    return mask


def shard(problem):
    """``problem`` with its data's per-row arrays marked to be sharded over
    ``problem.parallel``'s devices (``DataParallel.rows``), where the backend can run the
    model on a shard and the check passes: on one point and one key, the sharded potential
    and gradient equal the one-device stratified ones (``SHARD_CHECK_RTOL``). Otherwise the
    problem as it is (every device holds all the data), with a warning naming why where the
    model failed the check."""
    parallel = problem.parallel
    if parallel is None or parallel.by_rows is None or problem.shard_potential is None:
        return problem
    if problem.rebind is None:
        return problem
    mask = _row_mask(problem, parallel.num_parts)
    if mask is None:
        return problem
    sharded = dataclasses.replace(problem, parallel=parallel._replace(rows=mask))
    arrays = problem.arrays
    z = arrays.asarray(np.linspace(-0.3, 0.2, problem.dim))
    key = arrays.key(20261206)
    on_mesh = problem.backend.to_device((z, key), parallel.placement)

    def stratified(bound, z, key):
        potential = bound.stratified_potential
        return arrays.value_and_grad(lambda x: potential(x, key, parallel.num_parts))(z)

    try:
        got = [arrays.to_numpy(v) for v in split_gradient(place(sharded))(*on_mesh)]
        want = [arrays.to_numpy(v) for v in _with_data(problem, stratified)(z, key)]
        agree = all(
            np.allclose(g, w, rtol=SHARD_CHECK_RTOL, atol=SHARD_CHECK_RTOL * np.abs(w).max())
            for g, w in zip(got, want)
        )
        reason = f"potential {float(got[0]):.6g} on the shards, {float(want[0]):.6g} on one device"
    except Exception as err:  # noqa: BLE001 - a model that cannot run on a shard keeps all
        agree, reason = False, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    if agree:
        return sharded
    warnings.warn(
        f"devices={parallel.num_parts}: the data are not sharded (every device holds all of "
        f"them) because the model, run on a block of the rows of plate(s) "
        f"{sorted(problem.subsample_plates)}, does not give its share of the minibatch "
        f"({reason}): it reads the rows otherwise than through the plate's indices (X.mean(), "
        "a plate over another axis). The minibatch is split over the devices as before.",
        stacklevel=4,
    )
    return problem


def _with_data(problem, f) -> Callable:
    """``(z, key) -> f(problem, z, key)``, compiled where the backend compiles, with the
    problem's data as the compiled function's arguments (not constants baked into it)."""
    arrays = problem.arrays
    leaves, treedef, data = _data(problem)

    def call(z, key, data):
        given = iter(data)
        filled = [next(given) if arrays.is_array(leaf) else leaf for leaf in leaves]
        return f(problem.with_data(*arrays.tree_unflatten(treedef, filled)), z, key)

    compiled = arrays.jit(call)
    return lambda z, key: compiled(z, key, data)


def split_gradient(problem) -> Callable:
    """``gradient(problem)`` for a minibatch's key, compiled where the backend compiles, with
    the data as the compiled function's arguments."""
    return _with_data(problem, lambda bound, z, key: gradient(bound)(z, key))


def place(problem):
    """``problem`` bound to its data placed over ``problem.parallel``'s devices: the arrays
    of ``DataParallel.rows`` by blocks of rows, the others on every device; as it is where
    the devices are processes that hold their own data."""
    parallel = problem.parallel
    if parallel is None or parallel.placement is None:
        return problem
    arrays = problem.arrays
    leaves, treedef, data = _data(problem)
    mask = parallel.rows or [False] * len(data)
    placed = iter(
        problem.backend.to_device(x, parallel.by_rows if rows else parallel.placement)
        for x, rows in zip(data, mask)
    )
    filled = [next(placed) if arrays.is_array(leaf) else leaf for leaf in leaves]
    return problem.with_data(*arrays.tree_unflatten(treedef, filled))


def gradient(problem) -> Callable:
    """``(z, key=None) -> (U, dU/dz)`` of ``problem``: on a minibatch split over
    ``problem.parallel``'s devices where a key draws one (each device's own rows where the
    data are sharded, ``shard``), else ``problem.value_and_grad``."""
    parallel = problem.parallel
    if parallel is None:
        return problem.value_and_grad
    arrays = problem.arrays
    num_parts = parallel.num_parts
    # the data's arrays go to each device as arguments (a JAX device reads its own copy, or
    # its own block of rows, inside ``shard_map``); a problem that cannot be rebound keeps its
    # own (one per process)
    leaves, treedef, data = _data(problem)
    rebind = problem.rebind is not None
    data = data if rebind else []
    rows = parallel.rows if rebind else None

    def part(index, z, key, data):
        bound = problem
        if rebind:
            given = iter(data)
            filled = [next(given) if arrays.is_array(leaf) else leaf for leaf in leaves]
            bound = problem.with_data(*arrays.tree_unflatten(treedef, filled))
        own = bound.part_potential if rows is None else bound.shard_potential
        return arrays.value_and_grad(lambda x: own(x, key, index, num_parts))(z)

    def split(z, key=None):
        if key is None:  # the whole data set: every device computes all of it
            return problem.value_and_grad(z)
        if rows is None:
            return parallel.sum_parts(part, z, key, data)
        return parallel.sum_parts(part, z, key, data, rows=(False, False, list(rows)))

    return split
