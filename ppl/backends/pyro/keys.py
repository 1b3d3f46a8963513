"""Explicit random keys on torch, with the meaning JAX gives them.

A key is an int64 tensor. ``split`` derives new keys by the SplitMix64 mixing function, and each
draw builds a ``torch.Generator`` seeded from its key, so no global generator is read or reset.

>>> from ppl.backends.pyro.keys import key, split
>>> a, b = split(key(0))
>>> int(a) != int(b)
True
"""

from __future__ import annotations

import contextlib

import torch

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _signed(x: int) -> int:
    return x - (1 << 64) if x >= 1 << 63 else x


def key(seed: int) -> torch.Tensor:
    """A key from an integer seed."""
    return torch.tensor(_signed(_mix(int(seed) & _MASK)), dtype=torch.int64)


def split(parent, num: int = 2) -> torch.Tensor:
    """``num`` keys derived from ``parent``, as an int64 tensor of shape ``(num,)``."""
    base = int(parent) & _MASK
    return torch.tensor([_signed(_mix(base ^ _mix(i + 1))) for i in range(num)], dtype=torch.int64)


def generator(k, device=None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from key ``k``."""
    gen = torch.Generator(device=device or "cpu")
    gen.manual_seed(int(k) & _MASK)
    return gen


def seed_global(k) -> None:
    """Seed torch's global generators from key ``k``: the CPU one and, where there is CUDA,
    CUDA's. (``torch.manual_seed`` also queues lazy seeds for every other accelerator kind,
    recording a Python stack for each: ~1 ms a call, more than an SVI step of a small model.)"""
    seed = int(k) & _MASK
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available():  # queued until CUDA starts, if it has not yet
        torch.cuda.manual_seed_all(seed)


@contextlib.contextmanager
def global_seed(k):
    """Run a block with torch's global generator seeded from ``k``, restoring it afterwards.

    Pyro's samplers draw from the global generator; this keeps such a block reproducible
    without disturbing the caller's random state.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        seed_global(k)
        yield


def check_points(z0, indices0, sizes, seed: int, count: int = 2):
    """``count`` fresh ``(z, indices)`` near a recorded call's ``(z0, indices0)`` to check a
    recorded or compiled potential against the eager one: ``z0`` plus N(0, 0.25) noise, and
    random subsample indices of the same sizes from plates of ``sizes``; drawn on the CPU
    (reproducible on any device), then moved to the inputs' devices."""
    gen = generator(key(seed))
    for _ in range(count):
        noise = torch.randn(z0.shape, generator=gen, dtype=z0.dtype, device="cpu")
        indices = [
            torch.randperm(n, generator=gen, device="cpu")[: len(i)].to(i.device)
            for n, i in zip(sizes, indices0)
        ]
        yield z0 + 0.5 * noise.to(z0.device), indices
