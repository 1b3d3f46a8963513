"""HMC: the backend's own Hamiltonian Monte Carlo kernel with step-size and mass adaptation."""

from __future__ import annotations

from dataclasses import dataclass

from ..option_types import check_at_least
from .native import CAPABILITIES, KernelOptions, build_with

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(KernelOptions):
    """``KernelOptions`` plus num_steps: leapfrog steps per proposal (``None``: a trajectory
    length of 2π divided by the adapted step size, at most max_num_steps: a badly scaled start
    adapts the step size down to ~1e-5 early in warmup, where 2π would take ~600,000 steps a
    draw; NUTS's default depth bounds it the same way)."""

    num_steps: int | None = None
    max_num_steps: int = 1024

    def __post_init__(self):
        super().__post_init__()
        check_at_least(self, num_steps=1, max_num_steps=1)


build = build_with("HMC")
