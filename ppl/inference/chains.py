"""How a run's chains are laid out: vectorized on one device, in parallel over devices, or one
after another (``RunConfig.chain_method``, as NumPyro's ``MCMC(chain_method=...)``).

``"parallel"`` places one chain per device: on JAX the stacked chain states are split over a
device mesh along their leading axis and the data are replicated, so the one compiled chunk runs
every chain on its own device. On torch's CPU it runs one forked worker process per chain
(``ChainPlan.processes``; as Pyro's own MCMC does), each with the keys it has one after
another, so the draws are the sequential run's. Where fewer devices are visible than chains, or
the backend can do neither, it warns and runs them as ``None`` would.

``"vectorized"`` on a backend that cannot map a model with ``vmap`` (Pyro) uses the algorithm's
own form over stacked chains where it has one (``Algorithm.vectorized``: NUTS on Pyro builds all
chains' trees in lockstep), and otherwise warns and runs them one after another.

>>> from ppl.inference.chains import check_chain_method
>>> try:
...     check_chain_method("paralel")
... except ValueError as err:
...     print(str(err).split(";")[0], "/", "Did you mean 'parallel'?" in str(err))
Unknown chain_method 'paralel' / True
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

from ..errors import OptionError, did_you_mean

__all__ = ["CHAIN_METHODS", "ChainPlan", "check_chain_method", "plan"]

CHAIN_METHODS = ("vectorized", "parallel", "sequential")


class ChainPlan(NamedTuple):
    """``vectorize``: chains stacked and mapped with ``vmap``. ``shardings``: ``(replicated,
    by_chain)`` placements where the stacked chains run one per device, else ``None``.
    ``processes``: each chain runs in its own forked worker process. ``batched``: the
    algorithm's form over stacked chains (``Algorithm.vectorized``), run in place of ``vmap``
    of its step."""

    vectorize: bool
    shardings: tuple[Any, Any] | None = None
    processes: bool = False
    batched: Any = None


def check_chain_method(chain_method: str | None) -> None:
    """An ``OptionError`` naming the choices unless ``chain_method`` is one of them (or None)."""
    if chain_method is not None and chain_method not in CHAIN_METHODS:
        raise OptionError(
            f"Unknown chain_method {chain_method!r}; choose one of {CHAIN_METHODS}."
            + did_you_mean(chain_method, CHAIN_METHODS)
        )


def plan(backend, chain_method: str | None, device: str | None, num_chains: int,
         vectorized=None) -> ChainPlan:  # fmt: skip
    """The layout of ``num_chains`` chains on ``backend``; warns where ``chain_method`` asks for
    what the backend or the visible devices cannot give. ``vectorized``: the algorithm's
    ``Algorithm.vectorized`` (or ``None``)."""
    can_vmap = backend.supports_vmap_of_models
    if num_chains < 2 or chain_method == "sequential":
        return ChainPlan(False)
    fallback = "vectorized on one device" if can_vmap else "one after another"
    if chain_method == "parallel":
        target = backend.resolve_device(device)
        shardings = backend.chain_shardings(target, num_chains)
        if shardings is not None:
            return ChainPlan(True, shardings)
        if backend.chain_processes(target):
            return ChainPlan(False, processes=True)
        visible = backend.device_count(target)
        if visible >= num_chains:
            reason = f"the {backend.name} backend runs chains on one device"
        else:
            reason = (
                f"it needs a device per chain: {num_chains} chains, {visible} device(s) like "
                f"{str(target)!r} visible to the {backend.name} backend. With JAX on CPU, "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={num_chains} (set before JAX "
                "is imported) gives that many host devices"
            )
        warnings.warn(
            f"chain_method='parallel': {reason}. The chains run {fallback}.", stacklevel=5
        )
    elif chain_method == "vectorized" and not can_vmap:
        reason = "its random draws are not vmappable"
        if vectorized is not None:
            try:
                return ChainPlan(True, batched=vectorized())
            except NotImplementedError as err:
                reason = str(err)
        warnings.warn(
            f"chain_method='vectorized': the {backend.name} backend cannot map a model over "
            f"chains ({reason}); the chains run one after another.",
            stacklevel=5,
        )
    return ChainPlan(can_vmap)
