"""Checkpoints of the driver's loop: written atomically every few steps, resumed bitwise.

A checkpoint holds the algorithm's state (its array leaves; the tree structure is rebuilt from a
fresh ``init``), the draws and infos kept so far and the number of steps done per chain group.
Resuming with the same seed, options and backend continues with the same per-step keys, so the
result equals an uninterrupted run with the same ``checkpoint_every``.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import tempfile
from dataclasses import dataclass

from ..errors import OptionError

__all__ = ["Checkpoint"]

FORMAT = 1


@dataclass(frozen=True)
class Checkpoint:
    """Where and how often to checkpoint, and what to resume from (all optional)."""

    every: int | None = None
    path: str | None = None
    resume_from: str | None = None

    def __post_init__(self):
        if (self.every is None) != (self.path is None):
            raise OptionError(
                "Pass checkpoint_every and checkpoint_path together (a number of steps and a "
                "file to write)."
            )
        if self.every is not None and self.every < 1:
            raise OptionError(f"checkpoint_every must be at least 1, got {self.every}.")

    def save(self, backend, groups, positions, infos, done, spec, options) -> None:
        if self.path is None:
            return
        leaves = [[backend.to_numpy(v) for v in backend.tree_leaves(g)] for g in groups]
        if any(leaf.dtype.kind not in "biufc" for group in leaves for leaf in group):
            raise OptionError(
                f"{spec.name!r} on the {backend.name!r} backend keeps state that is not arrays "
                "(the backend's own kernel object) and cannot be checkpointed; run it without "
                "checkpoint_every, or use the numpyro backend."
            )
        payload = {
            "format": FORMAT,
            "method": spec.name,
            "backend": backend.name,
            "options": dataclasses.asdict(options),
            "leaves": leaves,
            "positions": positions,
            "infos": infos,
            "done": list(done),
        }
        folder = os.path.dirname(os.path.abspath(self.path))
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as tmp:
            pickle.dump(payload, tmp)
        os.replace(tmp.name, self.path)

    def load(self, backend, groups, spec, options):
        with open(self.resume_from, "rb") as f:
            payload = pickle.load(f)
        expected = (spec.name, backend.name, dataclasses.asdict(options))
        found = (payload["method"], payload["backend"], payload["options"])
        if payload.get("format") != FORMAT or expected != found:
            raise OptionError(
                f"The checkpoint {self.resume_from!r} was written by {found[0]!r} on "
                f"{found[1]!r} with other options; resume with the same method, backend and "
                "options (and seed) that wrote it."
            )
        restored = []
        for group, leaves in zip(groups, payload["leaves"], strict=True):
            treedef = backend.tree_flatten(group)[1]
            restored.append(backend.tree_unflatten(treedef, [backend.asarray(v) for v in leaves]))
        return restored, payload["positions"], payload["infos"], payload["done"]
