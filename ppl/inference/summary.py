"""``Posterior.summary``: ArviZ's table, with what it cannot say from these draws said in notes.

One chain has no ``r_hat`` (it compares chains): the column is left out and a note says why,
instead of ArviZ's "Shape validation failed" warning and a column of NaN. Divergent transitions
(``sample_stats["diverging"]``) are counted in a note. The notes print under the table and are
kept in ``summary.attrs["notes"]``.

>>> import numpy as np
>>> from ppl.inference.posterior import Posterior
>>> post = Posterior(samples={"x": np.zeros((1, 50))}, method="demo", backend="numpyro",
...                  sample_stats={"diverging": np.arange(50).reshape(1, 50) < 2})
>>> table = post.summary()
>>> "r_hat" in table.columns
False
>>> print(table.attrs["notes"][1])
divergences: 2 of 50 draws (4.0%); raise target_accept_prob or reparameterize the model.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

__all__ = ["Summary", "divergences", "summarize"]

NO_R_HAT = "r_hat: absent, it compares chains and this run has one (num_chains=2 or more gives it)."


class Summary(pd.DataFrame):
    """A ``pandas.DataFrame`` that prints its ``attrs["notes"]`` under the table (``repr``
    goes through ``to_string``)."""

    @property
    def _constructor(self):
        return Summary

    def _notes(self) -> str:
        notes = self.attrs.get("notes", ())
        return "".join(f"\n{note}" for note in notes)

    def to_string(self, *args, **kwargs):
        text = super().to_string(*args, **kwargs)
        return text + self._notes() if text is not None else None


class _DropShapeWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Shape validation failed" not in record.getMessage()


def divergences(sample_stats: dict) -> tuple[int, int] | None:
    """``(divergent, draws)`` over all chains, or ``None`` where the algorithm reports none."""
    diverging = sample_stats.get("diverging")
    if diverging is None:
        return None
    diverging = np.asarray(diverging, dtype=bool)
    return int(diverging.sum()), int(diverging.size)


def divergence_note(sample_stats: dict) -> str | None:
    """``"divergences: k of n draws (p%)"``, or ``None`` where the algorithm reports none."""
    counted = divergences(sample_stats)
    if counted is None:
        return None
    count, total = counted
    note = f"divergences: {count} of {total} draws ({100 * count / max(total, 1):.1f}%)"
    return note + ("; raise target_accept_prob or reparameterize the model." if count else ".")


def summarize(post, **kwargs) -> Summary:
    """``arviz.summary`` of ``post``'s draws as a ``Summary``, with its notes."""
    import arviz as az

    single = post.num_chains == 1
    # ArviZ logs through its own ``logging.Logger("arviz")`` (not ``getLogger``): for one chain
    # it warns that r_hat needs two, which the note below says instead
    logger = getattr(az, "_log", logging.getLogger("arviz"))
    dropped = _DropShapeWarning()
    if single:
        logger.addFilter(dropped)
    try:
        table = az.summary(post.to_arviz(), **kwargs)
    finally:
        logger.removeFilter(dropped)
    notes = []
    if single and "r_hat" in table.columns:
        table = table.drop(columns="r_hat")
        notes.append(NO_R_HAT)
    note = divergence_note(post.sample_stats)
    if note is not None:
        notes.append(note)
    summary = Summary(table)
    summary.attrs["notes"] = notes
    return summary
