"""HMC: the backend's own Hamiltonian Monte Carlo kernel with step-size and mass adaptation."""

from __future__ import annotations

from dataclasses import dataclass

from .native import CAPABILITIES, KernelOptions, build_with

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(KernelOptions):
    """``KernelOptions`` plus num_steps: leapfrog steps per proposal (``None``: a trajectory
    length of 2π divided by the adapted step size)."""

    num_steps: int | None = None


build = build_with("HMC")
