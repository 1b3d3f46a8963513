"""NUTS: the backend's own No-U-Turn sampler (``numpyro.infer.NUTS``, ``pyro.infer.NUTS``).

>>> import ppl
>>> from ppl import dist
>>> def model():
...     ppl.sample("x", dist.Normal(1.0, 2.0))
>>> post = ppl.infer(model, "nuts", num_warmup=200, num_samples=200, progress=False)
>>> post.samples["x"].shape
(1, 200)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..option_types import check_at_least
from .native import CAPABILITIES, KernelOptions, build_with

__all__ = ["CAPABILITIES", "Options", "build"]


@dataclass(frozen=True)
class Options(KernelOptions):
    """``KernelOptions`` plus max_tree_depth: the largest trajectory is 2**max_tree_depth steps."""

    max_tree_depth: int = 10

    def __post_init__(self):
        super().__post_init__()
        check_at_least(self, max_tree_depth=1)


build = build_with("NUTS")
