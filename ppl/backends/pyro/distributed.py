"""Data-parallel devices on torch: one process per device, joined by ``torch.distributed``
(gloo on CPU, NCCL on CUDA GPUs), started by ``torchrun``.

Every process runs the same program with the same seed, so each draws the same global
minibatch; process ``rank`` computes the gradient of its part of it, and one ``all_reduce`` per
step sums the parts, so every process takes the same step.

>>> import torch
>>> from ppl.backends.pyro.distributed import flat_sum
>>> flat_sum({"a": torch.ones(2), "b": torch.zeros(())}, lambda buffer: None)["a"].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist
import torch.utils._pytree as pytree

from ...errors import BackendError
from ..array_base import DataParallel

__all__ = ["ENVIRONMENT", "TIMEOUT_SECONDS", "data_parallel", "flat_sum"]

#: the variables ``torchrun`` sets and ``init_process_group`` reads
ENVIRONMENT = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE")
#: how long a process waits for the others to join (``PPL_DIST_TIMEOUT`` overrides it)
TIMEOUT_SECONDS = 120


def flat_sum(tree, all_reduce):
    """``tree`` (of tensors) summed over the processes by one ``all_reduce`` of one buffer."""
    leaves, spec = pytree.tree_flatten(tree)
    buffer = torch.cat([leaf.reshape(-1) for leaf in leaves])
    all_reduce(buffer)
    out, start = [], 0
    for leaf in leaves:
        out.append(buffer[start : start + leaf.numel()].reshape(leaf.shape))
        start += leaf.numel()
    return pytree.tree_unflatten(out, spec)


def _settings() -> str:
    return ", ".join(f"{name}={os.environ.get(name, '<unset>')}" for name in ENVIRONMENT)


def _start(num_devices: int, kind: str) -> None:
    """The default process group, from the environment ``torchrun`` sets."""
    launch = (
        f"Launch {num_devices} processes with torchrun --nproc_per_node {num_devices} "
        "script.py (or torchrun --nproc_per_node ... -m ppl run ...), which sets "
        + ", ".join(ENVIRONMENT)
    )
    missing = [name for name in ENVIRONMENT if name not in os.environ]
    if missing:
        raise BackendError(
            f"devices={num_devices} on the pyro backend runs one process per device, joined by "
            f"torch.distributed, but this process has no process group and {missing} unset. "
            f"{launch}; or call torch.distributed.init_process_group before ppl.infer."
        )
    seconds = float(os.environ.get("PPL_DIST_TIMEOUT", TIMEOUT_SECONDS))
    try:
        dist.init_process_group(kind, timeout=datetime.timedelta(seconds=seconds))
    except Exception as err:  # noqa: BLE001 - every failure to start is named the same way
        raise BackendError(
            f"The torch.distributed process group ({kind}) failed to start: "
            f"{type(err).__name__}: {str(err).splitlines()[0][:300]}. The environment has "
            f"{_settings()}: MASTER_ADDR:MASTER_PORT must be a free port reachable from every "
            "process (rank 0 listens there), RANK a distinct integer in 0..WORLD_SIZE-1 per "
            f"process, and all WORLD_SIZE processes must start within {seconds:g} s "
            f"(PPL_DIST_TIMEOUT). {launch}."
        ) from err


def data_parallel(num_devices: int, device) -> DataParallel:
    """The ``DataParallel`` of this process in a group of ``num_devices`` (started here from
    the environment unless the caller started it); a ``BackendError`` naming the variables
    and the launch line where there is none, it fails to start, or it has another size."""
    kind = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_available():
        raise BackendError(
            f"devices={num_devices}: this torch build ({torch.__version__}) has no "
            "torch.distributed. Install a build with it, or use backend='numpyro'."
        )
    if not dist.is_initialized():
        _start(num_devices, kind)
    world, rank = dist.get_world_size(), dist.get_rank()
    if world != num_devices:
        raise BackendError(
            f"devices={num_devices}, but the torch.distributed process group has {world} "
            f"process(es) (WORLD_SIZE; {_settings()}). Pass devices={world}, or launch "
            f"torchrun --nproc_per_node {num_devices}."
        )
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank))
        if local >= torch.cuda.device_count():
            raise BackendError(
                f"Process {rank} (LOCAL_RANK={local}) needs CUDA device {local}, but torch sees "
                f"{torch.cuda.device_count()} (CUDA_VISIBLE_DEVICES="
                f"{os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}). Start at most that "
                "many processes per node (torchrun --nproc_per_node), or make the GPUs visible."
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)

    def sum_parts(f, *args, rows=None):  # every process holds its own data
        return flat_sum(f(rank, *args), dist.all_reduce)

    return DataParallel(
        num_devices,
        sum_parts,
        device,
        None,
        f"{num_devices} torch.distributed processes ({kind}; this is rank {rank} on {device})",
    )
