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
        leaves = [
            [None if v is None else backend.to_numpy(v) for v in backend.tree_leaves(g)]
            for g in groups
        ]
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
        _check_identity(self.resume_from, payload, spec.name, backend.name, options)
        restored = []
        for group, leaves in zip(groups, payload["leaves"], strict=True):
            fresh, treedef = backend.tree_flatten(group)
            # each leaf keeps the dtype a fresh ``init`` gives it (float64 counters stay float64)
            values = [
                None if f is None else backend.asarray(v, dtype=f.dtype)
                for v, f in zip(leaves, fresh, strict=True)
            ]
            restored.append(backend.tree_unflatten(treedef, values))
        return restored, payload["positions"], payload["infos"], payload["done"]


def _check_identity(path, payload, method, backend, options) -> None:
    """An ``OptionError`` naming what differs when the checkpoint at ``path`` was written by
    another format version, method, backend or option set than this run's."""
    written = payload.get("format")
    if written != FORMAT:
        raise OptionError(
            f"The checkpoint {path!r} has format version {written!r}; this version of ppl reads "
            f"version {FORMAT}. Rerun from the start (without resume_from)."
        )
    if (payload["method"], payload["backend"]) != (method, backend):
        raise OptionError(
            f"The checkpoint {path!r} was written by {payload['method']!r} on the "
            f"{payload['backend']!r} backend, not by {method!r} on {backend!r}; resume with the "
            "same method, backend and options (and seed) that wrote it."
        )
    ours = dataclasses.asdict(options)
    differ = sorted(
        k for k in set(ours) | set(payload["options"]) if ours.get(k) != payload["options"].get(k)
    )
    if differ:
        found = ", ".join(f"{k}={payload['options'].get(k)!r}" for k in differ)
        raise OptionError(
            f"The checkpoint {path!r} was written with other options ({found}); resume with the "
            "same method, backend and options (and seed) that wrote it."
        )
